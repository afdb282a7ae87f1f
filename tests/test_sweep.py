"""Sweeps: grid parsing, one papermill run per point, tidy table, skip done points, failures."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlgcn_core.sweep import parse_grid, point_key, run_sweep

pytestmark = pytest.mark.notebook


def test_parse_grid():
    assert parse_grid(["tau=0,0.5,1", "graph=binary,reweighted"]) == {
        "tau": [0, 0.5, 1], "graph": ["binary", "reweighted"]}
    assert parse_grid(["tau=0:1:0.25"]) == {"tau": [0.0, 0.25, 0.5, 0.75, 1.0]}
    with pytest.raises(ValueError, match="expected NAME"):
        parse_grid(["tau"])


@pytest.fixture
def tiny_notebook(tmp_path):
    """A point runner: records one row per seed; fails on purpose for x = 3."""
    params = new_code_cell("x: int = 0\nseeds: list = [0]")
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from mlgcn_core.notebook import record\n"
        "assert x != 3, 'x = 3 is broken'\n"
        "record('table', [{'variant': 'v', 'seed': s, 'mAP': 10.0 * x + s} for s in seeds])")
    nb = new_notebook(cells=[params, body], metadata={"kernelspec": {"name": "mlgcn", "language": "python",
                                                                     "display_name": "mlgcn"}})
    path = tmp_path / "point.ipynb"
    nbformat.write(nb, path)
    return path


def test_sweep_points_table_skip_and_failures(tiny_notebook, tmp_path):
    out = tmp_path / "sweep"
    table = run_sweep(str(tiny_notebook), {"x": [1, 2, 3], "seed": [0, 1]}, out=out, jobs=2, log=lambda m: None)
    ok = table[table.error.isna()]
    assert sorted(zip(ok.x, ok.seed)) == [(1, 0), (1, 1), (2, 0), (2, 1)]  # `seed` axis → `seeds` lists
    assert (ok.mAP == 10 * ok.x + ok.seed).all()
    bad = table[table.error.notna()]
    assert len(bad) == 2 and bad.error.str.contains("x = 3 is broken").all()
    assert pd.read_csv(out / "results.csv").shape[0] == 6 and (out / "results.parquet").is_file()
    point = out / "points" / point_key(tiny_notebook, {"x": 1, "seeds": [0]})
    assert (point / "notebook.ipynb").is_file() and json.loads((point / "params.json").read_text()) == {
        "x": 1, "seeds": [0]}
    stamp = (point / "records.json").stat().st_mtime_ns
    logs = []
    run_sweep(str(tiny_notebook), {"x": [1, 2, 3], "seed": [0, 1]}, out=out, log=logs.append)
    assert "4 done, 2 to run" in logs[0]  # done points skipped, failed ones retried
    assert (point / "records.json").stat().st_mtime_ns == stamp


def test_sweep_rejects_unknown_parameter(tiny_notebook, tmp_path):
    with pytest.raises(ValueError, match=r"\['tau'\] are not in point.ipynb's parameters"):
        run_sweep(str(tiny_notebook), {"tau": [0.1]}, out=tmp_path / "s", log=lambda m: None)
