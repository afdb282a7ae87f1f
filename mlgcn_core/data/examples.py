"""A small "your own data" example: real Fashion-outfit scenes written as JPEG files plus a CSV
``image,labels`` (labels separated by ``;``) — the input format of ``prepare custom``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .outfits import CLASSES, OutfitsConfig, generate


def write_example_dataset(folder: str | os.PathLike, n: int = 60, seed: int = 0) -> Path:
    """Write ``folder/images/*.jpg`` and ``folder/labels.csv``; returns the CSV path."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    scenes = generate(OutfitsConfig(seed=seed, n_train=n, n_val=1, n_test=1))["train"]
    csv_path = folder / "labels.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "labels"])
        for i, (img, y) in enumerate(zip(scenes["images"], scenes["labels"])):
            name = f"scene_{i:04d}.jpg"
            Image.fromarray(np.repeat(img[..., None], 3, axis=2)).save(folder / "images" / name, quality=92)
            w.writerow([name, ";".join(CLASSES[c] for c in np.flatnonzero(y))])
    return csv_path


if __name__ == "__main__":
    import sys

    print(write_example_dataset(sys.argv[1] if len(sys.argv) > 1 else "my_data"))
