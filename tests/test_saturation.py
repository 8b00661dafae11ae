"""Tests for satsim.saturation: measured vs predicted, honest layer CIs, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, stats

import satsim
from satsim import activations, inputs, saturation
from satsim.saturation import dead_fraction, fraction, predicted_fraction


def test_nielsen_anchor_predictions():
    # the anchors: sigmoid, ε = 0.01, z ~ N(0, 501) and N(0, 1.5)
    assert predicted_fraction(math.sqrt(501)) == pytest.approx(0.8373, abs=5e-5)
    assert predicted_fraction(math.sqrt(1.5)) == pytest.approx(1.755e-4, rel=1e-3)


def test_monte_carlo_saturation_of_nielsens_two_inits():
    x = inputs.nielsen(1000, 500)
    for weights, expected in [("standard_normal", 0.8373418), ("nielsen", 1.7549972e-4)]:
        res = satsim.simulate(weights, x, n_samples=100_000, keep=100_000, rng=17)
        frac = fraction(res.samples)
        # z is exactly normal here, so the closed form is the truth; 99.9% Wilson interval
        ci = fraction(res.samples, confidence_level=0.999)
        assert ci.ci_low <= expected <= ci.ci_high, (weights, frac.estimate)


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 3.0), (-1.0, 0.3)])
def test_closed_form_agrees_with_monte_carlo(name, mean, std):
    act = activations.get(name)
    z = np.random.default_rng([activations.names().index(name), int(std * 10)]).normal(mean, std, 100_000)
    pred = predicted_fraction(std, mean=mean, activation=act)
    # 30 seeded cases; 99.99% Wilson intervals keep the family-wise false failure < 0.5%
    res = fraction(z, activation=act, confidence_level=0.9999)
    assert res.ci_low <= pred <= res.ci_high


@given(std=st.lists(st.floats(0.0, 100.0), min_size=2, max_size=10),
       name=st.sampled_from(["sigmoid", "tanh", "softsign", "hard_tanh", "gelu", "elu"]))
def test_predicted_fraction_non_decreasing_in_std(std, name):
    s = np.sort(np.array(std))
    p = predicted_fraction(s, activation=name)
    # at mean 0 the saturated region |z| beyond a threshold only gains mass as std grows
    assert np.all(np.diff(p) >= -1e-12)


def test_predicted_fraction_vectorises_and_handles_zero_std():
    p = predicted_fraction(np.array([0.0, 1.0, 100.0]))
    assert p.shape == (3,) and p[0] == 0.0 and 0 < p[1] < p[2] < 1
    assert predicted_fraction(0.0, mean=10.0) == 1.0
    assert predicted_fraction(2.0, activation="relu") == pytest.approx(0.5)
    assert predicted_fraction(1.0, activation="linear") == 0.0


def test_streamed_chunks_equal_whole_array(rng):
    z = rng.normal(0, 5, 10_000)
    whole = fraction(z)
    streamed = fraction(iter(np.array_split(z, 7)))
    assert (whole.count, whole.n, whole.ci_low) == (streamed.count, streamed.n, streamed.ci_low)
    # independent values estimate the population probability directly
    assert whole.estimand == streamed.estimand == "population" and whole.n_probes == 0


def test_layer_fraction_uses_units_as_draws(rng):
    W = rng.standard_normal((50, 100))
    X = rng.random((400, 100))
    Z = X @ W.T * 0.3
    # (before issue 12 this was the default; the default is now the population interval)
    res = fraction(Z, activation="tanh", estimand="probe_set")
    assert res.n == 50 and res.n_values == 20_000 and res.method == "cluster_t"
    assert res.estimand == "probe_set" and res.n_probes == 400
    assert res.per_unit.shape == (50,)
    assert res.estimate == pytest.approx(res.per_unit.mean())
    naive = fraction(Z.ravel(), activation="tanh")
    assert (res.ci_high - res.ci_low) > 3 * (naive.ci_high - naive.ci_low)
    pop = fraction(Z, activation="tanh")
    assert pop.estimand == "population" and pop.method == "two_way_cluster_t"
    assert pop.estimate == res.estimate and pop.n == 50 and pop.n_probes == 400
    # the population interval adds the probes' sampling error: never narrower
    assert pop.ci_high - pop.ci_low >= res.ci_high - res.ci_low
    frame = pop.to_frame()
    assert frame.estimand.item() == "population" and frame.n_probes.item() == 400


def test_layer_with_identical_units_falls_back_to_wilson_over_units():
    res = fraction(np.zeros((10, 5)), estimand="probe_set")
    assert res.estimate == 0.0 and res.method == "wilson_units" and res.ci_high > 0
    pop = fraction(np.zeros((10, 5)))
    # no variation anywhere: Wilson with min(10 probes, 5 units) = 5 draws
    assert pop.method == "wilson_clusters" and pop.ci_high == pytest.approx(
        _wilson_upper(0, 5))


def _wilson_upper(k, n, level=0.95):
    """Wilson's upper bound written out (Wilson 1927), independent of statsmodels."""
    zq = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + zq**2 / (2 * n)) / (1 + zq**2 / n)
    half = zq / (1 + zq**2 / n) * math.sqrt(p * (1 - p) / n + zq**2 / (4 * n**2))
    return centre + half


