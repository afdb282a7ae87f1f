"""The helpers the book's chapters share: one base config per preset, sweep set-up, the paper's
table per dataset, and pictures / labels of any split (embedded benchmark or files on disk)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fixtures import write_jpeg
from torch.utils.data import Subset

from mlgcn_core.book import chapters, findings, reference, report
from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.data.images import MultiLabelImages
from mlgcn_core.data.outfits import OutfitsConfig
from mlgcn_core.data.sources import OutfitScenes, picture, split_labels
from mlgcn_core.metrics import metric_keys


def test_chapter_config_defaults_are_the_default_preset():
    cfg, seeds = chapters.chapter_config("default", "", {"outfits.seed": 3, "outfits.n_train": 100,
                                                          "outfits": {"n_val": 20, "n_test": 30}}, seeds=[0, 1])
    assert cfg == load_preset("default").replace(outfits=OutfitsConfig(seed=3, n_train=100, n_val=20, n_test=30))
    assert seeds == [0, 1]
    assert chapters.chapter_config()[0] == load_preset("default")  # no config: the preset itself


def test_chapter_config_moves_lr_steps_with_epochs_and_keeps_none_fields():
    cfg, _ = chapters.chapter_config("default", "", {"epochs": 6, "tau": 0.3})
    assert (cfg.epochs, cfg.lr_steps, cfg.tau, cfg.lr) == (6, (4,), 0.3, load_preset("default").lr)
    cfg, _ = chapters.chapter_config("default", "", {"epochs": 6, "lr_steps": [5]})
    assert cfg.lr_steps == (5,)  # given steps are kept
    voc, _ = chapters.chapter_config("paper_voc", "some/prepared", {"backbone": "efficientnet_lite0"})
    paper = load_preset("paper_voc")
    assert voc.data_root.endswith("some/prepared") and voc.data_root.startswith("/")
    assert (voc.backbone, voc.lr_steps, voc.image_size, voc.p, voc.scheme) == \
        ("efficientnet_lite0", paper.lr_steps, 448, 0.25, "official")
    smoke, seeds = chapters.chapter_config("default", "", {"outfits.n_train": 5000}, seeds=[0, 1, 2], smoke_seeds=1,
                                           smoke=True)
    assert (smoke.epochs, smoke.outfits.n_train, seeds) == (3, 300, [0])


def test_chapter_config_on_real_data_needs_data_root():
    with pytest.raises(ValueError, match=r"preset 'paper_coco' trains on coco2014: set data_root .*prepare coco2014"):
        chapters.chapter_config("paper_coco", "")


def test_sweep_setup_passes_preset_and_overrides_to_every_point():
    spec, grid, fixed = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {"tau": [0.2]})
    # the preset always reaches the points: chapter 02's own default is the COCO-shaped benchmark
    assert grid == spec["grid"] and fixed == {**spec["parameters"], "preset": "default"}
    _, _, fixed = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {"tau": [0.2]}, "paper_voc", "/d",
                                       config={"epochs": 20, "device": "cuda:1"}, seeds=[0])
    assert (fixed["preset"], fixed["data_root"], fixed["seeds"], fixed["config"]) == \
        ("paper_voc", "/d", [0], {"epochs": 20, "device": "cuda:1"})
    _, grid, fixed = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {"tau": [0.2]}, smoke=True)
    assert grid == {"tau": [0.2]} and fixed["seeds"] == [0] and fixed["profile"] == "smoke"


def test_main_table_beside_ours_per_dataset():
    ours = report.mean_std(__import__("pandas").DataFrame(
        [{"variant": "ML-GCN", "seed": s, **{k: 50.0 + s for k in metric_keys()}} for s in (0, 1)]))
    paper, label = reference.main_table("voc2007")
    t = report.side_by_side(ours, paper, "ours", label)
    assert label == "paper (VOC, ResNet-101 @ 448)"
    assert t.loc["mAP", (label, "ML-GCN")] == "94.0" and t.loc["mAP", (label, "ResNet-101 (baseline)")] == "89.9"
    assert t.loc["CF1", (label, "ML-GCN")] == "—"   # the paper gives no CF1 for VOC
    assert t.loc["mAP", ("ours", "ML-GCN")] == "50.5 ± 0.7"
    coco, label = reference.main_table("coco2014")
    assert label == reference.SOURCE and list(coco.columns) == metric_keys(3)


def test_pictures_and_labels_of_any_split(tmp_path):
    canvases = np.random.default_rng(0).integers(0, 255, (4, 64, 64), dtype=np.uint8)
    scenes = OutfitScenes(canvases, np.eye(4, 3, dtype=np.int64), 32, (0.5,) * 3, (0.5,) * 3)
    assert picture(scenes, 2) is canvases[2] or np.array_equal(picture(scenes, 2), canvases[2])
    assert split_labels(scenes).tolist() == np.eye(4, 3).tolist()
    paths = [tmp_path / f"{i}.jpg" for i in range(3)]
    for i, p in enumerate(paths):
        write_jpeg(p, i, size=(400, 300))
    labels = np.array([[1, -1], [0, 1], [-1, -1]])  # 0: VOC "difficult", not ground truth for display
    files = MultiLabelImages(paths, labels, ["a", "b"])
    sub = Subset(Subset(files, [2, 1, 0]), [1, 2])  # items 1, 0 of the files
    assert split_labels(sub).tolist() == [[0, 1], [1, 0]]
    pic = picture(sub, 0, side=100)
    assert pic.dtype == np.uint8 and pic.shape == (75, 100, 3)


def test_cooccurrence_agreement_follows_the_label_statistics():
    from mlgcn_core.book.analysis import cooccurrence_agreement

    rng = np.random.default_rng(0)
    Y = (rng.random((400, 5)) < 0.3).astype(np.int64)
    Y[:, 1] |= Y[:, 0]                       # label 1 goes with label 0, label 3 with label 2
    Y[:, 3] = Y[:, 2] & (rng.random(400) < 0.9)
    P = (Y.T @ Y) / Y.sum(0)[:, None]
    np.fill_diagonal(P, 0)
    S = (P + P.T) / 2                         # vectors whose cosine similarity orders like S
    w, V = np.linalg.eigh(S + 5 * np.eye(5))
    X = V @ np.diag(np.sqrt(w)) @ V.T        # X Xᵀ = S + 5 I, rows of nearly equal norm
    assert cooccurrence_agreement(X, Y) > 0.9
    w, V = np.linalg.eigh(-S + 5 * np.eye(5))
    anti = V @ np.diag(np.sqrt(w)) @ V.T     # similarities ordered against the co-occurrence
    assert cooccurrence_agreement(anti, Y) < -0.9


def test_findings_table_of_the_first_page_comes_from_recorded_claims():
    held = findings.paired_interval([1.0, 1.2, 0.9, 1.1, 1.05])
    null = findings.paired_interval([0.3, -0.4, 0.1, -0.2, 0.05])
    rows = [dict(findings.claim("ML-GCN above GMP", held, "+1.0 VOC"), chapter="02_train"),
            dict(findings.claim("re-weighted above binary", null, "+2.7 COCO"), chapter="02_train"),
            dict(findings.claim("depth 2 > 4", None, "Table 3", why_not="depth 4 was not run"),
                 chapter="07_ablation_depth")]
    rows = [dict(r, benchmark="Fashion outfits") for r in rows]
    text = findings.claims_table(rows, missing=["10_tsne_classifiers"])
    lines = text.splitlines()
    assert lines[0] == "**On Fashion outfits**"
    assert lines[4].startswith("| ML-GCN above GMP | +1.0 VOC | +1.05 [") and "**held**" in lines[4]
    assert "{doc}`executed/02_train`" in lines[4]
    assert "**inconclusive**" in lines[5] and "**not tested**" in lines[6] and "depth 4 was not run" in lines[6]
    assert "not executed in this build: 10_tsne_classifiers" in text
    assert "no chapter recorded a claim" in findings.claims_table([])


def test_write_findings_collects_claims_in_book_order(tmp_path):
    """The first page: its sentences, then one table per benchmark in book order; a claim without a
    benchmark takes its chapter's, read off the parameters papermill injected (preset, config)."""
    import nbformat

    from mlgcn_core.book.build import EXECUTED, FINDINGS, chapter_benchmark, write_findings
    from mlgcn_core.book.notebook import RECORD_KEY

    (tmp_path / EXECUTED).mkdir(parents=True)
    held, null = findings.paired_interval([1.0, 1.2, 0.9, 1.1, 1.05]), findings.paired_interval([0.3, -0.4, 0.1])
    for name, claims, params in (
            ("02_train", [findings.claim("claim B", held)], {"preset": "paper_voc"}),
            ("01_label_graph", [findings.claim("claim A", null)], {}),
            ("04_does_the_graph_help", [findings.claim("claim C", held, benchmark="Fashion outfits")],
             {"preset": "paper_voc"})):
        out = nbformat.v4.new_output("display_data", data={"application/json": claims, "text/plain": "x"},
                                     metadata={RECORD_KEY: "claims"})
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[out])],
                                      metadata={"papermill": {"parameters": params}})
        nbformat.write(nb, tmp_path / EXECUTED / f"{name}.ipynb")
    write_findings(tmp_path, ["01_label_graph", "02_train", "03_per_class", "04_does_the_graph_help"])
    text = (tmp_path / FINDINGS).read_text()
    assert text.startswith("On **Fashion outfits**, **1** of 2 claims held (claim C); none was reversed. "
                           "On **PASCAL VOC 2007**, **1** of 1 claim held (claim B); none was reversed. "
                           "Still open: 1 inconclusive on Fashion outfits.\n")
    outfits, voc = text.split("\n\n", 1)[1].split("**On PASCAL VOC 2007**")  # the tables
    assert outfits.index("claim A") < outfits.index("claim C") and "claim B" in voc
    assert "03_per_class" in text.splitlines()[-1]
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": {"config": {"dataset": "coco2014"}}}})
    assert chapter_benchmark(nb) == "MS-COCO 2014"
    # nothing injected: the chapter's own parameters cell decides (chapter 02 defaults to COCO-shaped)
    cell = nbformat.v4.new_code_cell('preset: str = "coco_shaped"  # the preset\nseeds: list = [0]')
    cell.metadata["tags"] = ["parameters"]
    assert chapter_benchmark(nbformat.v4.new_notebook(cells=[cell])) == "COCO-shaped outfits"


