"""Every bad input a new user tried ends as exactly one line ``error: …`` on stderr, exit status 2,
and nothing half-written (twelve bad inputs); a corrupted cache is rebuilt instead."""

from __future__ import annotations

import errno
import json
import socket

import pytest

from mlgcn_core.__main__ import main
from mlgcn_core.config import ExperimentConfig
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.paths import runs_root
from mlgcn_core.train import run_experiment

TINY = OutfitsConfig(n_train=96, n_val=40, n_test=48)
TINY_SET = ["--set", "outfits.n_train=96", "--set", "outfits.n_val=40", "--set", "outfits.n_test=48",
            "--set", "epochs=2", "--set", "batch_size=32"]


def one_error_line(capsys, rc: int, *needles: str) -> str:
    """rc is 2 and stderr ends with exactly one line ``error: …`` holding each of ``needles``
    (before it, a training command's progress bars only: no other message, no traceback)."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
    assert rc == 2, err
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in err, err
    assert not any("Error" in ln or "Warning" in ln for ln in lines[:-1]), lines[:-1]
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def test_preset_with_a_yaml_syntax_error(tmp_path, capsys):
    bad = tmp_path / "mine.yaml"
    bad.write_text("epochs: 3\nlr: [0.1\n")
    one_error_line(capsys, main(["train", "--preset", str(bad)]), str(bad), "not valid YAML", "line")


def test_misspelt_benchmark_field(capsys):
    one_error_line(capsys, main(["train", "--set", "outfits.n_trian=50"]), "outfits.n_trian", "known")
    assert not runs_root().exists() or not any(runs_root().glob("*/config.json"))


def test_manifest_without_dataset(tmp_path, capsys):
    (tmp_path / "prep").mkdir()
    (tmp_path / "prep" / "manifest.json").write_text(json.dumps({"classes": ["a"]}))
    rc = main(["train", "--set", "dataset=custom", "--set", f"data_root={tmp_path / 'prep'}"])
    one_error_line(capsys, rc, "manifest.json has no field 'dataset'", "prepare custom")


def test_book_unknown_parameter(capsys):
    rc = main(["book", "--only", "01_label_graph", "--no-build", "-p", "unknown=1"])
    one_error_line(capsys, rc, "['unknown']", "declared by none")


@pytest.mark.notebook
def test_sweep_with_a_failed_point_exits_nonzero(tmp_path, capsys):
    from fixtures import write_point_notebook

    nb = write_point_notebook(tmp_path / "point.ipynb", "x: int = 0",
                              "from mlgcn_core.book.notebook import record\n"
                              "assert x != 2, 'x = 2 is broken'\n"
                              "record('table', [{'variant': 'v', 'seed': 0, 'mAP': float(x)}])")
    rc = main(["sweep", str(nb), "--grid", "x=1,2", "--out", str(tmp_path / "sw")])
    captured = capsys.readouterr()
    assert "[sweep] 2 rows, 1 failed point(s)" in captured.out  # the summary line first
    lines = captured.err.strip().splitlines()
    assert rc == 2 and lines[-1].startswith("error: 1 of 2 sweep point(s) failed") and "results.csv" in lines[-1]
    assert sum(ln.startswith("error: ") for ln in lines) == 1 and "Traceback" not in captured.err


def test_prepare_voc_with_a_missing_image_writes_nothing(tmp_path, capsys):
    from fixtures import make_voc_tree

    vdir = make_voc_tree(tmp_path / "voc")
    test_id = (vdir / "ImageSets" / "Main" / "aeroplane_test.txt").read_text().split()[0]
    victim = vdir / "JPEGImages" / f"{test_id}.jpg"  # a test image: the trainval files are written first
    victim.unlink()
    out = tmp_path / "prepared"
    one_error_line(capsys, main(["prepare", "voc2007", "--root", str(tmp_path / "voc"), "--out", str(out)]),
                   "missing", victim.name)
    assert not out.exists() and list(tmp_path.glob(".prepared*")) == []  # no folder, no temporary


def test_prepare_custom_with_an_empty_validation_split(tmp_path, capsys):
    from mlgcn_core.data.examples import write_example_dataset

    write_example_dataset(tmp_path / "my_data", n=30)
    out = tmp_path / "prepared"
    rc = main(["prepare", "custom", "--csv", str(tmp_path / "my_data" / "labels.csv"), "--images",
               str(tmp_path / "my_data" / "images"), "--out", str(out), "--val-fraction", "0"])
    one_error_line(capsys, rc, "the val split is empty", "--val-fraction")
    assert not out.exists()


def test_refused_connection_at_download(tmp_path, capsys, monkeypatch):
    from mlgcn_core.data import voc

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(voc, "BASE_URL", f"http://127.0.0.1:{port}/voc/")
    rc = main(["prepare", "voc2007", "--root", str(tmp_path / "voc"), "--download", "--out", str(tmp_path / "out")])
    one_error_line(capsys, rc, f"http://127.0.0.1:{port}/voc/", "offline", "--root")
    assert not (tmp_path / "out").exists()


def test_full_disk_while_saving_a_checkpoint(tmp_path, capsys, monkeypatch):
    """The disk fills up while the first checkpoint is written: one line naming the file, and the
    temporary file is gone. As on a real full disk (measured on a 2 MB tmpfs), the file's ``write``
    fails with ENOSPC inside torch's zip writer, which raises a RuntimeError ("unexpected pos …")
    whose context is that OSError."""
    import builtins

    from mlgcn_core import runs

    class FullDisk:  # a file on a disk with 1000 bytes left
        def __init__(self, f):
            self.f, self.left = f, 1000

        def write(self, data):
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        return FullDisk(f) if "checkpoint" in str(path) and "w" in mode else f

    monkeypatch.setattr(runs, "open", full_open, raising=False)  # atomic_save's open
    monkeypatch.setenv("MLGCN_RUNS", str(tmp_path / "runs"))
    one_error_line(capsys, main(["train", *TINY_SET]), "no space left", "checkpoint.pt")
    [run] = (tmp_path / "runs").glob("mlgcn-*")
    assert not list(run.glob(".*tmp*")) and not (run / "checkpoint.pt").exists()


def test_evaluate_with_a_bad_device(tmp_path, capsys):
    one_error_line(capsys, main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), "--device", "gpu"]),
                   "device 'gpu'", "cuda")
    one_error_line(capsys, main(["train", "--set", "device=gpu"]), "device 'gpu'")


def test_truncated_feature_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    from mlgcn_core.paths import cache_root

    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MLGCN_RUNS", str(tmp_path / "runs"))
    cfg = ExperimentConfig(outfits=TINY, epochs=1, batch_size=32)
    first = run_experiment(cfg, progress=False)
    [test_cache] = (cache_root() / "features").glob("*-test.npz")
    test_cache.write_bytes(test_cache.read_bytes()[:5000])  # truncated (a killed writer, a full disk)
    again = run_experiment(cfg, progress=False, force=True)
    assert "is corrupted" in capsys.readouterr().err
    assert again.metrics["mAP"] == first.metrics["mAP"]  # extracted again: the same features
    with __import__("numpy").load(test_cache) as z:
        assert z["max"].shape[0] == TINY.n_test


def test_truncated_scene_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    import numpy as np

    from mlgcn_core.data import load_outfits
    from mlgcn_core.data.outfits import cache_dir

    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path / "cache"))
    first = load_outfits(TINY)
    path = cache_dir(TINY) / "test.npz"
    path.write_bytes(path.read_bytes()[:3000])
    again = load_outfits(TINY)
    assert "is corrupted" in capsys.readouterr().err
    assert all(np.array_equal(first[s][k], again[s][k]) for s in first for k in first[s])


def test_corrupted_metrics_json_names_the_file_and_force(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLGCN_RUNS", str(tmp_path / "runs"))
    assert main(["train", *TINY_SET]) == 0
    [run] = (tmp_path / "runs").glob("mlgcn-*")
    (run / "metrics.json").write_text('{"test": {"mAP": 5')
    capsys.readouterr()
    one_error_line(capsys, main(["train", *TINY_SET]), str(run / "metrics.json"), "--force")
    assert main(["train", *TINY_SET, "--force"]) == 0
    json.loads((run / "metrics.json").read_text())


def test_custom_word_vectors_honoured_or_refused(tmp_path, capsys):
    """prepare custom's --word-vectors (and --fallback) are what training uses; a config asking
    for another provider is refused rather than silently ignoring the prepared vectors."""
    from mlgcn_core.data.examples import write_example_dataset

    write_example_dataset(tmp_path / "my_data", n=30)
    out = tmp_path / "prepared"
    assert main(["prepare", "custom", "--csv", str(tmp_path / "my_data" / "labels.csv"), "--images",
                 str(tmp_path / "my_data" / "images"), "--out", str(out), "--word-vectors", "onehot"]) == 0
    capsys.readouterr()
    rc = main(["train", "--set", "dataset=custom", "--set", f"data_root={out}", "--set", "epochs=1"])
    one_error_line(capsys, rc, "--word-vectors 'onehot'", "word_vectors='glove6b50d'")


@pytest.mark.parametrize("sets, needles", [
    (["model=foo"], ("model must be one of", "'csra'", "'mldecoder_words'", "got 'foo'")),
    (["model=csra", "backbone=resnet101"], ("model='csra' reads the backbone's feature map", "'resnet101'",
                                            "mode='top' or mode='end2end'")),
    (["loss=asl", "asl_clip=1.5"], ("asl_clip must be in [0, 1], got 1.5",)),
    (["loss=asl", "asl_gamma_neg=-2"], ("asl_gamma_neg must be ≥ 0, got -2",)),
    (["grad_floor=1e-3"], ("grad_floor must be in [0, 1e-20], got 0.001",)),
])
def test_bad_head_choices_and_asl_settings(sets, needles, capsys, tmp_path, monkeypatch):
    """An unknown head, a head on the feature map in features mode where no map can be cached (the
    backbone has no cut before a widening last layer), an ASL parameter out of range: one line each,
    before any scene is generated or run folder written."""
    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path / "cache"))
    small = ["coco_shaped.n_train=60", "coco_shaped.n_val=20", "coco_shaped.n_test=20"]
    rc = main(["train", "--preset", "coco_shaped", *[a for s in small + sets for a in ("--set", s)]])
    one_error_line(capsys, rc, *needles)
    assert not runs_root().exists() or not any(runs_root().glob("*/config.json"))
    assert not (tmp_path / "cache").exists()  # no scene drawn, no feature extracted
