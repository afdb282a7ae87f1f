"""The package people install: the built wheel's modules import only what it declares, it has the
``mlgcn`` console script and the licence; the tree is ruff-clean and the notebooks carry no outputs."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlgcn_core.paths import PROJECT_ROOT

# import names whose distribution is not installed here (``packages_distributions`` cannot say)
KNOWN = {"yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "ray": "ray"}
# where an import may come from: the method needs the core dependencies only; the book wing
# (mlgcn_core/book/) may also use the `book` and `ray` extras
WING_EXTRAS = {"mlgcn_core/book/": ("book", "ray")}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the checkout stays free of build/ and egg-info)
    by the venv's setuptools, offline."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(PROJECT_ROOT / f, src / f)
    shutil.copytree(PROJECT_ROOT / "mlgcn_core", src / "mlgcn_core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("mlgcn_core-*.whl")
    return whl


def declared(whl: Path) -> dict[str, set[str]]:
    """``{"": core, extra: its distributions}`` from the wheel's METADATA (normalized names)."""
    with zipfile.ZipFile(whl) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    out: dict[str, set[str]] = {"": set()}
    msg = Parser().parsestr(meta)
    for extra in msg.get_all("Provides-Extra") or []:
        out[extra] = set()
    for line in msg.get_all("Requires-Dist") or []:
        req = Requirement(line)
        extra = next((e for e in out if e and req.marker and req.marker.evaluate({"extra": e})), "")
        if req.marker and not extra and not req.marker.evaluate({"extra": ""}):
            continue  # for another platform or Python
        out[extra].add(_norm(req.name))
    return out


def third_party_imports(source: str) -> set[str]:
    """Top-level names of the absolute imports anywhere in a module (module level, in functions,
    guarded or not), less the standard library."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("__future__", "mlgcn_core")}


def undeclared_imports(modules: dict[str, str], deps: dict[str, set[str]]) -> list[str]:
    """``path: import → distribution (allowed: …)`` for each import of ``modules`` ({path in the
    wheel: source}) that no allowed dependency list declares."""
    dists = metadata.packages_distributions()
    bad = []
    for path, source in sorted(modules.items()):
        extras = next((e for prefix, e in WING_EXTRAS.items() if path.startswith(prefix)), ())
        allowed = set().union(deps[""], *(deps.get(e, set()) for e in extras))
        for name in sorted(third_party_imports(source)):
            candidates = {_norm(d) for d in dists.get(name, [])} or {_norm(KNOWN.get(name, name))}
            if not candidates & allowed:
                bad.append(f"{path}: {name} → {'/'.join(sorted(candidates))} "
                           f"(allowed: core{''.join(' + ' + e for e in extras)})")
    return bad


def wheel_modules(whl: Path) -> dict[str, str]:
    with zipfile.ZipFile(whl) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.endswith(".py")}


def test_wheel_imports_are_declared_dependencies(wheel):
    """Every import of every module in the wheel is a declared dependency: `pip install .` gives a
    package that starts (core), and the book wing's extras cover the rest."""
    modules = wheel_modules(wheel)
    assert "mlgcn_core/config.py" in modules and "mlgcn_core/book/sweep.py" in modules
    assert not [m for m in modules if not m.startswith("mlgcn_core/")]  # no tests, notebooks, benchmarks
    deps = declared(wheel)
    assert {"book", "test", "ray"} <= set(deps)
    assert undeclared_imports(modules, deps) == []


def test_the_check_fails_on_a_missing_dependency(wheel):
    """The check can fail: without PyYAML in the core list, the modules importing yaml are reported."""
    deps = declared(wheel)
    deps[""].discard("pyyaml")
    bad = undeclared_imports(wheel_modules(wheel), deps)
    assert "mlgcn_core/config.py: yaml → pyyaml (allowed: core)" in bad
    assert any(b.startswith("mlgcn_core/book/build.py: yaml") for b in bad)
    deps = declared(wheel)
    deps["book"].discard("papermill")  # a book-wing import outside the core
    assert "mlgcn_core/book/sweep.py: papermill → papermill (allowed: core + book + ray)" in \
        undeclared_imports(wheel_modules(wheel), deps)


