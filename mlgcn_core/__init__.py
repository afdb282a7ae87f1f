"""mlgcn_core — the tested core of the ML-GCN research book (Chen et al., CVPR 2019)."""

__version__ = "0.1.0"
