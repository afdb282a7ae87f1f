"""Every path the package uses, in one place.

* ``data_root()``  — raw inputs (Fashion-MNIST, later VOC/COCO): ``$MLGCN_DATA``.
* ``cache_root()`` — derived, re-creatable artifacts (generated scenes, cached features):
  ``$MLGCN_CACHE``.
* ``runs_root()``  — one folder per experiment run (config.json, metrics.json, …): ``$MLGCN_RUNS``.

Defaults: inside the project checkout (``data/``, ``.cache/``, ``runs/``, all git-ignored)
when running from one, else under ``~/.cache/mlgcn``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
_IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "_toc.yml").is_file()


def _base() -> Path:
    return PROJECT_ROOT if _IN_CHECKOUT else Path.home() / ".cache" / "mlgcn"


def data_root() -> Path:
    return Path(os.environ.get("MLGCN_DATA") or _base() / "data")


def cache_root() -> Path:
    return Path(os.environ.get("MLGCN_CACHE") or _base() / ".cache")


def runs_root() -> Path:
    return Path(os.environ.get("MLGCN_RUNS") or _base() / "runs")


def display_path(path: str | Path) -> str:
    """``path`` as printed for a reader: relative to the project (``runs/sweeps/tau``), to the runs
    or cache folder (``$MLGCN_RUNS/…``, ``$MLGCN_CACHE/…`` when those are set elsewhere), else as given."""
    p = Path(path).resolve()
    for base, name in ((PROJECT_ROOT, ""), (runs_root(), "$MLGCN_RUNS/"), (cache_root(), "$MLGCN_CACHE/")):
        try:
            return name + str(p.relative_to(Path(base).resolve()))
        except ValueError:
            continue
    return str(path)
