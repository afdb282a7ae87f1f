"""One config dataclass per experiment, saved as ``config.json`` beside its results.

The run folder's name is derived from the config (``<model>-<hash>``), so running the same
config twice reuses the first run's results instead of recomputing them. Named presets live in
``mlgcn_core/presets/*.yaml`` (``paper_coco``, ``paper_voc``, ``reproduced_coco``, ``default``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from .data.outfits import CLASSES as OUTFIT_CLASSES
from .data.outfits import OutfitsConfig

DATASETS = ("outfits", "voc2007", "coco2014", "custom")
MODELS = ("baseline", "mlgcn")
# reweighted / binary: the paper's graphs from the training labels; identity, shuffled, oracle: the
# controls of the "does the graph help?" chapter (models.label_graph)
GRAPHS = ("reweighted", "binary", "identity", "shuffled", "oracle", "shuffled_oracle")
# which label sets a co-occurrence graph is estimated from: the run's own training annotations, or
# the benchmark's whole training label corpus (every scene, every annotation: label sets are cheap)
GRAPH_LABELS = ("train", "corpus")
MODES = ("features", "end2end", "top")
LOSSES = ("soft_margin", "bce", "asl")
PRECISIONS = ("fp32", "bf16", "fp16")
PRESET_DIR = Path(__file__).resolve().parent / "presets"
# fields that do not change the result: left out of the run key
NOT_IN_KEY = ("device", "workers", "sync_bn")
# the augmentation stream of runs that augment (mode end2end), in their run key: items drawn from
# (seed, epoch, index) (``data.seeded``); earlier runs drew from per-process RNGs, so they get other keys
AUGMENT_STREAM = "item-seeded/1"
# how the reported epoch is chosen (``ExperimentConfig.selection``) and how results say so
SELECTIONS = {"val": "best validation mAP", "last": "last epoch (no selection)",
              "test": "selected on test (optimistic)"}


def selection_label(selection: str) -> str:
    """How a result of a run with ``selection`` is labelled (metrics.json, tables, ``evaluate``):
    ``"test"`` → "selected on test (optimistic)" (the official code's protocol)."""
    return SELECTIONS[selection]


def result_label(name: str, cfg) -> str:
    """A table row's label: ``name``, with " — selected on test (optimistic)" appended when the
    run kept its best epoch by test mAP (``selection="test"``)."""
    return f"{name} — {selection_label('test')}" if cfg.selection == "test" else name


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}, e.g. [30]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _fits(value, tp) -> bool:
    """``value`` has the type ``tp`` of a config field (int is accepted for float; bool is not
    an int; a list or tuple of ints for ``tuple[int, ...]``; a dict for a dataclass)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return isinstance(value, (list, tuple)) and all(_fits(v, typing.get_args(tp)[0]) for v in value)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, (tp, dict))
    return isinstance(value, tp)


def check_field_types(obj, prefix: str = "") -> None:
    """Every field of the dataclass ``obj`` against its declared type: a ValueError naming the
    field, the value and the expected type (the one check behind ``--set``, presets, sweep grids
    and book parameters, which all build an :class:`ExperimentConfig`)."""
    check_values(type(obj), {f.name: getattr(obj, f.name) for f in fields(obj)}, prefix)


def check_values(cls, values: dict, prefix: str = "") -> None:
    """``{field: value}`` against the field types of the dataclass ``cls`` (see
    :func:`check_field_types`); names that are not fields are left to the caller."""
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if name in hints and not _fits(value, hints[name]):
            raise ValueError(f"config field {prefix}{name}: {value!r} is not {_type_name(hints[name])}")


def parse_assignments(items: list[str], what: str = "parameter", raw: bool = False) -> dict:
    """The one ``NAME=VALUE`` parser (config overrides, book parameters, sweep parameters,
    ``--fallback CLASS=PHRASE``): ``{name: value}``, values parsed as YAML (``seeds=[0,1]``,
    ``tau=0.3``) unless ``raw``. NAME is an identifier (dotted for ``outfits.n_train``) unless ``raw``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        ok = bool(name.strip()) if raw else all(part.isidentifier() for part in name.split("."))
        if not sep or not ok:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        try:
            out[name] = value if raw else yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"{what} {item!r}: the value is not valid YAML ({exc.problem})") from None
    return out


