"""Parameter sweeps with papermill: one executed notebook per grid point, one tidy table.

    python -m mlgcn_core sweep NOTEBOOK --grid tau=0,0.1,0.2 [--grid graph=binary,reweighted]
                                       [-p seeds=[0,1,2]] [--jobs N] [--out DIR]
    python -m mlgcn_core sweep notebooks/sweeps/tau.yaml [--jobs N] [--gpus-per-point N]
    python -m mlgcn_core sweep notebooks/sweeps/tau.yaml --executor ray [--address auto]

Each point (the fixed parameters plus one combination of the grid) is keyed by a hash of the
notebook's name and its parameters; its folder holds ``params.json``, the executed
``notebook.ipynb`` and ``records.json`` (what the notebook recorded with
:func:`mlgcn_core.notebook.record`), or ``error.txt`` when it failed. A failing point does not stop
the sweep; a re-run skips the points already done and retries failed ones. ``results.csv`` is the
tidy table: one row per recorded result row (the point notebook's ``table`` record: one per
variant and seed) with the point's parameters as columns, plus one row per failed point.

Executors (both run :func:`_run_point`, so folders, table, skip-done and failures are the same):

* ``local`` — a process pool on this machine, ``jobs`` points at a time. With CUDA devices visible
  each worker is pinned to its own ``gpus_per_point`` GPU(s) through ``CUDA_VISIBLE_DEVICES``
  (inherited by the point's kernel), and ``jobs`` is capped at ``n_gpus // gpus_per_point``
  (:func:`assign_gpus`).
* ``ray`` — every point is a Ray task (``num_gpus=gpus_per_point``, ``num_cpus=cpus_per_point``)
  on an existing cluster (``address``: ``auto`` or ``HOST:6379``) or on a
  local one started for the sweep (no address). Ray schedules the points and sets each task's
  ``CUDA_VISIBLE_DEVICES``. Every node must see the project checkout, its ``.venv`` and the sweep
  folder at the same paths (a shared filesystem): the tasks write their results straight there.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import socket
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from ..cli_args import group_dotted, load_yaml, parse_assignments
from ..io import atomic_path, write_text
from ..paths import PROJECT_ROOT, display_path, runs_root

TABLE_RECORD = "table"


def parse_grid(items: list[str]) -> dict[str, list]:
    """``NAME=V1,V2,…`` (values parsed as YAML) or ``NAME=START:STOP:STEP`` (inclusive range)
    → {name: [values]}."""
    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--grid {item!r}: expected NAME=V1,V2,… or NAME=START:STOP:STEP")
        if values.count(":") == 2 and "," not in values:
            start, stop, step = (float(v) for v in values.split(":"))
            if step <= 0 or stop < start:
                raise ValueError(f"--grid {item!r}: need STEP > 0 and STOP ≥ START")
            n = int(round((stop - start) / step)) + 1
            grid[name] = [round(start + i * step, 10) for i in range(n)]
        else:
            grid[name] = [load_yaml(v) for v in values.split(",") if v.strip()]
        if not grid[name]:
            raise ValueError(f"--grid {item!r}: no values")
    return grid


def load_spec(path: str | os.PathLike) -> dict:
    """A sweep file: ``notebook``, ``grid`` ({name: [values]}), optional ``parameters``, ``name`` and
    ``book_grid`` (the levels of ``grid`` the default book build runs, a subset of each axis)."""
    path = Path(path)
    spec = load_yaml(path.read_text()) or {}
    for field in ("notebook", "grid"):
        if field not in spec:
            raise ValueError(f"{path}: field {field!r} missing")
    if not isinstance(spec["grid"], dict) or not all(isinstance(v, list) and v for v in spec["grid"].values()):
        raise ValueError(f"{path}: field 'grid' must map parameter names to non-empty lists")
    book = spec.get("book_grid", {})
    if not isinstance(book, dict) or any(k not in spec["grid"] or not isinstance(v, list) or not v
                                         or set(v) - set(spec["grid"][k]) for k, v in book.items()):
        raise ValueError(f"{path}: field 'book_grid' must map axes of 'grid' to non-empty lists of their values")
    spec.setdefault("parameters", {})
    spec.setdefault("name", path.stem)
    return spec


def notebook_path(name: str) -> Path:
    p = Path(name)
    for cand in (p, PROJECT_ROOT / "notebooks" / p, PROJECT_ROOT / "notebooks" / f"{name}.ipynb"):
        if cand.is_file() and cand.suffix == ".ipynb":
            return cand.resolve()
    raise FileNotFoundError(f"notebook {name!r} not found (give a path or a name under notebooks/)")


def points(grid: dict[str, list], fixed: dict) -> list[dict]:
    names = list(grid)
    return [{**fixed, **dict(zip(names, combo))} for combo in itertools.product(*(grid[n] for n in names))]


def notebook_parameters(params: dict, declared: set, notebook: str) -> dict:
    """A point's parameters as its notebook takes them: a name the notebook does not declare but
    that is a training field (:func:`mlgcn_core.config.is_config_field`) goes into the notebook's
    ``config`` dict parameter (``tau=0.2`` → ``config={…, "tau": 0.2}``); another unknown name is
    an error. The point keeps its flat names in the tidy table."""
    from ..config import is_config_field

    out, config = {}, dict(params.get("config") or {})
    for name, value in params.items():
        if name in declared and name != "config":
            out[name] = value
        elif name != "config" and "config" in declared and is_config_field(name):
            config[name] = value
        elif name != "config":
            raise ValueError(f"parameter {name!r} is neither in {notebook}'s parameters cell "
                             f"({sorted(declared)}) nor a training config field")
    if config:
        out["config"] = config
    return out


def point_key(notebook: Path, params: dict) -> str:
    """A grid point's name: its notebook and parameters (the smoke profile's points apart)."""
    smoke = params.get("profile") == "smoke"
    blob = json.dumps({"notebook": notebook.stem, "params": params, "smoke": smoke},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


EXECUTORS = ("local", "ray")


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as ``CUDA_VISIBLE_DEVICES`` tokens: the variable's
    own entries when set (indices, ``GPU-…`` UUIDs or MIG ids; empty: none), else ``0 … n-1``."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [t.strip() for t in env.split(",") if t.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def assign_gpus(devices: list[str], jobs: int, gpus_per_point: int | None) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` of each local worker; the list's length is the number of workers.

    ``gpus_per_point`` None: 1 when ``devices`` is not empty, else 0. With 0 on a machine with
    GPUs the workers see none (CPU points); on a machine without GPUs nothing is set (None).
    With k > 0: at most ``len(devices) // k`` workers, each with its own k devices, so never
    more concurrent CUDA points than the GPUs allow.
    """
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: expected ≥ 1")
    k = (1 if devices else 0) if gpus_per_point is None else gpus_per_point
    if k < 0:
        raise ValueError(f"--gpus-per-point {k}: expected ≥ 0")
    if k == 0:
        return [("" if devices else None)] * jobs
    if len(devices) < k:
        raise ValueError(f"--gpus-per-point {k}: only {len(devices)} CUDA device(s) visible "
                         f"({','.join(devices) or 'none'})")
    n = min(jobs, len(devices) // k)
    return [",".join(devices[i * k:(i + 1) * k]) for i in range(n)]


def _pin_worker(slots, threads: int | None) -> None:
    """Process-pool initializer: this worker takes one GPU slot for its lifetime."""
    slot = slots.get(timeout=60)
    if slot is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slot
    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


_WORKER_SESSION = None  # a pool worker's warm kernel (KernelSession), kept for its next points


def _worker_session(kernel: str | None):
    """This worker process's warm kernel: started for its first point, reused (cleared) for the
    next ones — a point's kernel start and imports cost more than its training — and shut down
    when the worker exits."""
    global _WORKER_SESSION
    from multiprocessing.util import Finalize

    from .notebook import KernelSession

    if _WORKER_SESSION is None:
        _WORKER_SESSION = KernelSession(kernel, PROJECT_ROOT)
        Finalize(_WORKER_SESSION, _WORKER_SESSION.close, exitpriority=10)
    return _WORKER_SESSION


def _run_point(notebook: str, params: dict, folder: str, kernel: str | None,
               threads: int | None = None, session=None, warm: bool = False) -> tuple[str, str | None]:
    """Execute one point (in a worker process or a Ray task); returns (folder, error or None).
    The kernel inherits this process's environment (``CUDA_VISIBLE_DEVICES``, thread counts).
    ``session``: a warm kernel to run in; ``warm``: use this worker process's own warm kernel."""
    if threads:  # inherited by the kernel: parallel points must not oversubscribe the cores
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    from .notebook import execute, recorded

    if warm and session is None:
        session = _worker_session(kernel)

    folder_p = Path(folder)
    folder_p.mkdir(parents=True, exist_ok=True)
    (folder_p / "params.json").write_text(json.dumps(params, indent=2, default=str))
    (folder_p / "error.txt").unlink(missing_ok=True)
    t0 = time.time()
    try:
        nb = execute(notebook, folder_p / "notebook.ipynb", params, kernel=kernel, cwd=PROJECT_ROOT,
                     session=session)
        rec = recorded(nb)
        write_text(folder_p / "records.json",
                   json.dumps({"records": rec, "seconds": round(time.time() - t0, 2)}, default=float))
        return folder, None
    except Exception as exc:  # recorded, the sweep goes on
        if hasattr(exc, "ename"):  # a cell raised: papermill names the notebook's own exception
            msg = f"{exc.ename}: {exc.evalue} (in {Path(notebook).name})"
        else:
            msg = f"{type(exc).__name__}: {str(exc).strip()}"
        (folder_p / "error.txt").write_text(msg + "\n\n" + traceback.format_exc())
        return folder, msg


def run_sweep(notebook: str, grid: dict[str, list], parameters: dict | None = None,
              out: str | os.PathLike | None = None, jobs: int = 1, kernel: str | None = None,
              name: str | None = None, log=print, executor: str = "local", address: str | None = None,
              gpus_per_point: int | None = None, cpus_per_point: int = 1,
              progress: bool | None = None) -> pd.DataFrame:
    """Run every grid point not done yet and return the tidy table. ``executor="local"``: ``jobs``
    points at a time in a process pool pinned to the GPUs (:func:`assign_gpus`); ``"ray"``: one
    Ray task per point on the cluster at ``address`` (None: a local cluster started here).
    A progress bar over the points to run (with an ETA) goes to stderr (``progress`` None: when
    stderr is a terminal), and each failed point is logged as soon as it fails."""
    if executor not in EXECUTORS:
        raise ValueError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        raise ValueError("--address is the Ray cluster's address: give it with --executor ray")
    if cpus_per_point < 1:
        raise ValueError(f"--cpus-per-point {cpus_per_point}: expected ≥ 1")
    if executor == "ray" and address and address != "auto":
        check_reachable(address)
    nb = notebook_path(notebook)
    import papermill as pm

    declared = set(pm.inspect_notebook(str(nb)))
    fixed = dict(parameters or {})
    if "seed" in grid and "seed" not in declared and "seeds" in declared:
        grid = {("seeds" if k == "seed" else k): ([[s] for s in v] if k == "seed" else v)
                for k, v in grid.items()}  # a seed axis → one-seed lists for a `seeds` parameter
    for params in points({k: v[:1] for k, v in grid.items()}, fixed):
        notebook_parameters(params, declared, nb.name)  # unknown names fail here, before any point runs
    out = Path(out) if out else runs_root() / "sweeps" / (name or nb.stem)
    todo, all_points = [], []
    for params in points(grid, fixed):
        folder = out / "points" / point_key(nb, params)
        all_points.append((params, folder))
        if not (folder / "records.json").is_file():
            todo.append((notebook_parameters(params, declared, nb.name), folder))
    slots = assign_gpus(visible_gpus(), jobs, gpus_per_point) if executor == "local" and todo else []
    how = (f"on Ray ({address or 'a local cluster'})" if executor == "ray"
           else f"with {max(1, len(slots))} job(s)" + (f" on GPUs {slots}" if slots and slots[0] else ""))
    log(f"[sweep] {nb.name}: {len(all_points)} points, {len(all_points) - len(todo)} done, "
        f"{len(todo)} to run {how} → {display_path(out)}")
    if todo:
        finish = _PointProgress(len(todo), nb.stem, log, progress,
                                {str(f): ", ".join(f"{k}={p.get(k)}" for k in grid) for p, f in all_points})
        if executor == "ray":
            _run_on_ray(str(nb), todo, kernel, address, gpus_per_point, cpus_per_point, log, on_finish=finish)
        elif slots != [None]:  # several workers, or one pinned to its GPU(s)
            import multiprocessing as mp

            free = mp.get_context().Queue()
            for slot in slots:
                free.put(slot)
            threads = max(1, (os.cpu_count() or 1) // len(slots))
            with ProcessPoolExecutor(len(slots), initializer=_pin_worker, initargs=(free, threads)) as pool:
                futs = [pool.submit(_run_point, str(nb), p, str(f), kernel, warm=True) for p, f in todo]
                for fut in as_completed(futs):
                    finish(fut.result())
        else:
            from .notebook import KernelSession

            with KernelSession(kernel, PROJECT_ROOT) as session:
                for p, f in todo:
                    finish(_run_point(str(nb), p, str(f), kernel, session=session))
        finish.close()
    table = tidy_table(all_points, list(grid))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "results.parquet") as tmp:
        table.astype({c: str for c in table.columns if table[c].dtype == object}).to_parquet(tmp, index=False)
    return table


class _PointProgress:
    """The sweep's progress bar (tqdm: points done, rate, ETA) and its failure lines: called with
    each point's ``(folder, error)`` as it finishes, it advances the bar and logs a failed point at
    once (``[sweep] point KEY (tau=0.3) failed: …``); returns the result."""

    def __init__(self, total: int, name: str, log, enabled: bool | None, labels: dict[str, str]):
        from tqdm import tqdm

        self.log, self.labels, self.tqdm = log, labels, tqdm
        self.bar = tqdm(total=total, desc=f"[sweep] {name}", unit="point", dynamic_ncols=True,
                        disable=None if enabled is None else not enabled)

    def __call__(self, result: tuple[str, str | None]) -> tuple[str, str | None]:
        folder, err = result
        if err:
            label = self.labels.get(str(folder))
            with self.tqdm.external_write_mode():  # the line above the bar, not through it
                self.log(f"[sweep] point {Path(folder).name}{f' ({label})' if label else ''} failed: "
                         f"{err.splitlines()[0][:200]}")
        self.bar.update(1)
        return result

    def close(self) -> None:
        self.bar.close()


def _ray_env() -> dict[str, str]:
    """Environment of the Ray tasks: this checkout first on ``PYTHONPATH`` (the tasks import
    ``mlgcn_core`` from it) and the project's ``MLGCN_*`` settings (smoke mode, cache, runs)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MLGCN_")}
    path = os.environ.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + ([path] if path else []))
    return env


def _run_on_ray(notebook: str, todo: list[tuple[dict, Path]], kernel: str | None, address: str | None,
                gpus_per_point: int | None, cpus_per_point: int, log,
                on_finish=lambda result: result) -> list[tuple[str, str | None]]:
    """One Ray task per point (:func:`_run_point`); Ray decides where and when each runs. A task
    that dies (its worker crashed, the node was lost) is recorded as the point's failure.
    ``on_finish`` is called with each point's ``(folder, error)`` as it finishes."""
    if address and ray_token_auth(os.environ, Path.home()):
        os.environ["RAY_AUTH_MODE"] = "token"  # before Ray is imported: it reads its config then
    import ray

    started = not ray.is_initialized()
    if started:
        local = {} if address else {"include_dashboard": False}  # a cluster of our own: no dashboard
        try:
            ray.init(address=address, runtime_env={"env_vars": _ray_env()}, log_to_driver=False,
                     logging_level="WARNING", **local)
        except ConnectionError as exc:  # a user's setting, not a bug: one line
            raise ValueError(
                f"--address {address}: cannot connect to the Ray cluster ({exc}); is `ray start --head` "
                f"running there, and is its ~/.ray/auth_token on this machine?") from None
    try:
        gpus = gpus_per_point
        if gpus is None:  # as for `local`: one GPU per point when the cluster has GPUs
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        if gpus < 0:
            raise ValueError(f"--gpus-per-point {gpus}: expected ≥ 0")
        task = ray.remote(num_gpus=gpus, num_cpus=cpus_per_point, max_retries=0)(_run_point)
        refs = {task.remote(notebook, p, str(f), kernel, cpus_per_point): str(f) for p, f in todo}
        log(f"[sweep] {len(refs)} Ray task(s), {gpus} GPU and {cpus_per_point} CPU each; cluster "
            f"{ {k: v for k, v in ray.cluster_resources().items() if k in ('CPU', 'GPU')} }")
        results, pending = [], list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                folder = refs[ref]
                try:
                    results.append(on_finish(ray.get(ref)))
                except ray.exceptions.RayError as exc:  # the task itself was lost, not a cell error
                    msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                    Path(folder).mkdir(parents=True, exist_ok=True)
                    (Path(folder) / "error.txt").write_text(msg + "\n\n" + str(exc))
                    results.append(on_finish((folder, msg)))
        return results
    finally:
        if started:
            ray.shutdown()


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in one line, before any point runs, when nothing listens at a Ray head's ``HOST:PORT``
    (Ray itself retries an unreachable address for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected HOST:PORT of a Ray head node (or auto)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"--address {address}: no Ray head node answers there ({exc.strerror or exc}); "
                         f"start one with `ray start --head --port={port}`") from None


def ray_token_auth(environ, home: Path) -> bool:
    """Whether to connect to an existing cluster with token authentication. Ray 2.60's
    ``ray start --head`` turns token authentication on and writes ``~/.ray/auth_token``, but a
    driver given an explicit address does not turn it on by itself (only ``auto`` does): on when a
    token is here (``RAY_AUTH_TOKEN``, the file at ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``)
    and ``RAY_AUTH_MODE`` is not set by the user."""
    if environ.get("RAY_AUTH_MODE") is not None:
        return False
    path = Path(environ.get("RAY_AUTH_TOKEN_PATH") or home / ".ray" / "auth_token")
    return bool(environ.get("RAY_AUTH_TOKEN")) or path.is_file()


def tidy_table(all_points: list[tuple[dict, Path]], grid_names: list[str]) -> pd.DataFrame:
    rows = []
    for params, folder in all_points:
        flat = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in params.items()}
        base = {**flat, "point": folder.name}
        if (folder / "records.json").is_file():
            rec = json.loads((folder / "records.json").read_text())["records"]
            for r in rec.get(TABLE_RECORD, [{}]):
                rows.append({**base, **r, "error": None})
        elif (folder / "error.txt").is_file():
            first = next((ln for ln in (folder / "error.txt").read_text().splitlines() if ln.strip()), "error")
            rows.append({**base, "error": first})
    return pd.DataFrame(rows)


