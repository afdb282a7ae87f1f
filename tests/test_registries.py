"""The method's choices are registries: one place to add a graph, a loss or a word-vector
provider; the config's check, the run key and the model builder follow from the entry."""

from __future__ import annotations

import numpy as np
import pytest

from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.embeddings import WORD_VECTORS
from mlgcn_core.graph import GRAPHS, cooccurrence
from mlgcn_core.losses import LOSSES
from mlgcn_core.registry import Registry


@pytest.fixture
def graphs(monkeypatch):
    """GRAPHS with the entries registered inside a test removed afterwards."""
    monkeypatch.setattr(GRAPHS, "_entries", dict(GRAPHS._entries))
    return GRAPHS


def test_adding_a_graph_is_one_registration(graphs):
    """A new graph: its builder, registered with the fields it reads. Nothing else changes."""

    @graphs.register("complete", reads=("p",))
    def complete_graph(cfg, train_positives):
        """Every label joined to every other with weight p, 1 − p on the diagonal."""
        C = np.asarray(train_positives).shape[1]
        return np.full((C, C), cfg.p / max(C - 1, 1)) + np.eye(C) * (1 - cfg.p - cfg.p / max(C - 1, 1))

    base = load_preset("default")
    cfg = base.replace(graph="complete")  # the config accepts it
    assert "complete" in graphs.names()
    assert cfg.key() != base.key()
    assert cfg.replace(tau=0.9).key() == cfg.key()  # tau: not read by this graph, out of its key
    assert cfg.replace(p=0.3).key() != cfg.key()  # p: read, in the key
    assert cfg.replace(graph_labels="corpus").key() == cfg.key()
    assert cfg.run_name().startswith("mlgcn-complete-")

    from mlgcn_core.models import build_model

    y = (np.random.default_rng(0).random((40, 10)) < 0.3).astype(int)
    model = build_model(cfg.replace(word_vectors="onehot"), y, [f"c{i}" for i in range(10)], feature_dim=8)
    assert model.classifiers().shape == (10, 8)


def test_unknown_choice_lists_the_registry():
    with pytest.raises(ValueError, match=r"graph must be one of \('reweighted', 'binary', 'identity'"):
        ExperimentConfig(graph="nope")
    with pytest.raises(ValueError, match=r"loss must be one of \('soft_margin', 'bce', 'asl'\)"):
        ExperimentConfig(loss="nope")


def test_entries_declare_what_they_read():
    assert GRAPHS["identity"].reads == ()
    assert set(GRAPHS["binary"].reads) == {"tau", "graph_labels"}
    assert GRAPHS["oracle"].datasets == ("outfits", "coco_shaped")  # the embedded benchmarks: a true label model
    assert set(LOSSES["asl"].reads) == {"asl_gamma_neg", "asl_gamma_pos", "asl_clip", "asl_weight_grad"}
    assert WORD_VECTORS["official:voc2007"].name == "official:"
    assert WORD_VECTORS["/some/glove.txt"].name == "<GloVe file>"
    assert WORD_VECTORS["random"].key_marks == {"random_vectors": "per seed"}


def test_registry_refuses_a_name_twice():
    reg = Registry("thing")
    reg.register("a")(lambda cfg: 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(lambda cfg: 2)


def test_registered_graphs_match_the_equations():
    y = (np.random.default_rng(1).random((200, 10)) < 0.3).astype(int)
    cfg = ExperimentConfig()
    from mlgcn_core.graph import binary_adjacency, build_adjacency

    M, N = cooccurrence(y)
    assert np.array_equal(GRAPHS.build(cfg, y), build_adjacency(M, N, cfg.tau, cfg.p, cfg.scheme))
    assert np.array_equal(GRAPHS.build(cfg.replace(graph="binary"), y), binary_adjacency(M, N, cfg.tau))
    assert np.array_equal(GRAPHS.build(cfg.replace(graph="identity"), y), np.eye(10))
