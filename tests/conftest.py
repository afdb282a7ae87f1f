"""Shared fixtures. Every test run writes caches and runs into its own temporary folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mlgcn_core.paths import PROJECT_ROOT

# Isolate derived artifacts (scenes, features, runs) from the user's; set before any test imports.
_TMP = Path(tempfile.mkdtemp(prefix="mlgcn-tests-"))
os.environ["MLGCN_CACHE"] = str(_TMP / "cache")
os.environ["MLGCN_RUNS"] = str(_TMP / "runs")

OFFICIAL_DIR = Path(os.environ.get("MLGCN_OFFICIAL_DIR", PROJECT_ROOT.parent / "shared" / "data" / "mlgcn-official"))


@pytest.fixture(scope="session")
def official_dir() -> Path:
    """The official repository's label statistics and GloVe vectors (always present in CI:
    a missing file is a failure, not a skip)."""
    for name in ("voc_adj.pkl", "coco_adj.pkl", "voc_glove_word2vec.pkl", "coco_glove_word2vec.pkl",
                 "category.json"):
        assert (OFFICIAL_DIR / name).is_file(), f"missing official file {OFFICIAL_DIR / name}"
    return OFFICIAL_DIR
