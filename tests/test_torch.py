"""The optional PyTorch bridge, satsim/torch.py.

Tiers (DESIGN §6): exact identities — fans against PyTorch's own function, reported
statistics against the same numbers computed here from the tensors (float64 models,
so the comparison is to rounding), patch sums exact for constant kernels; seeded
pins — init_ reproduces satsim's own draws; calibration — the intervals of both
estimands cover their truths in R seeded replications (binomial test).
"""

from __future__ import annotations

import doctest
import math
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats
from torch import nn

import satsim.torch as st
from satsim import init
from satsim.saturation import fraction, predicted_fraction_mixture
from satsim.torch import _gradients as _torch_gradients
from satsim.torch import _initialize as _torch_init

T_TANH = math.atanh(1 - 2 * 0.01)  # tanh 'output' criterion at ε = 0.01: |tanh z| > 0.98


def _names(column):
    """A text column as a list, missing entries as None (pandas ≥ 3 stores them as NaN)."""
    return [None if pd.isna(v) else v for v in column]


def _layers():
    """One layer of each kind satsim handles, each with ~10⁴ weights or more."""
    return {
        "linear": nn.Linear(400, 300),
        "conv1d": nn.Conv1d(32, 64, 5),
        "conv2d": nn.Conv2d(32, 64, 3),
        "conv2d_groups": nn.Conv2d(64, 64, 3, groups=4),
        "conv3d": nn.Conv3d(8, 16, 3),
        "conv_transpose2d": nn.ConvTranspose2d(32, 64, 3, groups=2),
    }


# --------------------------------------------------------------------------- the module
def test_import_satsim_does_not_import_torch():
    code = "import satsim, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_says_how_to_install():
    # a finder that hides PyTorch (a None in sys.modules would trip scipy's array-API
    # checks, which look torch up there)
    code = ("import sys, importlib.abc\n"
            "class Hide(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch' or name.startswith('torch.'):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
            "sys.meta_path.insert(0, Hide())\n"
            "try:\n    import satsim.torch\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "satsim.torch needs PyTorch: pip install 'satsim[torch]'"


def test_torch_inside_the_package_is_pytorch():
    # `import torch` in satsim/torch.py is absolute: it must bind PyTorch, not itself
    assert st.torch is torch
    assert st.nn is nn


def test_namespace_is_all():
    dunders = {n for n in vars(st) if n.startswith("__") and n.endswith("__")}
    assert dir(st) == sorted({*st.__all__, *dunders})
    assert st.__all__ == ["InitResult", "LayerGradientsResult", "LayerStatisticsResult",
                          "init_", "init_report", "layer_gradients", "layer_statistics",
                          "load_weights"]


@pytest.mark.parametrize("module", [st, _torch_init, _torch_gradients])
def test_docstring_examples_run(module):
    # init_, init_report and layer_gradients live in private modules (re-exported)
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0
    assert res.failed == 0


# --------------------------------------------------------------------------- (a) fans, init_
@pytest.mark.parametrize("kind", list(_layers()))
def test_fans_are_pytorchs(kind):
    w = _layers()[kind].weight
    assert init.fans(tuple(w.shape)) == nn.init._calculate_fan_in_and_fan_out(w)


@pytest.mark.parametrize("shape", [(3, 5), (7, 2, 3), (4, 6, 2, 3), (2, 3, 1, 4, 5), (1, 1)])
def test_fans_of_shapes(shape):
    assert init.fans(shape) == nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n in init.names() for k in _layers()])
def test_init_realises_the_satsim_variance(name, kind):
    layer = _layers()[kind]
    st.init_(layer, name, rng=20261126)
    w = layer.weight.detach().double().numpy()
    ini = init.get(name)
    fan_in, fan_out = ini.moment_fans(w.shape)  # orthogonal/sparse: the drawn matrix
    var = ini.variance(fan_in, fan_out)
    if var == 0.0:  # zeros / constant
        assert w.var() == 0.0
        return
    # Tolerance from the sampling error: for N i.i.d. entries the sample variance has
    # relative sd √((γ₂ + 2)/N) (γ₂ the excess kurtosis); 5 sd.  Orthogonal and sparse
    # entries are dependent in the direction that makes s² *less* variable (fixed
    # Frobenius norm; exactly k zeros per column), so this is conservative for them.
    kurt = ini.excess_kurtosis(fan_in, fan_out)
    tol = 5 * math.sqrt((kurt + 2) / w.size)
    assert w.var() == pytest.approx(var, rel=tol)
    assert w.mean() == pytest.approx(ini.mean(fan_in, fan_out), abs=5 * math.sqrt(var / w.size)
                                     * 3)  # ×3: sparse/orthogonal entries are dependent


def _input_shape(layer):
    """One example's shape for a layer of _layers(): its input channels (or features)
    and a small spatial size per kernel dimension."""
    if isinstance(layer, nn.Linear):
        return (layer.in_features,)
    return (layer.in_channels, *(6 for _ in layer.kernel_size))


@pytest.mark.parametrize("kind", list(_layers()))
def test_orthogonal_conv_variance_is_the_drawn_matrix(kind):
    # Exact, not statistical: a (rows, cols) semi-orthogonal matrix times gain has
    # ‖W‖_F² = gain²·min(rows, cols), so the mean square of its entries is
    # gain²/max(rows, cols) to rounding.  PyTorch's orthogonal_ flattens a kernel
    # (out, in, *k) to rows = out, cols = in·k; check the identity on torch's own draw,
    # then that satsim's stated variance (at moment_fans) is that number, in init_'s
    # table and in layer_statistics' convention column.
    layer = _layers()[kind]
    shape = tuple(layer.weight.shape)
    rows, cols = shape[0], math.prod(shape[1:])
    gain = 1.7
    expected = gain**2 / max(rows, cols)
    w = torch.empty(shape, dtype=torch.float64)
    nn.init.orthogonal_(w, gain=gain, generator=torch.Generator().manual_seed(3))
    assert float((w**2).mean()) == pytest.approx(expected, rel=1e-12)  # rounding only
    ini = init.Orthogonal(gain)
    assert ini.variance(*ini.moment_fans(shape)) == pytest.approx(expected, rel=1e-15)
    assert ini.excess_kurtosis(*ini.moment_fans(shape)) == -6 / (max(rows, cols) + 2)
    drawn = ini.sample(shape, rng=3)
    assert float((drawn**2).mean()) == pytest.approx(expected, rel=1e-12)
    st.init_(layer, ini, rng=3)
    table = st.init_report(layer).to_frame()
    assert table.loc[0, "variance"] == pytest.approx(expected, rel=1e-15)
    x = torch.randn((4, *_input_shape(layer)), generator=torch.Generator().manual_seed(0))
    stats = st.layer_statistics(layer, x).to_frame()
    assert stats.loc[0, "weight_var_convention"] == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("kind", list(_layers()))
def test_sparse_conv_variance_counts_zeros_per_column_of_out(kind):
    # Exact: the drawn (out, in·k) matrix has ceil(sparsity·out) zeros in every column,
    # so one entry is zero with probability ceil(sparsity·out)/out; the variance of an
    # entry is (1 − that)·std².
    layer = _layers()[kind]
    shape = tuple(layer.weight.shape)
    ini = init.Sparse(sparsity=0.3, std=0.5)
    w = ini.sample(shape, rng=1).reshape(shape[0], -1)
    k = math.ceil(0.3 * shape[0])
    assert ((w == 0).sum(axis=0) == k).all()
    assert ini.variance(*ini.moment_fans(shape)) == pytest.approx((1 - k / shape[0]) * 0.25,
                                                                 rel=1e-15)


def test_moment_fans_of_elementwise_schemes_are_pytorchs_fans():
    for shape in [(30, 20), (64, 32, 3, 3), (16, 8, 3, 3, 3)]:
        want = nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        for name in ("he_normal", "glorot_uniform", "nielsen", "torch_linear"):
            assert init.get(name).moment_fans(shape) == want
    # dense layers: every scheme, coupled ones included, at the layer's own fans
    for name in init.names():
        assert init.get(name).moment_fans((30, 20)) == (20, 30)


@pytest.mark.parametrize("kind", list(_layers()))
def test_init_draws_exactly_satsims_samples(kind):
    # layer k draws its weight from the first of two streams spawned from the k-th
    # stream spawned from rng: init_ is Initializer.sample on PyTorch's shape
    net = nn.Sequential(nn.Linear(3, 4), _layers()[kind])
    st.init_(net, "he_uniform", rng=7)
    streams = np.random.default_rng(7).spawn(2)
    for layer, stream in zip(net, streams, strict=True):
        w_rng, _ = stream.spawn(2)
        expected = init.get("he_uniform").sample(tuple(layer.weight.shape), rng=w_rng)
        assert torch.equal(layer.weight, torch.from_numpy(expected).float())


def _var_tol(n):
    # 5 sd of a sample variance's relative error, sd(s²)/σ² = √(2/n) for normal draws
    # (and smaller for uniform ones, kurtosis < 3)
    return 5 * math.sqrt(2 / n)


