"""COCO 2014 train's label structure, and a model that draws label sets reproducing it.

ML-GCN's label graph (Sec. 3.4, Eq. 6–8) is built from label co-occurrence counts. A COCO-shaped
benchmark needs label sets whose counts look like COCO's: 80 labels, 2.94 per image on average,
frequencies from 55 % (person) down to 0.16 % (hair drier), and the conditional probabilities
P(L_j | L_i) (Eq. 6) of the real training set, so that the τ = 0.4 graph (Eq. 7) has COCO's edges.

* :func:`load_counts` reads the shipped counts (``coco_counts.json``: COCO 2014 train's ``nums`` and
  ``adj`` as counted by the official repository, with the category names, COCO ids and
  supercategories); :func:`write_counts` writes that file from the official ``coco_adj.pkl``.
* :func:`fit_label_model` fits the pairwise maximum-entropy model over non-empty label sets,

      P(y) ∝ exp(h·y + ½ yᵀJy) for y ∈ {0,1}^C \\ {0},   J symmetric, zero diagonal,

  whose first and second moments equal COCO's (mu_i = nums_i / n, mu_ij = adj_ij / n): the least
  structured distribution with COCO's label frequencies and pairwise co-occurrences. Fitted by
  moment matching with persistent Gibbs chains; seeded, deterministic, cached on disk.
* :func:`draw_labels` draws independent label sets from it (bit-identical for any number of worker
  processes); :func:`model_statistics` is the model's own (M, N) — the "oracle" graph's input.
* :func:`label_structure` / :func:`fidelity_failures` measure how close a set of label sets comes to
  COCO's structure, against :data:`FIDELITY_TARGETS`.

Empty label sets: COCO's counts leave out the images without annotations, so the model is restricted
to non-empty sets, and its Gibbs sampler never leaves them: a label whose update finds every other
label absent is set present (its conditional given "not empty" is 1). This draws exactly what
rejecting and redrawing empty sets of the unrestricted model would, with no redraw, and the fit
matches COCO's moments among non-empty sets (an unrestricted model would be fitted with its own
empty sets counted, and rejecting them afterwards would inflate every frequency).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_path, load_label_stats, load_npz, write_text
from ..paths import cache_root
from .statistics import conditional_probability, cooccurrence

COUNTS_FILE = Path(__file__).resolve().parent / "coco_counts.json"
N_IMAGES = 82081  # COCO 2014 train images with at least one annotation (the official counts' images)
PROVENANCE = (
    "COCO 2014 train annotations (instances_train2014.json), counted by the official ML-GCN repository "
    "(Megvii-Nanjing/ML-GCN, data/coco/coco_adj.pkl, MIT licence): nums[i] = images labelled i, "
    "adj[i][j] = images labelled both i and j (zero diagonal), every annotation counted (crowd ones "
    "included); images without annotations dropped (82,081 remain). Names in the official alphabetical "
    "order (category.json); coco_ids and supercategories from COCO's category list."
)

# COCO's 80 categories in its own id order (ids 1..90 with gaps), with their supercategories
COCO_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"),
    (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"), (6, "bus", "vehicle"), (7, "train", "vehicle"), (8, "truck", "vehicle"),
    (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"),
    (27, "backpack", "accessory"), (28, "umbrella", "accessory"), (31, "handbag", "accessory"),
    (32, "tie", "accessory"), (33, "suitcase", "accessory"),
    (34, "frisbee", "sports"), (35, "skis", "sports"), (36, "snowboard", "sports"),
    (37, "sports ball", "sports"), (38, "kite", "sports"), (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"), (41, "skateboard", "sports"), (42, "surfboard", "sports"),
    (43, "tennis racket", "sports"),
    (44, "bottle", "kitchen"), (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"), (55, "orange", "food"),
    (56, "broccoli", "food"), (57, "carrot", "food"), (58, "hot dog", "food"), (59, "pizza", "food"),
    (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"),
    (84, "book", "indoor"), (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
)

FIT_VERSION = "1"  # enters every cache key (fit and statistics): bump when the fit or the sampler changes
FIT_STREAM, DRAW_STREAM, STATS_STREAM = 0xC0C0F17, 0xC0C0D4A, 0xC0C057A  # random streams, one per use
CHUNK = 2048  # label sets per chunk of a draw: each chunk has its own random stream
# Gibbs sweeps per drawn set, from the empty state: after 20 the label and pair frequencies of 40,960
# draws agree with those of 400-sweep chains within Monte Carlo noise (measured); 40 doubles that
BURN_IN = 40
FIT_STEP = 0.1  # moment-matching step size (first half of the fit; then decaying as 1/t)
FIT_FLOOR = 1e-3  # added to a pair's COCO frequency in the step's scale (see _fit)


# --- the shipped counts ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CocoCounts:
    """COCO 2014 train's label counts: ``nums`` (C,) images per label, ``adj`` (C, C) images per
    pair (symmetric, zero diagonal), over ``n_images`` images (the layout of ``graph.cooccurrence``
    and of the official ``coco_adj.pkl``); names in the official alphabetical order."""

    names: tuple[str, ...]
    nums: np.ndarray  # (C,) int64
    adj: np.ndarray  # (C, C) int64
    n_images: int
    supercategories: dict[str, str] = field(default_factory=dict)
    coco_ids: dict[str, int] = field(default_factory=dict)

    @property
    def frequencies(self) -> np.ndarray:
        """mu_i = nums_i / n_images, (C,) float64."""
        return self.nums / self.n_images

    def key(self) -> str:
        """A hash of the counts (names, nums, adj, n_images): part of every cache key."""
        blob = json.dumps({"names": list(self.names), "nums": self.nums.tolist(), "adj": self.adj.tolist(),
                           "n_images": self.n_images})
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def write_counts(official_pickle: str | os.PathLike, out: str | os.PathLike = COUNTS_FILE,
                 n_images: int = N_IMAGES) -> Path:
    """Write the counts file from the official ``coco_adj.pkl`` (``{'nums', 'adj'}``): the package's
    ``coco_counts.json`` is this function's output (a test re-runs it and compares bytes). One line
    per ``adj`` row, so the file reads (and diffs) as a table."""
    from .coco import CLASSES  # the official order (category.json)

    adj, nums = load_label_stats(official_pickle)
    by_name = {name: (cid, sup) for cid, name, sup in COCO_CATEGORIES}
    head = {"provenance": PROVENANCE, "names": CLASSES, "n_images": int(n_images),
            "supercategories": {n: by_name[n][1] for n in CLASSES},
            "coco_ids": {n: by_name[n][0] for n in CLASSES},
            "nums": [int(v) for v in nums]}
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    rows = ",\n".join("  " + json.dumps([int(v) for v in row]) for row in adj)
    text = "{\n" + "\n".join(lines) + '\n "adj": [\n' + rows + "\n ]\n}\n"
    out = Path(out)
    write_text(out, text)
    return out


def _counts_error(path: Path, name: str, expected: str) -> ValueError:
    return ValueError(f"{path}: field {name!r} must be {expected}; reinstall the package")


def _int_array(d: dict, name: str, shape: tuple[int, ...], path: Path, expected: str) -> np.ndarray:
    try:
        a = np.array(d[name])
    except KeyError:
        raise ValueError(f"{path}: field {name!r} is missing; reinstall the package") from None
    except ValueError:  # a ragged list
        raise _counts_error(path, name, expected) from None
    if a.shape != shape or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise _counts_error(path, name, expected)
    return a.astype(np.int64)


def load_counts(path: str | os.PathLike = COUNTS_FILE) -> CocoCounts:
    """The counts file (default: the one the package ships) as :class:`CocoCounts`, checked: a
    missing, truncated or ill-shaped file raises ValueError with one line naming the file and the
    field (lengths, symmetry, zero diagonal, non-negative counts, adj_ij ≤ min(nums_i, nums_j))."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: file missing; reinstall the package") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(f"{path}: not valid JSON ({msg}); reinstall the package") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a JSON object with fields 'names', 'n_images', 'nums', 'adj'; "
                         "reinstall the package")
    names = d.get("names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)):
        raise _counts_error(path, "names", "a list of distinct category names")
    C = len(names)
    n_images = d.get("n_images")
    if not isinstance(n_images, int) or isinstance(n_images, bool) or n_images < 1:
        raise _counts_error(path, "n_images", "a positive integer")
    nums = _int_array(d, "nums", (C,), path, f"a list of {C} non-negative integer counts")
    if nums.max() > n_images:
        raise _counts_error(path, "nums", f"a list of {C} counts, none above n_images = {n_images}")
    adj_expected = f"a {C} × {C} symmetric matrix of non-negative integer counts with a zero diagonal"
    adj = _int_array(d, "adj", (C, C), path, adj_expected)
    if not (adj == adj.T).all() or np.diag(adj).any():
        raise _counts_error(path, "adj", adj_expected)
    if (adj > np.minimum(nums[:, None], nums[None, :])).any():
        raise _counts_error(path, "adj", f"{adj_expected}, adj[i][j] ≤ min(nums[i], nums[j])")
    sup = d.get("supercategories", {})
    if not (isinstance(sup, dict) and set(sup) == set(names) and all(isinstance(v, str) for v in sup.values())):
        raise _counts_error(path, "supercategories", "a {name: supercategory} object over 'names'")
    ids = d.get("coco_ids", {})
    if not (isinstance(ids, dict) and set(ids) == set(names)
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in ids.values())
            and len(set(ids.values())) == C):
        raise _counts_error(path, "coco_ids", "a {name: distinct positive COCO category id} object over 'names'")
    nums.flags.writeable = adj.flags.writeable = False
    return CocoCounts(tuple(names), nums, adj, n_images, {n: sup[n] for n in names}, {n: ids[n] for n in names})


