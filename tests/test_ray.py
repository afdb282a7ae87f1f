"""Sweep executors: GPU pinning of the local pool (fake device lists) and Ray tasks on a real local
Ray cluster started by the test (``-m ray``), whose table must equal the local executor's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from fixtures import write_point_notebook

from mlgcn_core.book import sweep
from mlgcn_core.book.sweep import assign_gpus, point_key, visible_gpus

# --- which GPUs each local worker gets (pure) -------------------------------------------------


@pytest.mark.parametrize("devices, jobs, per_point, expected", [
    ([], 2, None, [None, None]),                    # no GPU: today's pool, nothing set
    ([], 1, 0, [None]),
    (["0", "1", "2", "3"], 8, None, ["0", "1", "2", "3"]),   # 8 jobs on 4 GPUs: 4 workers, one GPU each
    (["0", "1", "2", "3"], 2, 1, ["0", "1"]),       # fewer jobs than GPUs: the first ones
    (["0", "1", "2", "3", "4"], 8, 2, ["0,1", "2,3"]),  # 2 GPUs a point: the odd one left idle
    (["GPU-aa", "GPU-bb"], 4, 2, ["GPU-aa,GPU-bb"]),  # UUIDs pass through
    (["4", "6"], 3, 0, ["", "", ""]),                # CPU points on a GPU machine see no GPU
])
def test_assign_gpus(devices, jobs, per_point, expected):
    assert assign_gpus(devices, jobs, per_point) == expected


def test_assign_gpus_rejects_impossible_requests():
    with pytest.raises(ValueError, match=r"--gpus-per-point 2: only 1 CUDA device\(s\) visible \(7\)"):
        assign_gpus(["7"], 4, 2)
    with pytest.raises(ValueError, match="only 0 CUDA device"):
        assign_gpus([], 1, 1)
    with pytest.raises(ValueError, match="--jobs 0"):
        assign_gpus(["0"], 0, 1)


def test_visible_gpus_reads_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert visible_gpus() == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []


def test_importing_the_package_does_not_import_ray():
    code = ("import sys, mlgcn_core, mlgcn_core.__main__, mlgcn_core.book.sweep, mlgcn_core.book.chapters; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=300)
    assert out.stdout.strip() == "False"


@pytest.fixture
def point_notebook(tmp_path):
    """A point runner: one row per seed, fails on purpose for x = 3; records the GPUs and
    threads its kernel was given."""
    return write_point_notebook(
        tmp_path / "point.ipynb", "x: int = 0\nseeds: list = [0, 1]",
        "import os\n"
        "from mlgcn_core.book.notebook import record\n"
        "record('env', {'cuda': os.environ.get('CUDA_VISIBLE_DEVICES'), 'pid': os.getppid()})\n"
        "assert x != 3, 'x = 3 is broken'\n"
        "record('table', [{'variant': 'v', 'seed': s, 'mAP': 10.0 * x + s / 7} for s in seeds])")


def test_cli_rejects_more_gpus_than_visible(point_notebook, tmp_path, monkeypatch, capsys):
    from mlgcn_core.__main__ import main

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    rc = main(["sweep", str(point_notebook), "--grid", "x=1", "--gpus-per-point", "1",
               "--out", str(tmp_path / "s")])
    assert rc == 2 and capsys.readouterr().err == (
        "error: --gpus-per-point 1: only 0 CUDA device(s) visible (none)\n")
    rc = main(["sweep", str(point_notebook), "--grid", "x=1", "--address", "auto", "--out", str(tmp_path / "s")])
    assert rc == 2 and "--address is the Ray cluster's address" in capsys.readouterr().err
    port = _free_port()  # nothing listens there: one line at once, not Ray's minutes of retries
    rc = main(["sweep", str(point_notebook), "--grid", "x=1", "--executor", "ray", "--address",
               f"127.0.0.1:{port}", "--out", str(tmp_path / "s")])
    assert rc == 2 and capsys.readouterr().err == (
        f"error: --address 127.0.0.1:{port}: no Ray head node answers there (Connection refused); "
        f"start one with `ray start --head --port={port}`\n")
    rc = main(["sweep", str(point_notebook), "--grid", "x=1", "--executor", "ray", "--address", "head",
               "--out", str(tmp_path / "s")])
    assert rc == 2 and "expected HOST:PORT of a Ray head node" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # nothing written


# --- a real Ray cluster ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HEAD_START_SECONDS = 180  # measured start: 12.5-14 s on 2 cores


def _start_head(log: Path) -> tuple[subprocess.Popen, str | None]:
    """``ray start --head --block`` (2 CPUs, 2 declared GPUs) in a process group of its own;
    (process, address) once it says it is up, address None when it exited first."""
    port = _free_port()
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", f"--port={port}",
           "--num-cpus=2", "--num-gpus=2", "--include-dashboard=false", "--disable-usage-stats",
           f"--dashboard-agent-listen-port={_free_port()}", "--block"]
    with open(log, "w") as out:  # a file, not a pipe: Ray's daemons inherit it
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    deadline = time.monotonic() + HEAD_START_SECONDS  # bounded: a head that never comes up fails
    while proc.poll() is None and "Ray runtime started" not in log.read_text():
        if time.monotonic() > deadline:
            _stop_head(proc)
            return proc, None
        time.sleep(0.5)
    return proc, (None if proc.poll() is not None else f"127.0.0.1:{port}")


def _stop_head(proc: subprocess.Popen) -> None:
    """SIGINT to the blocking ``ray start`` stops the processes it started; then its group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group only
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray head node for this module (the cluster a user starts with ``ray start --head``);
    its address. On a loaded machine Ray's node can time out while starting (its agents start
    slowly): up to 3 attempts."""
    logs = tmp_path_factory.mktemp("ray")
    t0 = time.time()
    for attempt in range(3):
        proc, address = _start_head(logs / f"start{attempt}.log")
        if address:
            break
        _stop_head(proc)
    assert address, (logs / "start2.log").read_text()[-3000:]
    print(f"[ray] head up at {address} after {time.time() - t0:.1f} s ({attempt + 1} attempt(s))")
    try:
        yield address
    finally:
        _stop_head(proc)


def _recorded_env(out: Path, nb: Path, x: int) -> dict:
    from mlgcn_core.book.notebook import recorded

    folder = out / "points" / point_key(nb, {"x": x})
    return recorded(nbformat.read(folder / "notebook.ipynb", 4))["env"]


@pytest.mark.ray
def test_ray_sweep_equals_local_sweep(point_notebook, tmp_path, monkeypatch, ray_cluster, capsys):
    from mlgcn_core.__main__ import main

    xs = [1, 2, 3]
    # local: 2 fake GPUs, one per point → 2 workers pinned to "5" and "7"
    monkeypatch.setattr(sweep, "visible_gpus", lambda: ["5", "7"])
    t = time.perf_counter()
    # x = 3 fails on purpose: a sweep with a failed point exits 2 after its summary line
    assert main(["sweep", str(point_notebook), "--grid", "x=1,2,3", "--jobs", "4",
                 "--out", str(tmp_path / "local")]) == 2
    wall_local = time.perf_counter() - t
    t = time.perf_counter()
    assert main(["sweep", str(point_notebook), "--grid", "x=1,2,3", "--executor", "ray",
                 "--address", ray_cluster, "--gpus-per-point", "1", "--out", str(tmp_path / "ray")]) == 2
    wall_ray = time.perf_counter() - t
    log = capsys.readouterr().out
    local_csv = (tmp_path / "local" / "results.csv").read_text()
    ray_csv = (tmp_path / "ray" / "results.csv").read_text()
    print(f"local ({wall_local:.1f} s):\n{local_csv}\nray ({wall_ray:.1f} s):\n{ray_csv}")
    assert ray_csv == local_csv  # same points, same numbers, same failure
    import pandas as pd

    table = pd.read_csv(tmp_path / "ray" / "results.csv")
    ok = table[table.error.isna()]
    assert sorted(zip(ok.x, ok.seed)) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert (ok.mAP == 10 * ok.x + ok.seed / 7).all()
    assert table[table.x == 3].error.tolist() == ["AssertionError: x = 3 is broken (in point.ipynb)"]
    assert "Ray task(s), 1 GPU and 1 CPU each" in log
    for x in xs:  # each point's kernel saw exactly one GPU: its worker's (local) or Ray's
        assert _recorded_env(tmp_path / "local", point_notebook, x)["cuda"] in {"5", "7"}
        assert _recorded_env(tmp_path / "ray", point_notebook, x)["cuda"] in {"0", "1"}
        folder = tmp_path / "ray" / "points" / point_key(point_notebook, {"x": x})
        assert (folder / "params.json").is_file() and (folder / ("error.txt" if x == 3 else "records.json")).is_file()
    logs = []  # skip-done: the failed point is retried, the others read back
    sweep.run_sweep(str(point_notebook), {"x": xs}, out=tmp_path / "ray", executor="ray",
                    address=ray_cluster, gpus_per_point=0, log=logs.append)
    assert "3 points, 2 done, 1 to run on Ray" in logs[0]
    assert _recorded_env(tmp_path / "ray", point_notebook, 3)["cuda"] in ("", None)  # 0 GPUs asked


def test_token_authentication_is_turned_on_when_a_token_is_here(tmp_path):
    """Ray 2.60's head node wants a token; a driver with an explicit address sends it only when
    RAY_AUTH_MODE=token (the cause of the ConnectionError this test's cluster once gave)."""
    from mlgcn_core.book.sweep import ray_token_auth

    assert not ray_token_auth({}, tmp_path)                              # no token anywhere
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t" * 64)
    assert ray_token_auth({}, tmp_path)                                  # ~/.ray/auth_token
    assert not ray_token_auth({"RAY_AUTH_MODE": "disabled"}, tmp_path)   # the user's choice wins
    assert not ray_token_auth({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "none")}, tmp_path)
    assert ray_token_auth({"RAY_AUTH_TOKEN": "abc"}, tmp_path / "nohome")


