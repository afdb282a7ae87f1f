"""The paper's own numbers, typed in from Chen et al., CVPR 2019 (reference data only).

Table 1 (MS-COCO 2014 val, ResNet-101 @ 448×448): all-label and top-3 metrics, in percent.
Shown beside our measurements, always labelled as the paper's.
"""

from __future__ import annotations

import pandas as pd

from ..metrics import metric_keys

CITATION = ("Z.-M. Chen, X.-S. Wei, P. Wang, Y. Guo. Multi-Label Image Recognition with "
            "Graph Convolutional Networks. CVPR 2019.")
SOURCE = "paper (COCO, ResNet-101 @ 448)"

# columns: mAP, CP, CR, CF1, OP, OR, OF1, then CP … OF1 for top-3
TABLE1_COCO = {
    "ResNet-101 (baseline)": [77.3, 80.2, 66.7, 72.8, 83.9, 70.8, 76.8, 84.1, 59.4, 69.7, 89.1, 62.8, 73.6],
    "ML-GCN (Binary)": [80.3, 81.1, 70.1, 75.2, 83.8, 74.2, 78.7, 84.9, 61.3, 71.2, 88.8, 65.2, 75.2],
    "ML-GCN (Re-weighted)": [83.0, 85.1, 72.0, 78.0, 85.8, 75.4, 80.3, 89.2, 64.1, 74.6, 90.5, 66.5, 76.7],
}


# Table 2 (PASCAL VOC 2007 test, per-class AP, ResNet-101 @ 448×448)
VOC_COLUMNS = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]
TABLE2_VOC = {
    "ResNet-101 (baseline)": [99.5, 97.7, 97.8, 96.4, 65.7, 91.8, 96.1, 97.6, 74.2, 80.9, 85.0, 98.4,
                              96.5, 95.9, 98.4, 70.1, 88.3, 80.2, 98.9, 89.2],
    "ML-GCN": [99.5, 98.5, 98.6, 98.1, 80.8, 94.6, 97.2, 98.2, 82.3, 95.7, 86.4, 98.2, 98.4, 96.7,
               99.0, 84.7, 96.7, 84.3, 98.9, 93.7],
}
TABLE2_VOC_MAP = {"ResNet-101 (baseline)": 89.9, "ML-GCN": 94.0}

# Table 3: mAP by GCN depth (ML-GCN, re-weighted graph)
TABLE3_DEPTH = {"layers": [2, 3, 4], "COCO mAP": [83.0, 82.1, 81.1], "VOC mAP": [94.0, 93.6, 93.0]}
TAU_OPTIMUM, P_OPTIMUM = 0.4, 0.2  # Fig. 5 and Fig. 6


def table2_voc() -> pd.DataFrame:
    """Paper Table 2 (rows: methods, columns: the 20 VOC classes and mAP)."""
    df = pd.DataFrame.from_dict(TABLE2_VOC, orient="index", columns=VOC_COLUMNS)
    df["mAP"] = pd.Series(TABLE2_VOC_MAP)
    return df


def table3_depth() -> pd.DataFrame:
    return pd.DataFrame(TABLE3_DEPTH).set_index("layers")


def paper_dataset(dataset: str) -> str:
    """The published dataset whose numbers stand beside ``dataset``'s: itself when the paper or the
    official README report it, else its entry's ``reference`` (COCO for the embedded benchmarks and
    custom data, where only the rows' ordering is comparable)."""
    from ..data.catalog import dataset as entry

    return dataset if dataset in OFFICIAL_README else entry(dataset).reference


def table1_coco() -> pd.DataFrame:
    """Paper Table 1 as a DataFrame (rows: methods, columns: the 13 metric keys)."""
    return pd.DataFrame.from_dict(TABLE1_COCO, orient="index", columns=metric_keys(3))


def main_table(dataset: str) -> tuple[pd.DataFrame, str]:
    """The paper's main result to show beside ours, and its label: Table 2's mAP on VOC 2007
    (the paper gives no CP … OF1 for VOC), Table 1's 13 metrics otherwise (COCO; also beside the
    embedded benchmark and custom data, where only the rows' ordering is comparable)."""
    if paper_dataset(dataset) == "voc2007":
        return table2_voc()[["mAP"]], "paper (VOC, ResNet-101 @ 448)"
    return table1_coco(), SOURCE


