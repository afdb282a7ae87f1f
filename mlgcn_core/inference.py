"""Using trained models: load a checkpoint, evaluate it on a split, predict labels of image
files, and convert an official ML-GCN checkpoint (torch 0.3 era) into ours."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .backbones import (
    BACKBONES,
    PretrainedWeightsUnavailable,
    build_backbone,
    join_backbone,
    split_backbone,
)
from .config import ExperimentConfig, load_preset
from .data import coco, voc
from .data.images import load_image
from .data.sources import image_transform
from .distributed import check_device, loader_workers
from .graph import normalize_adjacency
from .io import atomic_path
from .models import MultiLabelModel, build_model
from .runs import CHECKPOINT_FORMAT, checkpoint_payload, expand_head, state_hash


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Our checkpoint (``model.pt`` of a run, or ``import-official``'s output), safely loaded."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated / not a torch file / unsafe content
        raise ValueError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT or ck.get("model") is None:
        raise ValueError(f"checkpoint {str(path)!r} is not an mlgcn model checkpoint (use a run's "
                         "model.pt, or convert official files with import-official)")
    return ck


def model_from_checkpoint(path: str | os.PathLike, device: str = "cpu", images: bool = True
                          ) -> tuple[MultiLabelModel, ExperimentConfig, list[str]]:
    """The model of a checkpoint, able to take images (a features-mode head gets its frozen
    pretrained backbone back — a head on the feature map reads its map —; a top-mode model its
    frozen pretrained bottom before its trained top), in eval mode. ``images=False``: a
    features-mode checkpoint gives its model on the cached inputs it trained on: the head alone on
    pooled features (what the book's analyses of cached features need; no backbone built), or a
    map head behind its frozen top, on the cached bottom's maps (``features.extract_head_maps``)."""
    check_device(device)
    ck = read_checkpoint(path)
    cfg = ExperimentConfig.from_dict(ck["config"])
    classes, state = list(ck["classes"]), ck["model"]
    if not images and cfg.mode == "features":
        z, adj = state.get("head.word_vectors"), state.get("head.adj_hat")
        model = build_model(cfg, None, classes, BACKBONES[cfg.backbone].out_dim,
                            word_vectors=None if z is None else z.numpy(), adj_hat=None if adj is None else adj.numpy())
        state = expand_head(state, model)
        model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        return model.to(device).eval(), cfg, classes
    with warnings.catch_warnings():  # end2end: the checkpoint's backbone weights replace these
        if cfg.mode == "end2end":
            warnings.simplefilter("ignore", PretrainedWeightsUnavailable)
        backbone = build_backbone(cfg.backbone, cfg.weights if cfg.mode != "end2end" else None,
                                  cfg.pooling)
    want = (ck.get("backbone") or {}).get("sha256")  # a features-mode head names its frozen backbone
    if want and cfg.mode == "features" and state_hash(backbone.state_dict()) != want:
        raise ValueError(f"checkpoint {str(path)!r}: the backbone {cfg.backbone} ({cfg.weights}) built here "
                         "is not the one its head was trained on (weight hash differs): restore those "
                         "weights, or retrain the run with --force")
    if cfg.mode == "top":  # the checkpoint holds the top (backbone.trunk.*); the bottom is pretrained
        backbone = join_backbone(*split_backbone(backbone, cfg.trainable_blocks))
        state = {k.replace("backbone.trunk.", "backbone.trunk.top.", 1): v for k, v in state.items()}
        state.update({f"backbone.trunk.bottom.{k}": v for k, v in backbone.trunk.bottom.state_dict().items()})
    z, adj = state.get("head.word_vectors"), state.get("head.adj_hat")
    if cfg.uses("graph") and (z is None or adj is None):
        raise ValueError(f"checkpoint {str(path)!r}: ML-GCN state lacks head.word_vectors / head.adj_hat")
    model = build_model(cfg, None, classes, backbone=backbone, word_vectors=None if z is None else z.numpy(),
                        adj_hat=None if adj is None else adj.numpy())
    state = expand_head(state, model)
    head_only = not any(k.startswith("backbone.") for k in state)
    try:
        if head_only:
            model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        else:
            model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {str(path)!r} does not fit its config "
                         f"({cfg.backbone}, {len(classes)} classes): {str(exc).splitlines()[0]}") from exc
    return model.to(device).eval(), cfg, classes


@torch.no_grad()
def predict_images(checkpoint: str | os.PathLike, images: list[str | os.PathLike],
                   device: str = "cpu") -> list[list[tuple[str, float]]]:
    """For each image, its labels with probabilities (sigmoid of the logits), highest first."""
    model, cfg, classes = model_from_checkpoint(checkpoint, device)
    tf = image_transform(cfg)
    x = torch.stack([tf(load_image(p)) for p in images]).to(device)  # (N, 3, H, W)
    probs = torch.sigmoid(model(x)).cpu().numpy()  # (N, C)
    return [[(classes[c], float(row[c])) for c in np.argsort(-row, kind="stable")] for row in probs]


