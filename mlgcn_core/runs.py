"""The run store: a run's folder, its files and provenance, and reading a finished run back.

A run lives in ``runs/<model>-<config hash>/``: ``config.json`` (the config and its provenance:
package version, git commit, torch, Python, world size), ``history.csv`` (one line per epoch),
``checkpoint.pt`` (what ``--resume`` continues from; removed once the run finishes), ``model.pt``
(the selected epoch, :func:`checkpoint_payload`, :func:`compact_head`; features mode names its
backbone by weight hash, :func:`backbone_identity`) and, written last, ``metrics.json``. One lock
per run key (:func:`run_lock`) keeps two processes from training one run at once. A resume may change only
fields outside the run key (``device``, ``workers``, fields the run does not use); ``config.json``
keeps the first part's config and lists each resumed part under ``"resumed"`` (:func:`record_start`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import ExperimentConfig
from .io import atomic_path, write_text
from .paths import PROJECT_ROOT, runs_root

CHECKPOINT_FORMAT = "mlgcn-checkpoint/1"


@dataclass
class RunResult:
    config: ExperimentConfig
    path: Path
    metrics: dict  # test metrics (13 scalars + per-class "AP")
    val_metrics: dict  # validation metrics of the selected epoch
    best_epoch: int
    history: list[dict]
    reused: bool  # True when read back from an earlier run


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def atomic_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)  # through a Python file: a full disk is an OSError (ENOSPC), not a C++ error


def jsonable(metrics: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in metrics.items()}


def write_history(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)


def provenance(cfg: ExperimentConfig, world: int = 1) -> dict:
    """What ``config.json`` holds: the config and where it ran (package, git commit, torch, Python)."""
    return {"config": cfg.to_dict(), "package_version": __version__, "git_commit": git_commit(),
            "torch": torch.__version__, "python": platform.python_version(), "world_size": world}


def _flat(cfg: ExperimentConfig) -> dict:
    """The config's fields by override name (``outfits.n_train`` for an embedded benchmark's)."""
    from .data.catalog import SCENE_FIELDS

    d = cfg.to_dict()
    out = {f"{name}.{k}": v for name in SCENE_FIELDS for k, v in (d.pop(name, None) or {}).items()}
    return {**d, **out}


def config_changes(old: ExperimentConfig, new: ExperimentConfig) -> dict:
    """{field: [old value, new value]} for every field (``outfits.*`` by name) that differs."""
    a, b = _flat(old), _flat(new)
    return {k: [a.get(k), b[k]] for k in b if a.get(k) != b[k]}


def key_changes(old: ExperimentConfig, new: ExperimentConfig) -> dict:
    """The part of :func:`config_changes` that changes the run key: each changed field set alone
    on ``old`` moves its :meth:`ExperimentConfig.key` (fields never in the key or unused by the
    run do not)."""
    return {k: v for k, v in config_changes(old, new).items()
            if old.with_overrides({k: v[1]}).key() != old.key()}


def _changes_text(changes: dict) -> str:
    return ", ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in changes.items())


def resume_state(cfg: ExperimentConfig, out: Path) -> tuple[dict, dict]:
    """The checkpoint to continue the interrupted run ``cfg`` from (in its run folder ``out``) and
    the non-key fields that changed since the part that wrote it (``{field: [old, new]}``; e.g.
    ``workers`` or ``device``: allowed, recorded by :func:`record_start`).

    Reads only: a missing or unreadable checkpoint, or one whose config has another run key, is
    refused with a one-line ``ValueError`` before anything in the run folder is written."""
    ckpt = out / "checkpoint.pt"
    if not ckpt.is_file():
        raise ValueError(f"cannot resume: {out} has no checkpoint.pt (no interrupted run has this "
                         f"config's run key {cfg.key()}){_nearest_interrupted(cfg, out.parent)}")
    try:
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
        old = ExperimentConfig.from_dict(st["config"])
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint: one line, no traceback
        raise ValueError(f"cannot resume: {ckpt} cannot be read ({type(exc).__name__}: {exc})") from exc
    if old.key() != cfg.key():
        raise ValueError(f"cannot resume: {ckpt} was written with other run-key fields "
                         f"({_changes_text(key_changes(old, cfg)) or 'a different key'}); only fields "
                         "outside the run key (device, workers, fields the run does not use) may change")
    return st, config_changes(old, cfg)


def _nearest_interrupted(cfg: ExperimentConfig, root: Path) -> str:
    """'; the interrupted run X differs in run-key fields: tau 0.4 → 0.5 …' for the interrupted run
    under ``root`` (a checkpoint, no metrics) whose config differs from ``cfg`` in fewest key fields."""
    best = None
    for ck in sorted(root.glob("*/checkpoint.pt")) if root.is_dir() else []:
        if (ck.parent / "metrics.json").is_file():
            continue
        try:
            old = ExperimentConfig.from_dict(json.loads((ck.parent / "config.json").read_text())["config"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        diff = key_changes(old, cfg)
        if best is None or len(diff) < len(best[1]):
            best = (ck.parent.name, diff)
    if best is None:
        return "; drop --resume to start it"
    return (f"; the interrupted run {best[0]} differs in run-key fields: {_changes_text(best[1])} "
            "(another run key is another run: drop --resume to start it)")


def record_start(out: Path, cfg: ExperimentConfig, world: int = 1, resumed: dict | None = None,
                 changes: dict | None = None) -> None:
    """Write ``config.json`` as a run starts: a fresh run gets :func:`provenance`; a resumed one
    keeps its first part's config and provenance and gains an entry in ``"resumed"``: the epoch it
    continued after, the non-key fields that changed (``{field: [old, new]}``) and where the resumed
    part ran (package, git commit, torch, Python, world size)."""
    path = out / "config.json"
    if resumed is None:
        write_text(path, json.dumps(provenance(cfg, world), indent=2))
        return
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        meta = provenance(ExperimentConfig.from_dict(resumed["config"]), world)
    part = {k: v for k, v in provenance(cfg, world).items() if k != "config"}
    meta.setdefault("resumed", []).append({"epoch": int(resumed["epoch"]), "changed": changes or {}, **part})
    write_text(path, json.dumps(meta, indent=2, default=list))


def checkpoint_payload(cfg: ExperimentConfig, classes: list[str], model_state: dict, **extra) -> dict:
    """Our checkpoint layout (loadable with ``torch.load(weights_only=True)``)."""
    return {"format": CHECKPOINT_FORMAT, "config": cfg.to_dict(), "classes": list(classes),
            "model": model_state, "package_version": __version__, **extra}


def load_run(path: str | os.PathLike) -> RunResult:
    """A finished run read back; a missing, truncated or hand-edited run file is one ValueError
    naming the file and the way out (``--force`` retrains the run)."""
    path = Path(path)
    current = path / "config.json"
    try:
        cfg = ExperimentConfig.from_dict(json.loads(current.read_text())["config"])
        current = path / "metrics.json"
        m = json.loads(current.read_text())
        test = dict(m["test"], AP=np.asarray(m["test"]["AP"], dtype=float))
        val, best_epoch = m["val"], int(m["best_epoch"])
        current = path / "history.csv"
        with open(current) as f:
            history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"run file {current} is corrupted or unreadable ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else exc!r}); retrain the run with "
                         "--force (python -m mlgcn_core train … --force, or run_experiment(cfg, "
                         "force=True)), or delete its folder") from None
    return RunResult(cfg, path, test, val, best_epoch, history, reused=True)


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """One lock per run folder (``<runs>/.locks/<run name>.lock``, ``filelock``: ``flock`` on POSIX,
    ``msvcrt`` locking on Windows): a second process with the same run key waits here until the
    first one has finished, then reads its result back instead of training the run again alongside it."""
    from filelock import FileLock

    folder = out.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f"{out.name}.lock"):
        yield


_BACKBONE_IDS: dict[tuple, dict] = {}


def backbone_identity(cfg: ExperimentConfig) -> dict:
    """What a features-mode ``model.pt`` records of the frozen backbone in front of its head
    instead of its weights: name, weights, pooling and a SHA-256 of its state (built once per
    process; :func:`~mlgcn_core.inference.model_from_checkpoint` rebuilds it and checks the hash)."""
    key = (cfg.backbone, cfg.weights, cfg.pooling)
    if key not in _BACKBONE_IDS:
        from .backbones import build_backbone
        from .features import _weights_tag
        from .paths import cache_root

        # kept beside the feature caches it describes, so that a process (a sweep point's kernel)
        # does not build the backbone only to hash it: the feature cache trusts the same identity
        path = cache_root() / "features" / f"{cfg.backbone}-{_weights_tag(cfg.weights)}-{cfg.pooling}.backbone.json"
        try:
            ident = json.loads(path.read_text())
            assert ident["name"] == cfg.backbone and len(ident["sha256"]) == 64
        except (OSError, ValueError, KeyError, TypeError, AssertionError):
            ident = {"name": cfg.backbone, "weights": cfg.weights, "pooling": cfg.pooling,
                     "sha256": state_hash(build_backbone(*key).state_dict())}
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, json.dumps(ident))
        _BACKBONE_IDS[key] = ident
    return dict(_BACKBONE_IDS[key])


COMPACT_HEADS = True  # model.pt of an ML-GCN run stores W (C × D) instead of the last GCN layer


@torch.no_grad()
def compact_head(model, state: dict) -> dict:
    """``state`` (the selected epoch's, loaded in ``model``) for ``model.pt``: an ML-GCN head's
    last GCN weight (hidden × D, most of a features-mode run's model.pt) is replaced by
    ``head.stored_classifiers``, the classifier matrix W = GCN(Z, Â) (C × D, C ≪ hidden) the run
    itself computed and was tested with. Every inference (evaluate, predict,
    the book's scores and classifiers) needs W only, and gets exactly the run's W; the earlier
    layers stay (the expressiveness check, ``analysis.reachability``, uses them). Training state
    (``checkpoint.pt``, resume) is never compacted. A linear head is returned as it is."""
    gcn = getattr(model.head, "gcn", None)
    if not COMPACT_HEADS or gcn is None:
        return state
    model.eval()
    last = f"head.gcn.layers.{gcn.depth - 1}.weight"
    out = {k: v for k, v in state.items() if k != last}
    out["head.stored_classifiers"] = model.head.classifiers().detach().cpu().clone()  # (C, D)
    return out


def expand_head(state: dict, model) -> dict:
    """A compact ``model.pt`` state (:func:`compact_head`) made loadable into ``model``'s full
    head: the last GCN weight, not stored, is filled with NaN (any use of it shows), and
    ``stored_classifiers`` is registered so that ``model.classifiers()`` returns the stored W."""
    key = "head.stored_classifiers"
    if key not in state:
        return state
    gcn = model.head.gcn
    last = f"head.gcn.layers.{gcn.depth - 1}.weight"
    model.head.stored_classifiers = torch.empty_like(state[key])
    return {**state, last: torch.full_like(gcn.layers[-1].weight, float("nan"))}


def state_hash(state: dict) -> str:
    """SHA-256 of a state dict (names, dtypes, shapes and bytes, in order)."""
    import hashlib

    h = hashlib.sha256()
    for k, v in state.items():
        v = v.detach().cpu().contiguous()
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}|".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()


def run_path(cfg: ExperimentConfig, root: str | os.PathLike | None = None) -> Path:
    """The run folder of ``cfg``: ``root/<run_name>`` (``root``: ``runs_root()``)."""
    return (Path(root) if root else runs_root()) / cfg.run_name()


class CheckpointSaver:
    """``checkpoint.pt`` of a run in ``out``: what a resume continues from. Written atomically after
    this invocation's first epoch, after the last, and in between at most every ``every`` seconds
    (the checkpoint holds the model, the optimizer and the best model; an epoch on cached features is
    short, and writing it every epoch would be a good part of the run), so an interrupted run loses
    at most ``every`` seconds of training. Only the main process writes."""

    def __init__(self, out: Path, cfg: ExperimentConfig, classes: list[str], ctx, every: float):
        self.path, self.out, self.cfg, self.classes = out / "checkpoint.pt", out, cfg, classes
        self.ctx, self.every, self.first_epoch, self.saved = ctx, every, 0, time.time()

    def start(self, state: dict | None, changes: dict) -> list[dict]:
        """Record the run's start (``config.json``, :func:`record_start`); a fresh run drops a stale
        checkpoint. Returns the history so far (a resumed run's, from its checkpoint)."""
        if self.ctx.main:
            self.out.mkdir(parents=True, exist_ok=True)
            record_start(self.out, self.cfg, self.ctx.world, state, changes)
            if state is None:
                self.path.unlink(missing_ok=True)
        self.first_epoch = int(state["epoch"]) if state is not None else 0
        self.saved = time.time()
        return list(state["history"]) if state is not None else []

    def last_good(self, epoch: int) -> str:
        """The checkpoint a failure at (0-based) ``epoch`` can resume from."""
        return str(self.path) if self.first_epoch or epoch else "(none yet)"

    def save_if_due(self, epoch: int, history: list[dict], train_state, best: dict) -> None:
        """After (0-based) ``epoch``: the history and, when due, the checkpoint (``train_state()``:
        the engine's model, optimizer and scaler)."""
        final = epoch + 1 == self.cfg.epochs
        if self.ctx.main and (epoch == self.first_epoch or final or time.time() - self.saved > self.every):
            write_history(self.out / "history.csv", history)
            atomic_save(checkpoint_payload(self.cfg, self.classes, None, epoch=epoch + 1, history=history,
                                           train_state=train_state(), best=best), self.path)
            self.saved = time.time()

    def finish(self) -> None:
        """The run is finished: only an interrupted run keeps its checkpoint."""
        self.path.unlink(missing_ok=True)


def write_result(out: Path, cfg: ExperimentConfig, model, best: dict, test: dict, classes: list[str],
                 train_images: int, seconds: float) -> None:
    """A finished run's ``model.pt`` (the selected epoch; features mode: the head, and the frozen
    backbone by name and weight hash, rebuilt on load — a map head's frozen top included) and,
    last, ``metrics.json``."""
    from .selection import selection_label

    extra = {"backbone": backbone_identity(cfg)} if cfg.mode == "features" else {}
    state = compact_head(model, best["model"])
    if cfg.mode == "features":  # the head only: a frozen top in front of a map head is the named backbone's
        state = {k: v for k, v in state.items() if not k.startswith("backbone.")}
    atomic_save(checkpoint_payload(cfg, classes, state, epoch=best["epoch"], **extra), out / "model.pt")
    write_text(out / "metrics.json", json.dumps(
        {"test": jsonable(test), "val": best["val"], "best_epoch": best["epoch"], "classes": classes,
         "selection": selection_label(cfg.selection), "train_images": train_images,
         "seconds": round(seconds, 2)}, indent=2))
