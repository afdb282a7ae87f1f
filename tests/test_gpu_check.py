"""benchmarks/gpu_check.py (``make gpu-check``) without a GPU: the no-CUDA line, the table built
from fake measurements, the peak lookup and the generated VOC tree."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlgcn_core.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import gpu_check  # noqa: E402

FAKE = {
    "name": "NVIDIA H200", "gpus": 8, "torch": "2.14.1", "cuda": "12.8",
    "fp32": {"ips": 250.0}, "bf16": {"ips": 600.0}, "gflop_per_image": 187.0,
    "pipeline": {"ips": 1500.0, "workers": 16},
    "e2e": {"losses": [0.25, 0.2, 0.15], "val_mAP": 41.5, "seconds": 52.0},
    "ddp": {"world": 8, "ddp": [0.7012, 0.6990], "single": [0.70121, 0.69902]},
}


def test_no_cuda_prints_one_line_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "gpu_check.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing to check."]


def test_table_from_fake_measurements():
    text = gpu_check.format_table(gpu_check.table_rows(FAKE))
    lines = text.splitlines()
    assert lines[0].split() == ["check", "result", "note"] and set(lines[1]) == {"-", " "}
    assert len(lines[1]) == max(len(ln) for ln in lines)  # the rule spans the widest row
    row = {ln.split("  ")[0].strip(): ln for ln in lines[2:]}
    assert "8 × NVIDIA H200" in row["device"]
    assert "250.0 img/s" in row["train fp32 (ResNet-101 @ 448, batch 16)"]
    assert "600.0 img/s" in row["train bf16 + channels_last (ResNet-101 @ 448, batch 16)"]
    assert "2.40× fp32" in row["train bf16 + channels_last (ResNet-101 @ 448, batch 16)"]
    # MFU: 600 img/s × 187 GFLOP / 989 TFLOP/s = 11.3 %; fp32 against TF32's 494: 9.5 %
    assert "11.3 %" in row["MFU bf16 + channels_last"] and "bf16 dense peak 989" in row["MFU bf16 + channels_last"]
    assert "9.5 %" in row["MFU fp32"] and "TF32 dense peak 494" in row["MFU fp32"]
    assert "1500 img/s" in row["input pipeline (448 train transform, JPEG)"]
    assert "GPU needs 4800 img/s" in row["input pipeline (448 train transform, JPEG)"]
    assert "PASS" in row["end to end (prepare voc2007 → train)"] and "0.2500 → 0.2000 → 0.1500" in text
    assert "PASS" in row["DDP NCCL + SyncBatchNorm parity (8 GPU)"]


def test_table_shows_failures():
    bad = {**FAKE, "e2e": {"losses": [0.2, 0.3], "val_mAP": 5.0, "seconds": 9.0},
           "ddp": {"world": 2, "ddp": [0.70, 0.80], "single": [0.70, 0.69]},
           "bf16": {"error": "RuntimeError: CUDA out of memory"}, "name": "Some GPU"}
    row = {ln.split("  ")[0].strip(): ln for ln in gpu_check.format_table(gpu_check.table_rows(bad)).splitlines()}
    assert "FAIL" in row["end to end (prepare voc2007 → train)"]
    assert "FAIL" in row["DDP NCCL + SyncBatchNorm parity (2 GPU)"] and "1.6e-01" in row[
        "DDP NCCL + SyncBatchNorm parity (2 GPU)"]
    assert "FAILED" in row["train bf16 + channels_last (ResNet-101 @ 448, batch 16)"]
    assert "no peak known for 'Some GPU'" in row["MFU fp32"]


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H200", (989.0, 494.0)), ("NVIDIA H100 80GB HBM3", (989.0, 494.0)),
    ("NVIDIA H100 PCIe", (756.0, 378.0)), ("NVIDIA A100-SXM4-80GB", (312.0, 156.0)),
    ("NVIDIA A10", (125.0, 62.5)), ("NVIDIA L4", (121.0, 60.0)), ("Tesla T4", None),
])
def test_peak_lookup(name, peak):
    assert gpu_check.peak_tflops(name) == peak


def test_generated_voc_tree_prepares(tmp_path):
    from mlgcn_core.prepare import prepare_voc2007

    gpu_check.write_voc_tree(tmp_path / "voc", n_trainval=6, n_test=4)
    prepare_voc2007(tmp_path / "voc", tmp_path / "prepared")
    lines = (tmp_path / "prepared" / "classification_trainval.csv").read_text().splitlines()
    assert len(lines) == 1 + 6  # header + one row per image


def test_make_gpu_check_with_an_image_python_skips_the_venv():
    """``make gpu-check PY=python3`` (a CUDA image with PyTorch, no internet) must not create .venv;
    the plain target does."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under make test

    def dry(*args):
        return subprocess.run(["make", "--no-print-directory", "-n", "-B", "gpu-check", *args], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    image = dry("PY=python3")
    assert image == [f"PYTHONPATH={PROJECT_ROOT} python3 benchmarks/gpu_check.py"]  # nothing installed first
    assert any("-m venv" in line for line in dry())
