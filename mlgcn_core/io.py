"""Reading and writing the official ML-GCN file layouts, and atomic writes for every file the
package produces.

Pickles are read with a restricted unpickler that only admits NumPy arrays (and the dicts /
lists holding them): a pickle naming any other global is rejected before anything runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class DiskFull(ValueError):
    """A write failed for lack of space (ENOSPC): the command line shows it as one line."""


def disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was raised while handling, an ``OSError`` ENOSPC: torch's zip writer
    turns the failed Python ``write`` of a full disk into a ``RuntimeError`` ("unexpected pos …")
    whose context is that OSError."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module.replace("numpy.core.", "numpy._core."), name) \
                if module.startswith("numpy.core.") else super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed (NumPy arrays only)")


def load_pickle(path: str | os.PathLike):
    """Load a pickle holding only NumPy arrays / dicts of them (official ML-GCN files)."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return _NumpyOnlyUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path}: not a NumPy-only pickle ({exc})") from exc


def load_label_stats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Official ``{'adj': (C, C) int64, 'nums': (C,) int64}`` statistics → ``(M, N)``."""
    d = load_pickle(path)
    if not isinstance(d, dict) or not {"adj", "nums"} <= set(d):
        raise ValueError(f"{path}: expected a dict with keys 'adj' and 'nums'")
    M, N = np.asarray(d["adj"]), np.asarray(d["nums"])
    if M.ndim != 2 or M.shape[0] != M.shape[1] or N.shape != (M.shape[0],):
        raise ValueError(f"{path}: field 'adj' must be C×C and 'nums' length C, got {M.shape}, {N.shape}")
    return M, N


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside ``path`` (same suffix) to write to; it replaces ``path`` only when
    the block succeeds, so a reader never sees a half-written file; removed on failure."""
    path = Path(path)
    # a unique name in the target folder (mkstemp: O_EXCL, random part), so two processes — on one
    # machine or on the nodes of a cluster sharing the folder — never write to the same temporary file
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as exc:
        if disk_full(exc):  # a full disk: one line naming the file; the temporary is removed
            raise DiskFull(f"no space left on the device while writing {path} (the temporary file was "
                           "removed; free some space and run again)") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """``text`` written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_label_stats(path: str | os.PathLike, M: np.ndarray, N: np.ndarray) -> None:
    """Write ``(M, N)`` in the official pickle layout, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump({"adj": np.asarray(M, dtype=np.int64), "nums": np.asarray(N, dtype=np.int64)}, f,
                    protocol=3)


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """A bare float32 array pickled like the official ``*_glove_word2vec.pkl`` files, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(np.asarray(array, dtype=np.float32), f, protocol=3)


class NpzArrays(Mapping):
    """The arrays of one ``.npz`` file, each read (and decompressed) on first access and then kept:
    a run on cached features reads one pooling of the feature cache, and never the scene cache's
    images (hundreds of MB compressed: seconds of zlib per process) unless features are extracted.
    Opening checks the zip's directory, so a truncated file fails here, not on first access."""

    def __init__(self, path: Path):
        self.path = path
        with np.load(path) as z:  # the directory only
            self._names = list(z.files)
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            if key not in self._names:
                raise KeyError(key)
            with np.load(self.path) as z:
                self._arrays[key] = z[key]
        return self._arrays[key]

    def __contains__(self, key) -> bool:  # the directory only (Mapping's default reads the array)
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def lazy(self, key: str) -> LazyArray:
        """``self[key]`` as an array-like read on first use (indexing, ``len``, ``np.asarray``)."""
        if key not in self._names:
            raise KeyError(key)
        return LazyArray(self, key)


class LazyArray:
    """One array of an :class:`NpzArrays`, read when first indexed, iterated or converted; its
    length is read from the array's header alone."""

    def __init__(self, arrays: NpzArrays, key: str):
        self._arrays, self._key, self._len = arrays, key, None

    def _array(self) -> np.ndarray:
        return self._arrays[self._key]

    def __len__(self) -> int:
        if self._len is None:
            import zipfile

            with zipfile.ZipFile(self._arrays.path) as zf, zf.open(f"{self._key}.npy") as f:
                version = np.lib.format.read_magic(f)
                shape = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                         else np.lib.format.read_array_header_2_0(f))[0]
            self._len = int(shape[0])
        return self._len

    def __getitem__(self, index):
        return self._array()[index]

    def __iter__(self):
        return iter(self._array())

    def __array__(self, dtype=None, copy=None):
        a = self._array()
        return a if dtype is None else a.astype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._array().shape

    @property
    def dtype(self):
        return self._array().dtype


_NPZ: dict[str, tuple[int, NpzArrays]] = {}  # path → (mtime_ns, arrays): the cache files one process reads
_NPZ_KEEP = 8


def load_npz(path: str | os.PathLike) -> NpzArrays:
    """The arrays of an ``.npz`` cache file (scenes, features, maps), each read once per process
    when first used and kept while the file is unchanged: a process that trains many runs (a
    worker of ``scheduler.run_many``, a warm kernel running sweep points) reads each array once,
    not once a run. The arrays are shared: callers must not modify them in place."""
    path = Path(path)
    stamp = path.stat().st_mtime_ns
    hit = _NPZ.get(str(path))
    if hit is None or hit[0] != stamp:
        hit = (stamp, NpzArrays(path))
        _NPZ[str(path)] = hit
        while len(_NPZ) > _NPZ_KEEP:
            _NPZ.pop(next(iter(_NPZ)))
    return hit[1]