@pytest.mark.parametrize("scheme", ["he_normal", "glorot_normal", "lecun_uniform"])
def test_init_draws_every_attention_projection_with_its_own_fans(scheme):
    layer = nn.TransformerEncoderLayer(64, 4)
    attn = layer.self_attn
    before = attn.in_proj_weight.detach().clone()
    st.init_(layer, scheme, rng=11)
    w = attn.in_proj_weight.detach().double()
    ini = init.get(scheme)
    rows = st.init_report(layer).table.set_index("parameter")
    for j, p in enumerate("qkv"):
        third = w[64 * j:64 * (j + 1)]
        # the stated fans are PyTorch's of the (64, 64) projection itself, not of the
        # stacked (192, 64) tensor (fan_out 192, which would shrink Glorot's variance)
        fans = nn.init._calculate_fan_in_and_fan_out(third)
        assert fans == (64, 64)
        assert tuple(rows.loc[f"self_attn.in_proj_weight[{p}]", ["fan_in", "fan_out"]]) == fans
        assert float(third.var(unbiased=False)) == pytest.approx(
            ini.variance(*fans), rel=_var_tol(third.numel()))
        assert not torch.equal(third.float(), before[64 * j:64 * (j + 1)])
    for lin in (attn.out_proj, layer.linear1, layer.linear2):
        fans = nn.init._calculate_fan_in_and_fan_out(lin.weight)
        assert float(lin.weight.detach().double().var(unbiased=False)) == pytest.approx(
            ini.variance(*fans), rel=_var_tol(lin.weight.numel()))
    # LayerNorm scale/shift left at PyTorch's 1 and 0, and said so
    assert st.init_report(layer).left_alone == ("norm1.weight", "norm1.bias", "norm2.weight",
                                                "norm2.bias")
    assert all(bool((n.weight == 1).all() and (n.bias == 0).all())
               for n in (layer.norm1, layer.norm2))


def test_init_attention_projections_are_satsims_draws():
    # q, k, v: three streams spawned from the module's stream, weight from the first
    # of two spawned from each — the documented stream layout, so the draw is pinned
    attn = nn.MultiheadAttention(8, 2)
    st.init_(attn, "glorot_uniform", bias=None, rng=5)
    attn_stream, _ = np.random.default_rng(5).spawn(2)  # the MHA, then its out_proj
    for j, stream in enumerate(attn_stream.spawn(3)):
        w_rng, _ = stream.spawn(2)
        expected = init.get("glorot_uniform").sample((8, 8), rng=w_rng)
        assert torch.equal(attn.in_proj_weight[8 * j:8 * (j + 1)],
                           torch.from_numpy(expected).float())
    assert bool((attn.in_proj_bias == 0).all() and (attn.out_proj.bias == 0).all())


def test_init_separate_key_and_value_dimensions():
    attn = nn.MultiheadAttention(64, 4, kdim=32, vdim=16, add_bias_kv=True)
    bias_k = attn.bias_k.detach().clone()
    st.init_(attn, "he_normal", rng=2)
    for p, fan_in in (("q", 64), ("k", 32), ("v", 16)):
        w = getattr(attn, f"{p}_proj_weight").detach().double()
        fans = nn.init._calculate_fan_in_and_fan_out(w)
        assert fans == (fan_in, 64)
        assert float(w.var(unbiased=False)) == pytest.approx(
            2 / fan_in, rel=_var_tol(w.numel()))  # He: 2/fan_in
    assert torch.equal(attn.bias_k, bias_k)
    assert set(st.init_report(attn).left_alone) == {"bias_k", "bias_v"}


def test_init_embedding_fans_padding_and_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 32, padding_idx=0)
            self.head = nn.Linear(32, 1000, bias=False)
            self.head.weight = self.emb.weight  # tied input and output embeddings

    net = st.init_(Tied(), "he_normal", rng=3)
    w = net.emb.weight.detach().double()
    # fan_in = embedding_dim = 32, as torch's own fan function reads the (1000, 32) tensor
    assert nn.init._calculate_fan_in_and_fan_out(w) == (32, 1000)
    assert bool((w[0] == 0).all())  # padding row back to zero, as PyTorch does
    assert float(w[1:].var(unbiased=False)) == pytest.approx(2 / 32, rel=_var_tol(999 * 32))
    table = st.init_report(net).table.set_index("parameter")
    assert table.loc["emb.weight", "action"] == "initialized"
    assert table.loc["head.weight", "action"] == "tied"  # drawn once, as emb.weight


def test_init_report_needs_init_and_is_cleared_by_load_weights(tmp_path):
    net = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="init_ has not initialized `module`"):
        st.init_report(net)
    st.init_(net, "he_normal", rng=0)
    assert st.init_report(net).table.action.tolist() == ["initialized", "kept"]
    torch.save(nn.Linear(3, 2).state_dict(), tmp_path / "w.pt")
    st.load_weights(net, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="init_ has not initialized"):
        st.init_report(net)