def test_recipe_convergence_reads_the_mean_validation_curve_per_variant(tmp_path):
    """Chapter 02's convergence table: a variant whose mean validation curve still rises in its last
    quarter is "still rising", one that is flat has plateaued; best epochs listed per seed; the
    doubling test read from the run store, "not tested" where its run is not there."""
    from types import SimpleNamespace

    from mlgcn_core.book.report import recipe_convergence

    def run(curve, best):
        return SimpleNamespace(history=[{"epoch": e + 1, "val_mAP": v} for e, v in enumerate(curve)], best_epoch=best,
                               config=ExperimentConfig(), path=tmp_path / "run", val_metrics={"mAP": max(curve)})

    flat, rising = [10, 20, 30, 31, 31, 31, 31, 31], [10, 20, 30, 31, 32, 33, 34, 35]
    table = recipe_convergence({"flat": [run(flat, 4), run(flat, 5)], "rising": [run(rising, 8), run(rising, 8)]})
    assert table.loc["flat", "plateaued"] == "yes" and table.loc["rising", "plateaued"].startswith("no")
    assert table.loc["rising", "gain in the last quarter"] == 2.0 and table.loc["flat", "best epoch"] == "4, 5"
    assert set(table["gain when doubled"]) == {"not tested"}


def test_run_variants_trains_a_variant_longer_while_doubling_gains(monkeypatch):
    """``lengthen``: the doubling test on the first seed, before the other seeds train — a variant
    whose run at twice the epochs (the lr step at the same share) gains more than 0.2 validation mAP
    moves to that budget and is tested again, at most ``lengthen`` times; then every seed trains at
    each variant's final budget (none at a budget left behind); ``per_variant`` fields reach only
    that variant."""
    from types import SimpleNamespace

    import mlgcn_core.scheduler as scheduler

    calls = []

    def fake_run_many(configs, jobs=1):
        calls.append(configs)
        out = []
        for c in configs:  # the re-weighted head gains until it has 16 epochs; GMP is flat from 2
            curve = [float(min(e, 16 if c.model == "mlgcn" else 2)) for e in range(1, c.epochs + 1)]
            out.append(SimpleNamespace(config=c, history=[{"epoch": e + 1, "val_mAP": v} for e, v in enumerate(curve)],
                                       val_metrics={"mAP": max(curve)}))
        return out

    monkeypatch.setattr(scheduler, "run_many", fake_run_many)
    base, _ = chapters.chapter_config("default", "", {"epochs": 4, "lr_steps": [3]})
    runs = chapters.run_variants(base, ["baseline (GMP)", "ML-GCN (re-weighted)"], [0, 1], lengthen=3,
                                 per_variant={"ML-GCN (re-weighted)": {"lr": 0.08}})
    rw, gmp = runs["ML-GCN (re-weighted)"], runs["baseline (GMP)"]
    assert [r.config.epochs for r in rw] == [16, 16] and rw[0].config.lr_steps == (12,) and rw[0].config.lr == 0.08
    assert [r.config.epochs for r in gmp] == [4, 4] and gmp[0].config.lr == base.lr
    # seed 0 of both at 4 and 8 epochs; the GCN head at 8 and 16, at 16 and 32; then both seeds of both
    assert [len(c) for c in calls] == [4, 2, 2, 4]
    assert [c.seed for c in calls[0]] == [0, 0, 0, 0] and [c.epochs for c in calls[0]] == [4, 8, 4, 8]
    assert [(c.seed, c.epochs) for c in calls[-1]] == [(0, 4), (1, 4), (0, 16), (1, 16)]
    calls.clear()
    once = chapters.run_variants(base, ["ML-GCN (re-weighted)"], [0], lengthen=1)
    assert once["ML-GCN (re-weighted)"][0].config.epochs == 8 and len(calls) == 3  # at most `lengthen` times
    calls.clear()
    # a budget per_variant already doubled counts: 8 epochs (one doubling) + one more = lengthen 2 in all
    given = chapters.run_variants(base, ["ML-GCN (re-weighted)"], [0], lengthen=2,
                                  per_variant={"ML-GCN (re-weighted)": {"epochs": 8, "lr_steps": [6]}})
    assert given["ML-GCN (re-weighted)"][0].config.epochs == 16 and [c[0].epochs for c in calls] == [8, 16, 16]
    calls.clear()
    capped = chapters.run_variants(base, ["ML-GCN (re-weighted)"], [0], lengthen=1,
                                   per_variant={"ML-GCN (re-weighted)": {"epochs": 8, "lr_steps": [6]}})
    assert capped["ML-GCN (re-weighted)"][0].config.epochs == 8 and [c[0].epochs for c in calls] == [8, 8]
    calls.clear()
    assert chapters.run_variants(base, ["ML-GCN (re-weighted)"], [0])["ML-GCN (re-weighted)"][0].config.epochs == 4
    assert len(calls) == 1  # lengthen 0: no test
    # no validation curve (the paper presets' selection "last"): nothing to judge, nothing lengthened
    monkeypatch.setattr(scheduler, "run_many", lambda configs, jobs=1: [
        SimpleNamespace(config=c, history=[{"epoch": e + 1} for e in range(c.epochs)], best_epoch=c.epochs,
                        val_metrics={}) for c in configs])
    blind = chapters.run_variants(base, ["ML-GCN (re-weighted)"], [0, 1], lengthen=2)
    assert blind["ML-GCN (re-weighted)"][0].config.epochs == 4
    assert report.variant_convergence(blind)["ML-GCN (re-weighted)"]["plateaued"] is None
    assert report.variant_convergence(blind)["ML-GCN (re-weighted)"]["converged"] is None
    assert report.recipe_convergence(blind).loc["ML-GCN (re-weighted)", "plateaued"] == "no validation curve"


