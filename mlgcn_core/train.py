"""The training engine (the engine only): one experiment config → a run folder (``runs.py``).

``run_experiment(cfg)``: data → label graph → model → SGD (backbone lr·lrp, head lr; step
schedule with linear warm-up; gradient clipping; soft-margin / BCE / ASL loss; AMP on CUDA) with
the epoch chosen as ``cfg.selection`` says (best on a validation split carved from the training
split; the last epoch; or, as the official code, best on test — labelled optimistic) → test
metrics of that epoch. The run folder
``runs/<model>-<config hash>/`` holds ``config.json``, ``history.csv`` (appended every epoch),
``checkpoint.pt`` (atomic; ``resume=True`` continues from it; removed when the run finishes),
``model.pt`` (the selected epoch, ``runs.compact_head``) and, last, ``metrics.json``. A run whose
``metrics.json`` exists is read back; a second process on the same run key waits for the first
(``runs.run_lock``). End to end, each training image's augmentation is drawn from (seed, epoch,
index) (``data.seeded``): the DataLoader's workers and a resume change no number.
Under torchrun the same code runs DDP; evaluation gathers every rank's scores so the metrics are
exactly those of one process.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    Subset,
    TensorDataset,
)
from tqdm import tqdm

from . import distributed as D
from .config import ExperimentConfig, selection_label
from .data.seeded import EpochIndices, SeededItems
from .data.sources import Splits, load_splits
from .distributed import check_device
from .features import extract_dataset_features, extract_dataset_maps
from .io import write_text
from .losses import make_loss
from .metrics import evaluate
from .models import MultiLabelModel, build_model
from .runs import (
    RunResult,
    atomic_save,
    backbone_identity,
    checkpoint_payload,
    compact_head,
    jsonable,
    load_run,
    record_start,
    resume_state,
    run_lock,
    run_path,
    write_history,
)

CHECKPOINT_SECONDS = 30.0  # seconds between checkpoints (besides the first epoch's and the last's)


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(model: MultiLabelModel, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    """SGD with two parameter groups: head at lr, backbone at lr·lrp (official recipe)."""
    groups = [{"params": list(model.head.parameters()), "lr": cfg.lr}]
    if model.backbone is not None:
        groups.append({"params": list(model.backbone.parameters()), "lr": cfg.lr * cfg.lrp})
    # fused: one pass over each parameter per step (3× faster for the GCN's 1024×D weight on CPU)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           fused=True)


def lr_factor(cfg: ExperimentConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base lr at (0-based) ``epoch`` and ``step``: a linear warm-up over the
    first ``warmup_epochs`` (per step), then × lr_gamma at each epoch in ``lr_steps`` (1-based)."""
    decay = cfg.lr_gamma ** sum(epoch + 1 > s for s in cfg.lr_steps)
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        done = epoch * steps_per_epoch + step + 1
        return decay * done / (cfg.warmup_epochs * steps_per_epoch)
    return decay


