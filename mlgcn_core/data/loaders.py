"""Batches for the engine: a DataLoader over images, or indexed batches of cached tensors."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset, TensorDataset

from .seeded import EpochIndices, SeededItems


class TensorBatches:
    """What ``DataLoader(TensorDataset, batch_size, sampler)`` yields, without per-item collation:
    the same batches in the same order, indexed in one go (cached-features mode)."""

    def __init__(self, dataset: TensorDataset, batch_size: int, sampler=None, indices=None):
        self.tensors, self.batch_size = dataset.tensors, batch_size
        self.sampler, self.indices = sampler, indices

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.indices)
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        order = list(self.sampler) if self.sampler is not None else list(self.indices)
        for i in range(0, len(order), self.batch_size):
            idx = torch.as_tensor(order[i:i + self.batch_size], dtype=torch.long)
            yield tuple(t[idx] for t in self.tensors)


def batches(ds: Dataset, batch_size: int, workers: int, pin_memory: bool, seed: int, sampler=None,
            indices=None):
    """``ds`` in batches, by ``sampler`` or over ``indices``: :class:`TensorBatches` for cached
    tensors, else a DataLoader with its own generator (the loader's worker seeds never draw from,
    or depend on, the global RNG)."""
    if isinstance(ds, TensorDataset):
        return TensorBatches(ds, batch_size, sampler, indices)
    if indices is not None:
        ds = Subset(ds, indices)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
                      pin_memory=pin_memory, persistent_workers=workers > 0 and sampler is not None,
                      generator=torch.Generator().manual_seed(seed))


def training_batches(ds: Dataset, batch_size: int, workers: int, pin_memory: bool, seed: int, world: int,
                     rank: int):
    """``(sampler, batches)`` of a training split, shuffled per epoch (``sampler.set_epoch``) and
    shared among ``world`` processes. Images: each item's augmentation is drawn from (seed, epoch,
    index), whatever the workers (:mod:`.seeded`); cached tensors are not augmented."""
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
    if isinstance(ds, TensorDataset):
        return sampler, batches(ds, batch_size, workers, pin_memory, seed, sampler=sampler)
    sampler = EpochIndices(sampler)
    return sampler, batches(SeededItems(ds, seed), batch_size, workers, pin_memory, seed, sampler=sampler)
