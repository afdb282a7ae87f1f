"""ML-GCN's successors as heads (CSRA, Query2Label, ML-Decoder) against small hand-computed cases;
their registry entries, run keys and one-line errors; ASL against the official formula; a map
head trained on the cached map and read back by evaluate / predict."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from test_train import write_test_scenes

from mlgcn_core.config import MODELS, MODES, ExperimentConfig, load_preset
from mlgcn_core.heads import (
    CSRABranch,
    CSRAHead,
    GroupWiseLinear,
    MLDecoderHead,
    Query2LabelHead,
    sine_positions,
)
from mlgcn_core.losses import AsymmetricLoss
from mlgcn_core.models import build_model

MAP_HEADS = ("csra", "query2label", "mldecoder", "mldecoder_words", "query2label_graph")
# the label branch's fields (ML-GCN's too): a head that reads the graph or the vectors reads them
LABEL_FIELDS = {"word_vectors", "graph", "gcn_depth", "gcn_hidden"}
# every field some head reads, by the head (the run key of a head must hold its own and no other)
HEAD_FIELDS = {f for name in MAP_HEADS for f in MODELS[name].reads if f not in LABEL_FIELDS}


# --- CSRA ----------------------------------------------------------------------------------------

def csra_case(branch_cls=CSRABranch, temperature: float = math.inf, lam: float = 0.1
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-channel, 2 × 2 map and two classes with weights m_1 = (3, 4) (‖m_1‖ = 5) and m_2 = (1, 0):
    the branch's logits and the input."""
    branch = branch_cls(2, 2, lam=lam, temperature=temperature)
    with torch.no_grad():
        branch.scores.weight.copy_(torch.tensor([[3.0, 4.0], [1.0, 0.0]]).view(2, 2, 1, 1))
    # positions (row-major): x = (1, 0), (0, 1), (2, 2), (−1, 0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 0.0]]).t().reshape(1, 2, 2, 2)  # (1, D, h, w)
    return branch(x), x


def check_csra(branch_cls=CSRABranch) -> None:
    """T = ∞: the spatial mean + λ·max of s_k(j) = m_kᵀ x_j / ‖m_k‖. By hand: s_1 = (0.6, 0.8, 2.8,
    −0.6), mean 0.9, max 2.8 → 0.9 + 0.1·2.8 = 1.18; s_2 = (1, 0, 2, −1), mean 0.5, max 2 → 0.7.
    T = 1 and 2, λ = 0.5: the softmax(T·s)-weighted sum in place of the max."""
    got, _ = csra_case(branch_cls)
    assert torch.allclose(got, torch.tensor([[1.18, 0.7]]), atol=1e-6), got
    for t in (1.0, 2.0):
        got, _ = csra_case(branch_cls, temperature=t, lam=0.5)
        ref = []
        for s in ((0.6, 0.8, 2.8, -0.6), (1.0, 0.0, 2.0, -1.0)):
            e = [math.exp(t * v) for v in s]
            ref.append(sum(s) / 4 + 0.5 * sum(v * w for v, w in zip(s, e)) / sum(e))
        assert torch.allclose(got, torch.tensor([ref]), atol=1e-6), (t, got, ref)


def test_csra_at_infinite_temperature_is_mean_plus_lambda_max():
    check_csra()


def test_csra_scores_are_divided_by_the_weight_norm_and_branches_sum():
    """Scaling a class's weights leaves its logit unchanged (the official division by ‖m_k‖); the
    official 4-branch head (T = 1, 2, 4, ∞) sums its branches' logits."""
    torch.manual_seed(0)
    x = torch.randn(3, 8, 3, 3)  # (N, D, h, w)
    head = CSRAHead(8, 5, lam=0.5, temperatures=(1.0, 2.0, 4.0, math.inf))
    before = head(x)
    with torch.no_grad():
        head.branches[0].scores.weight.mul_(7.0)
    assert torch.allclose(head(x), before, atol=1e-5)
    assert torch.allclose(head(x), sum(b(x) for b in head.branches), atol=1e-6)
    assert [b.temperature for b in head.branches] == [1.0, 2.0, 4.0, math.inf]


# --- GroupWiseLinear, Query2Label ------------------------------------------------------------------