@functools.lru_cache(maxsize=1)
def _shipped_counts() -> CocoCounts:
    return load_counts(COUNTS_FILE)


# --- the model -------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class LabelModel:
    """The fitted maximum-entropy model P(y) ∝ exp(h·y + ½ yᵀJy) over non-empty y ∈ {0,1}^C:
    ``h`` (C,) fields, ``J`` (C, C) couplings (symmetric, zero diagonal), the label ``names``, and
    the ``settings`` it was fitted with (seed, chains, sweeps, counts key, FIT_VERSION)."""

    h: np.ndarray  # (C,) float64
    J: np.ndarray  # (C, C) float64
    names: tuple[str, ...]
    settings: dict

    def key(self) -> str:
        """A hash of the parameters' bits: part of the statistics' cache key."""
        return hashlib.sha1(self.h.tobytes() + self.J.tobytes() + FIT_VERSION.encode()).hexdigest()[:12]


def _fields(rows: list[np.ndarray], h: np.ndarray, J: np.ndarray, n: int) -> np.ndarray:
    """Each chain's local fields F = h + yJ (n, C), from ``rows[k]`` = the chains with label k on.
    Summed label by label in index order (no BLAS): the same bits in any process."""
    F = np.empty((n, len(h)))
    F[:] = h
    for k, r in enumerate(rows):
        if r.size:
            F[r] += J[k]
    return F


