"""Parallel kernel starts over TCP vs Unix sockets (ipc), side by side.

Why: a sweep with ``--jobs N`` starts N kernels at once. Over TCP, jupyter_client picks free
ports, closes them and hands the numbers to the kernel; another process starting a kernel at
the same moment can take one of them first, and the kernel dies with "Address already in use"
(CI saw this once in ~60 sweep points). ``mlgcn_core.book.notebook.execute`` therefore uses Unix
sockets named by a private path (and starts a kernel that did not come up again). This starts
``--starts`` kernels in each of ``--procs`` processes, at once, per transport, each once (no
retry), and prints how many did not come up and the time per start. Target: 0 failed starts
over ipc, no slower than TCP. The TCP collision is rare (0 of 40 on the 2-core machine at
--procs 4 --starts 10), so a clean TCP row does not mean the race is absent.

    .venv/bin/python benchmarks/kernel_starts.py [--procs 4] [--starts 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor


def _starts(transport: str, n: int, kernel: str) -> tuple[int, int, float]:
    """Start and stop ``n`` kernels one after the other; returns (ok, failed, seconds)."""
    from jupyter_client import KernelManager

    ok = failed = 0
    t0 = time.time()
    for _ in range(n):
        sockets = tempfile.mkdtemp(prefix="mlgcn-kernel-")
        extra = {"ip": os.path.join(sockets, "k")} if transport == "ipc" else {}
        km = KernelManager(kernel_name=kernel, transport=transport, **extra)
        try:
            km.start_kernel()
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kc.stop_channels()
            ok += 1
        except Exception:  # noqa: BLE001 — counting failures is the point
            failed += 1
        finally:
            km.shutdown_kernel(now=True)
            shutil.rmtree(sockets, ignore_errors=True)
    return ok, failed, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--starts", type=int, default=10)
    args = ap.parse_args()
    from mlgcn_core.book.notebook import default_kernel

    kernel = default_kernel()
    print(f"{args.procs} processes × {args.starts} kernel starts each, kernel '{kernel}'")
    print(f"{'transport':>9}  {'started':>7}  {'failed':>6}  {'s/start':>7}")
    for transport in ("tcp", "ipc"):
        with ProcessPoolExecutor(args.procs) as pool:
            res = list(pool.map(_starts, [transport] * args.procs, [args.starts] * args.procs,
                                [kernel] * args.procs))
        ok, failed = sum(r[0] for r in res), sum(r[1] for r in res)
        per = sum(r[2] for r in res) / max(ok + failed, 1)
        print(f"{transport:>9}  {ok:>7}  {failed:>6}  {per:>7.2f}")


if __name__ == "__main__":
    main()
