"""Datasets: the embedded default benchmark ("Fashion outfits") and its sources."""

from .outfits import CLASSES, SMOKE, OutfitsConfig, load_outfits

__all__ = ["CLASSES", "SMOKE", "OutfitsConfig", "load_outfits"]