@pytest.mark.parametrize(("satsim_name", "torch_init"), [
    ("he_normal", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
    ("he_uniform", lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    ("lecun_normal", lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear")),
    ("glorot_normal", nn.init.xavier_normal_),
    ("glorot_uniform", nn.init.xavier_uniform_),
    ("torch_linear", lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
])
@pytest.mark.parametrize("kind", ["linear", "conv2d_groups", "conv_transpose2d"])
def test_presets_have_the_variance_of_their_torch_counterparts(satsim_name, torch_init, kind):
    # the same fans give the same law: PyTorch's realised variance matches satsim's
    w = _layers()[kind].weight.detach().double()
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.random.default_generator.set_state(gen.get_state())
        torch_init(w)
    fan_in, fan_out = init.fans(tuple(w.shape))
    var = init.get(satsim_name).variance(fan_in, fan_out)
    tol = 5 * math.sqrt(2 / w.numel())  # 5 sd of s² for kurtosis ≤ 0 laws
    assert float(w.var(unbiased=False)) == pytest.approx(var, rel=tol)


def test_torch_default_init_is_the_torch_linear_convention():
    layer = nn.Linear(500, 400)
    res = st.layer_statistics(layer, np.random.default_rng(0).random((4, 500)))
    row = res.table.iloc[0]
    assert row.convention == "torch_linear"
    assert row.weight_var_convention == pytest.approx(1 / 1500)
    assert row.bias_var_convention == pytest.approx(1 / 1500)
    assert row.weight_var == pytest.approx(1 / 1500, rel=5 * math.sqrt(0.8 / 200_000))


# --------------------------------------------------------------------------- (b) by hand
def _mlp():
    return nn.Sequential(nn.Linear(784, 300), nn.Tanh(), nn.Linear(300, 100), nn.Tanh(),
                         nn.Linear(100, 10)).double()


def _t_half(per_input, level=0.95):
    n = len(per_input)
    return stats.t.ppf(0.5 + level / 2, n - 1) * per_input.std(ddof=1) / math.sqrt(n)


def test_mlp_statistics_equal_the_tensors():
    net = st.init_(_mlp(), "nielsen", bias="standard_normal", rng=1)
    X = np.random.default_rng(2).random((128, 784))
    res = st.layer_statistics(net, torch.from_numpy(X))
    table = res.table
    assert list(table.layer) == ["0", "2", "4"]
    assert _names(table.activation) == ["tanh", "tanh", None]
    assert _names(table.activation_module) == ["Tanh", "Tanh", None]
    h = torch.from_numpy(X)
    for i, lin in enumerate([net[0], net[2], net[4]]):
        W, b = lin.weight.detach(), lin.bias.detach()
        z = (h @ W.T + b).numpy()  # z = W x + b for every input (a row of h)
        row = table.iloc[i]
        assert (row.fan_in, row.fan_out, row.weight_shape) == (W.shape[1], W.shape[0],
                                                               tuple(W.shape))
        assert (row.n_inputs, row.n_units, row.n_positions) == (128, W.shape[0], 1)
        assert row.weight_mean == pytest.approx(float(W.mean()), rel=1e-12)
        assert row.weight_var == pytest.approx(float(W.var(unbiased=False)), rel=1e-12)
        assert row.weight_var_convention == pytest.approx(1 / W.shape[1])
        assert row.bias_var == pytest.approx(float(b.var(unbiased=False)), rel=1e-12)
        assert row.bias_var_convention == 1.0
        assert row.z_mean == pytest.approx(z.mean(), rel=1e-10)
        assert row.z_std == pytest.approx(z.std(), rel=1e-10)
        # model estimand: the inputs are the independent draws (per-input means, t)
        half = _t_half(z.mean(axis=1))
        assert (row.z_mean_ci_low, row.z_mean_ci_high) == pytest.approx(
            (z.mean() - half, z.mean() + half), rel=1e-9)
        dev2 = ((z - z.mean()) ** 2).mean(axis=1)
        half = _t_half(dev2)
        assert (row.z_std_ci_low, row.z_std_ci_high) == pytest.approx(
            (math.sqrt(z.var() - half), math.sqrt(z.var() + half)), rel=1e-9)
        # prediction: i.i.d. weights with the realised moments, given each input
        m_w, v_w = float(W.mean()), float(W.var(unbiased=False))
        m_b, v_b = float(b.mean()), float(b.var(unbiased=False))
        hn = h.numpy()
        mu = m_w * hn.sum(axis=1) + m_b
        sd = np.sqrt(v_w * (hn**2).sum(axis=1) + v_b)
        assert row.z_mean_predicted == pytest.approx(mu.mean(), rel=1e-10)
        assert row.z_std_predicted == pytest.approx(math.sqrt(np.mean(sd**2) + mu.var()),
                                                    rel=1e-10)
        if i < 2:
            sat = np.abs(z) > T_TANH
            assert row.criterion == "output"
            assert row.saturated == pytest.approx(sat.mean(), abs=1e-15)
            half = _t_half(sat.mean(axis=1))
            assert (row.saturated_ci_low, row.saturated_ci_high) == pytest.approx(
                (max(0, sat.mean() - half), sat.mean() + half), rel=1e-9)
            pred = stats.norm.cdf((-T_TANH - mu) / sd) + stats.norm.sf((T_TANH - mu) / sd)
            assert row.saturated_predicted == pytest.approx(pred.mean(), rel=1e-9)
            # … which is satsim's mixture prediction with those moments
            assert row.saturated_predicted == pytest.approx(predicted_fraction_mixture(
                hn, weights=init.Normal(m_w, math.sqrt(v_w)),
                bias=init.Normal(m_b, math.sqrt(v_b)), activation="tanh"), rel=1e-9)
            per = res.per_input[res.per_input.layer == row.layer]
            np.testing.assert_allclose(per.saturated, sat.mean(axis=1), atol=1e-15)
            h = torch.tanh(torch.from_numpy(z))
        else:
            assert np.isnan([row.saturated, row.saturated_ci_low, row.saturated_predicted]).all()
            assert pd.isna(row.criterion)
        per = res.per_input[res.per_input.layer == row.layer]
        np.testing.assert_allclose(per.z_mean, z.mean(axis=1), rtol=1e-10)
        np.testing.assert_allclose(per.z_std, z.std(axis=1), rtol=1e-10)


@pytest.mark.parametrize("estimand", ["model", "population"])
def test_saturation_interval_is_satsims_estimator(estimand):
    # for a dense layer the bridge's interval is satsim.saturation.fraction's:
    # "model" clusters on inputs — fraction's "probe_set" (clusters on columns) of z.T;
    # "population" is fraction's two-way interval of z itself
    net = st.init_(nn.Sequential(nn.Linear(50, 40), nn.Sigmoid()).double(), "standard_normal",
                   bias="standard_normal", rng=3)
    X = np.random.default_rng(4).random((70, 50))
    row = st.layer_statistics(net, X, estimand=estimand).table.iloc[0]
    z = (torch.from_numpy(X) @ net[0].weight.T + net[0].bias).detach().numpy()
    ref = (fraction(z.T, activation="sigmoid", estimand="probe_set") if estimand == "model"
           else fraction(z, activation="sigmoid", estimand="population"))
    assert row.saturated == pytest.approx(ref.estimate, rel=1e-12)
    assert (row.saturated_ci_low, row.saturated_ci_high) == pytest.approx(
        (ref.ci_low, ref.ci_high), rel=1e-9)


def _conv_net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(8, 6, 3, padding=1, groups=2, padding_mode="reflect"), nn.Tanh(),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 5)).double()


def _patch_sums(x, kernel, groups, stride=1):
    """Σx and ‖x‖² of every patch, by unfold, shape (inputs, groups, positions)."""
    per_group = x.shape[1] // groups
    s1, s2 = [], []
    for g in range(groups):
        cols = F.unfold(x[:, g * per_group:(g + 1) * per_group], kernel, stride=stride)
        s1.append(cols.sum(1))
        s2.append((cols**2).sum(1))
    return torch.stack(s1, 1).numpy(), torch.stack(s2, 1).numpy()


def test_conv_statistics_equal_the_tensors():
    net = st.init_(_conv_net(), "he_normal", bias="normal", rng=5)
    x = torch.from_numpy(np.random.default_rng(6).standard_normal((40, 3, 8, 8)))
    res = st.layer_statistics(net, x)
    table = res.table
    assert list(table.kind) == ["Conv2d", "Conv2d", "Linear"]
    assert _names(table.activation) == ["relu", "tanh", None]
    c1, c2 = net[0], net[2]
    z1 = F.conv2d(x, c1.weight, c1.bias, stride=2, padding=1).detach()
    padded = F.pad(torch.relu(z1), (1, 1, 1, 1), mode="reflect")
    z2 = F.conv2d(padded, c2.weight, c2.bias, groups=2).detach()
    layers = [(z1, F.pad(x, (1, 1, 1, 1)), 1, 2, 0.0, math.inf), (z2, padded, 2, 1, -T_TANH,
                                                                    T_TANH)]
    for row, layer, (z, xin, groups, stride, lo, hi) in zip(
            table.itertuples(), [c1, c2], layers, strict=False):
        zn = z.numpy()
        assert (row.n_units, row.n_positions) == (z.shape[1], 16)
        assert row.z_mean == pytest.approx(zn.mean(), rel=1e-10)
        assert row.z_std == pytest.approx(zn.std(), rel=1e-10)
        sat = (zn <= 0) if row.activation == "relu" else (np.abs(zn) > hi)
        assert row.criterion == ("inactive" if row.activation == "relu" else "output")
        assert row.saturated == pytest.approx(sat.mean(), abs=1e-15)
        half = _t_half(sat.mean(axis=(1, 2, 3)))
        assert row.saturated_ci_low == pytest.approx(max(0.0, sat.mean() - half), abs=1e-12)
        # prediction from unfolded patches (zero or reflect padding already applied)
        s1, s2 = _patch_sums(xin, 3, groups, stride)
        w, b = layer.weight.detach(), layer.bias.detach()
        mu = float(w.mean()) * s1 + float(b.mean())
        sd = np.sqrt(float(w.var(unbiased=False)) * s2 + float(b.var(unbiased=False)))
        assert row.z_mean_predicted == pytest.approx(mu.mean(), rel=1e-10)
        assert row.z_std_predicted == pytest.approx(math.sqrt(np.mean(sd**2) + mu.var()),
                                                    rel=1e-10)
        pred = stats.norm.cdf((lo - mu) / sd) + stats.norm.sf((hi - mu) / sd)
        assert row.saturated_predicted == pytest.approx(pred.mean(), rel=1e-9)


@pytest.mark.parametrize(("layer", "shape", "kwargs"), [
    (nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2), (5, 4, 17), {}),
    (nn.Conv2d(4, 6, 3, groups=2, padding="same", padding_mode="circular"), (5, 4, 7, 6), {}),
    (nn.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=(1, 0), padding_mode="replicate"),
     (5, 4, 7, 6), {}),
    (nn.Conv3d(2, 4, 3, padding=1, groups=2), (5, 2, 4, 5, 3), {}),
    (nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2, output_padding=1), (5, 4, 9), {}),
    (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, dilation=2), (5, 4, 5, 6),
     {"output_size": [12, 14]}),
])
def test_patch_sums_are_exact_for_a_constant_kernel(layer, shape, kwargs):
    # with constant weights c and bias d, z = c·Σ(patch) + d exactly, and the
    # prediction's variance term is 0: predicted mean and std are the measured ones
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x, **kwargs)

    net = st.init_(Wrap().double(), init.Constant(0.5), bias=init.Constant(0.25))
    x = torch.from_numpy(np.random.default_rng(7).standard_normal(shape))
    row = st.layer_statistics(net, x).table.iloc[0]
    assert row.weight_var == 0.0
    assert row.z_mean_predicted == pytest.approx(row.z_mean, rel=1e-12)
    assert row.z_std_predicted == pytest.approx(row.z_std, rel=1e-12)


@pytest.mark.parametrize(("layer", "x_shape"), [
    (nn.Linear(784, 2000, bias=False), (64, 784)),
    (nn.Conv2d(16, 512, 3, bias=False), (16, 16, 12, 12)),
])
def test_predicted_std_matches_a_fresh_wide_layer(layer, x_shape):
    # Given the inputs, a unit's mean square over the batch is wᵀΣw (Σ = XᵀX/n) with
    # relative sd ≤ √2 for Gaussian weights; the C units (channels) are independent,
    # so the measured z variance has relative sd ≤ √(2/C) around the prediction and
    # its std ≤ √(1/(2C)); 4 sd.  (Pixel-like inputs in [0, 1) make Σ nearly rank one:
    # the worst case.)
    st.init_(layer, "he_normal", rng=8)
    x = np.random.default_rng(9).random(x_shape)
    row = st.layer_statistics(layer, x).table.iloc[0]
    tol = 4 * math.sqrt(1 / (2 * row.n_units))
    assert row.z_std == pytest.approx(row.z_std_predicted, rel=tol)


# --------------------------------------------------------------------------- activations
def test_following_activation_is_the_module_fed_z():
    net = nn.Sequential(
        nn.Linear(10, 8), nn.Dropout(0.5), nn.LeakyReLU(0.2),   # eval Dropout: still z
        nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(),          # ReLU sees BN(z), not z
        nn.Linear(8, 8), nn.ELU(alpha=0.5),
        nn.Linear(8, 8), nn.Identity(), nn.Softsign(),          # Identity is a placeholder
        nn.Linear(8, 8), nn.SiLU(),                             # no satsim model of SiLU
        nn.Linear(8, 8), nn.Identity(),
        nn.Linear(8, 8), nn.Hardtanh(), nn.Linear(8, 8), nn.ReLU6(),
        nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8), nn.GELU(approximate="tanh"),
        nn.Linear(8, 8), nn.Softplus(), nn.Linear(8, 2), nn.Sigmoid())
    net.train()
    bn = net[4]
    before = bn.running_mean.clone()
    res = st.layer_statistics(net, np.random.default_rng(0).standard_normal((32, 10)))
    t = res.table
    assert _names(t.activation) == ["leaky_relu", None, "elu", "softsign", None, "linear",
                                  "hard_tanh", None, "gelu", None, "softplus", "sigmoid"]
    assert _names(t.activation_module) == ["LeakyReLU", None, "ELU", "Softsign", "SiLU",
                                         "Identity", "Hardtanh", "ReLU6", "GELU", "GELU",
                                         "Softplus", "Sigmoid"]
    assert torch.equal(bn.running_mean, before)  # train-mode BN: statistics written back
    assert net.training and bn.training
    assert t.saturated[4:5].isna().all()
    assert t.loc[5, "saturated"] == 0.0  # linear never saturates


class _BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8, momentum=None)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.fc(h.flatten(1))