def test_variant_convergence_reads_the_doubled_run_from_the_store(tmp_path):
    """The doubling test of a point: the first seed's run at twice the epochs, trained by
    run_variants, read back from the run store; its gain decides ``converged``."""
    from mlgcn_core.book.tuning import longer
    from mlgcn_core.scheduler import run_many

    tiny = {"n_train": 60, "n_val": 30, "n_test": 30}
    cfg = ExperimentConfig(outfits=tiny, model="baseline", epochs=2, lr_steps=(1,))
    short, = run_many([cfg], root=tmp_path)
    out = report.variant_convergence({"GMP": [short]})["GMP"]
    assert out["gain_when_doubled"] is None and out["converged"] is None  # not trained yet
    twice, = run_many([longer(cfg)], root=tmp_path)
    out = report.variant_convergence({"GMP": [short]})["GMP"]
    gain = twice.val_metrics["mAP"] - short.val_metrics["mAP"]
    assert out["gain_when_doubled"] == round(gain, 2) and out["converged"] == (gain <= 0.2)


def test_a_sweep_on_a_preset_without_validation_keeps_the_presets_lr(tmp_path):
    """The paper presets select the last epoch (no validation split): the sweep picks no lr and
    says so; the points keep the preset's lr."""
    fixed = {"preset": "paper_voc", "data_root": str(tmp_path), "seeds": [0], "variants": ["baseline (GMP)"]}
    per_variant, grid = chapters.sweep_lrs(fixed, [0.005, 0.02, 0.08])
    assert per_variant == {} and len(grid) == 0 and report.lr_choice(grid).empty


