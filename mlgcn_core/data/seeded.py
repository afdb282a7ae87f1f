"""Augmentation randomness drawn from (run seed, epoch, sample index), never from a process's RNG.

A DataLoader with ``num_workers`` = 0 draws every training item's random flip / crop from the main
process's global RNG, one with N workers from N worker RNGs seeded by the loader: each worker
count gives another stream, and so does a resume in the middle of a run. :class:`SeededItems`
draws item ``i`` of epoch ``e`` with Python's, NumPy's and torch's global RNGs seeded from
``(seed, e, i)`` (:func:`item_seed`) and restores them afterwards; :class:`EpochIndices` hands
each item its epoch with its index (the sampler runs in the main process, so persistent workers
get the epoch too). The result of a run then depends on neither ``workers``, nor the machine's
cores, nor where it was resumed (tests/test_train.py, the workers table and the SIGKILL resume).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

# The run key names this stream (``config.AUGMENT_STREAM``, in ``ExperimentConfig.key`` of runs that
# augment: ``mode=end2end``), so a run trained with the earlier per-process streams is never reused.
_STREAM_ID = 3_000_017


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one training item's augmentation: a hash of (run seed, epoch, index)."""
    state = np.random.SeedSequence([_STREAM_ID, int(seed) % 2**32, int(epoch), int(index)])
    return int(state.generate_state(1, np.uint64)[0] % 2**63)


class SeededItems(Dataset):
    """``dataset`` whose item ``(epoch, i)`` is item ``i`` drawn with RNGs seeded by
    :func:`item_seed` (``seed``, ``epoch``, ``i``); the global RNG states are restored after it."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, i = key
        s = item_seed(self.seed, epoch, i)
        py, npy = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            random.seed(s)
            np.random.seed(s % 2**32)
            try:
                return self.dataset[i]
            finally:
                random.setstate(py)
                np.random.set_state(npy)


class EpochIndices(Sampler):
    """``sampler``'s indices as ``(epoch, index)`` pairs for :class:`SeededItems`; ``set_epoch``
    sets both this epoch and the wrapped sampler's (a ``DistributedSampler``'s shuffle)."""

    def __init__(self, sampler):
        self.sampler, self.epoch = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        epoch = self.epoch
        return ((epoch, int(i)) for i in self.sampler)
