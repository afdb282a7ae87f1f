"""Image files of the real datasets (VOC, COCO, your own): lazy decoding with clear errors, the
paper's transforms, and one multi-label ``Dataset`` for all of them.

Targets follow the official ``{-1, 0, 1}`` convention per label: 1 positive, −1 negative,
0 *difficult* (VOC). As in the official code a difficult label counts as **positive** in the
training loss, is **skipped** in AP and counts as **negative** in CP … OF1.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..backbones import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from torchvision.transforms import v2

# torchvision is imported where it is used: importing it is slow (it pulls in torch._dynamo), a
# cost every kernel of a sweep point would pay, though features-mode runs never decode an image.

PAPER_SIZE = 448
PAPER_SCALES = (1.0, 0.875, 0.75, 0.66, 0.5)


def load_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image as RGB; a missing or undecodable file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image file {str(path)!r} cannot be decoded ({exc})") from exc


def check_image(path: str | os.PathLike) -> str | None:
    """None if the file decodes, else the reason (used to skip and report bad files)."""
    try:
        load_image(path)
    except (FileNotFoundError, ValueError) as exc:
        return str(exc)
    return None


class MultiScaleCrop(torch.nn.Module):
    """The official training crop: a crop of side ``min(H, W)·s`` per axis with scales
    ``s`` from ``scales`` (height and width scales at most ``max_distort`` steps apart), taken at
    one of 13 fixed positions, resized to ``size × size``."""

    def __init__(self, size: int = PAPER_SIZE, scales: Sequence[float] = PAPER_SCALES,
                 max_distort: int = 2):
        super().__init__()
        self.size, self.scales, self.max_distort = int(size), tuple(scales), int(max_distort)

    def crop_params(self, height: int, width: int, rng: random.Random) -> tuple[int, int, int, int]:
        base = min(height, width)
        sizes = [int(base * s) for s in self.scales]
        sizes = [self.size if abs(s - self.size) < 3 else s for s in sizes]
        pairs = [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes)
                 if abs(i - j) <= self.max_distort]
        ch, cw = rng.choice(pairs)
        sh, sw = (height - ch) // 4, (width - cw) // 4
        offsets = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2), (2, 0), (2, 4), (0, 2), (4, 2),
                   (1, 1), (1, 3), (3, 1), (3, 3)]  # (row, col) in quarters of the slack
        oy, ox = rng.choice(offsets)
        return oy * sh, ox * sw, ch, cw

    def forward(self, img):
        from torchvision.transforms.v2 import functional as TF

        h, w = TF.get_size(img)
        top, left, ch, cw = self.crop_params(h, w, random)
        return TF.resized_crop(img, top, left, ch, cw, [self.size, self.size], antialias=True)


def train_transform(size: int = PAPER_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """Paper/official training transform: MultiScaleCrop + horizontal flip + normalization
    (ImageNet statistics by default; pass the backbone's ``info.mean``/``info.std``)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), MultiScaleCrop(size), v2.RandomHorizontalFlip(),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


def eval_transform(size: int = PAPER_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """Evaluation: plain resize to size × size (the official "Warp", no crop) + normalization."""
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.Resize((size, size), antialias=True),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


class MultiLabelImages(Dataset):
    """Images + official {-1, 0, 1} labels → ``(image, target, difficult)``.

    ``target`` (C,) float in {0, 1} with difficult labels as positives (training loss);
    ``difficult`` (C,) bool. ``on_error="raise"`` decodes lazily and raises naming the bad file;
    ``on_error="skip"`` checks every file up front, drops bad ones and lists them in ``skipped``.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], labels: np.ndarray, classes: list[str],
                 transform=None, on_error: str = "raise"):
        labels = np.asarray(labels)
        if labels.shape != (len(paths), len(classes)):
            raise ValueError(f"labels shape {labels.shape} does not match {len(paths)} images × "
                             f"{len(classes)} classes")
        if not np.isin(labels, (-1, 0, 1)).all():
            raise ValueError("labels must use the official values 1 / -1 / 0 (difficult)")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.skipped: list[tuple[str, str]] = []
        keep = list(range(len(paths)))
        if on_error == "skip":
            reasons = [check_image(p) for p in paths]
            self.skipped = [(str(p), r) for p, r in zip(paths, reasons) if r]
            keep = [i for i, r in enumerate(reasons) if r is None]
        self.paths = [Path(paths[i]) for i in keep]
        self.labels = labels[keep]  # (n, C) in {-1, 0, 1}
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def targets(self) -> np.ndarray:
        return (self.labels >= 0).astype(np.int64)  # (n, C): difficult counts as positive

    def difficult(self) -> np.ndarray:
        return self.labels == 0  # (n, C)

    def __getitem__(self, i: int):
        img = load_image(self.paths[i])
        if self.transform:
            x = self.transform(img)  # (3, H, W)
        else:
            from torchvision.transforms.v2 import functional as TF

            x = TF.pil_to_tensor(img)  # (3, H, W) uint8
        row = self.labels[i]
        return x, torch.as_tensor(row >= 0, dtype=torch.float32), torch.as_tensor(row == 0)