def test_sweep_setup_sizes_every_point_and_the_users_config_wins():
    """The sweep chapters' points train on ``scenes`` of the split for about ``steps`` steps
    (chapter 04's budget: whole epochs, the lr step at 75 %); a given config overrides them; more
    scenes than the split is an error naming the parameter; the smoke profile keeps its own sizes."""
    from mlgcn_core.book.tuning import budget

    spec, grid, fixed = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {"tau": [0.2]}, "coco_shaped",
                                             scenes=3000, steps=940)
    assert fixed["config"]["train_scenes"] == 3000 and fixed["preset"] == "coco_shaped"
    assert (fixed["config"]["epochs"], fixed["config"]["lr_steps"]) == (39, [29]) == \
        (budget(3000, 940, 128)["epochs"], list(budget(3000, 940, 128)["lr_steps"]))
    assert grid == spec["grid"]
    _, _, whole = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "coco_shaped", scenes=None, steps=1880)
    assert "train_scenes" not in whole["config"] and whole["config"]["epochs"] == 20  # 12,000 scenes
    _, _, mine = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "coco_shaped", config={"epochs": 7},
                                      scenes=3000, steps=940)
    assert mine["config"]["epochs"] == 7
    with pytest.raises(ValueError, match="sweep_scenes: 50000 > the benchmark's 12000 training scenes"):
        chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "coco_shaped", scenes=50000, steps=940)
    _, smoke_grid, smoke = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {"tau": [0.2]}, "coco_shaped",
                                                scenes=3000, steps=940, smoke=True)
    assert "train_scenes" not in smoke["config"] and smoke["profile"] == "smoke" and smoke_grid == {"tau": [0.2]}