def clip_gradients(parameters, max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_`` (the official recipe's ``clip_grad_norm(max_norm=10)``), bit for
    bit; on the CPU the gradients are left untouched when the clip coefficient clamps to 1
    (multiplying by 1.0 changes no bit), which saves one pass over the GCN's 1024 × D weight per
    step (``benchmarks/head_step.py``). On CUDA it is the library call (no host sync per step)."""
    params = [p for p in parameters if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads or grads[0].device.type != "cpu":
        return nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    total = nn.utils.get_total_norm(grads, foreach=True)
    if float(max_norm / (total + 1e-6)) < 1.0:  # the library's clip coefficient, before its clamp
        nn.utils.clip_grads_with_norm_(params, max_norm, total, foreach=True)
    return total


class TensorBatches:
    """What ``DataLoader(TensorDataset, batch_size, sampler)`` yields, without per-item collation:
    the same batches in the same order, indexed in one go (cached-features mode)."""

    def __init__(self, dataset: TensorDataset, batch_size: int, sampler=None, indices=None):
        self.tensors, self.batch_size = dataset.tensors, batch_size
        self.sampler, self.indices = sampler, indices

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.indices)
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        order = list(self.sampler) if self.sampler is not None else list(self.indices)
        for i in range(0, len(order), self.batch_size):
            idx = torch.as_tensor(order[i:i + self.batch_size], dtype=torch.long)
            yield tuple(t[idx] for t in self.tensors)


class Engine:
    """Holds what one run needs: context, device, data loaders, model, optimizer, loss."""

    def __init__(self, cfg: ExperimentConfig, splits: Splits, ctx: D.Context, progress: bool):
        self.cfg, self.ctx, self.progress = cfg, ctx, progress and ctx.main
        self.device = D.device_for(ctx, cfg.device)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {cfg.device!r}: CUDA is not available on this machine")
        self.amp = cfg.precision != "fp32" and self.device.startswith("cuda")
        if cfg.precision != "fp32" and not self.amp:
            print(f"[train] precision={cfg.precision} applies on CUDA only; running fp32 on {self.device}")
        self.amp_dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
        self.classes = splits.classes
        if cfg.batch_size % ctx.world:
            raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {ctx.world} processes")
        self.local_batch = cfg.batch_size // ctx.world
        self.workers = D.loader_workers(cfg.workers, ctx)  # "auto": this process's share of the cores
        if cfg.mode in ("features", "top"):  # top: (maps of the frozen bottom, targets, difficult)
            feats = _cached_split_features(cfg, splits, self.device, ctx, self.progress)
            self.data = {s: TensorDataset(*feats[s]) for s in feats}
            feature_dim = feats["train"][0].shape[1] if cfg.mode == "features" else None
        else:
            self.data = {"train": splits.train, "val": splits.val, "test": splits.test}
            self.data = {k: v for k, v in self.data.items() if v is not None}  # no val: "last"/"test"
            feature_dim = None
        seed_everything(cfg.seed)  # the model's initialization depends on the seed only
        self.model = build_model(cfg, splits.train_positives, splits.classes, feature_dim,
                                 word_vectors=splits.word_vectors).to(self.device)
        if D.use_sync_bn(cfg, ctx, self.device):  # BatchNorm statistics over the global batch
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
        self.sampler = DistributedSampler(self.data["train"], num_replicas=ctx.world, rank=ctx.rank,
                                          shuffle=True, seed=cfg.seed, drop_last=False)
        if isinstance(self.data["train"], TensorDataset):  # cached inputs: no augmentation
            self.train_loader = self._loader(self.data["train"], sampler=self.sampler)
        else:  # images: each item's augmentation drawn from (seed, epoch, index), whatever the workers
            self.sampler = EpochIndices(self.sampler)
            self.train_loader = self._loader(SeededItems(self.data["train"], cfg.seed), sampler=self.sampler)

    def _loader(self, ds: Dataset, sampler=None, indices=None):
        if isinstance(ds, TensorDataset):
            return TensorBatches(ds, self.local_batch, sampler, indices)
        if indices is not None:
            ds = Subset(ds, indices)
        # its own generator: the loader's worker seeds never draw from (or depend on) the global RNG
        return DataLoader(ds, batch_size=self.local_batch, sampler=sampler, shuffle=False,
                          num_workers=self.workers, pin_memory=self.device.startswith("cuda"),
                          persistent_workers=self.workers > 0 and sampler is not None,
                          generator=torch.Generator().manual_seed(self.cfg.seed))

    def _autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_epoch(self, epoch: int, good_checkpoint: str) -> float:
        """One epoch; returns the mean training loss over all ranks' samples."""
        cfg = self.cfg
        seed_everything(cfg.seed * 100_003 + epoch)  # the epoch's other draws: same even after a resume
        self.sampler.set_epoch(epoch)
        self.model.train()
        if cfg.mode == "features" and self.model.backbone is not None:
            self.model.backbone.eval()
        total, count, seen, t0 = 0.0, 0, 0, time.time()
        n_steps = len(self.train_loader)
        bar = tqdm(self.train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not self.progress,
                   leave=False)
        for step, (x, y, _difficult) in enumerate(bar):
            factor = lr_factor(cfg, epoch, step, n_steps)
            for g, base in zip(self.optimizer.param_groups, self.base_lrs):
                g["lr"] = base * factor
            x, y = self._to_device(x), y.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.net(x)
            loss = self.criterion(logits.float(), y)
            if D.any_flag(self.ctx, not bool(torch.isfinite(loss))):
                raise FloatingPointError(
                    f"training stopped: the loss became {loss.item()} at epoch {epoch + 1}, step "
                    f"{step + 1} (lr {self.optimizer.param_groups[0]['lr']:.3g}; try a lower lr, "
                    f"clip_grad_norm or fp32). The last good checkpoint is kept: {good_checkpoint}")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.clip_grad_norm:
                self.scaler.unscale_(self.optimizer)
                clip_gradients(self.model.parameters(), cfg.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += loss.item() * len(y)
            count += len(y)
            seen += len(y) * self.ctx.world
            bar.set_postfix(loss=f"{total / count:.4f}", img_s=f"{seen / (time.time() - t0):.0f}")
        sums = D.gather_object(self.ctx, (total, count))
        return sum(s for s, _ in sums) / sum(c for _, c in sums)

    @torch.no_grad()
    def predict(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (n, C), targets (n, C) and difficult (n, C) of a whole split; each rank scores
        the items rank, rank + world, … and the results are gathered in dataset order."""
        ds: Dataset = self.data[split]
        idx = list(range(self.ctx.rank, len(ds), self.ctx.world))
        loader = self._loader(ds, indices=idx)
        self.model.eval()
        out = []
        for x, y, d in loader:
            with self._autocast():
                s = self.model(self._to_device(x))
            out.append((s.float().cpu(), y, d))
        n, C = len(ds), len(self.classes)
        if out:
            part = [torch.cat(t).numpy() for t in zip(*out)]  # scores, targets, difficult
        else:  # more ranks than items
            part = [np.zeros((0, C))] * 3
        parts = D.gather_object(self.ctx, (idx, *part))
        scores, targets, diff = np.zeros((n, C)), np.zeros((n, C)), np.zeros((n, C), dtype=bool)
        for ids, s, y, d in parts:
            scores[ids], targets[ids], diff[ids] = s, y, d
        return scores, targets.astype(np.int64), diff

    def evaluate(self, split: str) -> dict:
        scores, targets, diff = self.predict(split)
        return evaluate(scores, targets, difficult=diff, class_names=self.classes)

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict()}

    def load_state(self, st: dict) -> None:
        self.model.load_state_dict(st["model"])
        self.optimizer.load_state_dict(st["optimizer"])
        self.scaler.load_state_dict(st["scaler"])


def _cached_split_features(cfg, splits: Splits, device: str, ctx: D.Context, progress: bool):
    """{split: (features, targets, difficult)} (top mode: the frozen bottom's maps instead of the
    features); rank 0 extracts what is not cached yet."""
    plan = {"train": splits.eval_train, "val": splits.val, "test": splits.test}
    plan = {k: v for k, v in plan.items() if v is not None}
    extract = extract_dataset_maps if cfg.mode == "top" else extract_dataset_features
    if ctx.main:
        out = extract(cfg, plan, splits.key, device, progress)
    D.barrier(ctx)
    if not ctx.main:
        out = extract(cfg, plan, splits.key, device, progress=False, must_exist=True)
    if splits.train_rows is not None:  # a subset of the training scenes: rows of the cached features
        out["train"] = tuple(t[torch.as_tensor(splits.train_rows)] for t in out["train"])
    if splits.train_targets is not None:  # missing annotations: the targets trained on, not the images'
        x, y, difficult = out["train"]
        out["train"] = (x, torch.as_tensor(splits.train_targets).to(y.dtype), difficult)
    return out


def prepare_features(cfg: ExperimentConfig) -> None:
    """Features (top) mode: extract and cache the frozen backbone's features (bottom's maps) of
    ``cfg``'s splits now (a no-op when cached), so that runs started in parallel only read them."""
    if cfg.mode in ("features", "top"):
        _cached_split_features(cfg, load_splits(cfg), cfg.device, D.Context(), progress=False)


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
    check_device(cfg.device)
    ctx = D.setup(cfg.device)
    out = run_path(cfg, root)
    if (out / "metrics.json").is_file() and not force:
        return load_run(out)
    if resume:
        resume_state(cfg, out)  # checked before anything is written (the lock file included)
    # one process per run key at a time: a second one waits here, then reads the first one's result
    with run_lock(out) if ctx.main else contextlib.nullcontext():
        D.barrier(ctx)
        if (out / "metrics.json").is_file() and not force:
            return load_run(out)
        return _train(cfg, ctx, out, resume, progress, callbacks)


def _train(cfg: ExperimentConfig, ctx: D.Context, out, resume: bool, progress: bool,
           callbacks: Sequence[Callable[[int, dict], None]]) -> RunResult:
    """:func:`run_experiment`'s training, under the run's lock."""
    t_start = time.time()
    ckpt_path = out / "checkpoint.pt"
    st, changes = resume_state(cfg, out) if resume else (None, {})
    splits = load_splits(cfg)
    eng = Engine(cfg, splits, ctx, progress)
    start, history, best = 0, [], {"mAP": -1.0, "epoch": 0, "val": {}, "model": None}
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        record_start(out, cfg, ctx.world, st, changes)
        if st is None:
            ckpt_path.unlink(missing_ok=True)
    if st is not None:
        eng.load_state(st["train_state"])
        start, history = int(st["epoch"]), list(st["history"])
        best = {"mAP": st["best"]["mAP"], "epoch": st["best"]["epoch"], "val": st["best"]["val"],
                "model": st["best"]["model"]}
    D.barrier(ctx)
    watch = {"val": "val", "test": "test", "last": None}[cfg.selection]
    bar = tqdm(range(start, cfg.epochs), desc=cfg.run_name(), disable=not eng.progress, initial=start,
               total=cfg.epochs)
    # selection "last": the final epoch is the model; validation is evaluated once, after it.
    # The checkpoint (model, optimizer, best model: 16 MB for ML-GCN on EfficientNet-Lite0
    # features) is written after this invocation's first epoch, after the last, and otherwise at
    # most every CHECKPOINT_SECONDS: on cached features an epoch takes half a second and writing
    # it every epoch was 6–14 % of a run (2 / 1 torch threads); an interrupted run loses at most that much training.
    last, saved = cfg.selection == "last", time.time()
    for epoch in bar:
        t0 = time.time()
        loss = eng.train_epoch(epoch, str(ckpt_path) if start or epoch else "(none yet)")
        final = epoch + 1 == cfg.epochs
        rec = {"epoch": epoch + 1, "train_loss": loss}
        if watch:  # the split the epoch is selected on: val (or test, the official protocol)
            val = eng.evaluate(watch)
            rec.update({f"{watch}_{k}": val[k] for k in ("mAP", "CF1", "OF1")})
        else:  # "last": no per-epoch evaluation; the final epoch is the result. Where the data has a
            # validation split of its own (the embedded benchmark), it is scored once, after the
            # final epoch (e.g. to choose a learning rate on it, never on test)
            val = eng.evaluate("val") if final and "val" in eng.data else None
            if "val" in eng.data:
                rec.update({f"val_{k}": val[k] if val else float("nan") for k in ("mAP", "CF1", "OF1")})
        rec.update(lr=eng.optimizer.param_groups[0]["lr"], seconds=round(time.time() - t0, 3))
        history.append(rec)
        if final if last else val["mAP"] > best["mAP"]:
            best = {"mAP": val["mAP"] if val else -1.0, "epoch": epoch + 1,
                    "val": jsonable(val) if val is not None and watch != "test" else {},
                    "model": copy.deepcopy(eng.model.state_dict())}
        if ctx.main and (epoch == start or final or time.time() - saved > CHECKPOINT_SECONDS):
            write_history(out / "history.csv", history)
            atomic_save(checkpoint_payload(cfg, eng.classes, None, epoch=epoch + 1, history=history,
                                            train_state=eng.state(), best=best), ckpt_path)
            saved = time.time()
        if ctx.main:
            for fn in callbacks:
                fn(epoch + 1, rec)
        bar.set_postfix(loss=f"{loss:.4f}", **({f"{watch or 'val'}_mAP": f"{val['mAP']:.2f}"} if val else {}))
    eng.model.load_state_dict(best["model"])
    test = eng.evaluate("test")  # once, with the selected epoch (for "test": its score again)
    if ctx.main:
        # features mode: the head, and the frozen backbone by name and weight hash (rebuilt on load)
        extra = {"backbone": backbone_identity(cfg)} if cfg.mode == "features" else {}
        atomic_save(checkpoint_payload(cfg, eng.classes, compact_head(eng.model, best["model"]),
                                       epoch=best["epoch"], **extra), out / "model.pt")
        write_text(out / "metrics.json", json.dumps(
            {"test": jsonable(test), "val": best["val"], "best_epoch": best["epoch"],
             "classes": eng.classes, "selection": selection_label(cfg.selection),
             "train_images": len(eng.data["train"]),
             "seconds": round(time.time() - t_start, 2)}, indent=2))
        ckpt_path.unlink(missing_ok=True)  # finished: only an interrupted run keeps its checkpoint
    D.barrier(ctx)
    return RunResult(cfg, out, test, best["val"], best["epoch"], history, reused=False)
