"""The paper's own numbers, typed in from Chen et al., CVPR 2019 (reference data only).

Table 1 (MS-COCO 2014 val, ResNet-101 @ 448×448): all-label and top-3 metrics, in percent.
Shown beside our measurements, always labelled as the paper's.
"""

from __future__ import annotations

import pandas as pd

from .metrics import metric_keys

CITATION = ("Z.-M. Chen, X.-S. Wei, P. Wang, Y. Guo. Multi-Label Image Recognition with "
            "Graph Convolutional Networks. CVPR 2019.")
SOURCE = "paper (COCO, ResNet-101 @ 448)"

# columns: mAP, CP, CR, CF1, OP, OR, OF1, then CP … OF1 for top-3
TABLE1_COCO = {
    "ResNet-101 (baseline)": [77.3, 80.2, 66.7, 72.8, 83.9, 70.8, 76.8, 84.1, 59.4, 69.7, 89.1, 62.8, 73.6],
    "ML-GCN (Binary)": [80.3, 81.1, 70.1, 75.2, 83.8, 74.2, 78.7, 84.9, 61.3, 71.2, 88.8, 65.2, 75.2],
    "ML-GCN (Re-weighted)": [83.0, 85.1, 72.0, 78.0, 85.8, 75.4, 80.3, 89.2, 64.1, 74.6, 90.5, 66.5, 76.7],
}


def table1_coco() -> pd.DataFrame:
    """Paper Table 1 as a DataFrame (rows: methods, columns: the 13 metric keys)."""
    return pd.DataFrame.from_dict(TABLE1_COCO, orient="index", columns=metric_keys(3))