def _state_bytes(net):
    return {k: v.detach().cpu().numpy().tobytes() for k, v in net.state_dict().items()}


def test_batchnorm_runs_in_train_mode_and_state_is_restored():
    net = st.init_(_BNNet().double(), "he_normal", rng=0)
    with torch.no_grad():  # running statistics that differ from the init's 0 and 1
        net.bn1.running_mean.fill_(0.3)
        net.bn1.running_var.fill_(2.0)
        net.bn1.num_batches_tracked.fill_(7)
    net.eval()
    before = _state_bytes(net)
    X = np.random.default_rng(1).random((40, 3, 8, 8))
    x = torch.from_numpy(X)

    def bn(z, layer, train):  # batch normalization written out, not F.batch_norm
        if train:  # the batch's mean and biased variance per channel
            mean = z.mean(dim=(0, 2, 3), keepdim=True)
            var = z.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        else:
            mean = layer.running_mean.view(1, -1, 1, 1)
            var = layer.running_var.view(1, -1, 1, 1)
        return ((z - mean) / torch.sqrt(var + layer.eps) * layer.weight.view(1, -1, 1, 1)
                + layer.bias.view(1, -1, 1, 1))

    for mode in ("train", "eval"):
        with torch.no_grad():
            z1 = net.conv1(x)
            z2 = net.conv2(torch.relu(bn(z1, net.bn1, mode == "train")))
            z3 = net.fc(torch.relu(bn(z2, net.bn2, mode == "train")).flatten(1))
        kw = {} if mode == "train" else {"batchnorm": "eval"}
        res = st.layer_statistics(net, X, **kw)
        t = res.table.set_index("layer")
        assert res.batchnorm == mode
        for name, z in (("conv1", z1), ("conv2", z2), ("fc", z3)):
            # float64 model and hand forward: equal to rounding
            assert t.loc[name, "z_std"] == pytest.approx(float(z.std(unbiased=False)), rel=1e-9)
            assert t.loc[name, "z_mean"] == pytest.approx(float(z.mean()), rel=1e-9, abs=1e-12)
        assert _state_bytes(net) == before  # running stats, num_batches_tracked: to the bit
        assert not any(m.training for m in net.modules())
    # the two modes differ after the first BN (running var 2, mean 0.3 vs the batch's)
    train = st.layer_statistics(net, X).table.z_std
    evalm = st.layer_statistics(net, X, batchnorm="eval").table.z_std
    assert train[0] == evalm[0] and abs(train[1] - evalm[1]) > 0.05 * train[1]


def _attention_by_hand(x, attn):
    """q, k, v, the heads' concatenated outputs A and out_proj's z, written out."""
    e, h = attn.embed_dim, attn.num_heads
    w, b = attn.in_proj_weight, attn.in_proj_bias
    q, k, v = (x @ w[j * e:(j + 1) * e].T + b[j * e:(j + 1) * e] for j in range(3))
    n, length, _ = x.shape

    def heads(t):  # (n, L, E) → (n, h, L, E/h)
        return t.reshape(n, length, h, e // h).transpose(1, 2)

    scores = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(e // h)
    a = (torch.softmax(scores, -1) @ heads(v)).transpose(1, 2).reshape(n, length, e)
    return q, k, v, a, a @ attn.out_proj.weight.T + attn.out_proj.bias


def test_attention_projections_are_measured():
    layer = st.init_(nn.TransformerEncoderLayer(64, 4, batch_first=True).double(),
                     "glorot_normal", bias="torch_linear", rng=2)
    layer.eval()
    before = _state_bytes(layer)
    X = np.random.default_rng(3).standard_normal((16, 10, 64))
    x = torch.from_numpy(X)
    res = st.layer_statistics(layer, X, activation="tanh")
    t = res.table.set_index("layer")
    assert list(t.index) == ["self_attn.q", "self_attn.k", "self_attn.v",
                             "self_attn.out_proj", "linear1", "linear2"]
    assert res.not_run == ()
    assert t.loc["self_attn.k", "kind"] == "MultiheadAttention.k"
    # a scalar activation goes to no attention projection (their z feeds the attention);
    # linear1's F.relu is read from the layer's `activation`, not replaced by tanh
    assert t.loc[["self_attn.q", "self_attn.out_proj"], "activation"].isna().all()
    assert t.loc["linear1", "activation"] == "relu"
    with torch.no_grad():
        q, k, v, a, out = _attention_by_hand(x, layer.self_attn)
        z1 = layer.linear1(layer.norm1(x + out))
    for name, z in (("self_attn.q", q), ("self_attn.k", k), ("self_attn.v", v),
                    ("self_attn.out_proj", out), ("linear1", z1)):
        # float64 throughout: the module's attention and the hand one agree to rounding
        assert t.loc[name, "z_std"] == pytest.approx(float(z.std(unbiased=False)), rel=1e-9)
        assert t.loc[name, "z_mean"] == pytest.approx(float(z.mean()), rel=1e-9, abs=1e-12)
    assert (t.loc["self_attn.q", "n_units"], t.loc["self_attn.q", "n_positions"]) == (64, 10)
    # out_proj's prediction uses its real input A: v_w‖a‖² + v_b and m_w Σa + m_b per token
    wo, bo = layer.self_attn.out_proj.weight.detach(), layer.self_attn.out_proj.bias.detach()
    m_w, v_w = float(wo.mean()), float(wo.var(unbiased=False))
    m_b, v_b = float(bo.mean()), float(bo.var(unbiased=False))
    an = a.numpy()
    mu = m_w * an.sum(-1) + m_b
    pred = math.sqrt(np.mean(v_w * (an**2).sum(-1) + v_b) + mu.var())
    assert t.loc["self_attn.out_proj", "z_std_predicted"] == pytest.approx(pred, rel=1e-9)
    assert _state_bytes(layer) == before  # out_proj written back to the bit
    assert torch.backends.mha.get_fastpath_enabled()


def test_attention_with_key_and_value_dimensions_called_directly():
    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True)

        def forward(self, x):
            return self.attn(x, x[..., :5], value=x[..., :3])[0]

    net = st.init_(Cross().double(), "he_normal", rng=0)
    X = np.random.default_rng(1).standard_normal((6, 4, 8))
    x = torch.from_numpy(X)
    t = st.layer_statistics(net, X).table.set_index("layer")
    attn = net.attn
    with torch.no_grad():
        k = x[..., :5] @ attn.k_proj_weight.T + attn.in_proj_bias[8:16]
        v = x[..., :3] @ attn.v_proj_weight.T + attn.in_proj_bias[16:]
    assert tuple(t.fan_in) == (8, 5, 3, 8)
    assert t.loc["attn.k", "z_std"] == pytest.approx(float(k.std(unbiased=False)), rel=1e-9)
    assert t.loc["attn.v", "z_std"] == pytest.approx(float(v.std(unbiased=False)), rel=1e-9)
    assert bool(t.loc["attn.out_proj", "is_output"])


# --------------------------------------------------------------------------- gradients
def _per_example_by_autograd(pieces, weights, x, y, loss):
    """‖∂L_i/∂z‖² per layer and ‖∂L_i/∂W‖² per weight, one example at a time.

    ``pieces`` maps the hidden state to the next, each returning (z, h): the z whose
    gradient is wanted and what the next piece gets."""
    d_sq, g_sq = [], []
    for i in range(x.shape[0]):
        h, zs = x[i:i + 1], []
        for piece in pieces:
            z, h = piece(h)
            zs.append(z)
        li = loss(h, y[i:i + 1]).sum()
        grads = torch.autograd.grad(li, zs + weights)
        d_sq.append([float(g.pow(2).sum()) for g in grads[:len(zs)]])
        g_sq.append([float(g.pow(2).sum()) for g in grads[len(zs):]])
    return np.array(d_sq).T, np.array(g_sq).T


def _ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


def _check_gradients(res, d_sq, g_sq, n):
    t, per = res.table, res.per_input
    for k, name in enumerate(t.layer):
        mine = per[per.layer == name]
        # float64 model: the hooks, the vectorised vjp and the loop agree to rounding
        np.testing.assert_allclose(mine.delta_sq, d_sq[k], rtol=1e-9, atol=1e-300)
        np.testing.assert_allclose(mine.grad_w_sq, g_sq[k], rtol=1e-9, atol=1e-300)
        for col, v in (("delta_sq", d_sq[k]), ("grad_w_sq", g_sq[k])):
            half = _t_half(v)  # t interval over inputs, from the loop's values
            assert t.loc[k, col] == pytest.approx(v.mean(), rel=1e-9)
            assert t.loc[k, f"{col}_ci_low"] == pytest.approx(v.mean() - half, rel=1e-9)
            assert t.loc[k, f"{col}_ci_high"] == pytest.approx(v.mean() + half, rel=1e-9)
        assert t.n_inputs[k] == n


def test_mlp_gradients_equal_autograd_per_example():
    net = nn.Sequential(nn.Linear(12, 30), nn.Tanh(), nn.Linear(30, 20), nn.ReLU(inplace=True),
                        nn.Linear(20, 5)).double()
    st.init_(net, "glorot_normal", bias="standard_normal", rng=0)
    X = np.random.default_rng(1).standard_normal((40, 12))
    y = np.random.default_rng(2).integers(0, 5, 40)
    res = st.layer_gradients(net, X, y)
    x, yt = torch.from_numpy(X), torch.from_numpy(y)
    pieces = [lambda h: (lambda z: (z, torch.tanh(z)))(net[0](h)),
              lambda h: (lambda z: (z, torch.relu(z)))(net[2](h)),
              lambda h: (lambda z: (z, z))(net[4](h))]
    weights = [net[0].weight, net[2].weight, net[4].weight]
    d_sq, g_sq = _per_example_by_autograd(pieces, weights, x, yt, _ce)
    _check_gradients(res, d_sq, g_sq, 40)
    # for a Linear once per example, ‖∂L_i/∂W‖² = ‖δ_i‖² ‖a_i‖² (here layer 0: a = x)
    np.testing.assert_allclose(g_sq[0], d_sq[0] * (X**2).sum(1), rtol=1e-9)
    # the batch-mean loss's gradient, from one autograd call on the whole batch
    gw = torch.autograd.grad(_ce(net(x), yt).mean(), net[2].weight)[0]
    assert res.table.grad_w_sq_batch[1] == pytest.approx(float(gw.pow(2).sum()), rel=1e-9)
    assert res.loss == pytest.approx(float(_ce(net(x), yt).mean().detach()), rel=1e-12)
    assert all(p.grad is None for p in net.parameters())  # .grad untouched


def test_default_labels_come_from_rng():
    net = nn.Sequential(nn.Linear(4, 3)).double()
    X = np.random.default_rng(0).standard_normal((10, 4))
    drawn = st.layer_gradients(net, X, rng=5)
    given = st.layer_gradients(net, X, np.random.default_rng(5).integers(0, 3, size=10))
    assert drawn.table.delta_sq[0] == given.table.delta_sq[0]
    assert "drawn uniformly from 3 classes" in drawn.labels


def test_cnn_gradients_equal_autograd_per_example():
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, groups=2,
                        stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(8 * 3 * 3, 4)).double()
    st.init_(net, "he_normal", bias="torch_linear", rng=3)
    X = np.random.default_rng(4).standard_normal((12, 3, 8, 8))
    y = np.arange(12) % 4
    res = st.layer_gradients(net, X, y)
    x, yt = torch.from_numpy(X), torch.from_numpy(y)
    pieces = [lambda h: (lambda z: (z, torch.relu(z)))(net[0](h)),
              lambda h: (lambda z: (z, torch.tanh(z).flatten(1)))(net[2](h)),
              lambda h: (lambda z: (z, z))(net[5](h))]
    d_sq, g_sq = _per_example_by_autograd(pieces, [net[0].weight, net[2].weight,
                                                   net[5].weight], x, yt, _ce)
    assert list(res.table.layer) == ["0", "2", "5"]
    _check_gradients(res, d_sq, g_sq, 12)