def test_sweep_convergence_reads_what_each_point_recorded():
    import pandas as pd

    table = pd.DataFrame([
        {"tau": 0.2, "variant": "A", "seed": 0, "epochs": 40, "plateaued": True, "gain_last_quarter": 0.1,
         "gain_when_doubled": 0.05, "converged": True},
        {"tau": 0.2, "variant": "A", "seed": 1, "epochs": 40, "plateaued": True, "gain_last_quarter": 0.1,
         "gain_when_doubled": 0.05, "converged": True},
        {"tau": 0.4, "variant": "A", "seed": 0, "epochs": 80, "plateaued": True, "gain_last_quarter": 0.1,
         "gain_when_doubled": 1.52, "converged": False}])
    out = report.sweep_convergence(table, "tau")
    assert out.loc[0.2, "A"] == "yes, 40 epochs (+0.05 when doubled)"
    assert out.loc[0.4, "A"] == "no: +1.52 when doubled, 80 epochs"  # the plateau rule passed: the test decides
    untested = report.sweep_convergence(table.drop(columns=["converged", "gain_when_doubled"]), "tau")
    assert untested.loc[0.2, "A"] == "not tested; plateau rule: yes, 40 epochs"
    assert report.sweep_convergence(table.drop(columns=["plateaued"]), "tau").loc[0.2, "A"] == "not recorded"


def test_sweep_pages_name_the_level_and_say_what_was_not_tried():
    """The pages show a sweep's runs by level (no internal point key), an ``error`` column only when
    a point failed, and an lr a variant did not try as "not tried" (not NaN)."""
    import pandas as pd

    table = pd.DataFrame([
        {"point": "ab12", "tau": 0.4, "variant": "B", "seed": 1, "mAP": 36.123, "CF1": 1.0, "OF1": 2.0, "error": None},
        {"point": "cd34", "tau": 0.0, "variant": "B", "seed": 0, "mAP": 35.0, "CF1": 1.0, "OF1": 2.0, "error": None}])
    rows = report.sweep_rows(table, "tau")
    assert list(rows.columns) == ["tau", "variant", "seed", "mAP", "CF1", "OF1"]
    assert rows["tau"].tolist() == [0.0, 0.4] and rows["mAP"].tolist() == [35.0, 36.12]
    failed = report.sweep_rows(table.assign(error=[None, "the loss became nan"]), "tau")
    assert failed["error"].tolist() == ["the loss became nan", ""]
    grid = pd.DataFrame([
        {"level": 3000, "variant": "A", "lr": 0.02, "val_score": 30.0, "picked": True, "edge": False},
        {"level": 3000, "variant": "A", "lr": 0.08, "val_score": 29.0, "picked": False, "edge": False},
        {"level": 3000, "variant": "B", "lr": 0.08, "val_score": 31.0, "picked": True, "edge": True}])
    shown = report.lr_choice(grid)
    assert shown.loc[(3000, 0.02), "B"] == report.NOT_TRIED and shown.loc[(3000, 0.08), "B"] == "31.0 * !"
    assert not shown.isna().any().any()