def check_group_wise_linear(layer_cls=GroupWiseLinear) -> None:
    """logit_k = ⟨W_k, h_k⟩ + b_k: each label's embedding against its own weights only. By hand:
    W = [[1, 2], [0, −1], [3, 0]], b = (0.5, 0, −1), h_n = [[1, 1], [2, 3], [−1, 4]] →
    (1 + 2 + 0.5, −3, −3 − 1) = (3.5, −3, −4)."""
    layer = layer_cls(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]]))
        layer.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
    h = torch.tensor([[[1.0, 1.0], [2.0, 3.0], [-1.0, 4.0]]])  # (N, K, d)
    assert torch.allclose(layer(h), torch.tensor([[3.5, -3.0, -4.0]])), layer(h)
    torch.manual_seed(1)
    h = torch.randn(4, 3, 2)
    ref = torch.tensor([[sum(layer.weight[k, j].item() * h[n, k, j].item() for j in range(2)) + layer.bias[k].item()
                         for k in range(3)] for n in range(4)])
    assert torch.allclose(layer(h), ref, atol=1e-6)


def test_group_wise_linear_is_a_per_class_dot_product():
    check_group_wise_linear()
    layer = GroupWiseLinear(80, 64)  # official init: uniform in ±1/√d
    assert layer.weight.abs().max() <= 1 / 8 and layer.bias.abs().max() <= 1 / 8


def test_sine_positions_by_hand():
    """A 2 × 3 grid at d = 8: d/2 = 4 features per axis (row first) at frequencies
    10000^(−2⌊i/2⌋/4) = 1, 1, 1/100, 1/100, as (sin, cos) pairs; coordinate i of n → i/n · 2π."""
    pos = sine_positions(2, 3, 8)  # (6, 8), positions row-major

    def axis(i, n):
        a = i / (n + 1e-6) * 2 * math.pi
        return [math.sin(a), math.cos(a), math.sin(a / 100), math.cos(a / 100)]

    assert pos.shape == (6, 8)
    assert torch.allclose(pos[1], torch.tensor(axis(1, 2) + axis(2, 3)), atol=1e-5)  # row 1, column 2
    assert torch.allclose(pos[3], torch.tensor(axis(2, 2) + axis(1, 3)), atol=1e-5)  # row 2, column 1


def test_query2label_layers_as_the_official_defaults():
    head = Query2LabelHead(1280, 80, d_model=64, ff=128, heads=4)
    assert len(head.encoder) == 1 and len(head.decoder) == 2
    assert all(layer.self_attn is None for layer in head.decoder)  # removed by default
    assert isinstance(head.input_proj, torch.nn.Conv2d)  # C ≠ d: the 1×1 projection
    kept = Query2LabelHead(64, 80, d_model=64, ff=128, heads=4, decoder_self_attn=True)
    assert all(layer.self_attn is not None for layer in kept.decoder)
    assert isinstance(kept.input_proj, torch.nn.Identity)
    assert head(torch.randn(2, 1280, 3, 3)).shape == (2, 80)


# --- ML-Decoder --------------------------------------------------------------------------------------

class _Fixed(torch.nn.Module):
    """A stand-in decoder layer returning the given embeddings h (N, K_q, d)."""

    def __init__(self, h):
        super().__init__()
        self.h = h

    def forward(self, tgt, memory):
        return self.h


def check_ml_decoder_groups(head_cls=MLDecoderHead) -> None:
    """The group fully-connected read-out: with K = 5 labels and 2 queries, g = 3 labels per query;
    label q·g + j is read from query q's embedding with its weights W[q, :, j]; the sixth output
    is dropped."""
    torch.manual_seed(2)
    head = head_cls(6, 5, d_model=4, ff=8, heads=2, groups=2)
    assert head.query_embed.weight.shape == (2, 4) and head.pool_weight.shape == (2, 4, 3)
    h = torch.randn(3, 2, 4)  # (N, K_q, d)
    head.layer = _Fixed(h)
    with torch.no_grad():
        head.pool_bias.copy_(torch.arange(5.0))
    W = head.pool_weight.detach()
    ref = torch.tensor([[sum(h[n, q, i].item() * W[q, i, j].item() for i in range(4))
                         for q in range(2) for j in range(3)][:5] for n in range(3)]) + torch.arange(5.0)
    assert torch.allclose(head(torch.randn(3, 6, 2, 2)), ref, atol=1e-5)