def test_gradients_of_a_linear_over_positions_with_a_given_loss():
    # a Linear on (n, T, F): ∂L_i/∂W = Σ_t δ_it a_itᵀ is not ‖δ‖²‖a‖²; the loss is the
    # user's, one value per example
    net = nn.Sequential(nn.Linear(6, 10), nn.GELU(), nn.Linear(10, 3)).double()
    X = np.random.default_rng(0).standard_normal((9, 4, 6))
    x = torch.from_numpy(X)

    def loss(out, _y):
        return out.pow(2).sum((1, 2))

    res = st.layer_gradients(net, X, loss=loss)
    pieces = [lambda h: (lambda z: (z, F.gelu(z)))(net[0](h)),
              lambda h: (lambda z: (z, z))(net[2](h))]
    d_sq, g_sq = _per_example_by_autograd(pieces, [net[0].weight, net[2].weight], x,
                                          torch.zeros(9), loss)
    _check_gradients(res, d_sq, g_sq, 9)


def test_gradients_with_batchnorm_in_train_mode():
    net = _BNNet().double()
    st.init_(net, "he_normal", rng=1)
    before = _state_bytes(net)
    X = np.random.default_rng(2).random((16, 3, 8, 8))
    y = np.arange(16) % 5
    res = st.layer_gradients(net, X, y)
    assert _state_bytes(net) == before
    # reference: a train-mode forward (batch statistics) of the batch-mean loss
    ref = _BNNet().double()
    ref.load_state_dict(net.state_dict())
    ref.train()
    x, yt = torch.from_numpy(X), torch.from_numpy(y)
    grads = torch.autograd.grad(_ce(ref(x), yt).mean(), [ref.conv1.weight, ref.fc.weight])
    assert res.table.grad_w_sq_batch[0] == pytest.approx(float(grads[0].pow(2).sum()), rel=1e-9)
    assert res.table.grad_w_sq_batch[2] == pytest.approx(float(grads[1].pow(2).sum()), rel=1e-9)
    ev = st.layer_gradients(net, X, y, batchnorm="eval")
    assert abs(ev.table.grad_w_sq_batch[0] / res.table.grad_w_sq_batch[0] - 1) > 0.05


# --------------------------------------------------------------------------- mean field
def _gauss_mean(f, q):
    """∫ f(√q z) φ(z) dz by scipy's adaptive quadrature (independent of satsim)."""
    return integrate.quad(lambda z: f(math.sqrt(q) * z) * stats.norm.pdf(z), -np.inf, np.inf,
                          epsabs=1e-13, epsrel=1e-12)[0]


def _tanh2(u):
    return math.tanh(u) ** 2


def _dtanh2(u):
    return (1 - math.tanh(u) ** 2) ** 2


def _q_star(sw, sb):
    # the root of V(q) − q, V(q) = σ_w² E tanh² + σ_b² (one root for σ_b² > 0)
    from scipy.optimize import brentq
    return brentq(lambda q: sw * _gauss_mean(_tanh2, q) + sb - q, 1e-12, sw + sb + 1,
                  xtol=1e-14, rtol=1e-13)


def _chi1(sw, sb):
    return sw * _gauss_mean(_dtanh2, _q_star(sw, sb))


def test_mean_field_view_is_carried_through_depth():
    net = nn.Sequential(nn.Linear(50, 40), nn.Tanh(), nn.Linear(40, 30), nn.Tanh(),
                        nn.Linear(30, 5)).double()
    st.init_(net, "glorot_normal", bias=init.Normal(0.0, 0.4), rng=6)
    X = np.random.default_rng(7).standard_normal((20, 50))
    t = st.layer_statistics(net, X).table
    assert list(t.prediction) == ["from the input", "carried", "carried"]
    v = [(float(net[k].weight.detach().var(unbiased=False)),
          float(net[k].bias.detach().var(unbiased=False))) for k in (0, 2, 4)]
    sw = [v[0][0] * 50, v[1][0] * 40, v[2][0] * 30]
    np.testing.assert_allclose(t.sigma_w2, sw, rtol=1e-12)
    # q¹ per input from the data, then the length map by quadrature — never the
    # layer's measured input
    q1 = v[0][0] * (X**2).sum(1) + v[0][1]
    q2 = np.array([sw[1] * _gauss_mean(_tanh2, q) + v[1][1] for q in q1])
    q3 = np.array([sw[2] * _gauss_mean(_tanh2, q) + v[2][1] for q in q2])
    # satsim's tanh rule and scipy's quad agree to ~1e-10 (meanfield's docstring: the
    # 600-node rule is ≲ 1e-13 relative); 1e-8 leaves room for quad's own error
    for k, q in enumerate((q1, q2, q3)):
        assert t.q_meanfield[k] == pytest.approx(q.mean(), rel=1e-8)
    # tanh saturates when |z| > atanh(0.98): the mixture of normal tails
    sat2 = np.mean(2 * stats.norm.sf(T_TANH / np.sqrt(q2)))
    assert t.saturated_meanfield[1] == pytest.approx(sat2, rel=1e-7)
    # χ1 at the layer's fixed point, the phase and the critical σ_w², all by quad
    for k in (0, 1):
        chi = _chi1(sw[k], v[k][1])
        assert t.chi1[k] == pytest.approx(chi, rel=1e-7)
        assert t.phase[k] == ("ordered" if chi < 1 else "chaotic")
        from scipy.optimize import brentq
        crit = brentq(lambda s, b=v[k][1]: _chi1(s, b) - 1, 1.0, 20.0, xtol=1e-12)
        assert t.critical_sigma_w2[k] == pytest.approx(crit, rel=1e-6)
        assert t.distance_to_critical[k] == pytest.approx(sw[k] - crit, rel=1e-6, abs=1e-6)
        # local slope at the carried q: σ_w² mean_i E tanh'(√q_i z)²
        qk = (q1, q2)[k]
        local = sw[k] * np.mean([_gauss_mean(_dtanh2, q) for q in qk])
        assert t.chi1_at_q[k] == pytest.approx(local, rel=1e-7)
    assert t.chi1.isna()[2] and _names(t.phase)[2] is None  # the logits: no activation


