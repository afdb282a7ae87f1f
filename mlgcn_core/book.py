"""Build the book: papermill executes each notebook listed in ``_toc.yml`` (from ``notebooks/``
into ``book/executed/``), then Jupyter Book (v1) compiles ``_build/html`` with warnings as errors.

    python -m mlgcn_core.book [-p NAME=VALUE ...] [--only NAME ...] [--no-build] [--root DIR]

A parameter is passed to every notebook that declares it in its ``parameters`` cell; a name no
notebook declares is an error. Values are parsed as YAML (``seeds=[0,1,2]``, ``tau=0.3``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .paths import PROJECT_ROOT

EXECUTED = Path("book") / "executed"


def toc_notebooks(root: Path) -> list[str]:
    """Names of the notebooks the toc lists under book/executed/, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    prefix = EXECUTED.as_posix() + "/"
    return [f[len(prefix):] for f in files if f.startswith(prefix)]


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"parameter {item!r}: expected NAME=VALUE")
        params[name] = yaml.safe_load(value)
    return params


def default_kernel() -> str:
    from jupyter_client.kernelspec import find_kernel_specs

    return "mlgcn" if "mlgcn" in find_kernel_specs() else "python3"


def source_key(nb_path: Path, params: dict) -> str:
    """What an executed notebook depends on: its source, its parameters, the package's code and
    data files (presets, sweeps), and smoke mode. Unchanged → the executed copy is reused."""
    from .notebook import smoke_mode
    from .paths import PACKAGE_ROOT

    h = hashlib.sha1(nb_path.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode() + str(smoke_mode()).encode())
    deps = sorted(PACKAGE_ROOT.rglob("*.py")) + sorted(PACKAGE_ROOT.rglob("*.yaml")) + \
        sorted((nb_path.parent / "sweeps").glob("*.yaml"))
    for f in deps:
        h.update(f.read_bytes())
    return h.hexdigest()


def _executed_key(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["metadata"].get("mlgcn_book", {}).get("source_key")
    except (OSError, ValueError, KeyError):
        return None


def execute(root: Path, names: list[str], params: dict, kernel: str | None = None,
            force: bool = False) -> None:
    """Run notebooks/<name>.ipynb → book/executed/<name>.ipynb with the parameters each declares;
    an executed copy whose sources and parameters are unchanged is reused (``force`` re-runs)."""
    import nbformat
    import papermill as pm

    kernel = kernel or default_kernel()
    declared = {n: set(pm.inspect_notebook(str(root / "notebooks" / f"{n}.ipynb"))) for n in names}
    unknown = sorted(set(params) - set().union(*declared.values()))
    if unknown:
        raise ValueError(f"parameters {unknown} are declared by none of the notebooks {names}")
    (root / EXECUTED).mkdir(parents=True, exist_ok=True)
    for n in names:
        own = {k: v for k, v in params.items() if k in declared[n]}
        out = root / EXECUTED / f"{n}.ipynb"
        key = source_key(root / "notebooks" / f"{n}.ipynb", own)
        if not force and out.is_file() and _executed_key(out) == key:
            print(f"[book] {n}: unchanged, executed copy reused", flush=True)
            continue
        tmp = out.with_name(f".{n}.{os.getpid()}.ipynb")
        t0 = time.time()
        print(f"[book] executing notebooks/{n}.ipynb {own or ''}", flush=True)
        try:
            pm.execute_notebook(str(root / "notebooks" / f"{n}.ipynb"), str(tmp), parameters=own,
                                kernel_name=kernel, cwd=str(root), progress_bar=False)
        except BaseException:
            failed = out.with_name(f"{n}.failed.ipynb")
            if tmp.exists():
                os.replace(tmp, failed)
                print(f"[book] {n} failed; executed copy with the error: {failed}", file=sys.stderr)
            raise
        nb = nbformat.read(tmp, 4)
        nb.metadata["mlgcn_book"] = {"source_key": key, "seconds": round(time.time() - t0, 1)}
        nbformat.write(nb, tmp)
        os.replace(tmp, out)
        print(f"[book] {n} done in {time.time() - t0:.0f} s", flush=True)


def build_html(root: Path) -> Path:
    """jupyter-book build with -W (warnings are errors); returns the HTML folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "-W", "--keep-going"]
    print("[book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return root / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlgcn_core.book", description=__doc__.split("\n\n")[0])
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="execute only these notebooks")
    ap.add_argument("--no-execute", action="store_true", help="build from the executed notebooks as they are")
    ap.add_argument("--no-build", action="store_true", help="execute the notebooks only")
    ap.add_argument("--kernel", default=None)
    ap.add_argument("--force", action="store_true", help="re-execute notebooks even when unchanged")
    ap.add_argument("--root", type=Path, default=PROJECT_ROOT)
    args = ap.parse_args(argv)
    root = args.root.resolve()
    t0 = time.time()
    names = toc_notebooks(root)
    if args.only:
        missing = sorted(set(args.only) - set(names))
        if missing:
            raise SystemExit(f"--only: {missing} are not in _toc.yml (have {names})")
        names = [n for n in names if n in args.only]
    if not args.no_execute:
        execute(root, names, parse_params(args.param), args.kernel, args.force)
    if not args.no_build:
        html = build_html(root)
        print(f"[book] HTML: {html / 'index.html'}", flush=True)
    print(f"[book] total {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