def test_ml_decoder_group_read_out_by_hand():
    check_ml_decoder_groups()


def test_ml_decoder_one_group_per_label_has_query2labels_shape():
    """groups ≥ K: one query per label (K_q = K, g = 1), and the logits have Query2Label's shape."""
    x = torch.randn(2, 32, 3, 3)  # (N, D, h, w)
    mld = MLDecoderHead(32, 80, d_model=16, ff=32, heads=4, groups=100)
    q2l = Query2LabelHead(32, 80, d_model=16, ff=32, heads=4)
    assert mld.query_embed.weight.shape == (80, 16) and mld.group_size == 1
    assert mld(x).shape == q2l(x).shape == (2, 80)
    assert MLDecoderHead(32, 80, d_model=16, ff=32, heads=4, groups=30)(x).shape == (2, 80)  # g = 3, 90 cut to 80


def test_ml_decoder_queries_stay_fixed_and_word_queries_learn():
    """The random queries are not trained (requires_grad False, outside the optimizer); the
    word-vector variant's queries are ReLU(Linear(word vectors)), its projection trained."""
    from mlgcn_core.optim import make_optimizer

    cfg = load_preset("coco_shaped", {"model": "mldecoder", "mld_d_model": 16, "mld_ff": 32, "mld_heads": 4})
    names = [f"c{i}" for i in range(5)]
    model = build_model(cfg, None, names, feature_dim=32, backbone=None)
    before = model.head.query_embed.weight.clone()
    opt = make_optimizer(model, cfg)
    assert all(p.requires_grad for g in opt.param_groups for p in g["params"])
    model(torch.randn(4, 32, 2, 2)).sum().backward()
    opt.step()
    assert torch.equal(model.head.query_embed.weight, before)
    words = build_model(cfg.replace(model="mldecoder_words", word_vectors="onehot"), None, names, feature_dim=32,
                        backbone=None)
    z = words.head.word_vectors  # (K, d_w): one-hot vectors of the 5 labels
    assert torch.equal(z, torch.eye(5))
    assert torch.allclose(words.head.queries(), torch.relu(words.head.word_proj(z)))
    assert words.head.pool_weight.shape == (16, 1)  # one read-out shared by the labels


# --- Query2Label with graph queries (the question none of the successors asks) ---------------------

def test_graph_queries_are_the_gcn_of_the_word_vectors_over_the_graph():
    """The queries of ``query2label_graph`` are Â·LeakyReLU(Â·Z·W₁)·W₂ (Eq. 2–3, widths d_w → hidden →
    d); the rest is Query2Label's (its learned-query twin has the same transformer and read-out); a
    shuffled graph gives other queries from the same weights."""
    from mlgcn_core.heads import GraphQuery2LabelHead, Query2LabelHead

    torch.manual_seed(0)
    K, d_w = 5, 7
    z = torch.randn(K, d_w)
    a = torch.rand(K, K)
    a_hat = a / a.sum(1, keepdim=True)  # (K, K)
    head = GraphQuery2LabelHead(16, K, z.numpy(), a_hat.numpy(), gcn_depth=2, gcn_hidden=12, d_model=8, ff=16,
                                heads=2)
    w1, w2 = (layer.weight.detach() for layer in head.query_gcn.layers)
    want = a_hat @ (torch.nn.functional.leaky_relu(a_hat @ z @ w1, 0.2) @ w2)  # (K, d)
    assert torch.allclose(head.queries().detach(), want, atol=1e-6)
    twin = Query2LabelHead(16, K, d_model=8, ff=16, heads=2)
    ours = {k: v.shape for k, v in head.state_dict().items() if not k.startswith(("query_gcn", "word_vectors",
                                                                                  "adj_hat"))}
    assert ours == {k: v.shape for k, v in twin.state_dict().items() if k != "query_embed.weight"}
    assert head(torch.randn(3, 16, 2, 2)).shape == (3, K)
    perm = torch.tensor([1, 0, 2, 3, 4])
    head.adj_hat.copy_(a_hat[perm][:, perm])
    assert not torch.allclose(head.queries().detach(), want, atol=1e-3)
    with pytest.raises(ValueError, match="4 word vectors"):
        GraphQuery2LabelHead(16, K, z[:4].numpy(), a_hat.numpy())


