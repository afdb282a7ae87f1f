"""Cached-features mode: pooled features of a frozen backbone, extracted once per
(backbone, weights, image size, dataset, split) — global max *and* average pooling from the same
pass — and cached on disk; heads (linear or ML-GCN of any depth / τ / p / word vectors) then train
from the cache in seconds.

Top mode (``mode="top"``): the same for the *maps* of the frozen bottom of a split backbone
(``backbones.split_backbone``), one cache per cut (``trainable_blocks``); the trainable top and the
head then train from them. Maps are stored float32 (N × c × h × w; they grow with the square of
the input size, so this mode is meant for small inputs; sizes in ``benchmarks/top_finetune.py``).

A head on the feature map (``config.MODELS``' ``needs_map``) in features mode reads the same kind of
cache at the backbone's ``map_cut`` (EfficientNet-Lite0: the 320-channel maps before its 1×1
``conv_head``, a quarter of the 1280-channel map), stored float16 (``-maps-top0-fp16``), with the
frozen top in front of the head (``models.frozen_map_top``). On the COCO-shaped benchmark at 112 px
(20,000 scenes, 3 × 3 positions) that is 115 MB, against 461 MB for the map itself in float16."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .backbones import Backbone, build_backbone, split_backbone
from .distributed import Context, barrier, loader_workers
from .io import atomic_path, load_npz
from .paths import cache_root


def _in_order(fn, items, lanes: int):
    """``fn(item)`` for each item, results in the items' order; on the CPU with ``lanes`` > 1, that
    many batches at once in threads of one torch thread each, at most ``2 × lanes`` in flight.

    Why: a small-batch forward of a light backbone (EfficientNet-Lite0 at 112 px) hardly speeds up
    with torch's threads inside each op; whole batches side by side do (the measurements:
    ``benchmarks/feature_extraction.py``). The outputs are bit-identical to a serial pass on one
    torch thread; against a serial pass on more threads they differ by float rounding only, as any
    change of thread count does."""
    if lanes <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        with torch.inference_mode():  # thread-local: the caller's mode does not reach the workers
            return fn(item)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # process-wide; restored below
    try:
        with ThreadPoolExecutor(lanes) as pool:
            pending: deque = deque()
            for item in items:
                pending.append(pool.submit(one, item))
                if len(pending) >= 2 * lanes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        torch.set_num_threads(threads)


@torch.inference_mode()
def _extract(outputs, modules: list[torch.nn.Module], dataset: Dataset, batch_size: int, device: str,
             workers: int, progress: bool, desc: str, lanes: int | None = None) -> dict[str, np.ndarray]:
    """One pass over ``dataset`` (yielding ``(image, target, difficult)``) with ``modules`` in eval
    mode, channels_last: ``outputs(images) → {name: (B, …) tensor}`` per batch, concatenated, plus
    ``targets`` (n, C) and ``difficult`` (n, C). On the CPU, ``lanes`` batches (default: this
    process's torch threads) run side by side, one thread each (:func:`_in_order`)."""
    for m in modules:
        m.to(device).eval().to(memory_format=torch.channels_last)
    if lanes is None:
        lanes = torch.get_num_threads() if torch.device(device).type == "cpu" else 1
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)

    def batch(xyd):
        x, y, d = xyd
        return {k: v.float().cpu().numpy() for k, v in outputs(x.to(device, memory_format=torch.channels_last)).items()
                } | {"targets": y.numpy(), "difficult": d.numpy()}

    out: dict[str, list] = {}
    for arrays in _in_order(batch, tqdm(loader, desc=desc, disable=not progress), lanes):
        for k, v in arrays.items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def _pooled(fmap: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"max": fmap.amax(dim=(2, 3)), "avg": fmap.mean(dim=(2, 3))}  # (B, D, h, w) → (B, D) each


def extract_features(backbone: Backbone, dataset: Dataset, batch_size: int = 16, device: str = "cpu",
                     workers: int = 0, progress: bool = True, desc: str = "features"
                     ) -> dict[str, np.ndarray]:
    """``max`` and ``avg`` pooled features (n, D) float32, ``targets`` (n, C) and ``difficult``
    (n, C) of a dataset yielding ``(image, target, difficult)``; backbone in eval mode, channels_last."""
    return _extract(lambda x: _pooled(backbone.feature_map(x)), [backbone], dataset, batch_size, device,
                    workers, progress, desc)


