"""Build the book: papermill executes each notebook listed in ``_toc.yml`` (from ``notebooks/``
into ``book/executed/``), then Jupyter Book (v1) compiles ``_build/html`` with warnings as errors.

    python -m mlgcn_core.book [--profile NAME [--data-root DIR] [--chapters NAME ...|all]]
                              [-p NAME=VALUE ...] [--only NAME ...] [--no-build] [--root DIR]

A parameter is passed to every notebook that declares it in its ``parameters`` cell; a name no
notebook declares is an error. Values are parsed as YAML (``seeds=[0,1,2]``). Training fields go
into the ``config`` parameter every training chapter takes: ``-p config.tau=0.3`` (or
``-p 'config={tau: 0.3}'``) reaches every chapter alike.
A profile (``book/profiles.yaml``) names a preset, its chapters and parameters: ``default`` builds
the whole book on the embedded benchmark into ``_build/html``; ``paper_voc`` / ``paper_coco`` run
the same notebooks on a prepared dataset (``--data-root``) into ``_build/profiles/NAME/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..cli_args import group_dotted, load_yaml, parse_assignments
from ..paths import PROJECT_ROOT

EXECUTED = Path("book") / "executed"
PROFILES = Path("book") / "profiles.yaml"


# seconds one cell of a chapter may run before the build calls it hung (a profile's ``cell_timeout``)
CELL_TIMEOUT = 3600


def load_profile(root: Path, name: str) -> dict:
    """A profile of ``book/profiles.yaml``: ``parameters``, ``chapters`` (None: all), ``dataset``,
    ``cell_timeout`` (seconds a cell may run: :data:`CELL_TIMEOUT`)."""
    profiles = load_yaml((root / PROFILES).read_text()) or {}
    if name not in profiles:
        raise ValueError(f"profile {name!r} not in {root / PROFILES}; have {sorted(profiles)}")
    prof = dict(profiles[name])
    prof.setdefault("parameters", {})
    prof.setdefault("chapters", None)
    prof.setdefault("dataset", None)
    prof.setdefault("cell_timeout", CELL_TIMEOUT)
    unknown = sorted(set(prof) - {"description", "parameters", "chapters", "dataset", "cell_timeout"})
    if unknown:
        raise ValueError(f"{root / PROFILES}: profile {name!r}: unknown field(s) {unknown}")
    return prof


def profile_tree(root: Path, name: str, chapters: list[str], data_root: str) -> Path:
    """The source tree of a non-default profile, ``_build/profiles/NAME``: the book's config (title
    naming the profile), its toc cut to ``chapters``, and its pages (a note at the top of the
    introduction says which data the build ran on; rows linking to chapters left out are dropped)."""
    out = root / "_build" / "profiles" / name
    (out / EXECUTED).mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] = f"{config['title']} — profile {name}"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    keep = {f"{EXECUTED.as_posix()}/{c}" for c in chapters}
    for part in toc["parts"]:
        part["chapters"] = [c for c in part["chapters"]
                            if not c["file"].startswith(EXECUTED.as_posix()) or c["file"] in keep]
    toc["parts"] = [p for p in toc["parts"] if p["chapters"]]
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))
    for page in (root / "book").glob("*"):
        if page.is_file() and page.suffix in (".md", ".bib"):
            links = ((line, re.search(r"\{doc\}`executed/(\w+)`", line))  # rows linking to chapters
                     for line in page.read_text().splitlines(keepends=True))  # left out are dropped
            text = "".join(line for line, m in links if not m or m.group(1) in chapters)
            if page.name == "intro.md":
                title, _, rest = text.partition("\n")
                data = f"the data in `{data_root}`" if data_root else "the embedded benchmark"
                text = (f"{title}\n\n```{{note}}\nThis build ran the profile **{name}** on {data}; "
                        f"the default build (`make book`) is the profile default.\n```\n{rest}")
            (out / "book" / page.name).write_text(text)
    if (root / "book" / "_static").is_dir():
        shutil.copytree(root / "book" / "_static", out / "book" / "_static", dirs_exist_ok=True)
    return out


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


def source_key(nb_path: Path, params: dict) -> str:
    """What an executed notebook depends on: its source, its parameters, the package's code and
    data files (presets, sweeps, shipped label counts) and the installed environment's lock
    (``requirements.lock`` beside the project: another torch may change a number). Unchanged → the
    executed copy is reused."""
    from ..paths import PACKAGE_ROOT, PROJECT_ROOT

    h = hashlib.sha1(nb_path.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    deps = sorted(PACKAGE_ROOT.rglob("*.py")) + sorted(PACKAGE_ROOT.rglob("*.yaml")) + \
        sorted(PACKAGE_ROOT.rglob("*.json")) + \
        sorted((nb_path.parent / "sweeps").glob("*.yaml")) + \
        [f for f in (PROJECT_ROOT / "requirements.lock",) if f.is_file()]
    for f in deps:
        h.update(f.read_bytes())
    return h.hexdigest()


def _executed_key(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["metadata"].get("mlgcn_book", {}).get("source_key")
    except (OSError, ValueError, KeyError):
        return None


def execute(root: Path, names: list[str], params: dict, kernel: str | None = None,
            force: bool = False, out_root: Path | None = None, cell_timeout: float | None = None) -> None:
    """Run notebooks/<name>.ipynb → <out_root>/book/executed/<name>.ipynb (``out_root``: ``root``)
    in ``root``, with the parameters each declares; an executed copy whose sources and parameters
    are unchanged is reused (``force`` re-runs). A cell running past ``cell_timeout`` seconds ends
    the build with one line naming its chapter (a ``ValueError``)."""
    import papermill as pm

    from .notebook import KernelSession, default_kernel

    kernel = kernel or default_kernel()
    declared = {n: set(pm.inspect_notebook(str(root / "notebooks" / f"{n}.ipynb"))) for n in names}
    unknown = sorted(set(params) - set().union(*declared.values()))
    if unknown:
        raise ValueError(f"parameters {unknown} are declared by none of the notebooks {names}")
    out_root = out_root or root
    (out_root / EXECUTED).mkdir(parents=True, exist_ok=True)
    with KernelSession(kernel, root) as session:  # one warm kernel for the chapters, cleared between them
        for n in names:
            _execute_chapter(root, n, params, declared[n], force, out_root, session, cell_timeout)


def _execute_chapter(root: Path, n: str, params: dict, declared: set, force: bool, out_root: Path,
                     session, cell_timeout: float | None = None) -> None:
    """One chapter into ``out_root/book/executed`` in the warm kernel ``session`` (reused when
    unchanged: see :func:`source_key`)."""
    import nbformat

    from .notebook import execute as execute_notebook

    own = {k: v for k, v in params.items() if k in declared}
    out = out_root / EXECUTED / f"{n}.ipynb"
    key = source_key(root / "notebooks" / f"{n}.ipynb", own)
    if not force and out.is_file() and _executed_key(out) == key:
        print(f"[book] {n}: unchanged, executed copy reused", flush=True)
        return
    tmp = out.with_name(f".{n}.{os.getpid()}.ipynb")
    t0 = time.time()
    print(f"[book] executing notebooks/{n}.ipynb {own or ''}", flush=True)
    try:
        execute_notebook(root / "notebooks" / f"{n}.ipynb", tmp, own, session=session, cell_timeout=cell_timeout)
    except BaseException as exc:
        failed = out.with_name(f"{n}.failed.ipynb")
        if tmp.exists():
            os.replace(tmp, failed)
            print(f"[book] {n} failed; executed copy with the error: {failed}", file=sys.stderr)
        if isinstance(exc, TimeoutError):  # nbclient's CellTimeoutError: a hung cell
            raise ValueError(f"chapter {n}: a cell ran past the profile's cell_timeout of {cell_timeout:g} s "
                             f"(book/profiles.yaml); the build stopped there") from None
        raise
    nb = publishable(nbformat.read(tmp, 4), root)
    nb.metadata["mlgcn_book"] = {"source_key": key, "seconds": round(time.time() - t0, 1)}
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    print(f"[book] {n} done in {time.time() - t0:.0f} s", flush=True)


def publishable(nb, root: Path):
    """An executed chapter made fit to publish: the parameters papermill injected are folded like
    the chapter's own parameters cell, and any absolute path of the project or of the machine's
    temporary folder left in a text output is written relative to the project (``runs/…``) or as
    ``$TMPDIR/…`` — what a reader sees never depends on where the book was built."""
    import tempfile

    subs = [(str(root) + "/", ""), (str(PROJECT_ROOT) + "/", ""), (tempfile.gettempdir().rstrip("/") + "/", "$TMPDIR/")]
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _relative(out["text"], subs)
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    out["data"][mime] = _relative(out["data"][mime], subs)
    return nb


def _relative(text, subs):
    if isinstance(text, list):
        return [_relative(t, subs) for t in text]
    for old, new in subs:
        text = text.replace(old, new)
    return text


FINDINGS = Path("book") / "_generated" / "findings.md"


def chapter_benchmark(nb) -> str:
    """The benchmark an executed chapter ran on (:func:`mlgcn_core.book.chapters.benchmark_name`):
    its config's dataset, from the ``preset`` and ``config`` parameters papermill injected into it
    over those its own parameters cell declares."""
    from ..config import load_preset
    from .chapters import benchmark_name

    declared: dict = {}
    for cell in nb.cells:  # the chapter's own defaults: its one parameters cell (typed assignments)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            exec(cell.source, {}, declared)  # noqa: S102 — the project's own notebook
    params = {**declared, **((nb.metadata.get("papermill") or {}).get("parameters") or {})}
    cfg = load_preset(params.get("preset") or "default")
    return benchmark_name(cfg.with_overrides(dict(params["config"])) if params.get("config") else cfg)


def write_findings(out_root: Path, names: list[str]) -> Path:
    """``book/_generated/findings.md``: the claims every executed chapter recorded
    (``record("claims", …)``, :func:`mlgcn_core.book.findings.claim`), for the first page: a few
    sentences on what holds, what is reversed and what stays open
    (:func:`~mlgcn_core.book.findings.page_summary`), then one table per benchmark in book order —
    a claim without a benchmark of its own takes its chapter's (:func:`chapter_benchmark`). Made at
    build time from the chapters' results, never typed in."""
    import nbformat

    from ..io import write_text
    from .findings import claims_table, page_summary
    from .notebook import recorded

    rows, missing, forest = [], [], []
    for n in names:
        path = out_root / EXECUTED / f"{n}.ipynb"
        if not path.is_file():
            missing.append(n)
            continue
        nb = nbformat.read(path, 4)
        got = recorded(nb)
        claims = got.get("claims", [])
        bench = chapter_benchmark(nb) if any(not c.get("benchmark") for c in claims) else ""
        rows += [dict(c, chapter=n, benchmark=c.get("benchmark") or bench) for c in claims]
        forest += got.get("forest", [])
    out = out_root / FINDINGS
    out.parent.mkdir(parents=True, exist_ok=True)
    text = page_summary(rows) + "\n\n" + claims_table(rows, missing)
    figure = out.with_name("forest.png")
    figure.unlink(missing_ok=True)
    if forest:  # the verdicts of "Does the graph help?", each comparison with its interval
        write_forest(forest, figure)
        text += (f"\n```{{figure}} {figure.parent.name}/{figure.name}\n:width: 100%\n\nEvery comparison of "
                 "{doc}`executed/04_does_the_graph_help`: the paired difference over seeds with its 95 % "
                 "interval, coloured by its verdict after the Holm correction over the chapter's "
                 "comparisons.\n```\n")
    write_text(out, text)
    return out