def evaluate_checkpoint(checkpoint: str | os.PathLike, split: str = "test", device: str = "cpu",
                        data_root: str | None = None) -> dict:
    """All metrics of a checkpoint on ``split`` (train / val / test) of its config's data, plus
    ``classes`` (the names of the per-class ``AP`` entries) and ``selection``: how the checkpoint's
    epoch was chosen (:func:`~mlgcn_core.selection.selection_label`; a test-selected checkpoint's
    test metrics are "selected on test (optimistic)")."""
    from .data.sources import load_splits
    from .metrics import evaluate
    from .selection import selection_label

    model, cfg, classes = model_from_checkpoint(checkpoint, device)
    if data_root:
        cfg = cfg.replace(data_root=str(data_root))
    splits = load_splits(cfg)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test, got {split!r}")
    ds = {"train": splits.eval_train, "val": splits.val, "test": splits.test}[split]
    if ds is None:
        raise ValueError(f"split 'val': this checkpoint's run has no validation split "
                         f"(selection={cfg.selection!r} trains on the whole training split)")
    loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=loader_workers(cfg.workers))
    scores, targets, diff = [], [], []
    with torch.no_grad():
        for x, y, d in loader:
            scores.append(model(x.to(device)).float().cpu())
            targets.append(y)
            diff.append(d)
    metrics = evaluate(torch.cat(scores).numpy(), torch.cat(targets).numpy().astype(np.int64),
                       torch.cat(diff).numpy(), class_names=classes)
    return {**metrics, "classes": classes, "selection": selection_label(cfg.selection)}


# --- official checkpoints ----------------------------------------------------------------------

OFFICIAL_DATASETS = {"voc2007": ("paper_voc", voc.CLASSES), "coco2014": ("paper_coco", coco.CLASSES)}


def import_official(checkpoint: str | os.PathLike, dataset: str, out: str | os.PathLike,
                    word_vectors: str | os.PathLike | None = None) -> Path:
    """Convert an official ML-GCN checkpoint (``state_dict`` with ``features.*`` ResNet-101 keys,
    ``gc1.weight``, ``gc2.weight``, ``A``) into our checkpoint. The official model takes the word
    vectors as an input, so they come from the official pickles of ``dataset`` (or a file)."""
    from .embeddings import official_vectors
    from .io import load_pickle

    if dataset not in OFFICIAL_DATASETS:
        raise ValueError(f"dataset must be one of {sorted(OFFICIAL_DATASETS)}, got {dataset!r}")
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot be read as a torch checkpoint ({type(exc).__name__}: {exc})") from exc
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not {"gc1.weight", "gc2.weight", "A"} <= set(state):
        raise ValueError(f"{path}: not an official ML-GCN checkpoint (needs state_dict keys "
                         "'features.*', 'gc1.weight', 'gc2.weight', 'A')")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    preset, classes = OFFICIAL_DATASETS[dataset]
    C = len(classes)
    if tuple(state["A"].shape) != (C, C):
        raise ValueError(f"{path}: field 'A' is {tuple(state['A'].shape)}, but {dataset} has {C} classes")
    z = load_pickle(word_vectors) if word_vectors else official_vectors(dataset)
    z = np.asarray(z, dtype=np.float32)
    if z.shape != (C, state["gc1.weight"].shape[0]):
        raise ValueError(f"word vectors {z.shape} do not fit gc1.weight {tuple(state['gc1.weight'].shape)}")
    ours = {"head.word_vectors": torch.from_numpy(z),
            "head.adj_hat": torch.as_tensor(normalize_adjacency(state["A"].double().numpy()),
                                            dtype=torch.float32),
            "head.gcn.layers.0.weight": state["gc1.weight"].float(),
            "head.gcn.layers.1.weight": state["gc2.weight"].float()}
    for k, v in state.items():
        if k.startswith("features."):
            ours["backbone.trunk." + k[len("features."):]] = v
    cfg = load_preset(preset).replace(weights=None, gcn_depth=2, gcn_hidden=state["gc1.weight"].shape[1])
    with warnings.catch_warnings():  # the official weights replace the random ones
        warnings.simplefilter("ignore", PretrainedWeightsUnavailable)
        backbone = build_backbone("resnet101", None)
    model = build_model(cfg, None, classes, backbone=backbone, word_vectors=z,
                        adj_hat=ours["head.adj_hat"].numpy())
    missing, unexpected = model.load_state_dict(ours, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # absent in torch 0.3 files
    if missing or unexpected:
        raise ValueError(f"{path}: does not map onto ResNet-101 ML-GCN (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(checkpoint_payload(cfg, classes, model.state_dict(), epoch=None,
                                      source=f"official checkpoint {path.name}"), tmp)
    return out