def extract_maps(bottom: torch.nn.Module, dataset: Dataset, batch_size: int = 16, device: str = "cpu",
                 workers: int = 0, progress: bool = True, desc: str = "maps",
                 top: Backbone | None = None) -> dict[str, np.ndarray]:
    """``maps`` (n, c, h, w) float32 of a split backbone's frozen ``bottom``, ``targets`` and
    ``difficult``; with the pretrained ``top`` also the pooled ``max``/``avg`` features of the
    whole backbone (:func:`extract_features`' arrays) from the same pass."""
    def outputs(x):
        maps = bottom(x)  # (B, c, h, w)
        return {"maps": maps, **(_pooled(top.feature_map(maps)) if top is not None else {})}

    return _extract(outputs, [bottom] + ([top] if top is not None else []), dataset, batch_size, device,
                    workers, progress, desc)


def _weights_tag(weights: str | None) -> str:
    if weights in (None, "imagenet"):
        return str(weights).lower()
    return "file-" + hashlib.sha1(str(Path(weights).resolve()).encode()).hexdigest()[:8]


def feature_cache_path(backbone: str, weights: str | None, image_size: int, dataset_key: str,
                       split: str, trainable_blocks: int | None = None, half: bool = False) -> Path:
    """The pooled features' cache file, or (``trainable_blocks`` given) the bottom's maps' for that
    cut (``half``: stored float16, the cache a head on the feature map reads in features mode)."""
    cut = "" if trainable_blocks is None else f"-maps-top{trainable_blocks}{'-fp16' if half else ''}"
    name = f"{backbone}-{_weights_tag(weights)}-{image_size}px-{dataset_key}-{split}{cut}.npz"
    return cache_root() / "features" / name


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def _readable(path: Path, keys: tuple[str, ...]) -> bool:
    """Whether the cache file ``path`` exists and holds ``keys``; a truncated or corrupted one
    (``BadZipFile``, a short read, a missing array) is removed, with one line saying so, and
    counts as missing: it is extracted again."""
    import sys
    import zipfile

    if not path.is_file():
        return False
    try:
        z = load_npz(path)
        if all(k in z for k in keys):
            return all(z[k] is not None for k in keys)  # each read now: a corrupted array fails here
        why = f"no array {[k for k in keys if k not in z]}"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    print(f"[features] {path} is corrupted ({why}); removed, extracting it again", file=sys.stderr)
    path.unlink(missing_ok=True)
    return False


