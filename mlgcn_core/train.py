"""Training and evaluation of one experiment (first version; see issue C for paper scale).

``run_experiment(cfg)``: data → label graph → model → SGD training with model selection on the
validation split → test metrics once at the end → a run folder keyed by the config holding
``config.json``, ``metrics.json``, ``history.csv`` and ``model.pt``. A second call with the
same config returns the stored results without training.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import platform
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import __version__
from .backbones import build_backbone
from .config import ExperimentConfig
from .data.outfits import CLASSES, load_outfits
from .data.transforms import to_backbone_input
from .embeddings import label_vectors
from .features import cached_features
from .graph import binary_adjacency, build_adjacency, cooccurrence
from .metrics import evaluate
from .models import MLGCN, Baseline, MultiLabelModel
from .paths import runs_root


@dataclass
class RunResult:
    config: ExperimentConfig
    path: Path
    metrics: dict  # test metrics (13 scalars + per-class "AP")
    val_metrics: dict  # validation metrics of the selected epoch
    best_epoch: int
    history: list[dict]
    reused: bool  # True when read back from an earlier run


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def label_graph(cfg: ExperimentConfig, train_labels: np.ndarray) -> np.ndarray:
    """A' (re-weighted, Eq. 8) or A + I (binary, Eq. 7) from the training labels."""
    M, N = cooccurrence(train_labels)
    if cfg.graph == "binary":
        return binary_adjacency(M, N, cfg.tau)
    return build_adjacency(M, N, cfg.tau, cfg.p, cfg.scheme)


def word_vectors(cfg: ExperimentConfig, class_names: list[str]) -> np.ndarray:
    if cfg.word_vectors != "glove6b50d":
        raise ValueError(f"word_vectors: unknown provider {cfg.word_vectors!r}; have 'glove6b50d'")
    return label_vectors(class_names)  # (C, 50)


def build_model(cfg: ExperimentConfig, train_labels: np.ndarray, class_names: list[str],
                feature_dim: int | None = None) -> MultiLabelModel:
    """The model of ``cfg``; with ``mode='features'`` it runs on pooled features of size feature_dim."""
    backbone = build_backbone(cfg.backbone, cfg.weights, cfg.pooling) if cfg.mode == "end2end" else None
    if cfg.model == "baseline":
        return Baseline(len(class_names), backbone, feature_dim)
    return MLGCN(word_vectors(cfg, class_names), label_graph(cfg, train_labels), backbone,
                 feature_dim, depth=cfg.gcn_depth, hidden=cfg.gcn_hidden)


class Batches:
    """Mini-batches (inputs, targets) over in-memory arrays; inputs transformed per batch."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, batch_size: int,
                 shuffle: bool = False, seed: int = 0, transform=None):
        self.inputs, self.targets = inputs, torch.as_tensor(targets, dtype=torch.float32)
        self.batch_size, self.shuffle, self.transform = batch_size, shuffle, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.inputs) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.inputs)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size].numpy()
            x = self.inputs[idx]
            x = self.transform(x, self.generator) if self.transform else torch.as_tensor(x)
            yield x, self.targets[idx]


def _image_transform(cfg: ExperimentConfig, train: bool):
    """End-to-end mode: canvases → normalized backbone input (+ random horizontal flip in training)."""
    from .backbones import BACKBONES

    info = BACKBONES[cfg.backbone]

    def transform(images: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        x = to_backbone_input(images, cfg.image_size, info.mean, info.std)  # (B, 3, H, W)
        if train:
            flip = torch.rand(len(x), generator=generator) < 0.5
            x[flip] = x[flip].flip(-1)
        return x

    return transform


@torch.no_grad()
def predict(model: nn.Module, batches, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, C) and targets (N, C) over ``batches``, model in eval mode."""
    model.eval()
    scores, targets = [], []
    for x, y in batches:
        scores.append(model(x.to(device)).float().cpu())
        targets.append(y)
    return torch.cat(scores).numpy(), torch.cat(targets).numpy().astype(np.int64)


