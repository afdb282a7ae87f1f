"""The training engine: one experiment config → a run folder (``runs.py``).

``run_experiment(cfg)`` is the loop of nanoGPT / timm: an :class:`Engine` (data, model, the
official SGD recipe of ``optim.py``, the config's loss, AMP on CUDA, DDP under torchrun) trains one
epoch at a time; an :class:`~mlgcn_core.selection.EpochSelection` evaluates and keeps the epoch the
run reports (``cfg.selection``); a :class:`~mlgcn_core.runs.CheckpointSaver` writes what a resume
continues from; the selected epoch's test metrics end the run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset
from tqdm import tqdm

from . import distributed
from .config import ExperimentConfig
from .data.loaders import batches, training_batches
from .data.sources import Splits, load_splits
from .features import cached_split_features, check_inputs
from .losses import make_loss
from .metrics import evaluate
from .models import build_model
from .optim import clip_gradients, floor_gradient, lr_factor, make_optimizer
from .runs import CheckpointSaver, RunResult, load_run, resume_state, run_lock, run_path, write_result
from .selection import EpochSelection


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Engine:
    """What one run trains with: device, data loaders, model, optimizer, loss; one epoch of
    training (:meth:`train_one_epoch`) and the metrics of a split (:meth:`evaluate`)."""

    def __init__(self, cfg: ExperimentConfig, splits: Splits, ctx: distributed.Context, progress: bool):
        self.cfg, self.ctx, self.progress = cfg, ctx, progress and ctx.main
        self.classes = splits.classes
        self._place(cfg, ctx)
        feature_dim = self._load_data(cfg, splits)
        seed_everything(cfg.seed)  # the model's initialization depends on the seed only
        self.model = build_model(cfg, splits.train_positives, splits.classes, feature_dim,
                                 word_vectors=splits.word_vectors).to(self.device)
        if distributed.use_sync_bn(cfg, ctx, self.device):  # BatchNorm statistics over the global batch
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        if cfg.channels_last and self.model.backbone is not None:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, cfg)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and cfg.precision == "fp16")
        self.criterion = make_loss(cfg)
        self.net = (nn.parallel.DistributedDataParallel(
            self.model, device_ids=[self.device] if self.device.startswith("cuda") else None)
            if ctx.active else self.model)
        self.sampler, self.train_loader = training_batches(
            self.data["train"], self.local_batch, self.workers, self.device.startswith("cuda"), cfg.seed,
            ctx.world, ctx.rank)

    def _place(self, cfg: ExperimentConfig, ctx: distributed.Context) -> None:
        """Device, precision, this process's batch and loader workers."""
        self.device = distributed.device_for(ctx, cfg.device)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {cfg.device!r}: CUDA is not available on this machine")
        self.amp = cfg.precision != "fp32" and self.device.startswith("cuda")
        if cfg.precision != "fp32" and not self.amp:
            print(f"[train] precision={cfg.precision} applies on CUDA only; running fp32 on {self.device}")
        self.amp_dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
        if cfg.batch_size % ctx.world:
            raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {ctx.world} processes")
        self.local_batch = cfg.batch_size // ctx.world
        self.workers = distributed.loader_workers(cfg.workers, ctx)  # "auto": this process's share

    def _load_data(self, cfg: ExperimentConfig, splits: Splits) -> int | None:
        """``self.data`` {split: dataset}: cached features (top mode, or a head on the feature map
        in features mode: the frozen bottom's maps) or the images; returns the feature size a
        features-mode head takes (else None; a map head's is its frozen top's)."""
        if cfg.mode in ("features", "top"):
            cached = cached_split_features(cfg, splits, self.device, self.ctx, self.progress)
            self.data = {s: TensorDataset(*cached[s]) for s in cached}
            return cached["train"][0].shape[1] if cfg.mode == "features" else None
        self.data = {"train": splits.train, "val": splits.val, "test": splits.test}
        self.data = {k: v for k, v in self.data.items() if v is not None}  # no val: "last"/"test"
        return None

    def _loader(self, ds, indices=None):
        return batches(ds, self.local_batch, self.workers, self.device.startswith("cuda"), self.cfg.seed,
                       indices=indices)

    def _autocast(self):
        return torch.autocast("cuda", dtype=self.amp_dtype) if self.amp else contextlib.nullcontext()

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.float16:  # cached float16 maps (a map head in features mode): computed on in fp32
            x = x.float()
        if self.cfg.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_one_epoch(self, epoch: int, good_checkpoint: str) -> float:
        """One epoch; returns the mean training loss over all ranks' samples."""
        seed_everything(self.cfg.seed * 100_003 + epoch)  # the epoch's other draws: same after a resume
        self.sampler.set_epoch(epoch)
        self.model.train()
        if self.cfg.mode == "features" and self.model.backbone is not None:
            self.model.backbone.eval()
        total, count, seen, t0 = 0.0, 0, 0, time.time()
        n_steps = len(self.train_loader)
        bar = tqdm(self.train_loader, desc=f"epoch {epoch + 1}/{self.cfg.epochs}", disable=not self.progress,
                   leave=False)
        for step, (x, y, _difficult) in enumerate(bar):
            loss = self._step(epoch, step, n_steps, x, y, good_checkpoint)
            total += loss * len(y)
            count += len(y)
            seen += len(y) * self.ctx.world
            bar.set_postfix(loss=f"{total / count:.4f}", img_s=f"{seen / (time.time() - t0):.0f}")
        sums = distributed.gather_object(self.ctx, (total, count))
        return sum(s for s, _ in sums) / sum(c for _, c in sums)

    def _step(self, epoch: int, step: int, n_steps: int, x, y, good_checkpoint: str) -> float:
        """One optimizer step at the schedule's lr; a non-finite loss stops the run."""
        factor = lr_factor(self.cfg, epoch, step, n_steps)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        x, y = self._to_device(x), y.to(self.device, non_blocking=True)
        with self._autocast():
            logits = self.net(x)
        loss = self.criterion(floor_gradient(logits.float(), self.cfg.grad_floor), y)
        if distributed.any_flag(self.ctx, not bool(torch.isfinite(loss))):
            raise FloatingPointError(
                f"training stopped: the loss became {loss.item()} at epoch {epoch + 1}, step "
                f"{step + 1} (lr {self.optimizer.param_groups[0]['lr']:.3g}; try a lower lr, "
                f"clip_grad_norm or fp32). The last good checkpoint is kept: {good_checkpoint}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.clip_grad_norm:
            self.scaler.unscale_(self.optimizer)
            clip_gradients(self.model.parameters(), self.cfg.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item()

    @torch.no_grad()
    def predict(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (n, C), targets (n, C) and difficult (n, C) of a whole split; each rank scores
        the items rank, rank + world, … and the results are gathered in dataset order."""
        ds = self.data[split]
        idx = list(range(self.ctx.rank, len(ds), self.ctx.world))
        self.model.eval()
        out = []
        with self._autocast(), self.model.evaluating():
            for x, y, d in self._loader(ds, indices=idx):
                s = self.model(self._to_device(x))
                out.append((s.float().cpu(), y, d))
        n, C = len(ds), len(self.classes)
        part = [torch.cat(t).numpy() for t in zip(*out)] if out else [np.zeros((0, C))] * 3  # more ranks than items
        scores, targets, diff = np.zeros((n, C)), np.zeros((n, C)), np.zeros((n, C), dtype=bool)
        for ids, s, y, d in distributed.gather_object(self.ctx, (idx, *part)):
            scores[ids], targets[ids], diff[ids] = s, y, d
        return scores, targets.astype(np.int64), diff

    def evaluate(self, split: str) -> dict:
        scores, targets, diff = self.predict(split)
        return evaluate(scores, targets, difficult=diff, class_names=self.classes)

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict()}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])


CHECKPOINT_SECONDS = 30.0  # at most this long between checkpoints (besides the first epoch's and the last's)


def run_experiment(cfg: ExperimentConfig, root: str | os.PathLike | None = None, force: bool = False,
                   resume: bool = False, progress: bool = True,
                   callbacks: Sequence[Callable[[int, dict], None]] = ()) -> RunResult:
    """Run (or reuse) the experiment ``cfg``; results go to ``root/<run_name>/``.

    ``resume``: continue an interrupted run from its ``checkpoint.pt`` (on CPU the final metrics
    are bit-identical to an uninterrupted run); fields outside the run key (``workers``,
    ``device``, …) may differ and are recorded in ``config.json`` under ``"resumed"``; a missing
    checkpoint or a run-key change is refused before the run folder is touched
    (:func:`~mlgcn_core.runs.resume_state`). ``callbacks``: called on the main process as
    ``fn(epoch, record)`` after each epoch (1-based epoch, the history record).
    """
    distributed.check_device(cfg.device)
    check_inputs(cfg)
    ctx = distributed.setup(cfg.device)
    out = run_path(cfg, root)
    if (out / "metrics.json").is_file() and not force:
        return load_run(out)
    if resume:
        resume_state(cfg, out)  # checked before anything is written (the lock file included)
    # one process per run key at a time: a second one waits here, then reads the first one's result
    with run_lock(out) if ctx.main else contextlib.nullcontext():
        distributed.barrier(ctx)
        if (out / "metrics.json").is_file() and not force:
            return load_run(out)
        return train_run(cfg, ctx, out, resume, progress, callbacks)


def train_run(cfg: ExperimentConfig, ctx: distributed.Context, out, resume: bool, progress: bool,
              callbacks: Sequence[Callable[[int, dict], None]]) -> RunResult:
    """:func:`run_experiment`'s training under the run's lock: epochs, then the selected one's test."""
    started = time.time()
    state, changes = resume_state(cfg, out) if resume else (None, {})
    engine = Engine(cfg, load_splits(cfg), ctx, progress)
    saver = CheckpointSaver(out, cfg, engine.classes, ctx, every=CHECKPOINT_SECONDS)
    history = saver.start(state, changes)
    selection = EpochSelection(cfg, "val" in engine.data, state and state["best"])
    if state is not None:
        engine.load_state(state["train_state"])
    distributed.barrier(ctx)
    bar = tqdm(range(saver.first_epoch, cfg.epochs), desc=cfg.run_name(), disable=not engine.progress,
               initial=saver.first_epoch, total=cfg.epochs)
    for epoch in bar:
        t0 = time.time()
        loss = engine.train_one_epoch(epoch, saver.last_good(epoch))
        scores = selection.scores(engine, epoch)
        record = {"epoch": epoch + 1, "train_loss": loss, **selection.columns(scores),
                  "lr": engine.optimizer.param_groups[0]["lr"], "seconds": round(time.time() - t0, 3)}
        history.append(record)
        selection.update(epoch, scores, engine.model)
        saver.save_if_due(epoch, history, engine.state, selection.best)
        for fn in callbacks if ctx.main else ():
            fn(epoch + 1, record)
        bar.set_postfix(loss=f"{loss:.4f}", **({f"{selection.split or 'val'}_mAP": f"{scores['mAP']:.2f}"}
                                               if scores else {}))
    best = selection.best
    engine.model.load_state_dict(best["model"])
    test = engine.evaluate("test")  # once, with the selected epoch (for "test": its score again)
    if ctx.main:
        write_result(out, cfg, engine.model, best, test, engine.classes, len(engine.data["train"]),
                     seconds=time.time() - started)
        saver.finish()
    distributed.barrier(ctx)
    return RunResult(cfg, out, test, best["val"], best["epoch"], history, reused=False)
