"""Run keys are names of results on disk: every config's key is pinned, so that a refactor of how
the key is computed (the registries' declared fields) renames no existing run. The pins are the
keys at ``grad_floor=0`` (how every run before the gradient floor was computed); the floor itself,
on by default, changes the numbers, so it gives every run a new key."""

from __future__ import annotations

import pytest

from mlgcn_core.config import load_preset

# name: (changes over the default preset, the key computed on main before the registries)
PINNED = {
    "default": ({}, "34826744c82d"),
    "baseline_max": ({'model': 'baseline'}, "6ebf615a740e"),
    "baseline_avg": ({'model': 'baseline', 'pooling': 'avg'}, "5df0dcf4e286"),
    "baseline_tau_ignored": ({'model': 'baseline', 'tau': 0.9, 'graph': 'binary'}, "6ebf615a740e"),
    "binary": ({'graph': 'binary'}, "f4dbe5a69964"),
    "binary_tau": ({'graph': 'binary', 'tau': 0.3}, "8854b6c5d1ad"),
    "identity": ({'graph': 'identity'}, "4b4fbfd6e031"),
    "shuffled": ({'graph': 'shuffled'}, "02a48af6af92"),
    "shuffled_seed3": ({'graph': 'shuffled', 'seed': 3}, "ff03f8c8b2f3"),
    "oracle": ({'graph': 'oracle'}, "be173f8994f7"),
    "oracle_corpus": ({'graph': 'oracle', 'graph_labels': 'corpus'}, "be173f8994f7"),
    "shuffled_oracle": ({'graph': 'shuffled_oracle'}, "8e73e25c48bb"),
    "corpus": ({'graph_labels': 'corpus'}, "68c96bbb5811"),
    "identity_corpus": ({'graph': 'identity', 'graph_labels': 'corpus'}, "4b4fbfd6e031"),
    "random_vectors": ({'word_vectors': 'random'}, "46335a08432f"),
    "onehot_vectors": ({'word_vectors': 'onehot'}, "39016ffffcde"),
    "onehot_identity": ({'word_vectors': 'onehot', 'graph': 'identity'}, "8193abdfc96d"),
    "tau_1": ({'tau': 1.0}, "07983b4ca4dd"),
    "p_official": ({'p': 0.25, 'scheme': 'official'}, "24cdabe3fc14"),
    "p_1": ({'p': 1.0}, "00367491ca3a"),
    "train_scenes": ({'train_scenes': 1000}, "b825d8520ff5"),
    "rare": ({'rare_labels': ('bag',), 'rare_positives': 5, 'graph_labels': 'corpus'}, "aae1ac2784d4"),
    "rare_wd": ({'rare_labels': ('bag', 'sandal'), 'rare_positives': 5, 'weight_decay': 0.001}, "5ab6fe961d02"),
    "hide": ({'hide_labels': ('bag',), 'hide_fraction': 0.7}, "440f07833d8c"),
    "selection_last": ({'selection': 'last'}, "4e68bed48357"),
    "selection_test": ({'selection': 'test'}, "3f5387d54604"),
    "selection_last_valfrac": ({'selection': 'last', 'val_fraction': 0.3}, "4e68bed48357"),
    "val_fraction": ({'val_fraction': 0.3}, "8b5a56e9dc09"),
    "loss_asl": ({'loss': 'asl'}, "f0368ee62ff0"),
    "loss_asl_gamma": ({'loss': 'asl', 'asl_gamma_neg': 2.0}, "dd71276f67cc"),
    "loss_bce": ({'loss': 'bce'}, "ce0c81b0c3c9"),
    "loss_bce_gamma_ignored": ({'loss': 'bce', 'asl_gamma_neg': 2.0}, "ce0c81b0c3c9"),
    "mode_top": ({'mode': 'top'}, "bb19689e4fab"),
    "mode_top_blocks": ({'mode': 'top', 'trainable_blocks': 2, 'lrp': 0.5}, "5899287706df"),
    "gcn_depth_3": ({'gcn_depth': 3}, "3943883128b2"),
    "gcn_hidden": ({'gcn_hidden': 512}, "0abe923053a5"),
    "baseline_selection_last": ({'model': 'baseline', 'selection': 'last'}, "115818380669"),
    "baseline_rare": ({'model': 'baseline', 'rare_labels': ('bag',), 'rare_positives': 5}, "1459b8dffcf9"),
    "device_workers_ignored": ({'device': 'cuda', 'workers': 'auto', 'sync_bn': False}, "34826744c82d"),
    "features_lrp_ignored": ({'lrp': 0.5, 'channels_last': True}, "34826744c82d"),
    "outfits_n_train": ({'outfits': {'n_train': 3000}}, "270b6b6f20a6"),
    # a linear head reads no word vectors: the same key (and run) as the plain baseline, as before
    "baseline_random_vectors": ({'model': 'baseline', 'word_vectors': 'random'}, "6ebf615a740e"),
    "identity_random_vectors": ({'graph': 'identity', 'word_vectors': 'random'}, "317b409b83fb"),
    "binary_shuffled_p_ignored": ({'graph': 'binary', 'p': 0.5, 'scheme': 'official'}, "f4dbe5a69964"),
    "lr_epochs": ({'lr': 0.05, 'epochs': 30, 'lr_steps': (10, 20), 'warmup_epochs': 2}, "ab52fcf2d211"),
}