def make_optimizer(model: MultiLabelModel, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    """SGD with two parameter groups: backbone at lr·lrp, head at lr (official recipe)."""
    groups = [{"params": list(model.head.parameters()), "lr": cfg.lr}]
    if model.backbone is not None:
        groups.append({"params": list(model.backbone.parameters()), "lr": cfg.lr * cfg.lrp})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def fit(model: MultiLabelModel, train: Batches, val: Batches, cfg: ExperimentConfig,
        progress: bool = True) -> tuple[dict, int, dict, list[dict]]:
    """Train for cfg.epochs; return (best state_dict, best epoch, its val metrics, history)."""
    device = cfg.device
    model.to(device)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.lr_steps), gamma=0.1)
    criterion = nn.MultiLabelSoftMarginLoss()
    best = (-1.0, 0, {}, None)
    history = []
    bar = tqdm(range(1, cfg.epochs + 1), desc=cfg.run_name(), disable=not progress)
    for epoch in bar:
        model.train()
        if model.backbone is not None and cfg.mode == "end2end":
            model.backbone.train()
        total, count = 0.0, 0
        for x, y in train:
            x, y = x.to(device), y.to(device)
            loss = criterion(model(x), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"epoch {epoch}: loss is {loss.item()} (lr {cfg.lr} too high?)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad_norm:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            opt.step()
            total += loss.item() * len(y)
            count += len(y)
        sched.step()
        scores, targets = predict(model, val, device)
        m = evaluate(scores, targets, class_names=CLASSES)
        history.append({"epoch": epoch, "train_loss": total / count, "val_mAP": m["mAP"],
                        "val_CF1": m["CF1"], "val_OF1": m["OF1"]})
        bar.set_postfix(loss=f"{total / count:.4f}", val_mAP=f"{m['mAP']:.2f}")
        if m["mAP"] > best[0]:
            best = (m["mAP"], epoch, m, copy.deepcopy(model.state_dict()))
    return best[3], best[1], best[2], history


def _jsonable(metrics: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in metrics.items()}


def load_run(path: str | os.PathLike) -> RunResult:
    path = Path(path)
    cfg = ExperimentConfig.from_dict(json.loads((path / "config.json").read_text()))
    m = json.loads((path / "metrics.json").read_text())
    with open(path / "history.csv") as f:
        history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    test = dict(m["test"], AP=np.asarray(m["test"]["AP"], dtype=float))
    return RunResult(cfg, path, test, m["val"], int(m["best_epoch"]), history, reused=True)


def run_experiment(cfg: ExperimentConfig, root: str | os.PathLike | None = None,
                   force: bool = False, progress: bool = True) -> RunResult:
    """Run (or reuse) the experiment ``cfg``; results go to ``root/<run_name>/``."""
    root = Path(root) if root else runs_root()
    out = root / cfg.run_name()
    if (out / "metrics.json").is_file() and not force:
        return load_run(out)
    t0 = time.time()
    data = load_outfits(cfg.data)
    train_labels = data["train"]["labels"]
    seed_everything(cfg.seed)
    if cfg.mode == "features":
        feats = cached_features({s: data[s]["images"] for s in data}, cfg.data.key(), cfg.backbone,
                                cfg.weights, cfg.pooling, cfg.image_size, cfg.device, progress)
        inputs = {s: feats[s] for s in data}
        tf = {s: None for s in data}
        model = build_model(cfg, train_labels, CLASSES, feature_dim=feats["train"].shape[1])
    else:
        inputs = {s: data[s]["images"] for s in data}
        tf = {s: _image_transform(cfg, s == "train") for s in data}
        model = build_model(cfg, train_labels, CLASSES)
    batches = {s: Batches(inputs[s], data[s]["labels"], cfg.batch_size, shuffle=(s == "train"),
                          seed=cfg.seed, transform=tf[s]) for s in data}
    state, best_epoch, val_m, history = fit(model, batches["train"], batches["val"], cfg, progress)
    model.load_state_dict(state)
    scores, targets = predict(model, batches["test"], cfg.device)
    test_m = evaluate(scores, targets, class_names=CLASSES)
    _write_run(out, cfg, model, test_m, val_m, best_epoch, history, time.time() - t0)
    return RunResult(cfg, out, test_m, val_m, best_epoch, history, reused=False)


def _write_run(out: Path, cfg, model, test_m, val_m, best_epoch, history, seconds) -> None:
    """Write the run folder atomically: a temp folder renamed into place when complete."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    meta = {"package_version": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "seconds": round(seconds, 2)}
    (tmp / "metrics.json").write_text(json.dumps(
        {"test": _jsonable(test_m), "val": _jsonable(val_m), "best_epoch": best_epoch,
         "classes": CLASSES, "meta": meta}, indent=2))
    with open(tmp / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    torch.save(model.state_dict(), tmp / "model.pt")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
