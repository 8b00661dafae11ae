"""Tests for satsim.nn.lsuv (Mishkin & Matas 2016, Algorithm 1): unit pre-activation
variance on held-out real Fashion-MNIST rows, agreement with the algorithm written out
here in plain numpy, determinism, the non-convergence warning, persistence and bad input."""

import json
import math

import numpy as np
import pytest

from satsim import data, init
from satsim._warnings import ConvergenceWarning
from satsim.nn import LSUV, LSUVResult, Network

SIZES = [784, 300, 100, 10]


@pytest.fixture(scope="module")
def fashion():
    ds = data.load("fashion-mnist")  # the installed IDX files, else the bundled subset
    return ds.train[0][:500], ds.test[0][:2000]


def _hand_forward(weights, biases, X, phis):
    """Pre-activations of every layer, by hand: z = a Wᵀ + b, a = φ(z)."""
    a, zs = X, []
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W.T + b
        zs.append(z)
        if i < len(weights) - 1:
            a = phis[i](z)
    return zs


def _hand_lsuv(weights, biases, X, phis, tol=0.1, max_iter=10, target=1.0):
    """Algorithm 1 in plain numpy: for each layer in order, W ← W·√(target/Var z) while
    |Var z − target| ≥ tol and fewer than max_iter rescalings (Var over every entry of
    the layer's z on the batch, ddof = 0)."""
    weights = [W.copy() for W in weights]
    a, steps = X, []
    for i, b in enumerate(biases):
        z = a @ weights[i].T + b
        k = 0
        while abs(z.var() - target) >= tol and k < max_iter:
            weights[i] = weights[i] * math.sqrt(target / z.var())
            z = a @ weights[i].T + b
            k += 1
        steps.append(k)
        if i < len(biases) - 1:
            a = phis[i](z)
    return weights, steps


def test_784_300_100_10_tanh_unit_variance_on_held_out_fashion_mnist(fashion):
    X_cal, X_test = fashion
    net = Network(SIZES, activation="tanh", init=LSUV(X_cal), bias_init="zeros", rng=0)
    report = net.init_report.to_frame()
    assert report.converged.all() and (np.abs(report.var_after - 1) < 0.1).all()
    # on the calibration batch the report is what a forward pass by hand measures
    z_cal = _hand_forward(net.weights, net.biases, X_cal, [np.tanh] * 2)
    np.testing.assert_allclose(report.var_after, [z.var() for z in z_cal], rtol=1e-12)
    # held-out rows: Var z differs from the calibration batch's only by sampling.  Var z
    # is the mean over rows of r(x) = mean_j (z_j(x) − z̄)², rows being the independent
    # units (a row's units share its input), so Var_test − Var_cal has standard error
    # sd(r)·√(1/500 + 1/2000); 4 of those (normal: two-sided P ≈ 6e-5), on top of the
    # algorithm's own tolerance |Var_cal − 1| < tol for the distance to 1
    for layer, z in enumerate(_hand_forward(net.weights, net.biases, X_test, [np.tanh] * 2)):
        r = np.mean((z - z.mean()) ** 2, axis=1)
        se = r.std(ddof=1) * math.sqrt(1 / len(X_cal) + 1 / len(X_test))
        assert abs(z.var() - report.var_after[layer]) < 4 * se, (layer, z.var(), se)
        assert abs(z.var() - 1.0) < 0.1 + 4 * se, (layer, z.var(), se)
    # power: the orthogonal base alone is far from unit variance (≈ 0.2 in layer 1: an
    # orthonormal row has ‖w‖ = 1, so Var z ≈ mean ‖x‖²/784 of Fashion-MNIST pixels)
    assert abs(report.var_before[0] - 1.0) > 0.5
    np.testing.assert_allclose(report.var_before[0], np.mean(X_cal**2), rtol=0.2)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matches_algorithm_1_written_out(fashion, dtype, rtol):
    X = fashion[0][:200]
    phis = [np.tanh, lambda z: np.maximum(z, 0)]
    bias = init.Normal(std=0.3)  # Var b = 0.09 < target: converges, in several rescalings
    lsuv = Network([784, 40, 30, 10], activation=["tanh", "relu"], init=LSUV(X),
                   bias_init=bias, dtype=dtype, rng=4)
    # the same base draws: the network draws from LSUV's base with its rng, in order
    base = Network([784, 40, 30, 10], activation=["tanh", "relu"], init="orthogonal",
                   bias_init=bias, dtype=np.float64, rng=4)
    expected, steps = _hand_lsuv(base.weights, base.biases, X, phis)
    report = lsuv.init_report
    assert list(report.iterations) == steps and max(steps) >= 2
    # float64: the same arithmetic up to the order of the variance sums; float32: the
    # network works in single precision (relative rounding ~1e-7 per operation, grown
    # through three layers and the rescalings)
    for W, E in zip(lsuv.weights, expected, strict=True):
        assert W.dtype == dtype
        np.testing.assert_allclose(W, E, rtol=rtol, atol=rtol * np.abs(E).max())
    # the recorded scale is the factor between the final and the base weights
    np.testing.assert_allclose(report.scale, [np.linalg.norm(E) / np.linalg.norm(W) for E, W
                                              in zip(expected, base.weights, strict=True)],
                               rtol=rtol)


