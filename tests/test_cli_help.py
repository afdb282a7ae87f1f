"""``train --set``'s help lists every config field with its type, default and comment."""

from __future__ import annotations

import dataclasses

import pytest

from mlgcn_core.__main__ import main
from mlgcn_core.cli_help import field_comments, field_rows, fields_help
from mlgcn_core.config import ExperimentConfig, is_config_field
from mlgcn_core.data.catalog import SCENE_FIELDS
from mlgcn_core.data.outfits import OutfitsConfig


def test_every_field_is_listed_with_its_type_and_default():
    rows = {name: (tp, default) for name, tp, default, _ in field_rows()}
    expected = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in SCENE_FIELDS]
    for bench, settings in SCENE_FIELDS.items():  # each embedded benchmark's settings, spelled out
        expected += [f"{bench}.{f.name}" for f in dataclasses.fields(settings)]
    assert list(rows) == expected
    assert all(is_config_field(n) for n in rows)
    cfg = ExperimentConfig()
    for name, (_tp, default) in rows.items():
        head, dot, rest = name.partition(".")
        obj, attr = (getattr(cfg, head), rest) if dot else (cfg, name)
        assert default == repr(getattr(obj, attr)), name
    assert rows["tau"] == ("float", "0.4")
    assert rows["data_root"] == ("str | None", "None")
    assert rows["lr_steps"] == ("tuple[int, ...]", "(15,)")
    assert rows["outfits.n_train"] == ("int", "6000")
    assert rows["coco_shaped.n_train"] == ("int", "12000")


def test_comments_come_from_the_source():
    notes = field_comments(ExperimentConfig)
    assert notes["tau"] == "binarization threshold τ (Eq. 7)"
    # a comment continued on the next lines, and a comment block above a field
    assert notes["mode"].startswith('"features": frozen backbone') and notes["mode"].endswith("frozen bottom")
    assert notes["train_scenes"].startswith("embedded benchmarks only, drawn with the run seed")
    assert "momentum" not in notes and "--- data" not in " ".join(notes.values())
    assert field_comments(OutfitsConfig)["n_train"] == "scenes per split"


def test_train_help_prints_the_table(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--set FIELD=VALUE" in out and fields_help() in out
    for name, tp, default, _ in field_rows():
        line = next(ln for ln in out.splitlines() if ln.split()[:1] == [name])
        assert tp in line and default in line, line


def test_help_names_every_head():
    """``train --help`` lists the heads: every entry of the model registry in the ``model`` row, and
    each head's own fields (with their official defaults in the comments)."""
    from mlgcn_core.config import MODELS

    rows = {name: note for name, _, _, note in field_rows()}
    assert all(f'"{name}"' in rows["model"] for name in MODELS.names()), rows["model"]
    for name in MODELS.names():
        assert all(f in rows for f in MODELS[name].reads)
    assert "official 2048" in rows["q2l_d_model"] and "official 768" in rows["mld_d_model"]
