"""Sweeps: grid parsing, one papermill run per point, tidy table, skip done points, failures."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from fixtures import write_point_notebook
from nbformat.v4 import new_code_cell, new_notebook

from mlgcn_core.book.notebook import execute, recorded
from mlgcn_core.book.sweep import parse_grid, point_key, run_sweep


def test_parse_grid():
    assert parse_grid(["tau=0,0.5,1", "graph=binary,reweighted"]) == {
        "tau": [0, 0.5, 1], "graph": ["binary", "reweighted"]}
    assert parse_grid(["tau=0:1:0.25"]) == {"tau": [0.0, 0.25, 0.5, 0.75, 1.0]}
    with pytest.raises(ValueError, match="expected NAME"):
        parse_grid(["tau"])


@pytest.fixture
def tiny_notebook(tmp_path):
    """A point runner: records one row per seed; fails on purpose for x = 3."""
    return write_point_notebook(
        tmp_path / "point.ipynb", "x: int = 0\nseeds: list = [0]",
        "from mlgcn_core.book.notebook import record\n"
        "assert x != 3, 'x = 3 is broken'\n"
        "record('table', [{'variant': 'v', 'seed': s, 'mAP': 10.0 * x + s} for s in seeds])\n"
        "import uuid\nrecord('stamp', uuid.uuid4().hex)  # new on every execution of the point")


@pytest.mark.notebook
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
    stamp = json.loads((point / "records.json").read_text())["records"]["stamp"]
    logs = []
    run_sweep(str(tiny_notebook), {"x": [1, 2, 3], "seed": [0, 1]}, out=out, log=logs.append)
    assert "4 done, 2 to run" in logs[0]  # done points skipped, failed ones retried
    assert json.loads((point / "records.json").read_text())["records"]["stamp"] == stamp  # not executed again


def test_point_keys_of_the_default_profile_unchanged():
    """A point's folder name is its key: the explicit scale switch (``profile``) renames no point of
    the default book (pinned as computed when smoke mode was an environment variable)."""
    from pathlib import Path

    params = {"tau": 0.2, "seeds": [0, 1, 2], "config": {"epochs": 20}}
    assert point_key(Path("notebooks/02_train.ipynb"), params) == "ade9208d50a7"
    assert point_key(Path("notebooks/02_train.ipynb"), {**params, "profile": "smoke"}) != "ade9208d50a7"


def test_sweep_rejects_unknown_parameter(tiny_notebook, tmp_path):
    with pytest.raises(ValueError, match=r"parameter 'tau' is neither in point.ipynb's parameters cell"):
        run_sweep(str(tiny_notebook), {"tau": [0.1]}, out=tmp_path / "s", log=lambda m: None)
    assert not (tmp_path / "s").exists()  # refused before any point ran


def test_training_fields_of_a_point_go_into_the_notebooks_config():
    """A grid over a training field (``tau``) reaches a chapter through its ``config`` parameter,
    merged with the fixed config; names the notebook declares stay parameters."""
    from mlgcn_core.book.sweep import notebook_parameters

    declared = {"config", "seeds", "variants"}
    point = {"tau": 0.2, "outfits.n_train": 300, "seeds": [0], "config": {"epochs": 6}}
    assert notebook_parameters(point, declared, "02_train.ipynb") == {
        "seeds": [0], "config": {"epochs": 6, "tau": 0.2, "outfits.n_train": 300}}
    with pytest.raises(ValueError, match="'taux' is neither"):
        notebook_parameters({"taux": 1}, declared, "02_train.ipynb")


# --- how a notebook is run: Unix-socket kernels, a kernel that does not start is started again ---

def _notebook(path, source: str, kernel: str = "mlgcn"):
    params = new_code_cell("x: int = 0")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell(source)],
                      metadata={"kernelspec": {"name": kernel, "language": "python", "display_name": kernel}})
    nbformat.write(nb, path)
    return path


@pytest.fixture
def flaky_kernel(tmp_path, monkeypatch):
    """A kernelspec 'flaky' whose first FLAKY_FAILS starts exit before the kernel comes up (as
    a kernel that lost its port does), then starts ipykernel; returns the start counter file
    (incremented under a lock: parallel points start kernels at once, and an unlocked
    read-then-write lost starts or let two kernels both take the one failing start)."""
    script = tmp_path / "flaky.py"
    script.write_text(
        "import fcntl, os, runpy, sys\n"
        "counter = os.environ['FLAKY_COUNTER']\n"
        "with open(counter + '.lock', 'a') as lock:  # kernels start side by side: count each start once\n"
        "    fcntl.flock(lock, fcntl.LOCK_EX)\n"
        "    n = int(open(counter).read()) if os.path.exists(counter) else 0\n"
        "    with open(counter, 'w') as f:\n"
        "        f.write(str(n + 1))\n"
        "if n < int(os.environ['FLAKY_FAILS']):\n"
        "    sys.exit('zmq.error.ZMQError: Address already in use (simulated)')\n"
        "sys.argv = ['ipykernel_launcher', '-f', sys.argv[1]]\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__')\n")
    spec = tmp_path / "jupyter" / "kernels" / "flaky"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(script), "{connection_file}"], "display_name": "flaky",
        "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    counter = tmp_path / "starts"
    monkeypatch.setenv("FLAKY_COUNTER", str(counter))
    return counter


@pytest.mark.notebook
def test_execute_talks_to_the_kernel_over_unix_sockets(tmp_path):
    nb = _notebook(tmp_path / "in.ipynb", "import ipykernel\n"
                   "from mlgcn_core.book.notebook import record\n"
                   "info = ipykernel.get_connection_info(unpack=True)\n"
                   "record('conn', {'transport': info['transport'], 'ip': info['ip'], 'x': x})")
    out = execute(nb, tmp_path / "out.ipynb", {"x": 5}, kernel="python3")
    conn = recorded(out)["conn"]
    assert conn["transport"] == "ipc" and conn["x"] == 5  # no TCP port to lose to another process
    sockets = Path(conn["ip"]).parent
    assert sockets.name.startswith("mlgcn-kernel-") and not sockets.exists()  # removed afterwards


def test_socket_folder_stays_short(tmp_path, monkeypatch):
    from mlgcn_core.book.notebook import _socket_dir

    long_tmp = tmp_path / ("t" * 80)
    long_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_tmp))
    d = Path(_socket_dir())
    try:
        assert d.parent == Path("/tmp") and len(str(d / "k-1")) < 100
    finally:
        d.rmdir()


@pytest.mark.notebook
def test_execute_starts_a_dead_kernel_again(tmp_path, flaky_kernel, monkeypatch):
    monkeypatch.setenv("FLAKY_FAILS", "2")
    nb = _notebook(tmp_path / "in.ipynb", "from mlgcn_core.book.notebook import record\nrecord('x', x)",
                   kernel="flaky")
    stale = new_notebook(cells=[new_code_cell("x = 1", metadata={"papermill": {"start_time": "2026"}})])
    nbformat.write(stale, tmp_path / "out.ipynb")  # a previous run's output must not hide the failure
    logs = []
    out = execute(nb, tmp_path / "out.ipynb", {"x": 7}, kernel="flaky", log=logs.append)
    assert recorded(out) == {"x": 7} and flaky_kernel.read_text() == "3"
    assert len(logs) == 2 and "the kernel did not start" in logs[0] and "attempt 2 of 3" in logs[0]


@pytest.mark.notebook
@pytest.mark.parametrize("fails, source, error, starts", [
    ("9", "pass", "Kernel died", "3"),  # never comes up: three starts, then the kernel's error
    ("0", "raise ValueError('a real error')", "a real error", "1"),  # a cell's error: no retry
])
def test_execute_stops_retrying(tmp_path, flaky_kernel, monkeypatch, fails, source, error, starts):
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("FLAKY_FAILS", fails)
    nb = _notebook(tmp_path / "in.ipynb", source, kernel="flaky")
    with pytest.raises(RuntimeError if fails != "0" else PapermillExecutionError, match=error):
        execute(nb, tmp_path / "out.ipynb", kernel="flaky", log=lambda m: None)
    assert flaky_kernel.read_text() == starts


@pytest.mark.notebook
def test_sweep_point_survives_a_kernel_that_did_not_start(tmp_path, flaky_kernel, monkeypatch):
    """The CI failure this guards against: one parallel point's kernel died at start-up and the
    point was recorded as failed."""
    monkeypatch.setenv("FLAKY_FAILS", "1")
    nb = _notebook(tmp_path / "point.ipynb", "from mlgcn_core.book.notebook import record\n"
                   "record('table', [{'variant': 'v', 'seed': 0, 'mAP': float(x)}])", kernel="flaky")
    table = run_sweep(str(nb), {"x": [1, 2]}, out=tmp_path / "sweep", jobs=2, kernel="flaky",
                      log=lambda m: None)
    assert table.error.isna().all() and sorted(table.mAP) == [1.0, 2.0]
    assert int(flaky_kernel.read_text()) == 3  # one failed start, then both points


def test_sweep_shows_progress_and_each_failure_as_it_fails(tiny_notebook, tmp_path, monkeypatch, capsys):
    """A progress bar with an ETA over the points to run (stderr), and a failed point's line logged
    before the next point starts (the points run here without a kernel: _run_point is replaced)."""
    import contextlib

    import mlgcn_core.book.notebook as notebook
    from mlgcn_core.book import sweep

    events = []

    def fake_point(nb, params, folder, kernel, session=None, **_):
        events.append(f"run x={params['x']}")
        return folder, ("AssertionError: x = 3 is broken (in point.ipynb)" if params["x"] == 3 else None)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPUs: the points run one after the other here
    monkeypatch.setattr(sweep, "_run_point", fake_point)
    monkeypatch.setattr(notebook, "KernelSession", lambda *a, **k: contextlib.nullcontext())
    run_sweep(str(tiny_notebook), {"x": [1, 3, 2]}, out=tmp_path / "s", log=events.append, progress=True)
    assert events[1:4] == ["run x=1", "run x=3", events[3]] and events[4] == "run x=2"
    assert events[3].startswith("[sweep] point ") and events[3].endswith(
        "(x=3) failed: AssertionError: x = 3 is broken (in point.ipynb)")
    bar = capsys.readouterr().err
    assert "[sweep] point: 100%" in bar and "3/3" in bar and "<00:00" in bar  # done/total, elapsed<ETA
