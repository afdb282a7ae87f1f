"""Speed of ``mlgcn_core.metrics.evaluate`` vs an sklearn per-class loop, side by side.

All 13 metrics of the paper's Table 1 on random scores of COCO val2014's size
(40,137 images × 80 classes). Prints both timings (best of --repeat), the ratio and the
largest differences. Target: ≥ 20× faster, largest mAP difference ≤ 1e-9.

    .venv/bin/python benchmarks/metrics_speed.py [--n 40137] [--classes 80] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score, precision_score, recall_score

from mlgcn_core.metrics import evaluate, metric_keys


def sklearn_reference(scores: np.ndarray, targets: np.ndarray, k: int = 3) -> dict:
    """The same metrics with sklearn, one class at a time."""
    n, C = scores.shape
    pred = scores >= 0
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    topk = np.zeros_like(pred)
    np.put_along_axis(topk, order, True, axis=1)
    out = {"AP": np.array([average_precision_score(targets[:, c], scores[:, c]) for c in range(C)])}
    for suffix, p in (("", pred), (f"_top{k}", pred & topk)):
        cp = np.mean([precision_score(targets[:, c], p[:, c], zero_division=0) for c in range(C)])
        cr = np.mean([recall_score(targets[:, c], p[:, c], zero_division=0) for c in range(C)])
        op = precision_score(targets.ravel(), p.ravel(), zero_division=0)
        orr = recall_score(targets.ravel(), p.ravel(), zero_division=0)
        for name, a, b in (("C", cp, cr), ("O", op, orr)):
            out[f"{name}P{suffix}"], out[f"{name}R{suffix}"] = 100 * a, 100 * b
            out[f"{name}F1{suffix}"] = 100 * 2 * a * b / (a + b)
    out["mAP"] = 100 * out["AP"].mean()
    out["AP"] = 100 * out["AP"]
    return out


def best_time(fn, repeat: int) -> tuple[float, dict]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40137)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    scores = rng.standard_normal((args.n, args.classes)) - 1.0  # continuous: no ties
    targets = (rng.random((args.n, args.classes)) < 0.04 + 0.3 * (scores > 0)).astype(np.int64)

    t_ours, ours = best_time(lambda: evaluate(scores, targets), args.repeat)
    t_ref, ref = best_time(lambda: sklearn_reference(scores, targets), args.repeat)
    diffs = {k: abs(ours[k] - ref[k]) for k in metric_keys()}
    print(f"scores: {args.n} × {args.classes} (random, seed {args.seed}), best of {args.repeat}")
    print(f"mlgcn_core.metrics.evaluate : {t_ours * 1000:9.1f} ms  (all 13 metrics + per-class AP)")
    print(f"sklearn per-class loop      : {t_ref * 1000:9.1f} ms")
    print(f"speed-up (sklearn / ours)   : {t_ref / t_ours:9.1f}×   (target ≥ 20×)")
    print(f"largest |ΔAP| (percent)     : {np.abs(ours['AP'] - ref['AP']).max():.3e}")
    print(f"largest |ΔmAP| (percent)    : {diffs['mAP']:.3e}   (target ≤ 1e-9)")
    print(f"largest |Δ| other metrics   : {max(v for k, v in diffs.items() if k != 'mAP'):.3e}")


if __name__ == "__main__":
    main()