def _cgm_variance(S, clusters):
    """Cameron–Gelbach–Miller two-way variance of the mean of S (rows, units), written
    out with pandas group sums as an independent reference."""
    import pandas as pd

    n, m = S.shape
    p = S.mean()
    e = pd.DataFrame(S - p)
    g = e.groupby(np.asarray(clusters)).sum()  # (G, m): sums within probe cluster × unit
    G, N = len(g), n * m
    v_probe = G / (G - 1) * (g.sum(axis=1) ** 2).sum() / N**2
    v_unit = m / (m - 1) * (e.sum(axis=0) ** 2).sum() / N**2
    v_cell = G * m / (G * m - 1) * (g.values**2).sum() / N**2
    return max(v_probe + v_unit - v_cell, v_probe, v_unit), min(G, m) - 1


@given(S=arrays(np.bool_, st.tuples(st.integers(2, 8), st.integers(2, 7))),
       grouped=st.booleans())
def test_population_interval_is_the_two_way_cluster_formula(S, grouped):
    # tier (a): the interval's half-width is t_{min(G,m)-1} √V̂ with V̂ from the
    # formula written out independently above (to rounding), unless clipped to [0, 1]
    clusters = np.arange(S.shape[0]) // 2 if grouped else np.arange(S.shape[0])
    if len(np.unique(clusters)) < 2:
        return
    Z = np.where(S, 10.0, 0.0)  # |z| = 10 > ln 99: saturated; 0: not
    res = fraction(Z, probe_clusters=clusters if grouped else None)
    var, df = _cgm_variance(S.astype(float), clusters)
    if var <= 0:
        assert res.method == "wilson_clusters"
        return
    half = stats.t.ppf(0.975, df) * math.sqrt(var)
    assert res.estimate == pytest.approx(S.mean(), abs=1e-15)
    assert res.ci_low == pytest.approx(max(0.0, S.mean() - half), rel=1e-12, abs=1e-15)
    assert res.ci_high == pytest.approx(min(1.0, S.mean() + half), rel=1e-12, abs=1e-15)


def test_probe_clusters_count_duplicated_probes_once(rng):
    # duplicating every probe input adds no information: clustered as pairs the
    # population interval is exactly the original's (every sum doubles, N² quadruples);
    # left unclustered the duplicates would pass for twice as many probes
    Z = rng.normal(0, 5, (40, 30)) + rng.normal(0, 3, (40, 1))  # probe effects
    once = fraction(Z)
    twice = fraction(np.repeat(Z, 2, axis=0), probe_clusters=np.repeat(np.arange(40), 2))
    assert (twice.ci_low, twice.ci_high) == pytest.approx((once.ci_low, once.ci_high),
                                                          rel=1e-12)
    assert twice.n_probes == 40
    naive = fraction(np.repeat(Z, 2, axis=0))
    assert naive.ci_high - naive.ci_low < once.ci_high - once.ci_low
    # string labels work like integers; labels in any order
    labels = np.array([f"pair{i}" for i in np.repeat(rng.permutation(40), 2)])
    perm = fraction(np.repeat(Z, 2, axis=0), probe_clusters=labels)
    assert perm.n_probes == 40 and perm.ci_high == pytest.approx(twice.ci_high, rel=1e-12)