# --- optimizers ------------------------------------------------------------------------------------

def test_one_cycle_schedule_is_torchs_one_cycle_lr():
    """``adamw``'s schedule is ``OneCycleLR(max_lr=lr, pct_start=0.2)`` (Query2Label's and ML-Decoder's
    official scripts) at every step, over all epochs × steps."""
    from mlgcn_core.optim import one_cycle_factor

    for total in (10, 57):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, pct_start=0.2)
        for t in range(total):
            assert one_cycle_factor(t, total) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12), t
            opt.step()
            sched.step()


def test_the_optimizer_is_a_registry_choice_in_the_key_when_set():
    """``optimizer``: SGD (the default; every earlier run key unchanged) or AdamW with one cycle; the
    SGD-only fields (momentum, the step schedule) leave an AdamW run's key."""
    from mlgcn_core.optim import lr_factor, make_optimizer

    sgd = load_preset("coco_shaped", {"model": "query2label"})
    adamw = sgd.replace(optimizer="adamw")
    assert "optimizer" not in sgd.key_fields() and "optimizer" in adamw.key_fields()
    assert {"momentum", "lr_steps", "lr_gamma"} <= sgd.key_fields()
    assert not {"momentum", "lr_steps", "lr_gamma", "warmup_epochs"} & adamw.key_fields()
    assert adamw.replace(momentum=0.5, lr_steps=(3,)).key() == adamw.key() != sgd.key()
    model = build_model(adamw, None, [f"c{i}" for i in range(4)], feature_dim=320, backbone=None)
    assert isinstance(make_optimizer(model, adamw), torch.optim.AdamW)
    assert isinstance(make_optimizer(model, sgd), torch.optim.SGD)
    assert lr_factor(adamw, 0, 0, 10) == pytest.approx(1 / 25) and lr_factor(sgd, 0, 0, 10) == 1.0


# --- registry entries, run keys, errors ------------------------------------------------------------

def test_every_model_and_mode_has_a_builder():
    import mlgcn_core.models  # noqa: F401 - registers the builders

    assert set(MODELS.names()) == {"mlgcn", "baseline", *MAP_HEADS}
    assert all(MODELS[n].build is not None for n in MODELS.names())
    assert all(MODES[n].build is not None for n in MODES.names())
    assert [n for n in MODELS.names() if MODELS[n].needs_map] == list(MAP_HEADS)


def check_head_keys(models=MODELS) -> None:
    """Each head's run key holds the fields it reads and no other head's: changing one of its own
    fields changes its key, changing another head's field (or pooling, for a map head) does not."""
    base = load_preset("coco_shaped")
    other_values = {"csra_lambda": 0.3, "csra_temperatures": (1.0, math.inf), "q2l_d_model": 128, "q2l_ff": 512,
                    "q2l_heads": 2, "q2l_encoder_layers": 2, "q2l_decoder_layers": 1, "q2l_dropout": 0.2,
                    "q2l_decoder_self_attn": True, "mld_d_model": 128, "mld_ff": 512, "mld_heads": 4,
                    "mld_groups": 20, "mld_dropout": 0.2}
    assert set(other_values) == HEAD_FIELDS
    for name in MAP_HEADS:
        cfg = base.replace(model=name)
        own = set(models[name].reads)
        assert HEAD_FIELDS & cfg.key_fields() == own - LABEL_FIELDS, name
        for f, v in other_values.items():
            assert (cfg.replace(**{f: v}).key() != cfg.key()) == (f in own), (name, f)
        assert cfg.replace(pooling="avg").key() == cfg.key()  # a map head pools nothing
        assert (cfg.replace(word_vectors="onehot").key() != cfg.key()) == ("word_vectors" in own)
        assert (cfg.replace(tau=0.7, gcn_depth=3).key() != cfg.key()) == ("graph" in own), name
        assert cfg.run_name() == (f"{name}-{cfg.graph}-{cfg.key()}" if "graph" in own else f"{name}-{cfg.key()}")
    for name in ("mlgcn", "baseline"):  # ML-GCN and GMP: no head field in their keys
        cfg = base.replace(model=name)
        assert all(cfg.replace(**{f: v}).key() == cfg.key() for f, v in other_values.items())


def test_each_head_key_holds_only_its_fields():
    check_head_keys()