def _sweep(Y: np.ndarray, F: np.ndarray, K: np.ndarray, J: np.ndarray, U: np.ndarray) -> None:
    """One systematic-scan Gibbs sweep over the labels of every chain, in place. Y (n, C) int8 the
    states, F (n, C) their local fields h + yJ, K (n,) their label counts, U (n, C) uniform numbers.
    Label i is on with probability sigmoid(F_i) — or surely when no other label is on (the model
    lives on non-empty sets), so a state never becomes empty. F and K follow each change (adding
    ±J's row: elementwise, deterministic)."""
    for i in range(Y.shape[1]):
        y = Y[:, i]
        on = U[:, i] * (1.0 + np.exp(-F[:, i])) < 1.0  # U < sigmoid(F_i)
        on |= K == y  # no other label on
        ch = np.flatnonzero(on != y.astype(bool))
        if ch.size:
            s = np.where(on[ch], 1, -1)  # (m,)
            F[ch] += s[:, None] * J[i]
            K[ch] += s
            Y[ch, i] = on[ch]


def _rows(Y: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(Y[:, k]) for k in range(Y.shape[1])]


def _fit(counts: CocoCounts, seed: int, chains: int, sweeps: int) -> tuple[np.ndarray, np.ndarray]:
    """Moment matching with persistent Gibbs chains (stochastic approximation of maximum likelihood):
    each sweep, the chains' label and pair frequencies m_i, m_ij replace the model's moments in the
    log-likelihood's gradient (mu − m), scaled per parameter by the COCO frequency it matches:

        h_i  += η (mu_i − m_i) / mu_i,        J_ij += η (mu_ij − m_ij) / (mu_ij + FIT_FLOOR)

    (a step of about η in log-frequency, so rare labels move as fast as frequent ones; the floor
    bounds the step of pairs COCO never or rarely shows, whose J only sinks while the chains show
    them). η = FIT_STEP for the first half, then η·t₀/t; the result is the average of the second
    half's parameters (Polyak–Ruppert). Starts from the independent model: h = logit(mu), J = 0,
    chains drawn from it."""
    mu = counts.frequencies  # (C,)
    mu2 = counts.adj / counts.n_images  # (C, C)
    C = len(mu)
    rng = np.random.default_rng([FIT_STREAM, seed])
    h = np.log(mu) - np.log1p(-mu)  # (C,)
    J = np.zeros((C, C))
    Y = (rng.random((chains, C)) < mu).astype(np.int8)  # (chains, C)
    K = Y.sum(1, dtype=np.int64)  # (chains,)
    rows = _rows(Y)
    scale2 = mu2 + FIT_FLOOR  # (C, C)
    half = sweeps // 2
    h_sum, J_sum = np.zeros(C), np.zeros((C, C))
    for t in range(sweeps):
        F = _fields(rows, h, J, chains)  # (chains, C)
        _sweep(Y, F, K, J, rng.random((chains, C)))
        rows = _rows(Y)
        m1 = np.array([r.size for r in rows]) / chains  # (C,)
        m2 = np.stack([Y[r].sum(0, dtype=np.int64) for r in rows]) / chains  # (C, C), exact counts
        np.fill_diagonal(m2, 0.0)
        eta = FIT_STEP if t < half else FIT_STEP * half / t
        h = h + eta * (mu - m1) / mu
        J = J + eta * (mu2 - m2) / scale2
        if t >= half:
            h_sum += h
            J_sum += J
    n_avg = sweeps - half
    return h_sum / n_avg, J_sum / n_avg


