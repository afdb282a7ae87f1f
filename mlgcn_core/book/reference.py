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


def table1_coco() -> pd.DataFrame:
    """Paper Table 1 as a DataFrame (rows: methods, columns: the 13 metric keys)."""
    return pd.DataFrame.from_dict(TABLE1_COCO, orient="index", columns=metric_keys(3))


def main_table(dataset: str) -> tuple[pd.DataFrame, str]:
    """The paper's main result to show beside ours, and its label: Table 2's mAP on VOC 2007
    (the paper gives no CP … OF1 for VOC), Table 1's 13 metrics otherwise (COCO; also beside the
    embedded benchmark and custom data, where only the rows' ordering is comparable)."""
    if dataset == "voc2007":
        return table2_voc()[["mAP"]], "paper (VOC, ResNet-101 @ 448)"
    return table1_coco(), SOURCE