# after the run store's data fingerprint and the end-to-end augmentation stream entered the key:
# name: (preset, overrides, key); a data_root without a manifest has the fingerprint "missing"
PINNED_PRESETS = {
    "end2end": ('default', {'mode': 'end2end'}, "73234b54bfa5"),
    "end2end_baseline": ('default', {'mode': 'end2end', 'model': 'baseline'}, "06c79cbbf97b"),
    "end2end_lrp_channels_last": ('default', {'mode': 'end2end', 'lrp': 0.5, 'channels_last': True}, "668fedfbbf18"),
    "paper_voc": ('paper_voc', {'data_root': '/data/voc'}, "26110fb53e01"),
    "paper_voc_test": ('paper_voc', {'data_root': '/data/voc', 'selection': 'test'}, "800c996bb2c5"),
    "paper_voc_baseline": ('paper_voc', {'data_root': '/data/voc', 'model': 'baseline'}, "cd0c109c794a"),
    "paper_coco": ('paper_coco', {'data_root': '/data/coco'}, "f0bf542c3fbc"),
    "paper_text_voc": ('paper_text_voc', {'data_root': '/data/voc'}, "df55130225e8"),
    "reproduced_coco": ('reproduced_coco', {'data_root': '/data/coco'}, "1318726b93c0"),
    "voc_features": ('paper_voc', {'data_root': '/data/voc', 'mode': 'features', 'device': 'cpu'}, "e7186a62c1bb"),
}


@pytest.mark.parametrize("name", sorted(PINNED_PRESETS))
def test_run_key_pinned_on_presets_and_real_data(name):
    preset, changes, key = PINNED_PRESETS[name]
    assert load_preset(preset, {**changes, "grad_floor": 0}).key() == key


def test_the_prepared_data_is_in_the_key(tmp_path):
    """The key of a run on prepared data names the data's bytes, not only its path."""
    import json

    (tmp_path / "manifest.json").write_text(json.dumps({"dataset": "voc2007", "files": ["a.csv"]}))
    (tmp_path / "a.csv").write_text("image,labels\n1,cat\n")
    cfg = load_preset("paper_voc", {"data_root": str(tmp_path)})
    before = cfg.key()
    (tmp_path / "a.csv").write_text("image,labels\n1,dog\n")
    assert cfg.key() != before


@pytest.mark.parametrize("name", sorted(PINNED))
def test_run_key_pinned(name):
    changes, key = PINNED[name]
    base = load_preset("default").replace(grad_floor=0)
    cfg = base.with_overrides(changes) if "outfits" in changes else base.replace(**changes)
    assert cfg.key() == key


def test_the_gradient_floor_is_in_the_key_unless_off():
    """Runs with the floor (the default) are new results under new names; at 0 the floor is how every
    earlier run was computed, and those keep their names; two floors, two keys."""
    base = load_preset("default")
    assert base.grad_floor == 1e-30 and base.key() == "5c8efd1834d7"
    assert base.replace(grad_floor=0).key() == PINNED["default"][1]
    assert len({base.key(), base.replace(grad_floor=1e-25).key(), base.replace(grad_floor=0.0).key()}) == 3


def test_new_field_at_default_is_out_of_key():
    """A field the run does not use, or one at its default that was added later, changes no key."""
    base = load_preset("default").replace(grad_floor=0)
    assert base.replace(graph="identity", tau=0.9, p=0.5).key() == PINNED["identity"][1]
    assert base.replace(model="baseline", gcn_depth=3, graph_labels="corpus").key() == PINNED["baseline_max"][1]