@pytest.mark.slow
def test_population_interval_with_correlated_probe_pairs():
    # tier (c): probes come in pairs (b = ρa + √(1−ρ²)e, as meanfield.propagate's
    # default probes) so the rows are not independent; the pairs are the probe
    # clusters.  x ~ N(0, I_d), w ~ N(0, 1), b ~ N(0, 1): z | x ~ N(0, ‖x‖² + 1) and
    # ‖x‖² ~ χ²_d, so the population truth is a one-dimensional integral, done here.
    d, rho, pairs, units, R = 10, 0.9, 25, 300, 400
    lnq = math.log(99)
    truth = integrate.quad(lambda t: 2 * stats.norm.cdf(-lnq / math.sqrt(t + 1))
                           * stats.chi2(d).pdf(t), 0, np.inf, limit=200)[0]
    paired = rows = 0
    for stream in np.random.default_rng(7).spawn(R):
        a = stream.standard_normal((pairs, d))
        b = rho * a + math.sqrt(1 - rho * rho) * stream.standard_normal((pairs, d))
        P = np.empty((2 * pairs, d))
        P[0::2], P[1::2] = a, b
        Z = P @ stream.standard_normal((units, d)).T + stream.standard_normal(units)
        res = fraction(Z, probe_clusters=np.repeat(np.arange(pairs), 2))
        paired += res.ci_low <= truth <= res.ci_high
        naive = fraction(Z)
        rows += naive.ci_low <= truth <= naive.ci_high
    # clustered by pair: 95% coverage (binomial test, 1e-3 floor as elsewhere)
    assert stats.binomtest(paired, R, 0.95).pvalue > 1e-3, (paired, rows)
    # rows as clusters double-count each pair (measured 0.87 in 1000 replications;
    # 0.92 is ~3 standard errors of a 400-replication coverage above that)
    assert rows / R < 0.92, (paired, rows)


def _pool_and_truth(scale):
    """A pool of real images and, for z = w·x + b with w ~ N(0, scale²), b ~ N(0, 1),
    each image's exact saturation probability 2Φ(−ln 99 / √(scale²‖x‖² + 1))."""
    X = satsim.data.load("fashion-mnist", source="bundled").train[0][:5000]
    p = 2 * stats.norm.cdf(-math.log(99) / np.sqrt(scale**2 * np.einsum("ij,ij->i", X, X) + 1))
    return X, p


@pytest.mark.slow
@pytest.mark.parametrize("n_probe, units", [(50, 500), (200, 500)])
def test_population_and_probe_set_interval_coverage(n_probe, units):
    # tier (c), the defect of issue 12: probes are real images drawn with replacement
    # from a pool (so i.i.d. from its empirical law), units have N(0, 1) weights and
    # bias.  Population truth: the pool mean of P(saturated | x); probe-set truth: the
    # mean over the probes drawn.  Both exact (z | x is normal), computed here.
    X, p_x = _pool_and_truth(1.0)
    truth = float(p_x.mean())
    R = 300
    cover = {"population": 0, "probe_set": 0, "probe_set_vs_population": 0}
    for stream in np.random.default_rng([12, n_probe]).spawn(R):
        idx = stream.integers(0, X.shape[0], n_probe)
        W = stream.standard_normal((units, X.shape[1]))
        Z = X[idx] @ W.T + stream.standard_normal(units)
        pop = fraction(Z)
        cond = fraction(Z, estimand="probe_set")
        conditional = float(p_x[idx].mean())
        cover["population"] += pop.ci_low <= truth <= pop.ci_high
        cover["probe_set"] += cond.ci_low <= conditional <= cond.ci_high
        cover["probe_set_vs_population"] += cond.ci_low <= truth <= cond.ci_high
    # each interval covers its own estimand at 95%: binomial test of the coverage
    # count (p > 1e-3 floor as elsewhere: ~4 such tests, false failure < 0.5%)
    assert stats.binomtest(cover["population"], R, 0.95).pvalue > 1e-3, cover
    assert stats.binomtest(cover["probe_set"], R, 0.95).pvalue > 1e-3, cover
    # the conditional interval held against the population fraction undercovers
    # (measured 0.61 at 50 probes, 0.81 at 200): the bug this test would have caught
    assert cover["probe_set_vs_population"] / R < 0.88, cover