def _cache_file(kind: str, key: str) -> Path:
    return cache_root() / "coco_labels" / f"{kind}{key}.npz"


def _read_cached(path: Path, shapes: dict[str, tuple[int, ...]], what: str) -> dict | None:
    """The arrays of a cache file, or None when it is absent, or corrupt (then a one-line note)."""
    if not path.is_file():
        return None
    try:
        z = load_npz(path)
        if any(z[k].shape != s for k, s in shapes.items()):
            raise ValueError("arrays of the wrong shape")
        return z
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:  # truncated, corrupted
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"[coco_labels] the {what} cache {path} is corrupted ({msg}); computing it again", file=sys.stderr)
        return None


def fit_label_model(counts: CocoCounts | None = None, seed: int = 0, chains: int = 4000,
                    sweeps: int = 1500) -> LabelModel:
    """The maximum-entropy label model fitted to ``counts`` (default: COCO 2014 train's, shipped)
    by :func:`_fit` — seeded, bit-identical in any process (no BLAS in the loop), and cached under
    ``cache_root()/coco_labels/<key>.npz`` (key: the counts, the settings, FIT_VERSION); a corrupt
    cache file is fitted again. About 20 s on two CPU cores with the defaults."""
    counts = _shipped_counts() if counts is None else counts
    if chains < 1 or sweeps < 2:
        raise ValueError(f"need chains ≥ 1 and sweeps ≥ 2, got chains={chains}, sweeps={sweeps}")
    settings = {"counts": counts.key(), "seed": int(seed), "chains": int(chains), "sweeps": int(sweeps),
                "step": FIT_STEP, "floor": FIT_FLOOR, "version": FIT_VERSION}
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    path = _cache_file("", key)
    C = len(counts.names)
    z = _read_cached(path, {"h": (C,), "J": (C, C)}, "label model")
    if z is None:
        h, J = _fit(counts, int(seed), int(chains), int(sweeps))
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            np.savez(tmp, h=h, J=J)
    else:
        h, J = z["h"].copy(), z["J"].copy()
    h.flags.writeable = J.flags.writeable = False
    return LabelModel(h, J, counts.names, settings)