def test_random_word_vectors_mark_the_word_query_key():
    cfg = load_preset("coco_shaped", {"model": "mldecoder_words", "word_vectors": "random"})
    assert cfg.replace(seed=1).key() != cfg.key()
    assert {"random_vectors": "per seed"} in [e.key_marks for e in cfg.choices()]


@pytest.mark.parametrize("changes, message", [
    ({"model": "foo"}, "model must be one of ('mlgcn', 'baseline', 'csra', 'query2label', 'mldecoder', "
                       "'mldecoder_words', 'query2label_graph'), got 'foo'"),
    ({"optimizer": "adam"}, "optimizer must be one of ('sgd', 'adamw'), got 'adam'"),
    ({"asl_clip": -0.1}, "asl_clip must be in [0, 1], got -0.1"),
    ({"asl_clip": 1.5}, "asl_clip must be in [0, 1], got 1.5"),
    ({"asl_gamma_neg": -1.0}, "asl_gamma_neg must be ≥ 0, got -1.0"),
    ({"asl_gamma_pos": -0.5}, "asl_gamma_pos must be ≥ 0, got -0.5"),
    ({"csra_temperatures": [1, 0]}, "csra_temperatures must be a non-empty list of temperatures > 0"),
    ({"csra_lambda": -0.1}, "csra_lambda must be ≥ 0"),
    ({"q2l_d_model": 250}, "q2l_d_model must be a multiple of 4"),
    ({"mld_d_model": 250}, "mld_d_model must be a multiple of mld_heads (8), got 250"),
    ({"mld_groups": 0}, "mld_groups must be ≥ 1, got 0"),
])
def test_bad_head_and_loss_settings(changes, message):
    with pytest.raises(ValueError) as exc:
        load_preset("coco_shaped", changes)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_map_head_without_a_cached_map_is_refused():
    """features mode caches a map head's input as the frozen maps before the backbone's last
    widening layer; ResNet-101 has none (its 2048-channel map is the smallest form): refused in
    one line, naming the modes that take the map directly."""
    from mlgcn_core.features import check_inputs

    cfg = ExperimentConfig(model="csra", backbone="resnet101")
    with pytest.raises(ValueError, match=r"model='csra' reads the backbone's feature map.*'resnet101'.*"
                                         r"mode='top' or mode='end2end'"):
        check_inputs(cfg)
    check_inputs(cfg.replace(mode="end2end"))
    check_inputs(cfg.replace(model="baseline"))  # a pooled head: the pooled cache, always


# --- ASL against the official formula ----------------------------------------------------------

def official_asl(x: list[list[float]], y: list[list[int]], gamma_neg: float, gamma_pos: float, clip: float):
    """Loss and gradient d loss / d x of ASL as the official class writes it (``losses.py``,
    ``disable_torch_grad_focal_loss=True``), in plain floats: p = σ(x), p_neg = min(1 − p + clip,
    1), L = y log p + (1 − y) log p_neg, w = (1 − p_t)^(γ+ y + γ− (1 − y)), p_t = y p + (1 − y)
    p_neg, loss = −Σ w L with w held constant; d/dx log p = 1 − p and d/dx log p_neg = −p (1 − p)
    / p_neg where p_neg < 1 (0 where clipped at 1). Averaged over the rows, as this package's loss."""
    loss, grad = 0.0, []
    for xr, yr in zip(x, y):
        row = []
        for xi, yi in zip(xr, yr):
            p = 1 / (1 + math.exp(-xi))
            p_neg = min(1 - p + clip, 1.0)
            pt = p if yi else p_neg
            w = (1 - pt) ** (gamma_pos if yi else gamma_neg)
            if yi:
                loss -= w * math.log(p)
                row.append(-w * (1 - p))
            else:
                loss -= w * math.log(p_neg)
                row.append(w * p * (1 - p) / p_neg if 1 - p + clip < 1 else 0.0)
        grad.append(row)
    n = len(x)
    return loss / n, [[g / n for g in row] for row in grad]


ASL_SETTINGS = [(4.0, 1.0, 0.05), (4.0, 0.0, 0.05), (2.0, 0.0, 0.0)]  # class default, ASL's script, Query2Label's


