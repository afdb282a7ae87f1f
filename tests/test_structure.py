"""The house rule: the method (``mlgcn_core`` outside ``book/``) never imports the book kit
(``mlgcn_core/book/``); only the command line (``__main__.py``) may dispatch to it."""

from __future__ import annotations

import ast
from pathlib import Path

from mlgcn_core.paths import PACKAGE_ROOT

KIT = PACKAGE_ROOT / "book"


def _imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Absolute names of the modules ``path`` imports (relative imports resolved; ``root`` is the
    folder of the package ``mlgcn_core``)."""
    package = ".".join(("mlgcn_core", *path.relative_to(root).parent.parts))
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def kit_imports_of_the_method(root: Path = PACKAGE_ROOT) -> list[str]:
    """Every import of the kit by a module of the method, as 'file:line: module'."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        if root / "book" in path.parents or path == root / "__main__.py":
            continue
        for line, mod in _imported_modules(path, root):
            if mod == "mlgcn_core.book" or mod.startswith("mlgcn_core.book."):
                bad.append(f"{path.relative_to(root)}:{line}: {mod}")
    return bad


def test_the_method_never_imports_the_book_kit():
    assert kit_imports_of_the_method() == []


def test_the_import_scan_finds_a_violation(tmp_path):
    """The rule can fail: a method module importing the kit (relatively or absolutely) is reported."""
    pkg = tmp_path / "mlgcn_core"
    (pkg / "book").mkdir(parents=True)
    (pkg / "data").mkdir()
    (pkg / "book" / "report.py").write_text("X = 1\n")
    (pkg / "train.py").write_text("from .book.report import X\n")
    (pkg / "data" / "voc.py").write_text("from ..book import report\nimport mlgcn_core.book.plots\n")
    (pkg / "__main__.py").write_text("from .book.build import main\n")  # the CLI may dispatch
    (pkg / "book" / "plots.py").write_text("from ..train import X\n")  # the kit may use the method
    assert kit_imports_of_the_method(pkg) == [
        "data/voc.py:1: mlgcn_core.book", "data/voc.py:1: mlgcn_core.book.report",
        "data/voc.py:2: mlgcn_core.book.plots", "train.py:1: mlgcn_core.book.report",
        "train.py:1: mlgcn_core.book.report.X"]


def test_the_kit_holds_the_book_machinery():
    names = {p.stem for p in KIT.glob("*.py")}
    assert {"build", "notebook", "sweep", "chapters", "findings", "analysis", "report", "plots",
            "reference", "browser"} <= names
    assert not any((PACKAGE_ROOT / f"{n}.py").exists() for n in
                   ("book", "notebook", "sweep", "experiments", "analysis", "report", "plots", "reference",
                    "browser"))