@functools.lru_cache(maxsize=8)
def label_model(seed: int = 0) -> LabelModel:
    """The COCO label model for ``seed`` with the default fit settings (disk-cached; kept per process)."""
    return fit_label_model(seed=seed)


# --- drawing ---------------------------------------------------------------------------------------

def _draw_chunk(h: np.ndarray, J: np.ndarray, stream: int, seed: int, index: int, burn_in: int) -> np.ndarray:
    """CHUNK label sets (CHUNK, C) int8: independent chains from the empty state, each ``burn_in``
    Gibbs sweeps long, with the random stream ``[stream, seed, index]``."""
    rng = np.random.default_rng([stream, seed, index])
    C = len(h)
    Y = np.zeros((CHUNK, C), dtype=np.int8)
    F = _fields([np.zeros(0, dtype=np.int64)] * C, h, J, CHUNK)  # (CHUNK, C): the empty state's fields
    K = np.zeros(CHUNK, dtype=np.int64)
    for _ in range(burn_in):
        _sweep(Y, F, K, J, rng.random((CHUNK, C)))
    return Y


def _draw(model: LabelModel, n: int, stream: int, seed: int, workers: int, burn_in: int) -> np.ndarray:
    if n < 0 or workers < 1 or burn_in < 1:
        raise ValueError(f"need n ≥ 0, workers ≥ 1 and burn_in ≥ 1, got n={n}, workers={workers}, "
                         f"burn_in={burn_in}")
    n_chunks = -(-n // CHUNK)
    args = [(model.h, model.J, stream, int(seed), i, int(burn_in)) for i in range(n_chunks)]
    if workers > 1 and n_chunks > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(workers, n_chunks), mp_context=multiprocessing.get_context("spawn")) as pool:
            chunks = list(pool.map(_draw_chunk, *zip(*args)))
    else:
        chunks = [_draw_chunk(*a) for a in args]
    y = np.concatenate(chunks) if chunks else np.zeros((0, len(model.h)), dtype=np.int8)
    return y[:n].astype(np.int64)  # (n, C)


def draw_labels(model: LabelModel, n: int, seed: int, workers: int = 1, burn_in: int = BURN_IN) -> np.ndarray:
    """``n`` independent label sets from ``model``: (n, C) int64 in {0, 1}, none empty.

    Drawn in chunks of CHUNK sets; chunk k runs CHUNK Gibbs chains (:func:`_sweep`) from the empty
    state for ``burn_in`` sweeps with its own generator ``np.random.default_rng([DRAW_STREAM, seed,
    k])`` and keeps their final states (the last chunk is drawn whole and cut). So the draw is
    bit-identical for any ``workers`` (chunks computed in that many processes) and in any process,
    and the first m sets of a draw of n > m are the draw of m. Empty sets are never drawn: the
    sampler keeps to the model's non-empty sets (see the module's docstring), which is what
    rejecting and redrawing empty sets would give."""
    return _draw(model, n, DRAW_STREAM, seed, workers, burn_in)


def model_statistics(model: LabelModel, n: int = 200_000, seed: int = 0, workers: int = 1
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The model's own label statistics in the layout of ``graph.cooccurrence``, per label set:
    M (C, C) float64, M_ij = P(L_i and L_j), zero diagonal; N (C,), N_i = P(L_i). So
    ``conditional_probability(M, N)`` is the model's P(L_j | L_i) (Eq. 6 with infinitely many
    training sets): the "oracle" label graph's input. A Monte Carlo estimate from ``n`` draws
    (default 200,000; a random stream of its own, not :func:`draw_labels`'), cached on disk."""
    C = len(model.h)
    settings = {"model": model.key(), "n": int(n), "seed": int(seed), "burn_in": BURN_IN, "chunk": CHUNK,
                "version": FIT_VERSION}
    path = _cache_file("stats-", hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12])
    z = _read_cached(path, {"M": (C, C), "N": (C,)}, "label statistics")
    if z is not None:
        return z["M"].copy(), z["N"].copy()
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    counts, nums = cooccurrence(_draw(model, n, STATS_STREAM, seed, workers, BURN_IN))
    M, N = counts / n, nums / n  # (C, C), (C,)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, M=M, N=N)
    return M, N


