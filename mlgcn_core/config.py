"""One config dataclass per experiment, saved as ``config.json`` beside its results.

The run folder's name is derived from the config (``<model>-<hash>``), so running the same
config twice reuses the first run's results instead of recomputing them. Named presets live in
``mlgcn_core/presets/*.yaml`` (``paper_coco``, ``paper_voc``, ``reproduced_coco``, ``default``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from .cli_args import load_yaml
from .data.catalog import DATASETS, SCENE_FIELDS, WITH_PUBLIC, dataset
from .data.coco_shaped import CocoShapedConfig
from .data.outfits import OutfitsConfig
from .embeddings import WORD_VECTORS
from .field_types import check_field_types, check_values
from .graph import GRAPHS
from .losses import LOSSES
from .registry import Registry

# the augmentation stream of runs that augment (mode end2end), in their run key: items drawn from
# (seed, epoch, index) (``data.seeded``); earlier runs drew from per-process RNGs, so they get other keys
AUGMENT_STREAM = "item-seeded/1"

# The experiment's own choices, declared as the method's registries declare theirs beside their
# builders (graph.GRAPHS, losses.LOSSES, embeddings.WORD_VECTORS; backbones.BACKBONES): each entry
# names the fields it reads, and a field some entry reads is in a run's key only where it is chosen.
# (the datasets' registry, data.catalog.DATASETS, declares each dataset beside how its data comes)
# The heads: ML-GCN and its baseline on the pooled vector (Eq. 1), and its successors on the feature
# map (``needs_map``), whose builders live in models.py (``MODELS.implement``).
MODELS = (Registry("model")
          .declare("mlgcn", reads=("graph", "gcn_depth", "gcn_hidden", "word_vectors", "pooling"))
          .declare("baseline", reads=("pooling",))
          .declare("csra", reads=("csra_lambda", "csra_temperatures"), needs_map=True)
          .declare("query2label", reads=("q2l_d_model", "q2l_ff", "q2l_heads", "q2l_encoder_layers",
                                         "q2l_decoder_layers", "q2l_dropout", "q2l_decoder_self_attn"),
                   needs_map=True)
          .declare("mldecoder", reads=("mld_d_model", "mld_ff", "mld_heads", "mld_groups", "mld_dropout"),
                   needs_map=True)
          .declare("mldecoder_words", reads=("mld_d_model", "mld_ff", "mld_heads", "mld_dropout", "word_vectors"),
                   needs_map=True)
          .declare("query2label_graph", reads=("q2l_d_model", "q2l_ff", "q2l_heads", "q2l_encoder_layers",
                                               "q2l_decoder_layers", "q2l_dropout", "q2l_decoder_self_attn",
                                               "graph", "gcn_depth", "gcn_hidden", "word_vectors"),
                   needs_map=True))
# The optimizer and its lr schedule (builders in optim.py): SGD with the official step schedule
# (ML-GCN, the GMP baseline, CSRA), AdamW with a one-cycle schedule (Query2Label's and ML-Decoder's
# official recipes)
OPTIMIZERS = (Registry("optimizer")
              .declare("sgd", reads=("momentum", "lr_steps", "lr_gamma", "warmup_epochs"))
              .declare("adamw"))
MODES = (Registry("mode").declare("features")
         .declare("end2end", reads=("lrp", "channels_last"), key_marks={"augment_stream": AUGMENT_STREAM})
         .declare("top", reads=("lrp", "channels_last", "trainable_blocks")))
SELECTIONS = Registry("selection").declare("val", reads=("val_fraction",)).declare("last").declare("test")
# which label statistics a co-occurrence graph is estimated from: the run's own training
# annotations, the benchmark's whole training label corpus (every scene, every annotation: label
# sets are cheap), or the public counts its dataset entry declares (``Dataset.public``: COCO 2014
# train's for the COCO-shaped benchmark) while the images stay the run's
GRAPH_LABELS = ("train", "corpus", "public")
PRECISIONS = ("fp32", "bf16", "fp16")
PRESET_DIR = Path(__file__).resolve().parent / "presets"

# numeric fields with a range of their own: (field, test, what is expected)
FIELD_RANGES = (
    ("asl_gamma_neg", lambda v: v >= 0, "≥ 0"),
    ("asl_gamma_pos", lambda v: v >= 0, "≥ 0"),
    ("asl_clip", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("csra_lambda", lambda v: v >= 0, "≥ 0"),
    ("csra_temperatures", lambda v: len(v) > 0 and all(t > 0 for t in v),
     "a non-empty list of temperatures > 0 (.inf: max)"),
    ("q2l_d_model", lambda v: v >= 4 and v % 4 == 0,
     "a multiple of 4 (the sine encoding's d/2 per axis in sin/cos pairs)"),
    ("q2l_ff", lambda v: v >= 1, "≥ 1"),
    ("q2l_heads", lambda v: v >= 1, "≥ 1"),
    ("q2l_encoder_layers", lambda v: v >= 0, "≥ 0"),
    ("q2l_decoder_layers", lambda v: v >= 1, "≥ 1"),
    ("q2l_dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("mld_d_model", lambda v: v >= 1, "≥ 1"),
    ("mld_ff", lambda v: v >= 1, "≥ 1"),
    ("mld_heads", lambda v: v >= 1, "≥ 1"),
    ("mld_groups", lambda v: v >= 1, "≥ 1"),
    ("mld_dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("grad_floor", lambda v: 0 <= v <= 1e-20, "in [0, 1e-20]"),
)

# How a field enters the run key, declared with the field (``field(metadata=...)``):
NEVER_IN_KEY = {"key": "never"}  # cannot change a result (hardware, worker processes)
IN_KEY_WHEN_SET = {"key": "when set"}  # an option that is off at its default: in the key when set
IN_KEY_UNLESS_OFF = {"key": "unless off", "off": 0.0}  # a change of method whose "off" value is how
#   every earlier run was computed: out of the key when off (those runs keep their names), in it otherwise


def is_config_field(name: str) -> bool:
    """True for a field of :class:`ExperimentConfig` or ``<benchmark>.<field>`` of an embedded
    benchmark's settings (``outfits.n_train``, ``coco_shaped.n_train``)."""
    head, dot, rest = name.partition(".")
    if dot:
        return head in SCENE_FIELDS and rest in {f.name for f in fields(SCENE_FIELDS[head])}
    return name in {f.name for f in fields(ExperimentConfig)}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines one training run's result."""

    # --- data
    dataset: str = "outfits"  # an entry of data.catalog.DATASETS: "outfits", "coco_shaped" (embedded
    #   benchmarks), "voc2007", "coco2014", "custom" (prepared folders)
    data_root: str | None = None  # folder made by `python -m mlgcn_core prepare …` (real datasets)
    outfits: OutfitsConfig = field(default_factory=OutfitsConfig)  # the 10-label benchmark's size
    coco_shaped: CocoShapedConfig = field(default_factory=CocoShapedConfig)  # the COCO-shaped one's
    val_fraction: float = 0.1  # validation carved (seeded) from the training split of VOC/COCO
    # (selection "val" only)
    selection: str = field(default="val", metadata=IN_KEY_WHEN_SET)  # the reported epoch: "val"
    #   (best on the validation split), "last" (whole training split, final epoch), "test" (best on
    #   test: the official code; optimistic)
    # embedded benchmarks only, drawn with the run seed (data.sources.outfit_training_rows): train on a random
    # subset of this many training scenes (None: all of them) …
    train_scenes: int | None = field(default=None, metadata=IN_KEY_WHEN_SET)
    # … and keep only ``rare_positives`` training scenes with each of ``rare_labels`` (class names)
    rare_labels: tuple[str, ...] = field(default=(), metadata=IN_KEY_WHEN_SET)
    rare_positives: int | None = field(default=None, metadata=IN_KEY_WHEN_SET)
    # … and hide this share of each of ``hide_labels``' training annotations (the image stays, the
    # label is missing: set to 0 in the training targets and in the label statistics of the split)
    hide_labels: tuple[str, ...] = field(default=(), metadata=IN_KEY_WHEN_SET)
    hide_fraction: float = field(default=0.0, metadata=IN_KEY_WHEN_SET)  # the share of each hidden
    #   label's training positives, in (0, 1)
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
    model: str = "mlgcn"  # an entry of config.MODELS: "mlgcn" or "baseline" (linear head) on the pooled
    #   vector; on the feature map: "csra", "query2label", "mldecoder" (fixed random queries),
    #   "mldecoder_words" (queries from the label word vectors), "query2label_graph" (Query2Label
    #   whose label queries are a GCN's output over the word vectors and the label graph) — in
    #   "features" mode these read the cached float16 maps before the backbone's last 1×1
    #   convolution, which runs frozen in front
    graph: str = "reweighted"  # an entry of graph.GRAPHS: "reweighted" (Eq. 8), "binary" (Eq. 7 + I);
    # controls: "identity" (Â = I), "shuffled" (A' with the labels permuted), "oracle" (the
    # generator's true P(L_j|L_i)), "shuffled_oracle"
    graph_labels: str = field(default="train", metadata=IN_KEY_WHEN_SET)  # the label statistics the
    #   graph is estimated from: "train" (the run's training annotations, the paper), "corpus" (the
    #   benchmark's whole training label corpus) or "public" (the counts its dataset entry publishes:
    #   COCO 2014 train's for coco_shaped)
    tau: float = 0.4  # binarization threshold τ (Eq. 7)
    p: float = 0.2  # re-weighting p (Eq. 8)
    scheme: str = "paper"  # "paper" (corrected Eq. 8) or "official" (official gen_A)
    gcn_depth: int = 2  # GCN layers (Table 3)
    gcn_hidden: int = 1024  # hidden width
    word_vectors: str = "glove6b50d"  # an entry of embeddings.WORD_VECTORS or a GloVe file path
    # --- the successors' heads on the feature map (each field read by its own head only)
    csra_lambda: float = 0.1  # CSRA λ: weight of the class-specific attention logit (official 0.1; its
    #   COCO ResNet-101 run 0.5)
    csra_temperatures: tuple[float, ...] = (1.0,)  # CSRA softmax temperatures T, one branch each, logits
    #   summed (official --num_heads 1: [1]; 4: [1, 2, 4, .inf]); .inf: max over positions (official T = 99)
    q2l_d_model: int = 256  # Query2Label transformer width d (official 2048, 8× narrower here; a 1×1
    #   projection C → d when d ≠ the map's C; d a multiple of 4 for the sine encoding)
    q2l_ff: int = 1024  # Query2Label feed-forward width (official 8192 = 4 d; 4 d here too)
    q2l_heads: int = 4  # Query2Label attention heads (official 4)
    q2l_encoder_layers: int = 1  # Query2Label encoder layers over the map's positions (official 1)
    q2l_decoder_layers: int = 2  # Query2Label decoder layers of label queries (official 2)
    q2l_dropout: float = 0.1  # Query2Label dropout (official 0.1)
    q2l_decoder_self_attn: bool = False  # self-attention among the label queries in every decoder layer
    #   (official: removed)
    mld_d_model: int = 256  # ML-Decoder width (official 768, 3× narrower here)
    mld_ff: int = 1024  # ML-Decoder feed-forward width (official 2048 = 2.7 d; 4 d here)
    mld_heads: int = 8  # ML-Decoder attention heads (official 8)
    mld_groups: int = 100  # ML-Decoder queries K_q = min(groups, labels), each decoding ⌈labels / K_q⌉
    #   labels (official 100; "mldecoder_words": one query per label)
    mld_dropout: float = 0.1  # ML-Decoder dropout (official 0.1)
    # --- optimization (loss; SGD, as the official code)
    loss: str = "soft_margin"  # an entry of losses.LOSSES: "soft_margin" (paper), "bce", "asl"
    asl_gamma_neg: float = 4.0  # ASL focusing on negatives
    asl_gamma_pos: float = 0.0  # ASL focusing on positives
    asl_clip: float = 0.05  # ASL probability margin for negatives, in [0, 1]
    asl_weight_grad: bool = field(default=True, metadata=IN_KEY_WHEN_SET)  # ASL's focusing weight
    #   (1 − p_t)^γ is differentiated (this package's ASL from the start; Query2Label's default);
    #   false: computed without gradient, as ASL's official class and training script do
    optimizer: str = field(default="sgd", metadata=IN_KEY_WHEN_SET)  # an entry of config.OPTIMIZERS:
    #   "sgd" (momentum, the step schedule lr_steps / lr_gamma, warm-up) or "adamw" (a one-cycle
    #   schedule peaking at lr after 20 % of the steps: Query2Label's and ML-Decoder's recipe)
    lr: float = 0.02  # head learning rate (adamw: the one-cycle's peak)
    lrp: float = 0.1  # backbone lr = lr · lrp (end2end mode; top mode: the trained top)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    lr_steps: tuple[int, ...] = (15,)  # lr × lr_gamma at these epochs
    lr_gamma: float = 0.1
    warmup_epochs: int = 0  # linear warm-up from lr/warmup_epochs·(1/steps) to lr, per step
    batch_size: int = 128  # global batch (split evenly across DDP processes)
    clip_grad_norm: float | None = 10.0
    grad_floor: float = field(default=1e-30, metadata=IN_KEY_UNLESS_OFF)  # logit gradients below this
    #   magnitude become 0 before the head's backward pass (optim.floor_gradient): no subnormal
    #   floats there, which x86 CPUs compute several times slower; far below float32's resolution
    #   of any gradient that counts (it changes the last bits of some steps); 0: off
    seed: int = 0
    # --- hardware (device, workers and sync_bn cannot change a result: never in the run key)
    device: str = field(default="cpu", metadata=NEVER_IN_KEY)  # "cpu", "cuda", "cuda:1", …
    workers: int | str = field(default=0, metadata=NEVER_IN_KEY)  # DataLoader worker processes,
    #   or "auto" (machine's cores, capped)
    precision: str = "fp32"  # "fp32", "bf16" or "fp16" (autocast + scaler; CUDA only)
    channels_last: bool = False  # NHWC memory format for the backbone (CUDA speed-up)
    sync_bn: bool = field(default=True, metadata=NEVER_IN_KEY)  # SyncBatchNorm in the backbone
    #   under DDP on CUDA, end2end mode

    def __post_init__(self):
        check_field_types(self)
        for name, settings in SCENE_FIELDS.items():
            if isinstance(getattr(self, name), dict):
                object.__setattr__(self, name, settings(**getattr(self, name)))
            check_field_types(getattr(self, name), f"{name}.")
        for name, allowed in (("graph_labels", GRAPH_LABELS), ("pooling", ("max", "avg")),
                              ("scheme", ("paper", "official")), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        self.choices()  # an unknown dataset, model, mode, selection, loss, optimizer or graph raises,
        #   naming the known ones
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
        object.__setattr__(self, "csra_temperatures", tuple(float(t) for t in self.csra_temperatures))
        for name, ok, expected in FIELD_RANGES:
            if not ok(getattr(self, name)):
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")
        for width, heads in (("q2l_d_model", "q2l_heads"), ("mld_d_model", "mld_heads")):
            if getattr(self, width) % getattr(self, heads):
                raise ValueError(f"{width} must be a multiple of {heads} ({getattr(self, heads)}), "
                                 f"got {getattr(self, width)}")
        self._check_subset()

    def _check_subset(self) -> None:
        """The training-subset fields and graphs that need the benchmark: outfits only, well-formed."""
        object.__setattr__(self, "rare_labels", tuple(str(n) for n in self.rare_labels))
        object.__setattr__(self, "hide_labels", tuple(str(n) for n in self.hide_labels))
        entry = dataset(self.dataset)
        if self.graph_labels == "public" and entry.public is None:
            raise ValueError(f"graph_labels='public': dataset {self.dataset!r} publishes no label statistics "
                             f"(only {list(WITH_PUBLIC)} do)")
        if not entry.embedded:
            used = [f for f in ("train_scenes", "rare_labels", "rare_positives", "hide_labels") if getattr(self, f)]
            if GRAPHS[self.graph].datasets and self.dataset not in GRAPHS[self.graph].datasets:
                used.append(f"graph={self.graph!r}")
            if self.graph_labels != "train":
                used.append(f"graph_labels={self.graph_labels!r}")
            if used:
                raise ValueError(f"{', '.join(used)}: only for an embedded benchmark {list(SCENE_FIELDS)} "
                                 f"(which{' knows its true label model and' if 'oracle' in self.graph else ''} "
                                 f"generates its scenes), got dataset={self.dataset!r}")
        if self.train_scenes is not None and int(self.train_scenes) < 1:
            raise ValueError(f"train_scenes must be ≥ 1 or None, got {self.train_scenes!r}")
        for name in ("rare_labels", "hide_labels"):
            unknown = [n for n in getattr(self, name) if n not in entry.classes()]
            if unknown:
                raise ValueError(f"{name}: unknown class(es) {unknown} of dataset {self.dataset!r}; known: "
                                 f"{entry.classes()}")
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
        ``outfits: {n_train: …}``; ``coco_shaped.…`` alike) sets an embedded benchmark's field."""
        if not isinstance(items, dict):
            from .cli_args import parse_assignments

            items = parse_assignments(items, "override")
        values = dict(items)
        known = {f.name for f in fields(self)}
        changes, nested = {}, {name: {} for name in SCENE_FIELDS}
        for name, value in values.items():
            head, dot, rest = name.partition(".")
            if name in SCENE_FIELDS and isinstance(value, dict):
                nested[name].update(value)
            elif dot and head in SCENE_FIELDS:
                nested[head][rest] = value
            elif name in known:
                changes[name] = value
            else:
                raise ValueError(f"override: unknown config field {name!r}; known: {sorted(known)}")
        for name, sub in nested.items():
            if not sub:
                continue
            known_sub = {f.name for f in fields(SCENE_FIELDS[name])}
            wrong = sorted(set(sub) - known_sub)
            if wrong:
                raise ValueError(f"override: unknown benchmark field(s) {[f'{name}.{w}' for w in wrong]}; "
                                 f"known: {sorted(f'{name}.{k}' for k in known_sub)}")
            check_values(SCENE_FIELDS[name], sub, f"{name}.")
            changes[name] = dataclasses.replace(getattr(self, name), **sub)
        return self.replace(**changes)

    def choices(self) -> list:
        """The registry entries this run chooses: its dataset, model, mode, selection and loss, and
        the graph and the word vectors where its model reads them (ML-GCN both, ML-Decoder's
        word-vector queries the vectors; a linear head reads neither, so e.g. random vectors' "per
        seed" mark stays out of a baseline's key: a sweep over vectors trains its baseline once)."""
        model = MODELS[self.model]
        chosen = [DATASETS[self.dataset], model, MODES[self.mode], SELECTIONS[self.selection],
                  LOSSES[self.loss], OPTIMIZERS[self.optimizer]]
        if "graph" in model.reads:
            chosen.append(GRAPHS[self.graph])
        if "word_vectors" in model.reads:
            chosen.append(WORD_VECTORS[self.word_vectors])
        return chosen

    def uses(self, name: str) -> bool:
        """Whether an entry this run chooses reads the field ``name`` (e.g. ``"graph"``: its model
        builds a label graph; ``"word_vectors"``: it reads the label word vectors)."""
        return any(name in entry.reads for entry in self.choices())

    def key_fields(self) -> set[str]:
        """The fields that can change this run's result: every field, less those only some choice
        reads (unless this run makes it), those declared never in the key, options at their
        default that are in the key only when set, and a change of method at its "off" value."""
        registries = (DATASETS, MODELS, MODES, SELECTIONS, LOSSES, OPTIMIZERS, GRAPHS, WORD_VECTORS)
        conditional = set().union(*(r.fields_read() for r in registries))
        used = {f for entry in self.choices() for f in entry.reads}
        out = set()
        for f in fields(self):
            when = f.metadata.get("key", "always")
            if when == "never" or (f.name in conditional and f.name not in used):
                continue
            if when == "when set" and getattr(self, f.name) == f.default:
                continue
            if when == "unless off" and getattr(self, f.name) == f.metadata["off"]:
                continue
            out.add(f.name)
        return out

    def key(self) -> str:
        """Stable hash of the fields that can change the result (:meth:`key_fields`) and the
        chosen entries' key marks: a τ sweep trains its baseline once, and a field added with a
        default that keeps the old behaviour leaves every earlier run's key as it was."""
        d = {k: v for k, v in self.to_dict().items() if k in self.key_fields()}
        for entry in self.choices():
            d.update(entry.key_marks)
        if "graph_labels" in d and self.graph_labels == "public":  # the published counts themselves
            d["public_statistics"] = public_fingerprint(self.dataset)
        if not dataset(self.dataset).embedded:  # the data itself, not only its path (a benchmark is its config)
            from .data import prepared_fingerprint

            d["data_fingerprint"] = prepared_fingerprint(self.data_root)
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        label = f"{self.model}-{self.graph}" if self.uses("graph") else self.model
        return f"{label}-{self.key()}"


def public_fingerprint(name: str) -> str:
    """A hash of dataset ``name``'s public label statistics (``Dataset.public``), for the run key of
    a graph built from them: new counts, new runs."""
    import numpy as np

    M, N = dataset(name).public()
    blob = np.ascontiguousarray(M, dtype=np.float64).tobytes() + np.ascontiguousarray(N, dtype=np.float64).tobytes()
    return hashlib.sha1(blob).hexdigest()[:12]


def presets() -> list[str]:
    """Names of the preset files shipped in ``mlgcn_core/presets``."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str, overrides: list[str] | dict | None = None) -> ExperimentConfig:
    """A named preset (or a path to a YAML file of config fields), with optional overrides."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"preset {name!r} not found; have {presets()} or a path to a .yaml file")
    try:
        d = load_yaml(path.read_text()) or {}
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
