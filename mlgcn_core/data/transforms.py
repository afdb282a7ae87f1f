"""Image → backbone input: grayscale or RGB canvases to normalized 3-channel tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_backbone_input(images: np.ndarray | torch.Tensor, image_size: int,
                      mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 canvases (N, S, S) grey or (N, S, S, 3) RGB → float (N, 3, image_size, image_size),
    normalized by mean/std."""
    x = torch.as_tensor(np.asarray(images)).float().div_(255.0)
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)  # (N, 1 or 3, S, S)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = x.expand(-1, 3, -1, -1)  # (N, 3, H, W)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s
