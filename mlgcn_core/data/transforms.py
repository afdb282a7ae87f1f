"""Image → backbone input: grayscale canvases to normalized 3-channel tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_backbone_input(images: np.ndarray | torch.Tensor, image_size: int,
                      mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 canvases (N, S, S) → float (N, 3, image_size, image_size), normalized by mean/std."""
    x = torch.as_tensor(np.asarray(images)).float().div_(255.0)[:, None]  # (N, 1, S, S)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = x.expand(-1, 3, -1, -1)  # (N, 3, H, W)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s