def test_wheel_has_the_console_script_licence_and_presets(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        eps = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert re.search(r"^mlgcn = mlgcn_core\.__main__:main$", eps, re.M)
    assert any(n.endswith("LICENSE") and ".dist-info/" in n for n in names)
    assert any(n.startswith("mlgcn_core/presets/") and n.endswith(".yaml") for n in names)


def test_ruff_check_is_clean():
    """`ruff check` over the tree with the configuration in pyproject.toml (make test runs it)."""
    try:
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                               "."], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:  # pragma: no cover
        pytest.fail("ruff is not installed (requirements.lock pins it)")
    assert "No module named ruff" not in proc.stderr, "ruff is not installed: install requirements.lock"
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def test_notebooks_are_committed_without_outputs():
    """The chapters' sources carry no outputs or execution counts (pre-commit's nbstripout strips
    them; this catches a commit made without it in a second instead of the notebook tests' minutes)."""
    left = []
    for nb in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                left.append(f"{nb.name}: cell {i}")
    assert left == []


def test_pre_commit_runs_ruff_format_and_nbstripout():
    import yaml

    cfg = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in cfg["repos"] for h in repo["hooks"]}
    assert {"ruff", "ruff-format", "nbstripout"} <= set(hooks)
    ruff_pin = next(ln for ln in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
                    if ln.startswith("ruff=="))
    assert ruff_pin in hooks["ruff"]["additional_dependencies"]  # the hook's ruff is the lock's


def test_one_version_pyproject_and_citation_agree():
    """One version: pyproject's is the one CITATION.cff (and so its BibTeX) cites."""
    import tomllib

    import yaml

    from mlgcn_core.paths import PROJECT_ROOT

    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    cff = yaml.safe_load((PROJECT_ROOT / "CITATION.cff").read_text())
    assert str(cff["version"]) == version
    assert (PROJECT_ROOT / "CHANGELOG.md").read_text().count(f"## {version}") == 1


@pytest.mark.parametrize("platform, cuda", [("x86_64-manylinux_2_28", True), ("aarch64-manylinux_2_28", True),
                                            ("aarch64-apple-darwin", False)])
def test_the_lock_resolves_on_linux_and_macos(platform, cuda, tmp_path):
    """One universal lock (``make lock``): ``uv pip install --dry-run`` resolves it for Linux x86_64,
    Linux aarch64 and macOS arm64 (14+: torch's wheels) at the Python floor, with CUDA packages on
    Linux only. Reads PyPI's metadata (the index CI may reach), installs nothing."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.fail("uv is not installed in this venv (requirements.lock pins it)")
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"}
    proc = subprocess.run([str(uv), "pip", "install", "--dry-run", "--python-platform", platform, "--python-version",
                           "3.11.5", "--target", str(tmp_path / "t"), "-r", str(PROJECT_ROOT / "requirements.lock")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plan = proc.stderr + proc.stdout
    assert re.search(r"^ \+ torch==", plan, re.M) and re.search(r"^ \+ torchvision==", plan, re.M)
    assert bool(re.search(r"^ \+ (nvidia-|triton==|cuda-bindings==)", plan, re.M)) == cuda


def test_the_core_torch_dependency_is_a_range_the_lock_pins_inside():
    """``pip install .`` keeps a torch already installed within the range (Colab's); the lock pins
    one version inside it."""
    meta = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = {Requirement(r).name: Requirement(r) for r in meta}
    pins = {ln.split("==")[0]: ln.split("==")[1].split(";")[0].strip()
            for ln in (PROJECT_ROOT / "requirements.lock").read_text().splitlines() if "==" in ln}
    for name in ("torch", "torchvision"):
        spec = reqs[name].specifier
        assert len(spec) == 2 and not any(s.operator == "==" for s in spec), spec  # a range, not a pin
        assert spec.contains(pins[name]), (name, pins[name], spec)
    assert reqs["torch"].specifier.contains("2.5.1") and not reqs["torch"].specifier.contains("2.4.1")