def check_asl(loss_cls=AsymmetricLoss) -> None:
    """At the three settings: the loss value equals the official formula, and the gradient with
    the gradient-free weight (``weight_grad=False``) equals its hand-derived gradient; one literal
    case by hand at (4, 1, 0.05): x = (2, −1, −3.5), y = (1, 0, 0): p = (0.8808, 0.2689, 0.0293);
    0.1192 · −log 0.8808 + 0.2189⁴ · −log 0.7811 + 0 (p ≤ clip: p_m = 0) = 0.015698."""
    x = [[2.0, -1.0, -3.5], [0.3, 1.2, -0.4]]
    y = [[1, 0, 0], [0, 1, 1]]
    for gn, gp, clip in ASL_SETTINGS:
        ref_loss, ref_grad = official_asl(x, y, gn, gp, clip)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        loss = loss_cls(gn, gp, clip, weight_grad=False)(xt, torch.tensor(y, dtype=torch.float64))
        loss.backward()
        assert loss.item() == pytest.approx(ref_loss, rel=1e-6, abs=1e-9), (gn, gp, clip)
        assert np.allclose(xt.grad.numpy(), ref_grad, rtol=1e-5, atol=1e-9), (gn, gp, clip, xt.grad, ref_grad)
    one = loss_cls(4.0, 1.0, 0.05, weight_grad=False)(torch.tensor([[2.0, -1.0, -3.5]]), torch.tensor([[1.0, 0, 0]]))
    assert one.item() == pytest.approx(0.015698, abs=2e-6)


def test_asl_matches_the_official_formula_with_the_gradient_free_weight():
    check_asl()


def test_asl_default_differentiates_its_weight():
    """The package's default (``asl_weight_grad`` true, as it always trained) has the same values
    but another gradient than the official gradient-free weight."""
    x, y = torch.tensor([[2.0, -1.0, 0.3]]), torch.tensor([[1.0, 0.0, 1.0]])
    grads = []
    for weight_grad in (True, False):
        xt = x.clone().requires_grad_(True)
        loss = AsymmetricLoss(4.0, 1.0, 0.05, weight_grad=weight_grad)(xt, y)
        loss.backward()
        grads.append((loss.item(), xt.grad))
    assert grads[0][0] == grads[1][0] and not torch.allclose(grads[0][1], grads[1][1])
    cfg = ExperimentConfig(loss="asl")
    assert cfg.replace(asl_weight_grad=False).key() != cfg.key()  # in the key when set
    assert ExperimentConfig(loss="bce").replace(asl_weight_grad=False).key() == ExperimentConfig(loss="bce").key()


# --- training on the cached map, reading back ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", ["features", "top"])
def test_map_head_trains_and_reads_back(tmp_path, mode):
    """CSRA on the tiny outfits: features mode trains on the cached float16 maps before conv_head
    behind its frozen top (model.pt holds the head only), top mode on the bottom's maps with the
    trainable top; evaluate (images through the whole backbone's map) gives the run's own test
    metrics, model_from_checkpoint(images=False) the run's scores on its cached inputs, predict
    runs on image files."""
    from mlgcn_core.data import OutfitsConfig
    from mlgcn_core.features import feature_cache_path
    from mlgcn_core.inference import evaluate_checkpoint, model_from_checkpoint, predict_images
    from mlgcn_core.train import run_experiment

    cfg = ExperimentConfig(outfits=OutfitsConfig(n_train=96, n_val=40, n_test=48), epochs=2, batch_size=32,
                           model="csra", mode=mode, lr=0.05)
    r = run_experiment(cfg, tmp_path / "runs", progress=False)
    state = torch.load(r.path / "model.pt", weights_only=True)["model"]
    assert any(k.startswith("head.branches.0.scores") for k in state)
    assert any(k.startswith("backbone.") for k in state) == (mode == "top")
    m = evaluate_checkpoint(r.path / "model.pt")
    assert abs(m["mAP"] - r.metrics["mAP"]) < 0.5, (m["mAP"], r.metrics["mAP"])
    images = write_test_scenes(tmp_path, [0, 1])
    predicted = predict_images(r.path / "model.pt", images)
    assert [len(labels) for labels in predicted] == [10, 10]
    if mode == "features":  # the cached float16 maps behind the frozen top: the run's own test scores
        from mlgcn_core.data.sources import load_splits
        from mlgcn_core.metrics import evaluate

        key = load_splits(cfg).key
        z = np.load(feature_cache_path(cfg.backbone, cfg.weights, cfg.image_size, key, "test", 0, half=True))
        assert z["maps"].dtype == np.float16 and z["maps"].shape[1:] == (320, 3, 3)
        model, _, classes = model_from_checkpoint(r.path / "model.pt", images=False)
        with torch.no_grad():
            scores = model(torch.from_numpy(z["maps"]).float()).numpy()  # (n, C)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tiny split: a class may have no positive
            assert evaluate(scores, z["targets"].astype(np.int64))["mAP"] == pytest.approx(r.metrics["mAP"], abs=1e-4)
        for labels, row in zip(predicted, 1 / (1 + np.exp(-scores[:2]))):  # images vs the fp16 cache
            assert all(abs(p - row[classes.index(c)]) < 5e-3 for c, p in labels), (labels, row)


