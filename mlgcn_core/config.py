"""One config dataclass per experiment, saved as ``config.json`` beside its results.

The run folder's name is derived from the config (``<model>-<hash>``), so running the same
config twice reuses the first run's results instead of recomputing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from .data.outfits import OutfitsConfig

MODELS = ("baseline", "mlgcn")
GRAPHS = ("reweighted", "binary")
MODES = ("features", "end2end")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines one training run's result."""

    # data: the embedded default benchmark
    data: OutfitsConfig = field(default_factory=OutfitsConfig)
    # image branch
    backbone: str = "efficientnet_lite0"  # key of backbones.BACKBONES
    weights: str | None = "imagenet"  # "imagenet", a state_dict path, or None (random)
    image_size: int = 112  # backbone input side (pixels)
    pooling: str = "max"  # "max" (paper, GMP) or "avg"
    mode: str = "features"  # "features": frozen backbone, cached features; "end2end": fine-tune
    # head
    model: str = "mlgcn"  # "mlgcn" or "baseline" (linear head)
    graph: str = "reweighted"  # "reweighted" (Eq. 8) or "binary" (Eq. 7 + I)
    tau: float = 0.4  # binarization threshold τ (Eq. 7)
    p: float = 0.2  # re-weighting p (Eq. 8)
    scheme: str = "paper"  # "paper" (corrected Eq. 8) or "official" (official gen_A)
    gcn_depth: int = 2  # GCN layers (Table 3)
    gcn_hidden: int = 1024  # hidden width
    word_vectors: str = "glove6b50d"  # label embeddings (GloVe 6B 50-d, offline)
    # optimization (SGD, as the official code)
    lr: float = 0.01  # head learning rate
    lrp: float = 0.1  # backbone lr = lr · lrp (end2end mode)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    lr_steps: tuple[int, ...] = (15,)  # lr × 0.1 at these epochs
    batch_size: int = 64
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        checks = {"model": (self.model, MODELS), "graph": (self.graph, GRAPHS),
                  "mode": (self.mode, MODES), "pooling": (self.pooling, ("max", "avg")),
                  "scheme": (self.scheme, ("paper", "official"))}
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {self.tau!r}")
        if not 0.0 <= self.p < 1.0:
            raise ValueError(f"p must lie in [0, 1), got {self.p!r}")
        if not 1 <= self.gcn_depth <= 4:
            raise ValueError(f"gcn_depth must be 1–4, got {self.gcn_depth!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be ≥ 1")
        object.__setattr__(self, "lr_steps", tuple(int(s) for s in self.lr_steps))

    # --- (de)serialization -------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config: unknown field(s) {unknown}; known: {sorted(known)}")
        d = dict(d)
        if isinstance(d.get("data"), dict):
            d["data"] = OutfitsConfig(**d["data"])
        return cls(**d)

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """Stable hash of every field that affects the result (``device`` excluded)."""
        d = self.to_dict()
        d.pop("device")
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        label = self.model if self.model == "baseline" else f"mlgcn-{self.graph}"
        return f"{label}-{self.key()}"
