r"""Modern blocks in satsim.torch's mean-field view (issue 20 §3): residual sums,
LayerNorm and train-mode BatchNorm, predicted against Monte Carlo over random networks.

The reference is always a Monte Carlo written here: R = 100 independently initialized
networks (weights N(0, σ_w²/fan_in), biases N(0, σ_b²), drawn from spawned NumPy
generators), each fed its own batch of 32 N(0, I) inputs; per Linear layer the
measured q is the mean of z² over units and inputs.  Two comparisons:

* satsim's ``q_meanfield`` on K of those networks (K = 24 residual, all 100 for the
  cheaper norm nets): it uses each network's realised σ_w², σ_b² and inputs, so the
  comparison is paired — the mean over networks of measured − predicted, with its
  standard error s_d/√K;
* the recursion the docstring of satsim.torch._blocks states, evaluated here by
  Gauss–Hermite quadrature with the *nominal* σ²: the Monte Carlo mean over all R
  networks, standard error s/√R (the theory itself, not only its code).

A prediction passes when

    |mean difference| ≤ 4·SE + allowance·prediction,

4 standard errors (a two-sided normal tail of 6e-5 per comparison, so the ~60
comparisons below would all pass under the null with probability > 0.99) plus a
finite-width allowance: the mean-field law is exact in expectation for a layer given
its input (Gaussian weights: E z² = σ_w² m2 + σ_b²) and for a residual sum (the branch's
last weights are centred and fresh, so the cross term has expectation 0); what is not
exact is the activation's moment at a q that fluctuates across units and networks,
a Jensen bias of order 1/width per layer — 0.4 % at width 256, compounded over at most
eight layers ≈ 3 %.  The allowance is set at 3 % for that reason.  For train-mode
BatchNorm a finite *batch* adds its own bias: each channel is standardised over only
32 examples, a sample with lighter tails than N(0, 1) at the same mean square, so the
mean of tanh² is ≈ 1.5–2 % above the Gaussian value satsim uses (measured below:
d ≈ +0.012…+0.018 at q ≈ 0.84); it is O(1/batch) and inside the same 3 %.

The same criterion must reject the prediction that ignores the block: q not
accumulating over residual blocks (the stream replaced by the branch), or LayerNorm not
renormalising (the stream's q carried into the branch).  Those alternative predictions
are computed here by their own recursion (Gauss–Hermite quadrature, never satsim's).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

torch = pytest.importorskip("torch")
nn = torch.nn

import satsim.torch as st  # noqa: E402

#: Gauss–Hermite rule for E f(Z), Z ~ N(0, 1) (probabilists'; 120 nodes resolve
#: tanh(√q z)² to < 1e-8 for the q ≤ 100 met here)
_Z, _W = hermegauss(120)
_W = _W / np.sqrt(2 * np.pi)

_ACTS = {"tanh": (nn.Tanh, np.tanh), "relu": (nn.ReLU, lambda u: np.maximum(u, 0.0))}

#: the criterion's constants (module docstring): standard errors, finite-width allowance
_K_SE, _ALLOW = 4.0, 0.03


def _gauss(f, q):
    """E f(√q Z) per entry of q (here, not satsim's quadrature)."""
    q = np.asarray(q, dtype=float)
    return f(np.sqrt(q)[..., None] * _Z) @ _W


class _ResMLP(nn.Module):
    """h = inp(x); h ← h + fc2(φ(fc1(LN(h)))) per block (LN optional); out(h)."""

    def __init__(self, d_in, width, depth, act, layernorm):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.ln = nn.ModuleList(nn.LayerNorm(width) if layernorm else nn.Identity()
                                for _ in range(depth))
        self.fc1 = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.act = nn.ModuleList(_ACTS[act][0]() for _ in range(depth))
        self.fc2 = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        # a 64-unit head: with 10 units a network's measured q is a skewed mean of
        # 10 quadratic forms (sd 15 % between networks), too noisy for 24 pairs
        self.out = nn.Linear(width, 64)

    def forward(self, x):
        h = self.inp(x)
        for ln, fc1, act, fc2 in zip(self.ln, self.fc1, self.act, self.fc2, strict=True):
            h = h + fc2(act(fc1(ln(h))))
        return self.out(h)


class _NormMLP(nn.Module):
    """Linear → norm → φ per layer (LayerNorm with random affine γ, β, or BatchNorm1d),
    then a Linear head."""

    def __init__(self, d_in, width, depth, act, norm):
        super().__init__()
        sizes = [d_in] + [width] * depth
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.norm = nn.ModuleList((nn.LayerNorm if norm == "layernorm" else nn.BatchNorm1d)(width)
                                  for _ in range(depth))
        self.act = nn.ModuleList(_ACTS[act][0]() for _ in range(depth))
        self.out = nn.Linear(width, 10)

    def forward(self, x):
        h = x
        for fc, norm, act in zip(self.fc, self.norm, self.act, strict=True):
            h = act(norm(fc(h)))
        return self.out(h)


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on 2 cores the default pool's hand-offs cost more than these
    small matrix products (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _init(net, rng, sw, sb, affine=None):
    """Weights N(0, sw/fan_in), biases N(0, sb) from ``rng``; LayerNorm γ ~ N(γ0, 0.2²)
    and β ~ N(0, 0.3²) when ``affine`` = γ0 (else PyTorch's 1 and 0)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                fan_in = m.weight.shape[1]
                m.weight.copy_(torch.from_numpy(
                    rng.normal(0.0, np.sqrt(sw / fan_in), tuple(m.weight.shape))))
                m.bias.copy_(torch.from_numpy(rng.normal(0.0, np.sqrt(sb), m.bias.shape)))
            elif isinstance(m, nn.LayerNorm) and affine is not None:
                m.weight.copy_(torch.from_numpy(rng.normal(affine, 0.2, m.weight.shape)))
                m.bias.copy_(torch.from_numpy(rng.normal(0.0, 0.3, m.bias.shape)))
    return net


def _measure(net, x):
    """Per Linear (forward order): mean z² over units and inputs, measured by hooks
    written here; BatchNorm in train mode (batch statistics), no grad."""
    out, handles = [], []
    for m in net.modules():
        if isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(
                lambda _m, _a, z: out.append(float(z.pow(2).mean()))))
    net.train()
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return np.array(out)


@functools.cache
def _monte_carlo(kind, act, depth, norm, *, sw, sb, affine=None, R=100, K=24, n=32,
                 d_in=64, width=256, seed):
    """R networks (one module, re-initialized R times from spawned generators):
    measured q per Linear (R, L); satsim's q_meanfield on the first K (K, L) and their
    labels; each network's inputs (R, n, d_in).  Cached: the rejection test reuses it."""
    net = (_ResMLP(d_in, width, depth, act, norm) if kind == "res"
           else _NormMLP(d_in, width, depth, act, norm)).double()
    measured, predicted, xs = [], [], []
    labels = None
    for r, child in enumerate(np.random.default_rng(seed).spawn(R)):
        _init(net, child, sw, sb, affine)
        x = child.standard_normal((n, d_in))
        xs.append(x)
        measured.append(_measure(net, torch.from_numpy(x)))
        if r < K:
            t = st.layer_statistics(net, x).table
            predicted.append(t.q_meanfield.to_numpy(dtype=float))
            labels = list(t.prediction)
    return np.array(measured), np.array(predicted), labels, np.array(xs)


def _agrees(mc, pred):
    """The criterion of the module docstring, per layer, for a prediction without
    error of its own (this file's recursion, nominal σ²): (passes, MC mean, its SE)."""
    mc_mean, mc_se = mc.mean(0), mc.std(0, ddof=1) / np.sqrt(mc.shape[0])
    ok = np.abs(mc_mean - pred) <= _K_SE * mc_se + _ALLOW * np.abs(pred)
    return ok, mc_mean, mc_se


def _agrees_paired(mc, pred):
    """The criterion for satsim's per-network predictions: paired over the K networks
    it was computed on (each prediction uses that network's realised σ_w², σ_b² and
    inputs, so the difference measured − predicted removes the network-to-network
    spread): (passes, mean prediction, mean difference, its SE)."""
    d = mc[:pred.shape[0]] - pred
    d_mean, d_se = d.mean(0), d.std(0, ddof=1) / np.sqrt(d.shape[0])
    p = pred.mean(0)
    return np.abs(d_mean) <= _K_SE * d_se + _ALLOW * np.abs(p), p, d_mean, d_se


def _resmlp_recursion(xs, sw, sb, depth, phi, *, layernorm, residual=True,
                      renormalise=True):
    """The recursion of satsim.torch._blocks written out (per input, then averaged):
    q of inp, then per block fc1 and fc2, then out.  ``residual=False``: the stream is
    replaced by the branch (q does not accumulate); ``renormalise=False``: LayerNorm
    ignored (the stream's q carried into fc1)."""
    d_in = xs.shape[-1]
    q = sw * (xs**2).sum(-1) / d_in + sb  # inp, per input (from the data)
    qs = [q.mean()]
    p = q  # the stream's per-coordinate second moment (inp has no activation)
    for _ in range(depth):
        q1 = sw * (1.0 if layernorm and renormalise else p) + sb
        q2 = sw * _gauss(lambda u: phi(u) ** 2, q1) + sb
        p = p + q2 if residual else q2
        qs += [np.mean(q1), np.mean(q2)]
    qs.append(np.mean(sw * p + sb))
    return np.array(qs)


#: residual MLPs (width 256, 64 inputs, 32 per batch): activation, σ_w², σ_b², blocks, LN
_RES = [
    ("tanh", 1.0, 0.05, 8, True, 1),    # glorot_normal on square layers: σ_w² = 1
    ("relu", 2.0, 0.0, 6, True, 2),     # he_normal
    ("tanh", 2.0, 0.05, 8, False, 3),   # no LayerNorm: q grows linearly with depth
    ("relu", 2.0, 0.0, 5, False, 4),    # no LayerNorm, ReLU: q grows as 3^depth
]


@pytest.mark.parametrize(("act", "sw", "sb", "depth", "layernorm", "seed"), _RES)
def test_residual_mlp_against_monte_carlo(act, sw, sb, depth, layernorm, seed):
    mc, pred, labels, xs = _monte_carlo("res", act, depth, layernorm, sw=sw, sb=sb,
                                        seed=seed)
    # labels: inp, then (fc1, fc2) per block, then out
    assert labels[0] == "from the input"
    for k in range(depth):
        fc1, fc2 = labels[1 + 2 * k], labels[2 + 2 * k]
        if layernorm:
            assert fc1.startswith("predicted: after LayerNorm"), fc1
        elif k == 0:
            assert fc1 == "carried", fc1  # inp's z, no activation, straight in
        else:
            assert fc1.startswith(f"predicted: a residual sum h{k} = "), fc1
        assert fc2 == "carried", fc2
    assert labels[-1].startswith(f"predicted: a residual sum h{depth} = h{depth - 1} + "
                                 f"fc2.{depth - 1}.z"), labels[-1]
    ok, p, d, d_se = _agrees_paired(mc, pred)
    assert ok.all(), np.c_[p, d, d_se][~ok]
    # the recursion as the docstring states it, by this file's quadrature with the
    # nominal σ², agrees with the same Monte Carlo (the theory, not only the code)
    own = _resmlp_recursion(xs, sw, sb, depth, _ACTS[act][1], layernorm=layernorm)
    ok, m, se = _agrees(mc, own)
    assert ok.all(), np.c_[m, se, own][~ok]


@pytest.mark.parametrize(("act", "sw", "sb", "depth", "layernorm", "seed"), _RES)
def test_ignoring_the_block_is_rejected(act, sw, sb, depth, layernorm, seed):
    """The criterion has power: on the same Monte Carlo, the prediction that ignores
    the residual (the stream replaced by the branch: q does not accumulate) fails, at
    the head (with LayerNorm, the only layer that reads the stream unnormalised) or
    from the second block on (without); ignoring LayerNorm (the stream's q carried
    into fc1) fails at every fc1 after the first block."""
    mc, _, _, xs = _monte_carlo("res", act, depth, layernorm, sw=sw, sb=sb, seed=seed)
    phi = _ACTS[act][1]
    flat = _resmlp_recursion(xs, sw, sb, depth, phi, layernorm=layernorm, residual=False)
    ok = _agrees(mc, flat)[0]
    assert not ok[-1]
    if not layernorm:
        assert not ok[3:].any()  # fc1 of block 2 onwards: q has accumulated
    else:
        no_ln = _resmlp_recursion(xs, sw, sb, depth, phi, layernorm=True, renormalise=False)
        assert not _agrees(mc, no_ln)[0][3:-1:2].any()


@pytest.mark.parametrize(("act", "norm", "affine", "seed"), [
    ("tanh", "layernorm", None, 11),   # PyTorch's γ = 1, β = 0
    ("tanh", "layernorm", 1.5, 12),    # realised γ ~ N(1.5, 0.2²), β ~ N(0, 0.3²)
    ("relu", "layernorm", 1.5, 13),
    ("tanh", "batchnorm", None, 14),   # train mode: batch statistics
    ("relu", "batchnorm", None, 15),
])
def test_norm_then_activation_against_monte_carlo(act, norm, affine, seed):
    """Linear → norm → φ, four layers, he_normal-sized weights (σ_w² = 2): the layer
    after each norm is predicted from the norm's reset q and φ's moments at it."""
    # satsim's view of these is cheap: predicted on all 100 networks
    mc, pred, labels, _ = _monte_carlo("norm", act, 4, norm, sw=2.0, sb=0.05, affine=affine,
                                       K=100, seed=seed)
    kind = "LayerNorm" if norm == "layernorm" else "BatchNorm1d in train mode"
    assert labels[0] == "from the input"
    for lab in labels[1:]:
        assert lab.startswith(f"predicted: after {kind}") and lab.endswith(f"and {act}"), lab
    ok, p, d, d_se = _agrees_paired(mc, pred)
    assert ok.all(), np.c_[p, d, d_se][~ok]


class _Branches(nn.Module):
    """A Linear→φ branch added to the stream (Yang & Schoenholz's cross term
    m1(A)·m1(B) ≠ 0 for ReLU), then a scaled sum h + 0.5·f(h), which is not recognised."""

    def __init__(self, width=8):
        super().__init__()
        self.inp, self.fc, self.act = nn.Linear(6, width), nn.Linear(width, width), nn.ReLU()
        self.mid, self.head = nn.Linear(width, width), nn.Linear(width, 2)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + self.act(self.fc(h))
        h = h + 0.5 * self.mid(h)
        return self.head(h)


def test_branch_ending_in_an_activation_and_an_unrecognised_sum():
    net = _Branches().double()
    X = np.random.default_rng(3).standard_normal((16, 6))
    t = st.layer_statistics(net, X, activation={"inp": "relu"}).table
    labels = dict(zip(t.layer, t.prediction, strict=True))
    assert labels["fc"] == "carried"
    assert labels["mid"].startswith("predicted: a residual sum h1 = relu(inp.z) + relu(fc.z)")
    assert labels["head"].startswith("not predicted: its input is not the previous layer's")
    # mid's q by the stated recursion, written out: the stream a = relu(z_inp) has
    # m1 = E relu = √(q/2π), m2 = q/2 per input; the branch b = relu(z_fc) likewise at
    # q_fc = σ_w² m2(a) + σ_b²; m2(a + b) = m2(a) + m2(b) + 2 m1(a) m1(b)
    def sig(layer):
        w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
        return w.shape[1] * w.var(), b.var()
    s0, b0 = sig(net.inp)
    s1, b1 = sig(net.fc)
    s2, b2 = sig(net.mid)
    q0 = s0 * (X**2).sum(1) / 6 + b0
    q1 = s1 * q0 / 2 + b1
    m2 = q0 / 2 + q1 / 2 + 2 * np.sqrt(q0 / (2 * np.pi)) * np.sqrt(q1 / (2 * np.pi))
    # closed forms against satsim's closed-form ReLU kernel: rounding only
    assert t.q_meanfield[2] == pytest.approx(np.mean(s2 * m2 + b2), rel=1e-10)
