"""Notebook helpers: recorded values read back by tests, and :func:`execute`, the one way the
package runs a notebook with papermill (book chapters and sweep points)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

RECORD_KEY = "mlgcn_record"
KERNEL_START_ATTEMPTS = 3


def record(name: str, value) -> None:
    """Display ``value`` (JSON-serializable; NaN and infinities become null) tagged so tests can
    read it from the executed notebook."""
    from IPython.display import display

    payload = _finite(json.loads(json.dumps(value, default=float)))
    display({"application/json": payload, "text/plain": f"recorded {name!r}"}, raw=True,
            metadata={RECORD_KEY: name})


def _finite(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def recorded(nb) -> dict:
    """All values recorded with :func:`record` in an executed notebook (nbformat node)."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get(RECORD_KEY)
            if name is not None:
                out[name] = o["data"]["application/json"]
    return out


def default_kernel() -> str:
    """The project's kernelspec (``mlgcn``, installed by ``make``) if present, else ``python3``."""
    from jupyter_client.kernelspec import find_kernel_specs

    return "mlgcn" if "mlgcn" in find_kernel_specs() else "python3"


def _socket_dir() -> str | None:
    """A private folder for one kernel's sockets (None on Windows: TCP there). A Unix socket's
    path is limited to ~104 bytes, so a long ``TMPDIR`` falls back to ``/tmp``."""
    if os.name == "nt":
        return None
    base = tempfile.gettempdir()
    if len(base) > 64 and os.path.isdir("/tmp"):
        base = "/tmp"
    return tempfile.mkdtemp(prefix="mlgcn-kernel-", dir=base)  # + "/k-N": base + ~26 bytes


def _kernel_config(socket_dir: str | None):
    """Kernel transport: on POSIX, Unix-domain sockets in a private folder (``ipc``). Over TCP,
    jupyter_client picks a free port, closes it and hands the number to the kernel; a kernel
    started at the same moment by another process (parallel sweep points) can take that port
    first and the kernel dies with "Address already in use" — sockets named by a path cannot
    collide."""
    from traitlets.config import Config

    if socket_dir is None:
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(socket_dir, "k")}})


def _nothing_ran(output: Path) -> bool:
    """True when papermill's output notebook shows no cell was started (the kernel never came up)."""
    import nbformat

    if not output.is_file():
        return True
    try:
        nb = nbformat.read(output, 4)
    except Exception:
        return True
    return all((c.get("metadata", {}).get("papermill") or {}).get("start_time") is None
               for c in nb.cells if c.cell_type == "code")


# Clears the user namespace between notebooks of a warm kernel; the module's own dunder names
# (``__spec__``, ``__name__``, … — multiprocessing's spawn reads ``__main__.__spec__``) are kept.
RESET_CODE = """
def _mlgcn_reset(ip=get_ipython()):
    keep = {k: v for k, v in ip.user_ns.items() if k.startswith("__") and k.endswith("__")}
    ip.run_line_magic("reset", "-f")
    ip.user_ns.update(keep)
    import matplotlib.pyplot as plt
    plt.close("all")
_mlgcn_reset()
"""


class KernelSession:
    """One kernel kept warm for several notebooks run one after the other (the points of a sweep
    handled by one worker): its start and the notebooks' imports (torch, pandas, matplotlib, the
    package: several seconds) are paid once, not per notebook. Before each notebook the user
    namespace is cleared (``%reset -f``) and open figures closed, so a notebook sees only its own
    parameters; modules stay imported and their pure caches (e.g. the GloVe table) stay filled. A
    kernel that died is started afresh for the next notebook. Use as a context manager, or
    :meth:`close` it; the kernel's working folder is ``cwd``, the same for every notebook."""

    def __init__(self, kernel: str | None = None, cwd: str | os.PathLike | None = None):
        from ..paths import PROJECT_ROOT

        self.kernel, self.cwd = kernel or default_kernel(), str(cwd or PROJECT_ROOT)
        self.km, self._socket_dir, self.runs = None, None, 0

    def manager(self):
        """The kernel manager (a new one when there is none or its kernel died)."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        if self.km is not None and not run_sync(self.km.is_alive)():
            self.close()
        if self.km is None:
            self._socket_dir = _socket_dir()
            self.km = AsyncKernelManager(kernel_name=self.kernel, config=_kernel_config(self._socket_dir))
        return self.km

    def reset(self) -> None:
        """Clear the user namespace of a running kernel (nothing to do before its first notebook)."""
        from jupyter_core.utils import run_sync

        if self.km is None or not self.km.has_kernel:
            return

        async def _reset():
            kc = self.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
                reply = await kc.execute_interactive(RESET_CODE, timeout=60, store_history=False)
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue')}")
            finally:
                kc.stop_channels()

        run_sync(_reset)()

    def close(self) -> None:
        from jupyter_core.utils import run_sync

        if self.km is not None and self.km.has_kernel:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:  # a kernel that is gone already
                pass
        self.km = None
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def execute(notebook: str | os.PathLike, output: str | os.PathLike, parameters: dict | None = None,
            *, kernel: str | None = None, cwd: str | os.PathLike | None = None,
            attempts: int = KERNEL_START_ATTEMPTS, log=None, session: KernelSession | None = None,
            cell_timeout: float | None = None):
    """Run ``notebook`` with papermill into ``output`` and return the executed notebook.

    The kernel talks over Unix sockets (see :func:`_kernel_config`); a kernel that dies or hangs
    before its first cell runs is started again, up to ``attempts`` times in all. Errors raised
    by a cell are never retried: papermill's ``PapermillExecutionError`` goes to the caller.
    With a ``session`` the notebook runs in that session's warm kernel (cleared first; its
    ``kernel`` and ``cwd`` apply); without, in a kernel of its own, shut down afterwards.
    ``cell_timeout``: seconds one cell may run (None: no limit); a cell past it raises nbclient's
    ``CellTimeoutError``, never retried.
    """
    import papermill as pm

    from ..paths import PROJECT_ROOT

    output = Path(output)
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    for attempt in range(1, attempts + 1):
        output.unlink(missing_ok=True)  # what `_nothing_ran` reads must be this attempt's
        socket_dir = None if session else _socket_dir()
        try:
            if session is not None:
                session.reset()
                nb = pm.execute_notebook(str(notebook), str(output), parameters=parameters or {},
                                         kernel_name=session.kernel, cwd=session.cwd, progress_bar=False,
                                         km=session.manager(), execution_timeout=cell_timeout)
                session.runs += 1
                return nb
            return pm.execute_notebook(str(notebook), str(output), parameters=parameters or {},
                                       kernel_name=kernel or default_kernel(),
                                       cwd=str(cwd or PROJECT_ROOT), progress_bar=False,
                                       config=_kernel_config(socket_dir), execution_timeout=cell_timeout)
        except Exception as exc:
            if hasattr(exc, "ename") or isinstance(exc, TimeoutError) or attempt == attempts \
                    or not _nothing_ran(output):
                raise
            log(f"[kernel] {Path(notebook).name}: the kernel did not start ({type(exc).__name__}: "
                f"{str(exc).strip()[:200]}); attempt {attempt + 1} of {attempts}")
            if session is not None:
                session.close()
            time.sleep(attempt)
        finally:
            if socket_dir:
                shutil.rmtree(socket_dir, ignore_errors=True)