def write_forest(rows: list[dict], path: Path) -> None:
    """The forest plot of a verdict table's recorded rows (:func:`mlgcn_core.book.plots.forest`)."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from . import plots

    table = pd.DataFrame(rows).astype({c: float for c in ("difference", "lo", "hi")})
    fig = plots.forest(table)
    fig.savefig(path, dpi=100, bbox_inches="tight")  # the long comparison labels whole
    plots.plt.close(fig)


def build_html(root: Path, source: Path = PROJECT_ROOT) -> Path:
    """jupyter-book build with -W (warnings are errors) of the book in ``root``, with the
    repository, its Pages address and the launch buttons where the repository of the checkout
    ``source`` is known (:mod:`~mlgcn_core.book.publish`); every launch button then opens the
    chapter's source notebook. Returns the HTML folder."""
    from .publish import point_launch_buttons_at_sources, repository, site_config

    config = site_config(yaml.safe_load((root / "_config.yml").read_text()), repository(source))
    resolved = root / "_build" / "_config.resolved.yml"
    resolved.parent.mkdir(parents=True, exist_ok=True)
    resolved.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--config", str(resolved), "-W",
           "--keep-going"]
    print("[book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    html = root / "_build" / "html"
    point_launch_buttons_at_sources(html)
    return html


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlgcn_core.book", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="default", help="a profile of book/profiles.yaml")
    ap.add_argument("--data-root", default="", help="prepared dataset folder (profiles on real data)")
    ap.add_argument("--chapters", nargs="+", metavar="NAME",
                    help="the chapters of a profile's book instead of the profile's list ('all': every one)")
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
    try:
        prof = load_profile(root, args.profile)
        params = group_dotted(parse_assignments(args.param), into=prof["parameters"])
        params["profile"] = args.profile  # the scale switch: every chapter declares it
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    out_root = root
    if args.chapters and args.profile == "default":
        raise SystemExit("error: --chapters chooses a profile's chapters; the default book has them all "
                         "(--only executes some of them)")
    if args.profile != "default":
        chapters = args.chapters or prof["chapters"] or names
        chapters = names if chapters == ["all"] else chapters
        unknown = sorted(set(chapters) - set(names))
        if unknown:
            raise SystemExit(f"error: profile {args.profile!r}: chapters {unknown} are not in _toc.yml")
        if prof["dataset"]:
            data = Path(args.data_root or params.get("data_root", "")).expanduser()
            if not str(data) or str(data) == "." or not (data / "manifest.json").is_file():
                raise SystemExit(f"error: profile {args.profile!r} needs DATA_ROOT (--data-root), the "
                                 f"folder made by 'python -m mlgcn_core prepare {prof['dataset']} …'; "
                                 f"got {str(data)!r}, which has no manifest.json")
            found = json.loads((data / "manifest.json").read_text()).get("dataset")
            if found != prof["dataset"]:
                raise SystemExit(f"error: profile {args.profile!r} runs on {prof['dataset']}, but "
                                 f"{data / 'manifest.json'} says dataset {found!r}")
            params["data_root"] = str(data.resolve())
        names = [n for n in names if n in chapters]
        out_root = profile_tree(root, args.profile, names, params.get("data_root", ""))
    if args.only:
        missing = sorted(set(args.only) - set(names))
        if missing:
            raise SystemExit(f"--only: {missing} are not in the book (have {names})")
        names = [n for n in names if n in args.only]
    if not args.no_execute:
        execute(root, names, params, args.kernel, args.force, out_root, prof["cell_timeout"])
    if not args.no_build:
        from .environment import write_environment

        write_findings(out_root, toc_notebooks(out_root))
        write_environment(out_root, root)  # the Environment page: commit, lock hash, versions
        html = build_html(out_root, root)
        print(f"[book] HTML: {html / 'index.html'}", flush=True)
    print(f"[book] total {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