def extract_dataset_features(cfg, datasets: dict[str, Dataset], dataset_key: str, device: str = "cpu",
                             progress: bool = True, must_exist: bool = False
                             ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """{split: (features, targets, difficult)} tensors, extracting only splits not cached yet."""
    paths = {s: feature_cache_path(cfg.backbone, cfg.weights, cfg.image_size, dataset_key, s)
             for s in datasets}
    missing = [s for s, p in paths.items() if not _readable(p, (cfg.pooling, "targets", "difficult"))]
    if missing and must_exist:
        raise FileNotFoundError(f"cached features missing: {[str(paths[s]) for s in missing]}")
    net = build_backbone(cfg.backbone, cfg.weights, cfg.pooling) if missing else None
    for s in missing:
        _save(paths[s], extract_features(net, datasets[s], device=device, workers=loader_workers(cfg.workers),
                                         progress=progress, desc=f"{cfg.backbone} features [{s}]"))
    out = {}
    for s, p in paths.items():
        z = load_npz(p)
        out[s] = (torch.from_numpy(z[cfg.pooling]), torch.from_numpy(z["targets"]).float(),
                  torch.from_numpy(z["difficult"]).bool())
    return out


def extract_dataset_maps(cfg, datasets: dict[str, Dataset], dataset_key: str, device: str = "cpu",
                         progress: bool = True, must_exist: bool = False, cut: int | None = None,
                         half: bool = False) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """{split: (maps (n, c, h, w), targets, difficult)} of the frozen bottom of ``cfg``'s backbone cut
    at ``cut`` (default ``cfg.trainable_blocks``), extracting only splits not cached yet; ``half``:
    the maps stored and returned float16. The same pass also writes the pooled features' cache of
    a split when that is missing (the whole pretrained backbone is bottom then top), so a
    features-mode run on the same data extracts nothing more."""
    cut = cfg.trainable_blocks if cut is None else cut
    keys = (cfg.backbone, cfg.weights, cfg.image_size, dataset_key)
    paths = {s: feature_cache_path(*keys, s, cut, half) for s in datasets}
    missing = [s for s, p in paths.items() if not _readable(p, ("maps", "targets", "difficult"))]
    if missing and must_exist:
        raise FileNotFoundError(f"cached maps missing: {[str(paths[s]) for s in missing]}")
    if missing:
        bottom, top = split_backbone(build_backbone(cfg.backbone, cfg.weights, cfg.pooling), cut)
    for s in missing:
        pooled_path = feature_cache_path(*keys, s)
        arrays = extract_maps(bottom, datasets[s], device=device, workers=loader_workers(cfg.workers),
                              progress=progress, desc=f"{cfg.backbone} maps [{s}]",
                              top=None if _readable(pooled_path, ("max", "avg", "targets", "difficult")) else top)
        if "max" in arrays:
            _save(pooled_path, {k: arrays[k] for k in ("max", "avg", "targets", "difficult")})
        if half:
            arrays["maps"] = arrays["maps"].astype(np.float16)  # (n, c, h, w)
        _save(paths[s], {k: arrays[k] for k in ("maps", "targets", "difficult")})
    out = {}
    for s, p in paths.items():
        z = load_npz(p)
        out[s] = (torch.from_numpy(z["maps"]), torch.from_numpy(z["targets"]).float(),
                  torch.from_numpy(z["difficult"]).bool())
    return out


def map_cut(cfg) -> int:
    """The cut of ``cfg``'s backbone whose frozen bottom's maps a head on the feature map reads in
    features mode (``BackboneInfo.map_cut``); a one-line ValueError where the backbone has none."""
    from .backbones import BACKBONES

    cut = BACKBONES[cfg.backbone].map_cut if cfg.backbone in BACKBONES else None
    if cut is None:
        raise ValueError(f"model={cfg.model!r} reads the backbone's feature map, which mode='features' caches "
                         f"as the frozen maps before the backbone's last widening layer; backbone "
                         f"{cfg.backbone!r} has no such cut (its map is the smallest form, too large to "
                         "cache): train this head with mode='top' or mode='end2end'")
    return cut


def extract_head_maps(cfg, datasets: dict[str, Dataset], dataset_key: str, device: str = "cpu",
                      progress: bool = True, must_exist: bool = False):
    """{split: (maps, targets, difficult)} a head on the feature map reads in features mode: the
    frozen bottom's maps at :func:`map_cut`, float16 (:func:`extract_dataset_maps`)."""
    return extract_dataset_maps(cfg, datasets, dataset_key, device, progress, must_exist, cut=map_cut(cfg),
                                half=True)


def check_inputs(cfg) -> None:
    """Refuse, before any data is made, a run whose cached inputs cannot be made (:func:`map_cut`)."""
    from .config import MODELS

    if cfg.mode == "features" and MODELS[cfg.model].needs_map:
        map_cut(cfg)


def cached_inputs(cfg):
    """The extraction (and cache) of ``cfg``'s cached inputs: the pooled features; in top mode the
    frozen bottom's maps; for a head on the feature map in features mode :func:`extract_head_maps`."""
    from .config import MODELS

    if cfg.mode == "top":
        return extract_dataset_maps
    return extract_head_maps if MODELS[cfg.model].needs_map else extract_dataset_features


def cached_split_features(cfg, splits, device: str, ctx, progress: bool):
    """{split: (features, targets, difficult)} of an experiment's splits (``data.sources.Splits``;
    top mode, or a head on the feature map: the frozen bottom's maps instead of the features,
    :func:`cached_inputs`), from the cache; the main process extracts what is not cached yet while
    the others wait. A training subset selects its rows; hidden annotations replace the training
    targets (the images stay)."""
    plan = {"train": splits.eval_train, "val": splits.val, "test": splits.test}
    plan = {k: v for k, v in plan.items() if v is not None}
    extract = cached_inputs(cfg)
    if ctx.main:
        out = extract(cfg, plan, splits.key, device, progress)
    barrier(ctx)
    if not ctx.main:
        out = extract(cfg, plan, splits.key, device, progress=False, must_exist=True)
    if splits.train_rows is not None:  # a subset of the training scenes: rows of the cached features
        out["train"] = tuple(t[torch.as_tensor(splits.train_rows)] for t in out["train"])
    if splits.train_targets is not None:  # missing annotations: the targets trained on, not the images'
        x, y, difficult = out["train"]
        out["train"] = (x, torch.as_tensor(splits.train_targets).to(y.dtype), difficult)
    return out


def prepare_features(cfg) -> None:
    """Features (top) mode: extract and cache the frozen backbone's features (bottom's maps) of
    ``cfg``'s splits now (a no-op when cached), so that runs started in parallel only read them."""
    from .data.sources import load_splits

    if cfg.mode in ("features", "top"):
        cached_split_features(cfg, load_splits(cfg), cfg.device, Context(), progress=False)