@pytest.mark.ray
def test_an_ablation_chapter_runs_its_points_on_ray(ray_cluster, tmp_path, monkeypatch):
    """``make book PARAMS="executor=ray address=…"`` reaches the sweep: the depth chapter (smoke
    grid, 2 points) runs its points as Ray tasks on the cluster and records them."""
    from mlgcn_core.book.notebook import execute, recorded
    from mlgcn_core.paths import PROJECT_ROOT

    monkeypatch.setenv("MLGCN_RUNS", str(tmp_path / "runs"))  # nothing done yet: every point runs
    nb = execute(PROJECT_ROOT / "notebooks" / "07_ablation_depth.ipynb", tmp_path / "07.ipynb",
                 {"executor": "ray", "address": ray_cluster, "gpus_per_point": 0, "profile": "smoke"},
                 cwd=PROJECT_ROOT / "notebooks")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"2 points, 0 done, 2 to run on Ray ({ray_cluster})" in text, text[-2000:]
    assert "2 Ray task(s), 0 GPU and 1 CPU each" in text
    rec = recorded(nb)["ablation"]
    assert rec["failed"] == 0 and rec["rows"] >= 4  # 2 depths × (baseline + ML-GCN variants), seed 0
    assert len(list((tmp_path / "runs" / "sweeps").glob("*/points/*/records.json"))) == 2