def test_backward_mean_field_next_to_the_gradients():
    net = nn.Sequential(nn.Linear(50, 40), nn.Tanh(), nn.Linear(40, 30), nn.Tanh(),
                        nn.Linear(30, 5)).double()
    st.init_(net, "glorot_normal", bias=init.Normal(0.0, 0.4), rng=6)
    X = np.random.default_rng(7).standard_normal((20, 50))
    y = np.arange(20) % 5
    t = st.layer_gradients(net, X, y).table
    x, yt = torch.from_numpy(X), torch.from_numpy(y)
    pieces = [lambda h: (lambda z: (z, torch.tanh(z)))(net[0](h)),
              lambda h: (lambda z: (z, torch.tanh(z)))(net[2](h)),
              lambda h: (lambda z: (z, z))(net[4](h))]
    d_sq, _ = _per_example_by_autograd(pieces, [net[4].weight], x, yt, _ce)
    v = [(float(net[k].weight.detach().var(unbiased=False)),
          float(net[k].bias.detach().var(unbiased=False))) for k in (0, 2, 4)]
    # forward q per input by quadrature, then δ down from the measured top layer:
    # E‖δ^l‖² = σ_w²(l+1) E tanh'(z^l)² ‖δ^{l+1}‖² (Schoenholz et al. 2017, eq. 9)
    q1 = v[0][0] * (X**2).sum(1) + v[0][1]
    q2 = np.array([40 * v[1][0] * _gauss_mean(_tanh2, q) + v[1][1] for q in q1])
    pred2 = 30 * v[2][0] * np.array([_gauss_mean(_dtanh2, q) for q in q2]) * d_sq[2]
    pred1 = 40 * v[1][0] * np.array([_gauss_mean(_dtanh2, q) for q in q1]) * pred2
    assert list(t.backward_prediction) == ["carried", "carried",
                                           "anchor: the measured δ (the recursion starts here)"]
    # satsim's quadrature against scipy's quad: ~1e-10 (as in the forward test)
    assert t.delta_sq_meanfield[1] == pytest.approx(pred2.mean(), rel=1e-8)
    assert t.delta_sq_meanfield[0] == pytest.approx(pred1.mean(), rel=1e-8)
    # ‖∂L/∂W‖² ≈ ‖δ‖²‖a‖² with the predicted δ and the measured input (here x)
    assert t.grad_w_sq_meanfield[0] == pytest.approx(np.mean(pred1 * (X**2).sum(1)), rel=1e-8)
    assert math.isnan(t.delta_sq_meanfield[2])


def test_backward_view_is_not_claimed_across_a_norm_or_a_convolution():
    t = st.layer_gradients(_BNNet().double(), np.random.default_rng(0).random((8, 3, 8, 8)),
                           np.arange(8) % 5).table
    assert t.backward_prediction[2].startswith("anchor")
    # conv2's z goes through bn2 before fc: BatchNorm's gradient explosion, named
    assert t.backward_prediction[1].startswith("not predicted: BatchNorm's gradient explosion")
    assert t.delta_sq_meanfield.isna().all()


class _ResidualLN(nn.Module):
    """A residual MLP block with LayerNorm and GELU."""

    def __init__(self):
        super().__init__()
        self.inp, self.ln = nn.Linear(16, 32), nn.LayerNorm(32)
        self.fc1, self.act, self.fc2 = nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 32)
        self.out = nn.Linear(32, 4)

    def forward(self, x):
        h = self.inp(x)
        h = h + self.fc2(self.act(self.fc1(self.ln(h))))
        return self.out(h)