@pytest.mark.slow
def test_layer_ci_coverage_and_naive_undercoverage():
    # A layer's units differ (their own weights), so values within a unit are
    # correlated.  Truth: E over units of P(saturated | w) — computed in closed form:
    # with x ~ N(0, I), z | w ~ N(0, ‖w‖²).
    R, units, n_inputs, n_in = 300, 30, 200, 20
    act = activations.get("sigmoid")
    # w ~ N(0, s²): ‖w‖² ~ s² χ²_{n_in}; truth by quadrature over the chi-square law
    s = 1.2
    q = np.linspace(1e-6, 1 - 1e-6, 20_001)
    truth = float(np.mean(predicted_fraction(s * np.sqrt(stats.chi2(n_in).ppf(q)))))
    covered = naive_covered = 0
    for stream in np.random.default_rng(99).spawn(R):
        W = stream.normal(0, s, (units, n_in))
        Z = stream.standard_normal((n_inputs, n_in)) @ W.T
        res = fraction(Z, activation=act)
        covered += res.ci_low <= truth <= res.ci_high
        naive = fraction(Z.ravel(), activation=act)
        naive_covered += naive.ci_low <= truth <= naive.ci_high
    # the truth averages over inputs and weights: the (default) population interval,
    # two-way over probes and units, at 95%: binomial test of coverage = 0.95 (1e-3
    # floor as elsewhere)
    assert stats.binomtest(covered, R, 0.95).pvalue > 1e-3, covered / R
    # ignoring the clustering undercovers badly
    assert naive_covered / R < 0.8


def test_dead_fraction(rng):
    Z = rng.standard_normal((100, 40))
    Z[:, :10] = -np.abs(Z[:, :10]) - 0.1  # 10 units never fire
    res = dead_fraction(Z)
    assert res.count == 10 and res.estimate == 0.25 and res.criterion == "dead"
    # "dead" is relative to the probes shown: a probe-set quantity
    assert res.estimand == "probe_set" and res.n_probes == 100
    inactive = fraction(Z, activation="relu")
    assert inactive.estimate > res.estimate  # inactive-per-input ≠ dead


def test_mixture_prediction_matches_monte_carlo_on_rows(rng):
    X = rng.random((300, 50)) ** 2  # skewed "pixels"
    pred = saturation.predicted_fraction_mixture(X, weights="standard_normal",
                                                 activation="sigmoid")
    res = satsim.simulate("standard_normal", inputs.Rows(X), n_samples=60_000, keep=60_000,
                          rng=3)
    frac = fraction(res.samples, confidence_level=0.999)
    # Gaussian weights: z | x is exactly normal, so the mixture is exact
    assert frac.ci_low <= pred <= frac.ci_high
    # a constant row reduces the mixture to the plain formula
    one = np.ones((3, 50)) * 0.5
    assert saturation.predicted_fraction_mixture(one, weights="standard_normal") == pytest.approx(
        predicted_fraction(math.sqrt(50 * 0.25 + 1)))


