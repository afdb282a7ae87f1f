"""Parameter sweeps with papermill: one executed notebook per grid point, one tidy table.

    python -m mlgcn_core sweep NOTEBOOK --grid tau=0,0.1,0.2 [--grid graph=binary,reweighted]
                                       [-p seeds=[0,1,2]] [--jobs N] [--out DIR]
    python -m mlgcn_core sweep notebooks/sweeps/tau.yaml [--jobs N]

Each point (the fixed parameters plus one combination of the grid) is keyed by a hash of the
notebook's name and its parameters; its folder holds ``params.json``, the executed
``notebook.ipynb`` and ``records.json`` (what the notebook recorded with
:func:`mlgcn_core.notebook.record`), or ``error.txt`` when it failed. A failing point does not stop
the sweep; a re-run skips the points already done and retries failed ones. ``results.csv`` is the
tidy table: one row per recorded result row (the point notebook's ``table`` record: one per
variant and seed) with the point's parameters as columns, plus one row per failed point.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import yaml

from ..config import group_dotted, parse_assignments
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
            grid[name] = [yaml.safe_load(v) for v in values.split(",") if v.strip()]
        if not grid[name]:
            raise ValueError(f"--grid {item!r}: no values")
    return grid


def load_spec(path: str | os.PathLike) -> dict:
    """A sweep file: ``notebook``, ``grid`` ({name: [values]}), optional ``parameters``, ``name``."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text()) or {}
    for field in ("notebook", "grid"):
        if field not in spec:
            raise ValueError(f"{path}: field {field!r} missing")
    if not isinstance(spec["grid"], dict) or not all(isinstance(v, list) and v for v in spec["grid"].values()):
        raise ValueError(f"{path}: field 'grid' must map parameter names to non-empty lists")
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
    from .notebook import smoke_mode

    blob = json.dumps({"notebook": notebook.stem, "params": params, "smoke": smoke_mode()},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _run_point(notebook: str, params: dict, folder: str, kernel: str | None,
               threads: int | None = None) -> tuple[str, str | None]:
    """Execute one point (in a worker process); returns (folder, error or None)."""
    if threads:  # inherited by the kernel: parallel points must not oversubscribe the cores
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    from .notebook import execute, recorded

    folder_p = Path(folder)
    folder_p.mkdir(parents=True, exist_ok=True)
    (folder_p / "params.json").write_text(json.dumps(params, indent=2, default=str))
    (folder_p / "error.txt").unlink(missing_ok=True)
    t0 = time.time()
    try:
        nb = execute(notebook, folder_p / "notebook.ipynb", params, kernel=kernel, cwd=PROJECT_ROOT)
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
              name: str | None = None, log=print) -> pd.DataFrame:
    """Run every grid point not done yet (``jobs`` at a time) and return the tidy table."""
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
    log(f"[sweep] {nb.name}: {len(all_points)} points, {len(all_points) - len(todo)} done, "
        f"{len(todo)} to run with {jobs} job(s) → {display_path(out)}")
    if todo:
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                threads = max(1, (os.cpu_count() or 1) // jobs)
                futs = [pool.submit(_run_point, str(nb), p, str(f), kernel, threads) for p, f in todo]
                results = [f.result() for f in futs]
        else:
            results = [_run_point(str(nb), p, str(f), kernel) for p, f in todo]
        for folder, err in results:
            if err:
                log(f"[sweep] point {Path(folder).name} failed: {err.splitlines()[0][:200]}")
    table = tidy_table(all_points, list(grid))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "results.parquet") as tmp:
        table.astype({c: str for c in table.columns if table[c].dtype == object}).to_parquet(tmp, index=False)
    return table


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
        params = {**spec["parameters"], **group_dotted(parse_assignments(args.param))}
        nb, name = spec["notebook"], spec["name"]
    else:
        grid, params, nb, name = parse_grid(args.grid), group_dotted(parse_assignments(args.param)), args.notebook, None
        if not grid:
            raise ValueError("give at least one --grid NAME=V1,V2,… (or a sweep .yaml file)")
    table = run_sweep(nb, grid, params, args.out, args.jobs, name=name)
    failed = int(table["error"].notna().sum()) if "error" in table else 0
    print(f"[sweep] {len(table)} rows, {failed} failed point(s)")
    return 0