def test_the_default_build_runs_the_sweep_files_book_grid_and_the_full_profile_every_level(tmp_path):
    """``all_levels`` False (the default book): each axis at its ``book_grid`` levels; True
    (PROFILE=full) the whole ``grid``; a ``book_grid`` level outside the grid is a one-line error."""
    from mlgcn_core.book.sweep import load_spec

    spec = load_spec("notebooks/sweeps/tau.yaml")
    _, cut, _ = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "coco_shaped", all_levels=False)
    _, whole, _ = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "coco_shaped", all_levels=True)
    assert cut == spec["book_grid"] and set(cut["tau"]) < set(whole["tau"]) and whole == spec["grid"]
    assert 0.4 in cut["tau"]  # the paper's setting, where each variant's lr is picked, is a level
    _, voc, _ = chapters.sweep_setup("notebooks/sweeps/tau.yaml", {}, "paper_voc", "/d", all_levels=False)
    assert voc == spec["grid"]  # prepared real data (a GPU's book): every level
    for name in ("p", "depth", "embeddings"):
        s = load_spec(f"notebooks/sweeps/{name}.yaml")
        assert all(set(v) <= set(s["grid"][k]) for k, v in s["book_grid"].items())
    bad = tmp_path / "bad.yaml"
    bad.write_text("notebook: 02_train\ngrid: {tau: [0.2, 0.4]}\nbook_grid: {tau: [0.3]}\n")
    with pytest.raises(ValueError, match="field 'book_grid' must map axes of 'grid' to non-empty lists"):
        load_spec(bad)


def test_a_chapters_cache_key_follows_the_lock(tmp_path, monkeypatch):
    """The book re-executes a chapter when the lock changes (another torch may change a number),
    and not otherwise."""
    from mlgcn_core import paths
    from mlgcn_core.book import build

    nb = tmp_path / "notebooks" / "01.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==2.14.1\n")
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    first = build.source_key(nb, {"profile": "default"})
    assert build.source_key(nb, {"profile": "default"}) == first
    lock.write_text("torch==2.15.0\n")
    assert build.source_key(nb, {"profile": "default"}) != first


def test_settings_go_on_the_page_as_a_table_in_words():
    """Chapter 04's regimes' settings and a sweep's grid: one row per setting, one column per group,
    lists joined, booleans in words, an empty level list "none"; a named index, never a dict's repr."""
    table = report.settings_table({"public": {"sizes": (3000,), "lrs": (0.005, 0.02, 0.08), "all_levels": False},
                                   "size": {"sizes": (), "steps": 940}})
    assert table.index.name == "setting" and list(table.columns) == ["public", "size"]
    assert table.loc["lrs", "public"] == "0.005, 0.02, 0.08" and table.loc["all levels", "public"] == "no"
    assert table.loc["sizes", "size"] == "none" and table.loc["steps", "public"] == ""
    assert not any("{" in v or "(" in v for v in table.to_numpy().ravel())


def test_tables_on_the_page_say_yes_and_no_and_hide_a_bare_index():
    """``report.page_html`` (every chapter's DataFrames, through ``report.page_tables``): booleans
    in words, a default 0…n index left out, a meaningful index kept; the config as its key fields."""
    import pandas as pd

    frame = pd.DataFrame({"variant": ["a", "b"], "converged": [True, False], "gain": [0.1, 1.5],
                          "plateaued": [True, None]})
    html = report.page_html(frame)
    assert "<td>yes</td>" in html and "<td>no</td>" in html and "True" not in html and "False" not in html
    assert not re.search(r"<tbody>\s*<tr>\s*<th>0</th>", html)  # no bare index
    kept = report.page_html(frame.set_index("variant"))
    assert re.search(r"<th>a</th>", kept)
    table = report.config_table(load_preset("coco_shaped"))
    assert table.index.name == "setting" and table.loc["dataset", "value"] == "coco_shaped"
    assert "device" not in table.index  # never in the key: not a setting of the result