class _SharedTied(nn.Module):
    """A nested model: one layer used twice, an output layer tied to the input layer."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 8)
        self.body = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.dec = nn.Linear(8, 8)
        self.dec.weight = self.enc.weight

    def forward(self, x):
        h = torch.tanh(self.enc(x))
        h = self.body(self.body(h))
        return self.dec(h)


def test_first_layer_after_a_norm_is_predicted():
    net = nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X = np.random.default_rng(0).standard_normal((10, 6))
    t = st.layer_statistics(net, X).table
    assert t.prediction[0].startswith("predicted: after LayerNorm")
    assert t.prediction[1] == "carried"
    # LayerNorm's output has mean square v/(v + ε) per example (γ = 1, β = 0), so
    # q = σ_w² v/(v + ε) + σ_b²; written out here, rounding only
    v = X.var(axis=1)
    w, b = net[1].weight.detach().numpy(), net[1].bias.detach().numpy()
    q = 6 * w.var() * np.mean(v / (v + 1e-5)) + b.var()
    assert t.q_meanfield[0] == pytest.approx(q, rel=1e-12)
    assert "z_std_meanfield" in st.layer_statistics(net, np.ones((2, 6))).summary()


@pytest.mark.parametrize(("build", "shape", "expected"), [
    (_ResidualLN, (30, 16), {
        "inp": "from the input", "fc1": "predicted: after LayerNorm", "fc2": "carried",
        "out": "predicted: a residual sum h1 = inp.z + fc2.z"}),
    (_BNNet, (30, 3, 8, 8), {
        "conv1": "from the input", "conv2": "not predicted: after BatchNorm2d",
        "fc": "not predicted: after BatchNorm2d"}),
    (lambda: nn.TransformerEncoderLayer(32, 4, batch_first=True), (6, 5, 32), {
        "self_attn.q": "from the input", "self_attn.v": "from the input",
        "self_attn.out_proj": "not predicted: attention output",
        "linear1": "predicted: after LayerNorm", "linear2": "carried"}),
    (_SharedTied, (30, 8), {
        "enc": "from the input", "body.0": "not predicted: the layer is called 2 times",
        "dec": "not predicted: the layer before it is called 2 times"}),
])
def test_modern_blocks_are_labelled(build, shape, expected):
    net = build().double()
    t = st.layer_statistics(net, np.random.default_rng(0).standard_normal(shape)).table
    labels = dict(zip(t.layer, t.prediction, strict=True))
    for layer, start in expected.items():
        assert labels[layer].startswith(start), (layer, labels[layer])


def _sq_loss(out, _y):
    return out.pow(2).flatten(1).sum(1)


@pytest.mark.parametrize(("build", "shape", "loss"), [
    (_ResidualLN, (10, 16), _ce),
    (lambda: nn.TransformerEncoderLayer(16, 2, dim_feedforward=24, batch_first=True,
                                        dropout=0.0), (6, 5, 16), _sq_loss),
    (_SharedTied, (10, 8), _ce),
])
def test_gradients_of_modern_blocks_equal_autograd_per_example(build, shape, loss):
    # every Linear module's calls hooked by hand; per example, δ by autograd and the
    # module's own weight-gradient contribution Σ_calls Σ_positions δ aᵀ (for the tied
    # weight: this module's share, not the shared tensor's total gradient)
    net = build().double()
    X = np.random.default_rng(0).standard_normal(shape)
    y = np.arange(shape[0]) % 4
    res = st.layer_gradients(net, X, y, loss=loss)
    lins = {n: m for n, m in net.named_modules() if type(m) is nn.Linear}
    seen = {}

    def hook(name):
        def fn(mod, args, out):
            seen.setdefault(name, []).append((args[0], out))
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in lins.items()]
    d_sq, g_sq = {n: [] for n in lins}, {n: [] for n in lins}
    net.eval()
    try:
        for i in range(shape[0]):
            seen.clear()
            out = net(torch.from_numpy(X[i:i + 1]))
            li = loss(out, torch.from_numpy(y[i:i + 1])).sum()
            names = [n for n in lins if n in seen]
            zs = [z for n in names for _, z in seen[n]]
            grads = iter(torch.autograd.grad(li, zs))
            for n in names:
                d = [(a, next(grads)) for a, _ in seen[n]]
                d_sq[n].append(sum(float(g.pow(2).sum()) for _, g in d))
                gw = sum(torch.einsum("...o,...i->oi", g, a.detach()) for a, g in d)
                g_sq[n].append(float(gw.pow(2).sum()))
    finally:
        for h in handles:
            h.remove()
    per = res.per_input
    assert set(res.table.layer) == {n for n in lins if d_sq[n]}
    for n in res.table.layer:
        mine = per[per.layer == n]
        np.testing.assert_allclose(mine.delta_sq, d_sq[n], rtol=1e-9, atol=1e-300)
        np.testing.assert_allclose(mine.grad_w_sq, g_sq[n], rtol=1e-9, atol=1e-300)


def test_slope_and_alpha_set_the_thresholds():
    net = nn.Sequential(nn.Linear(30, 40), nn.ELU(alpha=0.5)).double()
    st.init_(net, "standard_normal", rng=0)
    X = np.random.default_rng(1).standard_normal((50, 30))
    row = st.layer_statistics(net, X).table.iloc[0]
    z = (torch.from_numpy(X) @ net[0].weight.T + net[0].bias).detach().numpy()
    # ELU's derivative α e^z on z < 0 falls below δ·max(1, α) = 0.01 at z = ln(0.01/α)
    assert row.criterion == "derivative"
    assert row.saturated == pytest.approx(np.mean(z < math.log(0.01 / 0.5)))


def test_inplace_relu_sees_the_preactivation():
    net = nn.Sequential(nn.Linear(20, 30), nn.ReLU(inplace=True)).double()
    st.init_(net, "he_normal", bias="standard_normal", rng=0)
    X = np.random.default_rng(1).standard_normal((40, 20))
    row = st.layer_statistics(net, X).table.iloc[0]
    z = (torch.from_numpy(X) @ net[0].weight.T + net[0].bias).detach().numpy()
    assert row.activation == "relu"
    assert row.z_mean == pytest.approx(z.mean())  # not the rectified output
    assert row.saturated == pytest.approx(np.mean(z <= 0))


class _Functional(nn.Module):
    """Layers called out of registration order, one twice, one never; tanh functional."""

    def __init__(self):
        super().__init__()
        self.late = nn.Linear(6, 6)
        self.early = nn.Linear(4, 6)
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        h = torch.tanh(self.early(x))
        return self.late(torch.tanh(self.late(h)))


def test_functional_model_order_repeats_and_given_activations():
    net = st.init_(_Functional().double(), "glorot_normal", rng=0)
    X = np.random.default_rng(1).standard_normal((25, 4))
    res = st.layer_statistics(net, X)
    assert list(res.table.layer) == ["early", "late"]  # forward order
    assert res.not_run == ("unused",)
    assert res.table.activation.isna().all()  # torch.tanh cannot be seen
    late = res.table.iloc[1]
    assert (late.n_units, late.n_positions) == (6, 2)  # two calls: two positions per input
    x = torch.from_numpy(X)
    z1 = net.early(x)
    z2 = net.late(torch.tanh(z1))
    z3 = net.late(torch.tanh(z2))
    both = torch.stack([z2, z3], -1).detach().numpy()
    assert late.z_std == pytest.approx(both.std())
    for spec in ({"early": "tanh", "late": "tanh"}, ["tanh", "tanh"]):
        t = st.layer_statistics(net, X, activation=spec).table
        assert _names(t.activation) == ["tanh", "tanh"]
        assert _names(t.activation_source) == ["given", "given"]
        assert t.saturated[0] == pytest.approx(np.mean(np.abs(z1.detach().numpy()) > T_TANH))
    # one value for all layers skips the output layer: `late`'s second call is the logits
    t = st.layer_statistics(net, X, activation="tanh").table
    assert _names(t.activation) == ["tanh", None]
    assert list(t.is_output) == [False, True]
    t = st.layer_statistics(net, X, activation={"early": "relu"}, criterion=["derivative",
                                                                            None]).table
    assert _names(t.activation) == ["relu", None]
    assert t.criterion[0] == "derivative"
    assert t.saturated[0] == pytest.approx(np.mean(z1.detach().numpy() <= 0))


def _relu_mlp():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 5)).double()


def test_a_given_activation_never_replaces_a_detected_one():
    net = st.init_(_relu_mlp(), "he_normal", bias="standard_normal", rng=3)
    X = np.random.default_rng(4).standard_normal((200, 20))
    x = torch.from_numpy(X)
    z0 = net[0](x).detach().numpy()
    z2 = net[2](net[1](net[0](x))).detach().numpy()
    t = st.layer_statistics(net, X, activation="tanh").table
    # the ReLU layers stay ReLU (dead units: z <= 0), the logits get no activation
    assert _names(t.activation) == ["relu", "relu", None]
    assert _names(t.activation_source) == ["detected", "detected", None]
    assert list(t.is_output) == [False, False, True]
    assert t.saturated[0] == pytest.approx(np.mean(z0 <= 0))
    assert t.saturated[1] == pytest.approx(np.mean(z2 <= 0))
    assert t.saturated[2] != t.saturated[2]  # NaN: nothing to saturate
    # a per-layer entry that disagrees with the module is an error saying how to force
    with pytest.raises(ValueError, match=r"layer '2': activation\['2'\]='tanh' conflicts "
                       r"with .* ReLU \('relu'\); .* activation_override=\{'2': 'tanh'\}"):
        st.layer_statistics(net, X, activation={"2": "tanh"})
    with pytest.raises(ValueError, match=r"activation\[1\]=None conflicts"):
        st.layer_statistics(net, X, activation=["relu", None, None])
    # equal to the detected one: accepted; the logits take a per-layer entry
    t = st.layer_statistics(net, X, activation={"2": "relu", "4": "tanh"}).table
    assert _names(t.activation) == ["relu", "relu", "tanh"]
    # forcing, and the forced value measured on z
    t = st.layer_statistics(net, X, activation_override={"2": "tanh"}).table
    assert _names(t.activation) == ["relu", "tanh", None]
    assert t.activation_source[1] == "override"
    assert t.saturated[1] == pytest.approx(np.mean(np.abs(z2) > T_TANH))
    # the same layer in both options, differently: an error naming both
    with pytest.raises(ValueError, match=r"activation\['4'\]='tanh' and "
                       r"activation_override\['4'\]='sigmoid'"):
        st.layer_statistics(net, X, activation={"4": "tanh"},
                            activation_override={"4": "sigmoid"})


def test_an_unmodelled_activation_module_is_not_replaced_silently():
    net = nn.Sequential(nn.Linear(6, 8), nn.SiLU(), nn.Linear(8, 2)).double()
    X = np.random.default_rng(0).standard_normal((10, 6))
    t = st.layer_statistics(net, X, activation="tanh").table
    assert _names(t.activation) == [None, None]  # SiLU seen, not modelled; logits
    with pytest.raises(ValueError, match=r"SiLU \(which satsim does not model\)"):
        st.layer_statistics(net, X, activation={"0": "tanh"})


def test_plot_and_rendering():
    net = st.init_(_mlp(), "nielsen", rng=0)
    res = st.layer_statistics(net, np.random.default_rng(0).random((16, 784)))
    ax = res.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "2"]
    assert [t.get_text() for t in res.plot(value="z_std").get_yticklabels()] == ["0", "2", "4"]
    assert "LayerStatisticsResult" in repr(res) and "weight_var" in res.summary()
    assert "<table" in res._repr_html_()
    frame = res.to_frame()
    frame.loc[0, "z_mean"] = 99.0
    assert res.table.loc[0, "z_mean"] != 99.0  # to_frame is a copy


# --------------------------------------------------------------------------- (c) calibration
def _coverage(hits):
    return stats.binomtest(int(np.sum(hits)), len(hits), 0.95, alternative="less").pvalue


def test_model_intervals_cover_this_networks_truth():
    # One fixed network; R batches of x ~ N(0, I).  Then z_c = w_c·x + b_c ~ N(b_c,
    # ‖w_c‖²) exactly, so the truths for *these* weights are closed forms.
    R, n, d, m = 200, 80, 20, 30
    net = st.init_(nn.Sequential(nn.Linear(d, m), nn.Tanh()).double(),
                   init.Normal(0.0, 0.6), bias=init.Normal(0.0, 0.5), rng=11)
    W, b = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    s = np.linalg.norm(W, axis=1)
    sat_true = np.mean(stats.norm.cdf((-T_TANH - b) / s) + stats.norm.sf((T_TANH - b) / s))
    mean_true = b.mean()
    std_true = math.sqrt(np.mean(s**2 + b**2) - b.mean() ** 2)
    assert 0.2 < sat_true < 0.6
    hits = {"saturated": [], "z_mean": [], "z_std": []}
    truth = {"saturated": sat_true, "z_mean": mean_true, "z_std": std_true}
    for stream in np.random.default_rng(12).spawn(R):
        row = st.layer_statistics(net, stream.standard_normal((n, d))).table.iloc[0]
        for k in hits:
            hits[k].append(row[f"{k}_ci_low"] <= truth[k] <= row[f"{k}_ci_high"])
    for k, h in hits.items():
        assert _coverage(h) > 0.01, (k, np.mean(h))


def test_population_intervals_cover_the_weight_law_truth():
    # Each replication draws new N(0, 1/d) weights (no bias) and new x ~ N(0, I):
    # z | x ~ N(0, ‖x‖²/d) with ‖x‖² ~ χ²_d, so P(sat) = E[2Φ(−t/√(Q/d))], Var z = 1.
    R, n, d, m = 200, 60, 20, 30
    q = stats.chi2(d)
    sat_true = integrate.quad(lambda v: 2 * stats.norm.sf(T_TANH / math.sqrt(v / d)) * q.pdf(v),
                              0, np.inf)[0]
    truth = {"saturated": sat_true, "z_mean": 0.0, "z_std": 1.0}
    hits = {k: [] for k in truth}
    net = nn.Sequential(nn.Linear(d, m), nn.Tanh()).double()
    for stream in np.random.default_rng(13).spawn(R):
        w_rng, x_rng = stream.spawn(2)
        st.init_(net, "nielsen", bias=None, rng=w_rng)
        row = st.layer_statistics(net, x_rng.standard_normal((n, d)),
                                  estimand="population").table.iloc[0]
        for k in hits:
            hits[k].append(row[f"{k}_ci_low"] <= truth[k] <= row[f"{k}_ci_high"])
    for k, h in hits.items():
        assert _coverage(h) > 0.01, (k, np.mean(h))


# --------------------------------------------------------------------------- (d) hooks
def _no_hooks(module):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.act, self.b = nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3)

    def forward(self, x):
        self.b(self.act(self.a(x)))
        raise RuntimeError("boom")


def test_hooks_removed_and_training_flags_restored():
    net = _mlp()
    net.train()
    net[1].eval()
    res = st.layer_statistics(net, np.random.default_rng(0).random((4, 784)))
    assert len(res.table) == 3
    assert _no_hooks(net)
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]
    bad = _Raises()
    bad.act.eval()
    with pytest.raises(RuntimeError, match="boom"):
        st.layer_statistics(bad, np.zeros((4, 3)))
    assert _no_hooks(bad)
    assert (bad.training, bad.a.training, bad.act.training) == (True, True, False)


def test_weights_untouched_by_layer_statistics():
    net = st.init_(_conv_net(), "orthogonal", rng=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    st.layer_statistics(net, np.random.default_rng(0).random((3, 3, 8, 8)))
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


class _BatchFolding(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):  # (B, T, 4) folded to (B·T, 4): rows are no longer inputs
        return self.fc(x.reshape(-1, 4))


def test_layer_whose_rows_are_not_the_batch_is_refused():
    net = _BatchFolding()
    with pytest.raises(ValueError, match="first dimension to be the batch"):
        st.layer_statistics(net, np.zeros((3, 5, 4)))
    assert _no_hooks(net)


# --------------------------------------------------------------------------- (e) init_
def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_init_is_deterministic_and_spawns_streams():
    a = _params(st.init_(_conv_net(), "he_normal", bias="normal", rng=42))
    b = _params(st.init_(_conv_net(), init.get("he_normal"), bias=init.get("normal"),
                         rng=np.random.default_rng(42)))
    c = _params(st.init_(_conv_net(), "he_normal", bias="normal",
                         rng=np.random.SeedSequence(42)))
    d = _params(st.init_(_conv_net(), "he_normal", bias="normal", rng=43))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    assert not torch.equal(a[0], d[0])
    # weights do not depend on the bias option (separate streams)
    e = _params(st.init_(_conv_net(), "he_normal", rng=42))  # biases kept
    assert all(torch.equal(x, y) for x, y in zip(a[::2], e[::2], strict=True))
    # different layers get different streams
    net = st.init_(nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 5)), "standard_normal", rng=0)
    assert not torch.equal(net[0].weight, net[1].weight)


def test_init_bias_options():
    net = nn.Sequential(nn.Linear(400, 2000), nn.Linear(2000, 3))
    kept = net[0].bias.detach().clone()
    st.init_(net, "he_normal", rng=0)
    assert torch.equal(net[0].bias, kept)
    assert not hasattr(net[0], "_satsim_bias_init")
    st.init_(net, "he_normal", bias=None, rng=0)
    assert not net[0].bias.any()
    st.init_(net, "he_normal", bias="torch_linear", rng=0)
    # a bias is drawn with its layer's fans: U(±1/√fan_in), fan_in = 400, not 2000
    assert 0.049 < float(net[0].bias.detach().abs().max()) <= 1 / math.sqrt(400)
    row = st.layer_statistics(net, np.random.default_rng(0).random((4, 400))).table.iloc[0]
    assert row.convention == "he_normal"
    assert row.weight_var_convention == pytest.approx(2 / 400)
    assert row.bias_var_convention == pytest.approx(1 / 1200)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_init_keeps_dtype(dtype):
    layer = nn.Linear(30, 20).to(dtype)
    st.init_(layer, "lecun_uniform", bias="zeros", rng=0)
    assert layer.weight.dtype == dtype
    bound = math.sqrt(3 / 30)
    assert 0.9 * bound < float(layer.weight.detach().abs().max()) <= bound * 1.01


def test_init_leaves_module_untouched_when_an_initializer_fails():
    class Broken(init.Initializer):
        def draw(self, shape, fan_in, fan_out, rng):
            if len(shape) > 2:
                raise RuntimeError("no kernels")
            return rng.standard_normal(shape)

    net = nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 3))
    before = _params(net)
    try:
        broken = Broken()
    except TypeError:  # pragma: no cover - satsim.init without the draw() hook
        pytest.skip("satsim.init has no user draw() hook here")
    with pytest.raises(RuntimeError, match="no kernels"):
        st.init_(net, broken, rng=0)
    assert all(torch.equal(x, y) for x, y in zip(before, _params(net), strict=True))


# --------------------------------------------------------------------------- (f) loading
def test_load_weights_round_trip_clears_init_record(tmp_path):
    src = st.init_(_conv_net(), "he_normal", bias="normal", rng=0)
    path = tmp_path / "w.pt"
    torch.save(src.state_dict(), path)
    dst = st.init_(_conv_net(), "orthogonal", rng=1)
    assert st.load_weights(dst, path) is dst
    assert all(torch.equal(x, y) for x, y in zip(_params(src), _params(dst), strict=True))
    assert not hasattr(dst[0], "_satsim_init")  # loaded weights: the default convention
    row = st.layer_statistics(dst, np.zeros((2, 3, 8, 8))).table.iloc[0]
    assert row.convention == "torch_linear"


class _Payload:
    """Unpickling this would run code (write a file): weights_only must refuse it."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_load_weights_refuses_pickled_objects(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with path.open("wb") as fh:  # what torch.save writes, with an object in it
        torch.save({"0.weight": torch.zeros(8, 3, 3, 3), "x": _Payload(str(target))}, fh)
    net = _conv_net()
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        st.load_weights(net, path)
    assert not target.exists()
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Payload(str(target)), protocol=2))  # torch.load's own
    with pytest.raises(ValueError, match="weights_only"):
        st.load_weights(net, raw)
    assert not target.exists()


