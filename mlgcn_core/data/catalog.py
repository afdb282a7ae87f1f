"""The datasets, as a registry (config field ``dataset``): the one list of names, each entry
declaring how its data comes — the methods ask an entry, they never branch on a dataset's name.

An entry (:class:`Dataset`) declares its title; for an **embedded benchmark** (generated here,
no download: ``outfits``, ``coco_shaped``) the config field holding its generator settings, the
generator's splits and garment visibility, its class names, the true label statistics behind its
"oracle" graph and its tiny smoke settings (and, where the labels follow a public dataset's, its
published label counts: ``public``); for a **prepared dataset** (``prepare`` writes its
folder: ``voc2007``, ``coco2014``, ``custom``) the names of its splits in that folder — the data's
identity in a run key is then the folder's fingerprint. Both name the paper's dataset whose
published numbers are shown beside theirs (``reference``).

    DATASETS["coco_shaped"].build.classes()        # the 80 COCO names
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..registry import Registry
from . import coco_shaped, outfits


@dataclass(frozen=True)
class Dataset:
    """What a dataset entry declares (see the module docstring)."""

    title: str  # as a reader sees it ("Fashion outfits")
    reference: str = "coco2014"  # the paper's dataset whose numbers stand beside ours
    # embedded benchmarks
    scenes: str | None = None  # the ExperimentConfig field of its generator settings
    settings: type | None = None  # that field's dataclass
    smoke: object = None  # tiny generator settings (the book's smoke profile, tests)
    class_names: Callable | None = None  # () → the class names, in label order
    load: Callable | None = None  # generator settings → {split: {"images", "labels", "sources"}}
    visibility: Callable | None = None  # generator settings → {split: (n, C) visible share}
    truth: Callable | None = None  # generator settings → (M (C, C), N (C,)): P(L_i, L_j), P(L_i)
    # () → (M (C, C), N (C,)): label counts published for the data its labels follow, read by a
    # graph with graph_labels="public" (COCO 2014 train's for the COCO-shaped benchmark); None: none
    public: Callable | None = None
    image_mode: str = "L"  # PIL mode of its canvases ("L" grey, "RGB")
    # prepared datasets
    splits: tuple[str, str] | None = None  # (training split, test split) in the prepared folder
    carved: bool = True  # validation carved out of the training split (VOC, COCO); else prepared (custom)
    extra: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.scenes is not None

    def classes(self) -> list[str]:
        return list(self.class_names()) if self.class_names else []


DATASETS = Registry("dataset")
DATASETS.register("outfits", reads=("outfits",))(Dataset(
    "Fashion outfits", scenes="outfits", settings=outfits.OutfitsConfig, smoke=outfits.SMOKE,
    class_names=lambda: outfits.CLASSES, load=outfits.load_outfits, visibility=outfits.load_visibility,
    truth=lambda settings: outfits.label_statistics()))
DATASETS.register("coco_shaped", reads=("coco_shaped",))(Dataset(
    "COCO-shaped outfits", scenes="coco_shaped", settings=coco_shaped.CocoShapedConfig,
    smoke=coco_shaped.SMOKE, class_names=coco_shaped.classes, load=coco_shaped.load_coco_shaped,
    visibility=coco_shaped.load_visibility, truth=coco_shaped.label_statistics, image_mode="RGB",
    public=coco_shaped.public_statistics))
DATASETS.register("voc2007")(Dataset("PASCAL VOC 2007", reference="voc2007", splits=("trainval", "test")))
DATASETS.register("coco2014")(Dataset("MS-COCO 2014", splits=("train", "val")))
DATASETS.register("custom")(Dataset("custom dataset", splits=("train", "test"), carved=False))

# the embedded benchmarks' generator-settings fields of ExperimentConfig: {field: dataclass}
SCENE_FIELDS = {e.build.scenes: e.build.settings for e in (DATASETS[n] for n in DATASETS.names())
                if e.build.embedded}
EMBEDDED = tuple(n for n in DATASETS.names() if DATASETS[n].build.embedded)
# the datasets whose entry declares public label statistics (graph_labels="public")
WITH_PUBLIC = tuple(n for n in DATASETS.names() if DATASETS[n].build.public is not None)


def dataset(name: str) -> Dataset:
    """The entry of dataset ``name``; an unknown name raises one line naming the known ones."""
    return DATASETS[name].build


def scene_settings(cfg):
    """The generator settings of ``cfg``'s embedded benchmark (``cfg.outfits``, ``cfg.coco_shaped``)."""
    entry = dataset(cfg.dataset)
    if not entry.embedded:
        raise ValueError(f"dataset {cfg.dataset!r} is not an embedded benchmark (have {list(EMBEDDED)})")
    return getattr(cfg, entry.scenes)


def class_names(cfg) -> list[str]:
    """The class names of ``cfg``'s embedded benchmark."""
    scene_settings(cfg)
    return dataset(cfg.dataset).classes()


def load_scenes(cfg) -> dict:
    """The splits of ``cfg``'s embedded benchmark: {split: {"images", "labels", "sources"}}."""
    return dataset(cfg.dataset).load(scene_settings(cfg))


def load_scene_visibility(cfg) -> dict:
    """Each garment's visible share per split of ``cfg``'s embedded benchmark."""
    return dataset(cfg.dataset).visibility(scene_settings(cfg))