# The official repository's README ("Update"): ResNet-101 baselines re-run with global max pooling
# (GMP), which the authors "regard as one part of our method"; mAP in percent. An earlier README
# version gave GMP 81.5 on COCO and 62.8 for ML-GCN on NUS-WIDE; these are the later numbers.
OFFICIAL_README_SOURCE = "official repository README (github.com/Megvii-Nanjing/ML_GCN, ResNet-101 @ 448)"
OFFICIAL_README = {  # dataset → {method: mAP}
    "coco2014": {"ResNet-101 GAP": 77.3, "ResNet-101 GMP": 81.9, "ML-GCN": 83.0},
    "voc2007": {"ResNet-101 GAP": 91.7, "ResNet-101 GMP": 93.0, "ML-GCN": 94.0},
    "nuswide": {"ResNet-101 GAP": 56.9, "ResNet-101 GMP": 59.7, "ML-GCN": 62.5},
}
# the paper's own comparison: ML-GCN (re-weighted) over its ResNet-101 (GAP) baseline
PAPER_MARGIN = {"coco2014": TABLE1_COCO["ML-GCN (Re-weighted)"][0] - TABLE1_COCO["ResNet-101 (baseline)"][0],
                "voc2007": TABLE2_VOC_MAP["ML-GCN"] - TABLE2_VOC_MAP["ResNet-101 (baseline)"]}


def official_readme_table(dataset: str | None = None) -> pd.DataFrame:
    """The official README's mAP (rows: GAP, GMP, ML-GCN; columns: datasets), or one dataset's
    column (``voc2007``, ``coco2014``, ``nuswide``; the embedded benchmark and custom data get
    COCO's, as :func:`main_table`). Always labelled :data:`OFFICIAL_README_SOURCE`."""
    df = pd.DataFrame(OFFICIAL_README)
    if dataset is None:
        return df
    return df[[paper_dataset(dataset)]].rename(columns=lambda c: "mAP")


def margins(dataset: str) -> dict:
    """The published margins to compare ours with on ``dataset`` (COCO's for other datasets):
    ``paper_over_gap`` (the paper: ML-GCN − its GAP baseline; +5.7 COCO, +4.1 VOC) and
    ``authors_over_gmp`` (the official README: ML-GCN − ResNet-101 GMP; +1.1 COCO, +1.0 VOC)."""
    key = paper_dataset(dataset)
    readme = OFFICIAL_README[key]
    return {"dataset": key, "paper_over_gap": round(PAPER_MARGIN[key], 2),
            "authors_over_gmp": round(readme["ML-GCN"] - readme["ResNet-101 GMP"], 2)}


# --- the successors' published COCO 2014 numbers (chapter "Where ML-GCN stands") --------------------
# each with its own backbone, resolution, pretraining and training tricks: anchors, never compared
# with a number of this book (GUIDE §2d: the official papers and repositories)
HEADS_PUBLISHED = (  # (head as the chapter names it, method, backbone, input size, COCO 2014 mAP, source)
    ("baseline (GMP)", "ResNet-101 GMP", "ResNet-101", 448, 81.9, "ML-GCN's official README"),
    ("ML-GCN (re-weighted)", "ML-GCN", "ResNet-101", 448, 83.0, "Chen et al., CVPR 2019, Table 1"),
    ("CSRA", "CSRA", "ResNet-101", 448, 83.3, "Zhu & Wu, ICCV 2021"),
    ("Query2Label", "Query2Label", "ResNet-101", 448, 84.9, "Liu et al., 2021"),
    ("ML-Decoder", "ML-Decoder", "TResNet-L", 448, 90.1, "Ridnik et al., WACV 2023"),
    ("—", "ASL (the loss, TResNet-L)", "TResNet-L", 448, 86.6, "Ridnik et al., ICCV 2021"),
)


def heads_published() -> pd.DataFrame:
    """:data:`HEADS_PUBLISHED` as a table: each head's published COCO 2014 mAP with its backbone and
    input size — labelled as published, with their own recipes (not this book's runs)."""
    return pd.DataFrame([{"head here": h, "published method": m, "backbone": b, "input": f"{s} px",
                          "COCO 2014 mAP (published)": v, "source": src} for h, m, b, s, v, src in HEADS_PUBLISHED])


# the successors' widths in their official code (GUIDE §2d) — the chapter prints its own beside them
HEADS_OFFICIAL_WIDTHS = {"q2l_d_model": 2048, "q2l_ff": 8192, "q2l_heads": 4, "q2l_encoder_layers": 1,
                         "q2l_decoder_layers": 2, "mld_d_model": 768, "mld_ff": 2048, "mld_heads": 8,
                         "mld_groups": 100, "csra_lambda": 0.1, "weight_decay": 1e-2}  # Query2Label's AdamW
#   (ML-Decoder's 1e-4; CSRA's and ML-GCN's SGD 1e-4)


def head_deviations(cfg) -> pd.DataFrame:
    """Each successor's width and depth in its official code beside ``cfg``'s (the chapter's heads):
    the deviations a laptop needs, printed, not hidden."""
    rows = [{"field": f, "official": f"{v:g}", "here": f"{getattr(cfg, f):g}", "deviates": getattr(cfg, f) != v}
            for f, v in HEADS_OFFICIAL_WIDTHS.items()]
    return pd.DataFrame(rows).set_index("field")