def test_sweep_table():
    table = saturation.sweep([50, 400], ["standard_normal", "nielsen"], ["sigmoid", "relu"],
                             n_samples=3000, rng=5)
    assert len(table) == 8
    assert list(table.columns) == ["fan_in", "initializer", "activation", "inputs", "criterion",
                                   "estimate", "ci_low", "ci_high", "predicted", "theory_std", "n"]
    again = saturation.sweep([50, 400], ["standard_normal", "nielsen"], ["sigmoid", "relu"],
                             n_samples=3000, rng=5)
    assert table.equals(again)
    # Gaussian weights on a fixed input: predictions are exact; 95% CIs miss rarely —
    # allow at most 2 of the 8
    inside = (table.ci_low <= table.predicted) & (table.predicted <= table.ci_high)
    assert inside.sum() >= 6


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: fraction(np.zeros(5), epsilon=0.6), ValueError, r"`epsilon` must be in \(0, 0.5\)"),
        (lambda: fraction(np.zeros(5), epsilon=-0.01), ValueError, r"`epsilon`"),
        (lambda: fraction(np.zeros(5), activation="swish"), ValueError, r"`activation` must be an Activation or one of"),
        (lambda: fraction(np.zeros(5), criterion="output", activation="relu"), ValueError, r"bounded"),
        (lambda: fraction(np.zeros((3, 1))), ValueError, r"at least 2 neurons"),
        (lambda: fraction(np.zeros((2, 2, 2))), ValueError, r"`z` must be 1-D or 2-D"),
        (lambda: fraction(np.array([1.0, np.nan])), ValueError, r"`z` must contain only finite"),
        (lambda: fraction(iter([])), ValueError, r"at least one value"),
        (lambda: fraction(3.0), TypeError, r"`z` must be an array"),
        (lambda: fraction(np.zeros(5), confidence_level=1.0), ValueError, r"`confidence_level`"),
        (lambda: fraction(np.zeros(5), method="magic"), ValueError, r"`method`"),
        (lambda: fraction(np.zeros((4, 3)), estimand="conditional"), ValueError, r"`estimand` must be one of 'population', 'probe_set'; got estimand='conditional'"),
        (lambda: fraction(np.zeros((4, 3)), estimand=None), TypeError, r"`estimand` must be a string"),
        (lambda: fraction(np.zeros(5), estimand="probe_set"), ValueError, r"`estimand` must be 'population' for 1-D z"),
        (lambda: fraction(np.zeros(5), probe_clusters=[0, 0, 1, 1, 2]), ValueError, r"`probe_clusters` applies to a layer"),
        (lambda: fraction(np.zeros((1, 5))), ValueError, r"needs at least 2 probe inputs"),
        (lambda: fraction(np.zeros((4, 5)), probe_clusters=[1, 1, 1, 1]), ValueError, r"needs at least 2 probe inputs .* 1 probe cluster"),
        (lambda: fraction(np.zeros((4, 5)), probe_clusters=[0, 1]), ValueError, r"`probe_clusters` must be 1-D with one label per probe input \(row of z, 4\); got shape \(2,\)"),
        (lambda: fraction(np.zeros((4, 5)), probe_clusters=[0, 0, 1, 1], estimand="probe_set"), ValueError, r"`probe_clusters` applies to estimand='population' only"),
        (lambda: fraction(np.zeros((4, 5)), probe_clusters=[0, "a", 1, None]), TypeError, r"`probe_clusters` must hold sortable labels"),
        (lambda: predicted_fraction(-1.0), ValueError, r"`std` must be finite and non-negative; got std=-1.0"),
        (lambda: predicted_fraction(np.inf), ValueError, r"`std`"),
        (lambda: predicted_fraction(1.0, mean=np.nan), ValueError, r"`mean` must be finite"),
        (lambda: predicted_fraction(1.0, activation="tanh", epsilon=0.5), ValueError, r"`epsilon`"),
        (lambda: dead_fraction(np.zeros(5)), ValueError, r"`z` must be a 2-D array"),
        (lambda: saturation.predicted_fraction_mixture(np.ones(3)), ValueError, r"`X` must be a 2-D"),
        (lambda: saturation.sweep([], ["nielsen"], ["tanh"]), ValueError, r"must be non-empty"),
        (lambda: saturation.sweep([0], ["nielsen"], ["tanh"]), ValueError, r"`fan_in\[0\]`"),
        (lambda: saturation.sweep([10], ["nielsen"], ["tanh"], inputs=["rows"]), ValueError, r"`inputs` must name models"),
        (lambda: saturation.sweep([10], ["nielsen"], ["tanh"], inputs="nielsen_half"), TypeError, r"`inputs` must be a sequence"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_pandas_series_is_an_array_not_chunks(rng):
    import pandas as pd

    z = rng.normal(0, 5, 1000)
    assert fraction(pd.Series(z)).count == fraction(z).count
    with pytest.raises(TypeError, match="`std`"):
        predicted_fraction("a")