def main(args) -> int:
    if args.notebook.endswith((".yaml", ".yml")):
        spec = load_spec(args.notebook)
        grid = {**spec["grid"], **parse_grid(args.grid)}
        params = group_dotted(parse_assignments(args.param), into=spec["parameters"])
        nb, name = spec["notebook"], spec["name"]
    else:
        grid, params, nb, name = parse_grid(args.grid), group_dotted(parse_assignments(args.param)), args.notebook, None
        if not grid:
            raise ValueError("give at least one --grid NAME=V1,V2,… (or a sweep .yaml file)")
    table = run_sweep(nb, grid, params, args.out, args.jobs, name=name, executor=args.executor,
                      address=args.address, gpus_per_point=args.gpus_per_point,
                      cpus_per_point=args.cpus_per_point)
    failed = int(table["error"].notna().sum()) if "error" in table else 0
    print(f"[sweep] {len(table)} rows, {failed} failed point(s)")
    if failed:  # the summary above, then one line and a non-zero exit: a script must not read success
        out = Path(args.out) if args.out else runs_root() / "sweeps" / (name or Path(nb).stem)
        bad, total = (table.loc[table["error"].notna(), "point"].nunique(), table["point"].nunique()) \
            if "point" in table else (failed, len(table))
        raise ValueError(f"{bad} of {total} sweep point(s) failed: their errors are in the 'error' column of "
                         f"{display_path(out / 'results.csv')}; a re-run retries them")
    return 0

