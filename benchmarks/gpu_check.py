"""One command on a CUDA machine (``make gpu-check``, ≤ 8 minutes): does the paper setting train,
how fast, and do mixed precision and multi-GPU work? Prints one table.

Rows:

* training images/s of the paper setting — ML-GCN, ResNet-101 @ 448, batch 16 per GPU, SGD with
  clipping (``train_throughput.run``, the same step as ``make bench``) — in fp32 and in
  bf16 autocast + channels_last;
* model FLOP utilization (MFU) of each: images/s × FLOPs per training image / the GPU's dense
  peak. FLOPs per image are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one real
  training step (forward + backward) at 448 — cross-check: torchvision lists ResNet-101 at
  7.8 "GFLOPS" at 224, which are multiply-accumulates (ResNet-50's 4.1 likewise), so
  2 × 7.8 × (448/224)² ≈ 62 GFLOP forward and ≈ 3× that (≈ 187 GFLOP) for a training step.
  The peak comes from :data:`PEAKS` (NVIDIA datasheets, dense, i.e. without 2:4 sparsity): bf16
  tensor cores for the bf16 row; TF32 tensor cores for the fp32 row, since cuDNN runs fp32
  convolutions in TF32 by default (``torch.backends.cudnn.allow_tf32``);
* the input pipeline: images/s of the paper's 448 training transform (``data.images``) over
  generated 500×375 JPEGs with DataLoader workers;
* end to end: ``prepare voc2007`` on a generated VOC 2007 tree of real JPEGs (each class drawn as
  its own coloured square, so the task is learnable), then ``run_experiment`` with the
  ``paper_voc`` recipe (random ResNet-101 weights — no download —, one-hot label vectors, bf16,
  3 epochs): the training loss must fall;
* DDP over all local GPUs with NCCL and SyncBatchNorm: the first steps' losses must equal those of
  one GPU on the same global batch (TF32 off for the comparison).

Without CUDA it prints one line and exits 0.

    .venv/bin/python benchmarks/gpu_check.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# (bf16 dense, TF32 dense) tensor-core TFLOP/s by device-name substring, first match wins.
# Sources: NVIDIA H200 / H100 / A100 / L40S / L4 / A10 datasheets (the sparse figures halved).
PEAKS = [
    ("H200", 989.0, 494.0),
    ("GH200", 989.0, 494.0),
    ("H100 PCIe", 756.0, 378.0),
    ("H100", 989.0, 494.0),  # SXM
    ("A100", 312.0, 156.0),
    ("L40S", 362.0, 183.0),
    ("L4", 121.0, 60.0),
    ("A10", 125.0, 62.5),
]
TRAIN_SIZE, TRAIN_BATCH = 448, 16  # the paper setting: ResNet-101 @ 448, batch 16 per GPU


def peak_tflops(name: str) -> tuple[float, float] | None:
    """(bf16, tf32) dense peak TFLOP/s of a GPU named ``name``; None when not in :data:`PEAKS`."""
    for key, bf16, tf32 in PEAKS:
        if key.lower() in name.lower():
            return bf16, tf32
    return None


def format_table(rows: list[tuple[str, str, str]]) -> str:
    """``rows`` of (check, result, note) → one aligned text table."""
    head = ("check", "result", "note")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(3)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), line, *(fmt(r) for r in rows)])


def table_rows(m: dict) -> list[tuple[str, str, str]]:
    """The measurements ``m`` (see :func:`main`) → the table's rows; a measurement that failed is
    given as ``{"error": "…"}`` and shown as FAILED."""
    rows = [("device", f"{m['gpus']} × {m['name']}", f"torch {m['torch']}, CUDA {m['cuda']}")]
    peak = peak_tflops(m["name"])
    gflop = m.get("gflop_per_image")
    for key, label, peak_i in (("fp32", "fp32", 1), ("bf16", "bf16 + channels_last", 0)):
        r = m.get(key, {})
        name = f"train {label} (ResNet-101 @ {TRAIN_SIZE}, batch {TRAIN_BATCH})"
        if "error" in r:
            rows.append((name, "FAILED", r["error"][:100]))
            continue
        rows.append((name, f"{r['ips']:.1f} img/s", f"{r['ips'] / m['fp32']['ips']:.2f}× fp32"
                     if "ips" in m.get("fp32", {}) else ""))
        if gflop and peak:
            mfu = r["ips"] * gflop * 1e9 / (peak[peak_i] * 1e12)
            what = "TF32" if peak_i else "bf16"
            rows.append((f"MFU {label}", f"{100 * mfu:.1f} %",
                         f"{gflop:.0f} GFLOP/img (counted) / {what} dense peak {peak[peak_i]:.0f} TFLOP/s"))
        else:
            rows.append((f"MFU {label}", "n/a", f"no peak known for {m['name']!r}" if not peak else
                         "FLOPs not counted"))
    r = m.get("pipeline", {})
    rows.append(("input pipeline (448 train transform, JPEG)",
                 "FAILED" if "error" in r else f"{r['ips']:.0f} img/s",
                 r.get("error", f"{r.get('workers')} workers; GPU needs {m['bf16']['ips'] * m['gpus']:.0f} img/s"
                       if "ips" in m.get("bf16", {}) else f"{r.get('workers')} workers")[:100]))
    r = m.get("e2e", {})
    if "error" in r:
        rows.append(("end to end (prepare voc2007 → train)", "FAILED", r["error"][:100]))
    else:
        ok = r["losses"][-1] < r["losses"][0]
        rows.append(("end to end (prepare voc2007 → train)", "PASS" if ok else "FAIL",
                     "train loss " + " → ".join(f"{v:.4f}" for v in r["losses"])
                     + f", val mAP {r['val_mAP']:.1f}, {r['seconds']:.0f} s"))
    r = m.get("ddp", {})
    if "error" in r:
        rows.append(("DDP NCCL + SyncBatchNorm parity", "FAILED", r["error"][:100]))
    else:
        diff = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(r["ddp"], r["single"]))
        rows.append((f"DDP NCCL + SyncBatchNorm parity ({r['world']} GPU)", "PASS" if diff < 2e-3 else "FAIL",
                     f"losses {', '.join(f'{v:.5f}' for v in r['ddp'])} vs 1 GPU "
                     f"{', '.join(f'{v:.5f}' for v in r['single'])}; max rel diff {diff:.1e}"))
    return rows


# --- measurements ---------------------------------------------------------------------------------

def count_train_gflop(device: str, size: int = TRAIN_SIZE) -> float:
    """FLOPs of one training step (forward + backward) of ML-GCN/ResNet-101 per image, in GFLOP,
    counted by torch's FlopCounterMode (batch 2, divided by 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = _model().to(device)
    x = torch.randn(2, 3, size, size, device=device)  # (B, 3, H, W)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    return fc.get_total_flops() / 2 / 1e9