def test_load_weights_needs_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match="must hold a state dict"):
        st.load_weights(nn.Linear(2, 2), path)


def test_load_weights_safetensors(tmp_path, monkeypatch):
    net = st.init_(nn.Linear(4, 3), "he_normal", rng=0)
    path = tmp_path / "w.safetensors"
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        st.load_weights(net, path)
    monkeypatch.undo()
    save_file = pytest.importorskip("safetensors.torch").save_file
    save_file(net.state_dict(), str(path))
    dst = st.load_weights(nn.Linear(4, 3), path)
    assert torch.equal(dst.weight, net.weight)


# --------------------------------------------------------------------------- (g) bad input
_X = np.zeros((4, 784))

BAD = [
    (lambda: st.layer_statistics("net", _X), TypeError, "`module` must be a torch.nn.Module"),
    (lambda: st.layer_statistics(nn.Sequential(nn.Tanh()), _X), ValueError,
     "no Linear or Conv layer"),
    (lambda: st.layer_statistics(_mlp(), "x"), TypeError, "`x` must be a torch.Tensor"),
    (lambda: st.layer_statistics(_mlp(), [["a"]]), TypeError, "`x` must be a torch.Tensor"),
    (lambda: st.layer_statistics(_mlp(), np.zeros((1, 784))), ValueError, "at least 2 inputs"),
    (lambda: st.layer_statistics(_mlp(), torch.tensor(1.0)), ValueError, "at least 2 inputs"),
    (lambda: st.layer_statistics(_mlp(), _X, activation="tanhh"), ValueError,
     "'sigmoid', 'tanh'"),
    (lambda: st.layer_statistics(_mlp(), _X, activation={"9": "tanh"}), ValueError,
     "names layers the module does not have: '9'"),
    (lambda: st.layer_statistics(_mlp(), _X, activation={"0": "nope"}), ValueError,
     r"activation\['0'\]"),
    (lambda: st.layer_statistics(_mlp(), _X, activation=["tanh"]), ValueError,
     "one entry per layer that runs"),
    (lambda: st.layer_statistics(_mlp(), _X, criterion="edge"), ValueError,
     "`criterion` must be one of"),
    (lambda: st.layer_statistics(_mlp(), _X, activation_override={"0": "relu"},
                                 criterion="output"), ValueError, "layer '0' .relu."),
    (lambda: st.layer_statistics(_mlp(), _X, activation_override="relu"), TypeError,
     "activation_override='relu'"),
    (lambda: st.layer_statistics(_mlp(), _X, activation_override={"7": "relu"}), ValueError,
     "names layers the module does not have: '7'"),
    (lambda: st.layer_statistics(_mlp(), _X, epsilon=0), ValueError, "epsilon=0"),
    (lambda: st.layer_statistics(_mlp(), _X, delta=1.0), ValueError, "delta=1.0"),
    (lambda: st.layer_statistics(_mlp(), _X, confidence_level=1), ValueError,
     "confidence_level=1"),
    (lambda: st.layer_statistics(_mlp(), _X, batchnorm="running"), ValueError,
     "batchnorm='running'"),
    (lambda: st.layer_statistics(_mlp(), _X, estimand="probe_set"), ValueError,
     "'model', 'population'"),
    (lambda: st.layer_statistics(_mlp(), _X, convention="kaiming"), ValueError, "convention"),
    (lambda: st.layer_statistics(_mlp(), np.zeros((4, 5))), RuntimeError, "cannot be multiplied"),
    (lambda: st.layer_gradients(None, _X), TypeError, "`module` must be a torch.nn.Module"),
    (lambda: st.layer_gradients(_mlp(), _X, loss="ce"), TypeError, "loss='ce'"),
    (lambda: st.layer_gradients(_mlp(), _X, batchnorm="x"), ValueError, "batchnorm='x'"),
    (lambda: st.layer_gradients(_mlp(), _X, confidence_level=2), ValueError,
     "confidence_level=2"),
    (lambda: st.layer_gradients(nn.Linear(3, 2), np.zeros((4, 5, 3))), ValueError,
     r"\(n, classes\) = \(4, C\)"),
    (lambda: st.layer_gradients(nn.Linear(3, 2), np.zeros((4, 3)), loss=lambda o, y: o.sum()),
     ValueError, r"one loss per example, shape \(4,\)"),
    (lambda: st.init_(None, "he_normal"), TypeError, "`module` must be a torch.nn.Module"),
    (lambda: st.init_(nn.ReLU(), "he_normal"), ValueError, "no Linear or Conv layer"),
    (lambda: st.init_(nn.LayerNorm(4), "he_normal"), ValueError, "MultiheadAttention or "
     "Embedding to initialize; got a LayerNorm"),
    (lambda: st.init_report("net"), TypeError, "`module` must be a torch.nn.Module"),
    (lambda: st.init_(_mlp(), "he"), ValueError, "`initializer` must be"),
    (lambda: st.init_(_mlp(), "he_normal", bias="orthogonal"), ValueError, "elementwise"),
    (lambda: st.init_(_mlp(), "he_normal", bias="kept"), ValueError, "`bias` must be"),
    (lambda: st.init_(_mlp(), "he_normal", rng=1.5), TypeError, "rng=1.5"),
    (lambda: st.init_(_mlp(), "he_normal", rng=np.random.RandomState(0)), TypeError,
     "RandomState"),
    (lambda: st.init_(nn.LazyLinear(3), "he_normal"), ValueError, "run one forward pass"),
    (lambda: st.load_weights(3, "w.pt"), TypeError, "`module` must be"),
    (lambda: st.load_weights(_mlp(), 3), TypeError, "path=3"),
    (lambda: st.load_weights(_mlp(), "w.pt", strict="yes"), TypeError, "strict='yes'"),
]


@pytest.mark.parametrize(("call", "exc", "match"), BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_frame_types():
    res = st.layer_statistics(_mlp(), np.random.default_rng(0).random((3, 784)))
    assert isinstance(res.to_frame(), pd.DataFrame)
    assert res.to_frame().columns[0] == "layer"
    with pytest.raises(AttributeError):
        res.estimand = "population"  # frozen