@pytest.mark.slow
def test_graph_query_head_trains_with_adamw_and_reads_back(tmp_path):
    """``query2label_graph`` with AdamW's one cycle on the tiny outfits' cached maps: model.pt keeps
    its word vectors and Â (as ML-GCN's head does), and evaluate reads it back to the run's test mAP;
    its history follows the one-cycle schedule."""
    from mlgcn_core.data import OutfitsConfig
    from mlgcn_core.inference import evaluate_checkpoint
    from mlgcn_core.train import run_experiment

    cfg = ExperimentConfig(outfits=OutfitsConfig(n_train=96, n_val=40, n_test=48), epochs=3, batch_size=32,
                           model="query2label_graph", optimizer="adamw", lr=1e-3, q2l_d_model=64, q2l_ff=128)
    r = run_experiment(cfg, tmp_path / "runs", progress=False)
    state = torch.load(r.path / "model.pt", weights_only=True)["model"]
    assert {"head.word_vectors", "head.adj_hat", "head.query_gcn.layers.1.weight"} <= set(state)
    assert "head.stored_classifiers" not in state and not any(k.startswith("head.query_embed") for k in state)
    assert evaluate_checkpoint(r.path / "model.pt")["mAP"] == pytest.approx(r.metrics["mAP"], abs=0.5)
    lrs = [h["lr"] for h in r.history]  # the last step's lr of each epoch: up, then down to ~0
    assert lrs[0] > lrs[-1] and lrs[-1] < 1e-3 / 100


def test_a_map_head_takes_the_backbones_map_in_end2end_and_top_modes():
    """end2end: the whole backbone's feature map (N, 1280, h, w) goes to the head, not its pooled
    vector; top: the trainable top's map, from the bottom's maps; features: the frozen top, its
    parameters out of the optimizer."""
    from mlgcn_core.optim import make_optimizer

    names = [f"c{i}" for i in range(6)]
    cfg = ExperimentConfig(model="csra", weights=None, mode="end2end")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, said so
        model = build_model(cfg, None, names)
        top = build_model(cfg.replace(mode="top"), None, names)
        frozen = build_model(cfg.replace(mode="features"), None, names)
    x = torch.randn(2, 3, 64, 64)
    assert model.takes_map and model.features(x).shape == (2, 1280, 2, 2)
    assert model(x).shape == (2, 6)
    assert top.features(torch.randn(2, 320, 2, 2)).shape == (2, 1280, 2, 2)
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    groups = make_optimizer(frozen, cfg.replace(mode="features")).param_groups
    assert len(groups) == 1 and sum(p.numel() for p in groups[0]["params"]) == 6 * 1280
    assert frozen(torch.randn(2, 320, 3, 3)).shape == (2, 6)


def test_parallel_runs_prepare_the_map_cache_apart_from_the_pooled_one():
    """run_many prepares each cache once before its workers start: a map head's (features mode) is
    another cache than the pooled heads'; in top mode every head reads the same bottom's maps."""
    from mlgcn_core.scheduler import _feature_source

    base = load_preset("coco_shaped")
    pooled = {_feature_source(base.replace(model=m)) for m in ("mlgcn", "baseline")}
    maps = {_feature_source(base.replace(model=m)) for m in MAP_HEADS}
    assert len(pooled) == len(maps) == 1 and pooled != maps
    assert len({_feature_source(base.replace(model=m, mode="top")) for m in ("mlgcn", *MAP_HEADS)}) == 1