def group_dotted(values: dict, into: dict | None = None) -> dict:
    """``{"config.tau": 0.3, "seeds": [0]}`` → ``{"config": {"tau": 0.3}, "seeds": [0]}``, merged
    into a copy of ``into`` (a dotted name adds to the dict there; the name is split at its first
    dot, so ``config.outfits.n_train`` sets ``config["outfits.n_train"]``)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (into or {}).items()}
    for name, value in values.items():
        head, dot, rest = name.partition(".")
        if dot:
            if not isinstance(out.get(head, {}), dict):
                raise ValueError(f"parameter {name!r}: {head!r} is not a mapping ({out[head]!r})")
            out.setdefault(head, {})[rest] = value
        else:
            out[name] = value
    return out


def is_config_field(name: str) -> bool:
    """True for a field of :class:`ExperimentConfig` or ``outfits.<field>`` of the benchmark."""
    if name.startswith("outfits."):
        return name.removeprefix("outfits.") in {f.name for f in fields(OutfitsConfig)}
    return name in {f.name for f in fields(ExperimentConfig)}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines one training run's result."""

    # --- data
    dataset: str = "outfits"  # "outfits" (embedded benchmark), "voc2007", "coco2014", "custom"
    data_root: str | None = None  # folder made by `python -m mlgcn_core prepare …` (real datasets)
    outfits: OutfitsConfig = field(default_factory=OutfitsConfig)  # the embedded benchmark's size
    val_fraction: float = 0.1  # validation carved (seeded) from the training split of VOC/COCO
    # (selection "val" only)
    selection: str = "val"  # the reported epoch: "val" (best on the validation split), "last"
    # (whole training split, final epoch), "test" (best on test: the official code; optimistic)
    workers: int | str = 0  # DataLoader worker processes, or "auto" (machine's cores, capped)
    # outfits only, drawn with the run seed (data.sources.outfit_training_rows); left out of the key
    # when unset: train on a random subset of this many training scenes (None: all of them) …
    train_scenes: int | None = None
    # … and keep only ``rare_positives`` training scenes with each of ``rare_labels`` (class names)
    rare_labels: tuple[str, ...] = ()
    rare_positives: int | None = None
    # … and hide this share of each of ``hide_labels``' training annotations (the image stays, the
    # label is missing: set to 0 in the training targets and in the label statistics of the split)
    hide_labels: tuple[str, ...] = ()
    hide_fraction: float = 0.0  # the share of each hidden label's training positives, in (0, 1)
    # --- image branch
    backbone: str = "efficientnet_lite0"  # key of backbones.BACKBONES
    weights: str | None = "imagenet"  # "imagenet", a state_dict path, or None (random)
    image_size: int = 112  # backbone input side (pixels); paper: 448
    pooling: str = "max"  # "max" (paper, GMP) or "avg"
    mode: str = "features"  # "features": frozen backbone, cached features; "end2end": fine-tune
    #   all of it; "top": the backbone's top learns with the head, on cached maps of its frozen bottom
    trainable_blocks: int = 0  # top mode: last residual blocks trained, EfficientNet: + its conv_head
    #   (0: conv_head + BN only, 0.41 M of 3.37 M; the cut that fits 2 CPU cores, benchmarks/top_finetune.py)
    # --- head
    model: str = "mlgcn"  # "mlgcn" or "baseline" (linear head)
    graph: str = "reweighted"  # "reweighted" (Eq. 8), "binary" (Eq. 7 + I); controls: "identity"
    # (Â = I), "shuffled" (A' with the labels permuted), "oracle" (the generator's true P(L_j|L_i))
    graph_labels: str = "train"  # the label sets the graph is estimated from: "train" (the run's
    #   training annotations, the paper) or "corpus" (the benchmark's whole training label corpus)
    tau: float = 0.4  # binarization threshold τ (Eq. 7)
    p: float = 0.2  # re-weighting p (Eq. 8)
    scheme: str = "paper"  # "paper" (corrected Eq. 8) or "official" (official gen_A)
    gcn_depth: int = 2  # GCN layers (Table 3)
    gcn_hidden: int = 1024  # hidden width
    word_vectors: str = "glove6b50d"  # provider (embeddings.make_vectors) or a GloVe file path
    # --- loss and optimization (SGD, as the official code)
    loss: str = "soft_margin"  # "soft_margin" (paper), "bce", "asl" (asymmetric loss)
    asl_gamma_neg: float = 4.0  # ASL focusing on negatives
    asl_gamma_pos: float = 0.0  # ASL focusing on positives
    asl_clip: float = 0.05  # ASL probability margin for negatives
    lr: float = 0.02  # head learning rate
    lrp: float = 0.1  # backbone lr = lr · lrp (end2end mode; top mode: the trained top)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    lr_steps: tuple[int, ...] = (15,)  # lr × lr_gamma at these epochs
    lr_gamma: float = 0.1
    warmup_epochs: int = 0  # linear warm-up from lr/warmup_epochs·(1/steps) to lr, per step
    batch_size: int = 128  # global batch (split evenly across DDP processes)
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    # --- hardware
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", …
    precision: str = "fp32"  # "fp32", "bf16" or "fp16" (autocast + scaler; CUDA only)
    channels_last: bool = False  # NHWC memory format for the backbone (CUDA speed-up)
    sync_bn: bool = True  # SyncBatchNorm in the backbone under DDP on CUDA, end2end mode

    def __post_init__(self):
        check_field_types(self)
        if isinstance(self.outfits, dict):
            object.__setattr__(self, "outfits", OutfitsConfig(**self.outfits))
        check_field_types(self.outfits, "outfits.")
        checks = {"dataset": (self.dataset, DATASETS), "model": (self.model, MODELS),
                  "graph": (self.graph, GRAPHS), "mode": (self.mode, MODES),
                  "graph_labels": (self.graph_labels, GRAPH_LABELS),
                  "pooling": (self.pooling, ("max", "avg")), "scheme": (self.scheme, ("paper", "official")),
                  "loss": (self.loss, LOSSES), "precision": (self.precision, PRECISIONS),
                  "selection": (self.selection, tuple(SELECTIONS))}
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {self.tau!r}")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must lie in [0, 1] (1 is the paper's degenerate case), got {self.p!r}")
        if not 1 <= self.gcn_depth <= 4:
            raise ValueError(f"gcn_depth must be 1–4, got {self.gcn_depth!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be ≥ 1")
        if self.selection == "val" and not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction!r}")
        if self.trainable_blocks < 0:
            raise ValueError(f"trainable_blocks must be ≥ 0, got {self.trainable_blocks!r}")
        if self.warmup_epochs < 0 or self.lr <= 0:
            raise ValueError("warmup_epochs must be ≥ 0 and lr > 0")
        if (isinstance(self.workers, str) and self.workers != "auto") or (
                isinstance(self.workers, int) and self.workers < 0):
            raise ValueError(f"config field workers: {self.workers!r} is not an int ≥ 0 or 'auto'")
        object.__setattr__(self, "lr_steps", tuple(int(s) for s in self.lr_steps))
        self._check_subset()

    def _check_subset(self) -> None:
        """The training-subset fields and the oracle graph: outfits only, well-formed."""
        object.__setattr__(self, "rare_labels", tuple(str(n) for n in self.rare_labels))
        object.__setattr__(self, "hide_labels", tuple(str(n) for n in self.hide_labels))
        if self.dataset != "outfits":
            used = [f for f in ("train_scenes", "rare_labels", "rare_positives", "hide_labels") if getattr(self, f)]
            if self.graph in ("oracle", "shuffled_oracle"):
                used.append(f"graph={self.graph!r}")
            if self.graph_labels != "train":
                used.append(f"graph_labels={self.graph_labels!r}")
            if used:
                raise ValueError(f"{', '.join(used)}: only for dataset='outfits' (the embedded benchmark"
                                 f"{' knows its true label model' if 'oracle' in self.graph else ''}), "
                                 f"got dataset={self.dataset!r}")
        if self.train_scenes is not None and int(self.train_scenes) < 1:
            raise ValueError(f"train_scenes must be ≥ 1 or None, got {self.train_scenes!r}")
        for name in ("rare_labels", "hide_labels"):
            unknown = [n for n in getattr(self, name) if n not in OUTFIT_CLASSES]
            if unknown:
                raise ValueError(f"{name}: unknown class(es) {unknown}; known: {OUTFIT_CLASSES}")
        if bool(self.hide_labels) != (self.hide_fraction > 0) or not 0.0 <= self.hide_fraction < 1.0:
            raise ValueError("hide_labels and hide_fraction go together: class names and a share in "
                             f"(0, 1) (got {list(self.hide_labels)} and {self.hide_fraction!r})")
        if bool(self.rare_labels) != (self.rare_positives is not None) or (
                self.rare_positives is not None and int(self.rare_positives) < 1):
            raise ValueError("rare_labels and rare_positives go together: class names and a count ≥ 1 "
                             f"(got {list(self.rare_labels)} and {self.rare_positives!r})")

    # --- (de)serialization -------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> ExperimentConfig:
        return dataclasses.replace(self, **changes)

    def with_overrides(self, items: list[str] | dict) -> ExperimentConfig:
        """Apply ``FIELD=VALUE`` strings (YAML values) or a dict; ``outfits.n_train=…`` (or
        ``outfits: {n_train: …}``) sets a benchmark field."""
        values = dict(items) if isinstance(items, dict) else parse_assignments(items, "override")
        known = {f.name for f in fields(self)}
        changes, outfit_changes = {}, {}
        for name, value in values.items():
            if name == "outfits" and isinstance(value, dict):
                outfit_changes.update(value)
            elif name.startswith("outfits."):
                outfit_changes[name.removeprefix("outfits.")] = value
            elif name in known:
                changes[name] = value
            else:
                raise ValueError(f"override: unknown config field {name!r}; known: {sorted(known)}")
        if outfit_changes:
            known_outfits = {f.name for f in fields(OutfitsConfig)}
            wrong = sorted(set(outfit_changes) - known_outfits)
            if wrong:
                raise ValueError(f"override: unknown benchmark field(s) {['outfits.' + w for w in wrong]}; "
                                 f"known: {sorted('outfits.' + k for k in known_outfits)}")
            check_values(OutfitsConfig, outfit_changes, "outfits.")
            changes["outfits"] = dataclasses.replace(self.outfits, **outfit_changes)
        return self.replace(**changes)

    def key(self) -> str:
        """Stable hash of every field that affects the result: device and workers are left out,
        and so are fields the run does not use (the graph for a linear head, ASL's parameters for
        another loss, …), so that e.g. a τ sweep trains its baseline once."""
        d = self.to_dict()
        unused = list(NOT_IN_KEY)
        # "val" (the default) stays out of the key, so that every earlier run keeps its name
        unused += ["selection"] if self.selection == "val" else ["val_fraction"]
        if self.dataset != "outfits":
            unused.append("outfits")
        if self.model == "baseline":
            unused += ["graph", "tau", "p", "scheme", "gcn_depth", "gcn_hidden", "word_vectors"]
        elif self.graph == "binary":
            unused += ["p", "scheme"]
        elif self.graph == "identity":
            unused += ["tau", "p", "scheme"]
        if self.model == "baseline" or self.graph in ("identity", "oracle", "shuffled_oracle"):
            unused.append("graph_labels")  # no graph estimated from labels
        if self.word_vectors == "random":  # drawn per seed (one draw for every seed before)
            d["random_vectors"] = "per seed"
        # fields added later: out of the key at their defaults, so earlier runs keep their keys
        defaults = {"train_scenes": None, "rare_labels": (), "rare_positives": None, "hide_labels": (),
                    "hide_fraction": 0.0, "graph_labels": "train"}
        unused += [k for k, v in defaults.items() if getattr(self, k) == v]
        if self.loss != "asl":
            unused += ["asl_gamma_neg", "asl_gamma_pos", "asl_clip"]
        if self.mode == "features":
            unused += ["lrp", "channels_last"]
        if self.mode != "top":
            unused.append("trainable_blocks")
        for k in dict.fromkeys(unused):
            d.pop(k)
        if self.dataset != "outfits":  # the data itself, not only its path (the benchmark is its config)
            from .data import prepared_fingerprint

            d["data_fingerprint"] = prepared_fingerprint(self.data_root)
        if self.mode == "end2end":  # the only mode that augments: the stream its numbers come from
            d["augment_stream"] = AUGMENT_STREAM
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        label = self.model if self.model == "baseline" else f"mlgcn-{self.graph}"
        return f"{label}-{self.key()}"


def presets() -> list[str]:
    """Names of the preset files shipped in ``mlgcn_core/presets``."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str, overrides: list[str] | dict | None = None) -> ExperimentConfig:
    """A named preset (or a path to a YAML file of config fields), with optional overrides."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"preset {name!r} not found; have {presets()} or a path to a .yaml file")
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ValueError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a mapping of config fields")
    d.pop("description", None)
    try:
        cfg = ExperimentConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return cfg.with_overrides(overrides) if overrides else cfg