def _model():
    from mlgcn_core.backbones import build_backbone
    from mlgcn_core.graph import build_adjacency, cooccurrence
    from mlgcn_core.models import MLGCN

    rng = np.random.default_rng(0)
    M, N = cooccurrence((rng.random((2000, 20)) < 0.1).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random ResNet-101 weights: no download here
        return MLGCN(rng.standard_normal((20, 300)).astype(np.float32),
                     build_adjacency(M, N, 0.4, 0.25, "official"), build_backbone("resnet101", None))


def _class_image(labels: list[int], rng: np.random.Generator, size=(500, 375)):
    """A JPEG-able picture: grey noise with one coloured square per positive class (class c's
    colour and square size are fixed, its position random)."""
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.fromarray(rng.integers(90, 160, (h, w, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    for c in labels:
        colour = tuple(int(v) for v in np.random.default_rng(1000 + c).integers(0, 256, 3))
        side = 60 + 3 * c
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        draw.rectangle([x, y, x + side, y + side], fill=colour)
    return img


def write_voc_tree(root: Path, n_trainval: int, n_test: int, seed: int = 0) -> Path:
    """A VOC 2007 tree (``VOCdevkit/VOC2007``: JPEGImages, ImageSets/Main/<class>_<split>.txt in
    the official ``"%s %2d"`` format) of generated 500×375 JPEGs, 1–3 classes each."""
    from mlgcn_core.data import voc

    rng = np.random.default_rng(seed)
    vdir = root / "VOCdevkit" / "VOC2007"
    (vdir / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (vdir / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    first = 1
    for split, n in (("trainval", n_trainval), ("test", n_test)):
        ids = [f"{first + k:06d}" for k in range(n)]
        first += n
        y = -np.ones((n, len(voc.CLASSES)), dtype=np.int64)  # (n, 20) in {-1, 1}
        for k, i in enumerate(ids):
            labels = sorted(rng.choice(len(voc.CLASSES), int(rng.integers(1, 4)), replace=False).tolist())
            y[k, labels] = 1
            _class_image(labels, rng).save(vdir / "JPEGImages" / f"{i}.jpg", format="JPEG", quality=90)
        for c, cls in enumerate(voc.CLASSES):
            (vdir / "ImageSets" / "Main" / f"{cls}_{split}.txt").write_text(
                "".join(f"{i} {y[r, c]:2d}\n" for r, i in enumerate(ids)))
    return vdir


def measure_pipeline(tmp: Path, workers: int, n: int = 256, passes: int = 2) -> dict:
    """Images/s of the paper's 448 training transform over ``n`` generated JPEGs, batch 16."""
    import torch

    from mlgcn_core.data.images import MultiLabelImages, train_transform

    rng = np.random.default_rng(1)
    paths = []
    for k in range(n):
        p = tmp / "pipeline" / f"{k:05d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        _class_image([k % 20], rng).save(p, format="JPEG", quality=90)
        paths.append(p)
    labels = -np.ones((n, 20), dtype=np.int64)
    ds = MultiLabelImages(paths, labels, [f"c{i}" for i in range(20)], train_transform(TRAIN_SIZE))
    loader = torch.utils.data.DataLoader(ds, batch_size=TRAIN_BATCH, shuffle=True, num_workers=workers,
                                         pin_memory=True, persistent_workers=workers > 0)
    for _ in loader:  # warm-up pass: workers started, files in the page cache
        pass
    t = time.perf_counter()
    for _ in range(passes):
        for _ in loader:
            pass
    return {"ips": n * passes / (time.perf_counter() - t), "workers": workers}


def measure_e2e(tmp: Path, workers: int, n_trainval: int = 320, n_test: int = 64, **overrides) -> dict:
    """prepare voc2007 → run_experiment (paper_voc recipe, 3 epochs, bf16): train losses per epoch.
    ``overrides``: more config fields (the tests run it on the CPU at a small size)."""
    from mlgcn_core.config import load_preset
    from mlgcn_core.prepare import prepare_voc2007
    from mlgcn_core.train import run_experiment

    write_voc_tree(tmp / "voc", n_trainval=n_trainval, n_test=n_test)
    prepare_voc2007(tmp / "voc", tmp / "prepared")
    cfg = load_preset("paper_voc", {"data_root": str(tmp / "prepared"), "weights": None, "epochs": 3,
                                    "word_vectors": "onehot", "precision": "bf16", "channels_last": True,
                                    "workers": workers, "lr": 0.1, **overrides})
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_experiment(cfg, root=tmp / "runs", progress=False)
    return {"losses": [h["train_loss"] for h in run.history], "val_mAP": run.history[-1]["val_mAP"],
            "seconds": time.perf_counter() - t}


def _parity_batches(world: int, steps: int, per_gpu: int, size: int):
    import torch

    g = torch.Generator().manual_seed(0)
    n = world * per_gpu
    return [(torch.randn(n, 3, size, size, generator=g), (torch.rand(n, 20, generator=g) < 0.15).float())
            for _ in range(steps)]


def _parity_losses(model, batches, device: str, rank: int = 0, world: int = 1) -> list[float]:
    """SGD steps on ``batches`` (each rank takes its slice); the global batch's mean loss per step."""
    import torch
    import torch.distributed as dist

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()
    out = []
    for x, y in batches:
        per = x.shape[0] // world
        xs, ys = x[rank * per:(rank + 1) * per].to(device), y[rank * per:(rank + 1) * per].to(device)
        loss = loss_fn(model(xs), ys)  # this rank's mean; DDP averages the gradients
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        val = loss.detach().clone()
        if world > 1:
            dist.all_reduce(val)
            val /= world
        out.append(float(val))
    return out


def _ddp_worker(rank: int, world: int, port: int, steps: int, per_gpu: int, size: int, queue) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=torch.device("cuda", rank))
    try:
        torch.manual_seed(0)
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(_model()).cuda(rank)
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank])
        losses = _parity_losses(ddp, _parity_batches(world, steps, per_gpu, size), f"cuda:{rank}", rank, world)
        if rank == 0:
            queue.put(losses)
    finally:
        dist.destroy_process_group()


def measure_ddp(world: int, steps: int = 3, per_gpu: int = 8, size: int = 224) -> dict:
    """DDP (NCCL, SyncBatchNorm) over ``world`` GPUs vs one GPU on the same global batch: with
    synchronized BatchNorm and averaged gradients both compute the same loss at every step."""
    import torch
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_ddp_worker, args=(world, port, steps, per_gpu, size, queue), nprocs=world,
                       start_method="spawn")
    ddp = queue.get(timeout=60)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    model = _model().cuda(0)
    single = _parity_losses(model, _parity_batches(world, steps, per_gpu, size), "cuda:0")
    torch.backends.cudnn.allow_tf32 = True
    return {"world": world, "ddp": ddp, "single": single}


def _guard(fn, *args) -> dict:
    try:
        return fn(*args)
    except Exception as exc:  # one failed check must not hide the others
        return {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing to check.")
        return 0
    from train_throughput import run as train_ips

    t0 = time.perf_counter()
    workers = min(16, os.cpu_count() or 1)
    m = {"name": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(),
         "torch": torch.__version__, "cuda": torch.version.cuda}
    print(f"gpu-check on {m['gpus']} × {m['name']} …", flush=True)
    m["fp32"] = _guard(lambda: {"ips": train_ips("cuda", TRAIN_SIZE, TRAIN_BATCH, 20, "fp32", False, False)})
    m["bf16"] = _guard(lambda: {"ips": train_ips("cuda", TRAIN_SIZE, TRAIN_BATCH, 20, "bf16", True, False)})
    counted = _guard(lambda: {"gflop": count_train_gflop("cuda")})
    m["gflop_per_image"] = counted.get("gflop")
    torch.cuda.empty_cache()
    with tempfile.TemporaryDirectory(prefix="mlgcn-gpu-check-") as tmp:
        m["pipeline"] = _guard(measure_pipeline, Path(tmp), workers)
        m["e2e"] = _guard(measure_e2e, Path(tmp), workers)
    torch.cuda.empty_cache()
    m["ddp"] = _guard(measure_ddp, m["gpus"])
    print(format_table(table_rows(m)))
    flops_failed = "" if m["gflop_per_image"] else " — FAILED: " + counted["error"]
    print(f"(wall {time.perf_counter() - t0:.0f} s; MFU peaks: NVIDIA datasheets, dense; FLOPs: "
          f"torch FlopCounterMode on one training step{flops_failed})")
    failed = any("error" in m[k] for k in ("fp32", "bf16", "pipeline", "e2e", "ddp"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