def test_deterministic_with_a_seed(fashion):
    X = fashion[0][:100]
    a, b, c = (Network([784, 20, 10], activation="tanh", init=LSUV(X), bias_init="zeros", rng=s)
               for s in (3, 3, 4))
    for Wa, Wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
    assert a.init_report == b.init_report
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_warns_when_the_biases_alone_exceed_the_target():
    X = np.random.default_rng(0).random((50, 8))
    # Var b = 4 ≫ target + tol: shrinking W only brings Var z down to the biases' own
    # spread over the units (a sample variance of 200 and 100 draws: 4 ± 0.4)
    with pytest.warns(ConvergenceWarning, match=r"layer 1 \(Var z = .*biases alone have Var"):
        net = Network([8, 200, 100], activation="tanh", init=LSUV(X, max_iter=5),
                      bias_init=init.Normal(std=2.0), rng=1)
    frame = net.init_report.to_frame()
    assert not frame.converged.any() and (frame.iterations == 5).all()
    assert (frame.var_after > 1.1).all()
    # nothing to rescale: a zero batch with zero biases has Var z = 0
    with pytest.warns(ConvergenceWarning, match=r"zero variance"):
        zero = Network([8, 3], init=LSUV(np.zeros((4, 8))), bias_init="zeros", rng=0)
    assert zero.init_report.iterations == (0,) and zero.init_report.var_after == (0.0,)


def test_save_load_keeps_the_name_and_the_report(tmp_path):
    X = np.random.default_rng(1).random((40, 6))
    net = Network([6, 5, 3], activation="tanh", init=LSUV(X, tol=0.05), bias_init="zeros",
                  rng=2)
    assert net.init.name == "lsuv" and repr(net.init).startswith("LSUV(<batch of 40 rows x 6>")
    p = tmp_path / "lsuv.npz"
    net.save(p)
    back = Network.load(p)
    assert back.metadata["init"] == "lsuv" and back.metadata["init_repr"] == repr(net.init)
    assert back.init_report == net.init_report
    assert isinstance(back.init_report, LSUVResult)
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))
    assert list(back.init_report.to_frame().columns) == [
        "layer", "iterations", "scale", "var_before", "var_after", "converged"]
    # the report in an untrusted file is checked
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["init_report"]["scale"] = ["x"] * len(meta["init_report"]["scale"])
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad 'init_report' in metadata: 'scale'"):
        Network.load(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: LSUV(np.ones(5)), ValueError, r"`X` must be a 2-D array"),
        (lambda: LSUV(np.ones((1, 4))), ValueError, r"`X` must have at least 2 row"),
        (lambda: LSUV(np.full((3, 4), np.nan)), ValueError, r"`X` must contain only finite values"),
        (lambda: LSUV([["a", "b"]]), TypeError, r"`X` must be an array of real numbers"),
        (lambda: LSUV(np.ones((3, 4)), tol=0.0), ValueError, r"`tol` must be > 0; got tol=0.0"),
        (lambda: LSUV(np.ones((3, 4)), max_iter=0), ValueError, r"`max_iter` must be a positive integer; got max_iter=0"),
        (lambda: LSUV(np.ones((3, 4)), target=-1.0), ValueError, r"`target` must be > 0"),
        (lambda: LSUV(np.ones((3, 4)), base="xavier"), ValueError, r"`base` must be an Initializer or one of"),
        (lambda: Network([5, 3, 2], init=LSUV(np.ones((10, 4)))), ValueError, r"must have sizes\[0\]=5 columns; got X with shape \(10, 4\)"),
        (lambda: Network([5, 3, 2], init="lsuv"), ValueError, r"pass init=satsim\.nn\.LSUV\(X_batch\)"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_the_batch_is_a_read_only_copy():
    X = np.random.default_rng(0).random((5, 3))
    lsuv = LSUV(X)
    X[0, 0] = 99.0
    assert lsuv.X[0, 0] != 99.0 and not lsuv.X.flags.writeable
