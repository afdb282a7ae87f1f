"""A sweep on the local executor vs the same sweep on a Ray cluster, side by side in one run: both
walls, the ratio, and the two tables (which must be equal).

What runs: the τ ablation's sweep (``notebooks/sweeps/tau.yaml``) on a small grid in the
smoke profile (``-p profile=smoke``; default τ ∈ {0.2, 0.6}, chapter 02's smoke training per point). First a warm-up
local sweep (feature cache), then, timed: the local executor with ``--jobs`` workers, a Ray head
node started here (``ray start --head``, ``--jobs`` CPUs; its start timed apart) and the same sweep
submitted to it with ``--executor ray --address``. The head is stopped after.

    .venv/bin/python benchmarks/sweep_executors.py [--tau 0.2,0.6] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tau", default="0.2,0.6", help="the grid's τ values")
    ap.add_argument("--jobs", type=int, default=2, help="local workers = the Ray head's CPUs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sweep-executors-"))
    env = dict(os.environ, MLGCN_RUNS=str(tmp / "runs"), RAY_USAGE_STATS_ENABLED="0")
    bin_dir = Path(sys.executable).parent
    sweep = [sys.executable, "-m", "mlgcn_core", "sweep", "notebooks/sweeps/tau.yaml", "--grid", f"tau={args.tau}",
             "-p", "profile=smoke"]
    root = Path(__file__).resolve().parents[1]

    def timed(cmd: list[str], log: Path) -> float:
        t = time.perf_counter()
        with open(log, "w") as out:
            subprocess.run(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
        return time.perf_counter() - t

    timed(sweep + ["--jobs", str(args.jobs), "--out", str(tmp / "warmup")], tmp / "warmup.log")
    walls = {"local": timed(sweep + ["--jobs", str(args.jobs), "--out", str(tmp / "local")], tmp / "local.log")}
    port = _free_port()
    head = [str(bin_dir / "ray"), "start", "--head", f"--port={port}", f"--num-cpus={args.jobs}",
            "--include-dashboard=false", "--disable-usage-stats"]
    try:
        start = timed(head, tmp / "head.log")
        walls["ray"] = timed(sweep + ["--executor", "ray", "--address", f"127.0.0.1:{port}",
                                      "--out", str(tmp / "ray")], tmp / "ray.log")
    finally:
        subprocess.run([str(bin_dir / "ray"), "stop"], env=env, capture_output=True)
    import pandas as pd

    local, ray = (pd.read_csv(tmp / k / "results.csv") for k in ("local", "ray"))
    keys = ["tau", "variant", "seed"]
    side = local[keys + ["mAP"]].merge(ray[keys + ["mAP"]], on=keys, suffixes=(" local", " ray"))
    print(f"τ sweep, smoke grid τ ∈ {{{args.tau}}} ({len(side)} runs), {args.jobs} workers / Ray CPUs:")
    print(side.to_markdown(index=False, floatfmt=".3f"))
    same = (tmp / "local" / "results.csv").read_bytes() == (tmp / "ray" / "results.csv").read_bytes()
    print(f"results.csv local vs ray: {'identical' if same else 'DIFFERENT'}")
    print(f"  local executor     {walls['local']:6.1f} s")
    print(f"  Ray executor       {walls['ray']:6.1f} s   (+ {start:.1f} s to start the head node)")
    print(f"  ratio ray / local: {walls['ray'] / walls['local']:.2f}×")


if __name__ == "__main__":
    main()