# --- fidelity --------------------------------------------------------------------------------------

# (low, high) bounds per measure of label_structure; None: unbounded on that side
FIDELITY_TARGETS: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "drawn": {  # a large draw (50,000 sets) against COCO
        "frequency_rel_err_median": (None, 0.10),
        "conditional_pearson": (0.99, None),
        "edge_jaccard": (0.85, None),
        "mean_labels": (2.79, 3.09),  # 2.94 ± 0.15
    },
    "train": {  # a training split's size (12,000 sets) against COCO
        "conditional_pearson": (0.98, None),
        "edge_jaccard": (0.75, None),
    },
}


def label_structure(labels: np.ndarray, counts: CocoCounts | None = None, tau: float = 0.4,
                    min_cooccurrences: int = 50) -> dict:
    """How close ``labels`` (n, C) {0,1} come to COCO's label structure (``counts``, default the
    shipped ones), with P(L_j | L_i) from counts as in Eq. 6 (``graph.cooccurrence``,
    ``graph.conditional_probability``):

    * ``frequency_rel_err_median``: median over labels of |freq − freq_COCO| / freq_COCO;
    * ``conditional_pearson``: Pearson correlation of P(L_j | L_i) with COCO's over the ordered pairs
      i ≠ j that co-occur in at least ``min_cooccurrences`` COCO images;
    * ``edge_jaccard``: Jaccard index of the ordered-pair edge sets P(L_j | L_i) ≥ ``tau`` (Eq. 7);
    * ``mean_labels``: labels per set; ``n``: the number of sets.

    A label with no positives in ``labels`` has all its conditionals 0 (not an error)."""
    counts = _shipped_counts() if counts is None else counts
    M, N = cooccurrence(labels)  # (C, C), (C,)
    C = len(counts.names)
    if N.shape != (C,):
        raise ValueError(f"labels must have {C} columns (one per COCO label), got shape {np.shape(labels)}")
    n = int(np.shape(labels)[0])
    if n == 0:
        raise ValueError("labels is empty (0 label sets)")
    P = conditional_probability(M, np.maximum(N, 1))  # (C, C); rows of absent labels are 0
    P_coco = conditional_probability(counts.adj, counts.nums)  # (C, C)
    off = ~np.eye(C, dtype=bool)
    pairs = off & (counts.adj >= min_cooccurrences)
    a, b = P[pairs], P_coco[pairs]
    pearson = float(np.corrcoef(a, b)[0, 1]) if pairs.sum() > 1 and a.std() > 0 and b.std() > 0 else float("nan")
    e, e_coco = (P >= tau) & off, (P_coco >= tau) & off
    union = int((e | e_coco).sum())
    freq = N / n
    return {
        "frequency_rel_err_median": float(np.median(np.abs(freq - counts.frequencies) / counts.frequencies)),
        "conditional_pearson": pearson,
        "edge_jaccard": float((e & e_coco).sum() / union) if union else 1.0,
        "mean_labels": float(N.sum() / n),
        "n": n,
    }


def fidelity_failures(structure: dict, which: str) -> list[str]:
    """Each target of ``FIDELITY_TARGETS[which]`` that ``structure`` (:func:`label_structure`)
    misses, in words (``"edge_jaccard = 0.612, below the target 0.85"``); empty when all are met.
    A NaN measure misses its target."""
    if which not in FIDELITY_TARGETS:
        raise ValueError(f"which must be one of {sorted(FIDELITY_TARGETS)}, got {which!r}")
    out = []
    for name, (lo, hi) in FIDELITY_TARGETS[which].items():
        v = float(structure[name])
        if lo is not None and hi is not None:
            if not lo <= v <= hi:
                out.append(f"{name} = {v:.3f}, outside the target range {lo}–{hi}")
        elif lo is not None and not v >= lo:
            out.append(f"{name} = {v:.3f}, below the target {lo}")
        elif hi is not None and not v <= hi:
            out.append(f"{name} = {v:.3f}, above the target {hi}")
    return out
