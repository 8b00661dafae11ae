r"""The saturated-neuron fraction: measured (with honest CIs) and predicted.

Measured — :func:`fraction`.  A pre-activation is *saturated* under a named
criterion of :mod:`satsim.activations` (default for the sigmoid: output within
1% of a bound, :math:`|z| > \ln 99`).  The input may be

* a 1-D array (or an iterable of 1-D chunks, streamed) of independent z's: the
  count is binomial and the interval is Wilson's (statsmodels
  ``proportion_confint``; any of its methods can be named);
* a 2-D array of shape ``(inputs, neurons)`` — one layer probed with many inputs.
  Values are not independent: those of one neuron share its weights, those of one
  probe input share that input.  Two estimands are on offer (``estimand=``), with
  intervals of their own:

  - ``"population"`` (default) — the probability that a *new* unit fed a *new*
    input from the same laws saturates; what the closed-form, mixture and
    mean-field predictions give.  Both probes and units are samples, so the
    interval is two-way cluster-robust (Cameron, Gelbach & Miller 2011).
  - ``"probe_set"`` — the expected fraction over units *for these probe inputs*
    (conditional on the probe set); its interval is one-way cluster-robust over
    the units.  Comparing it with a population prediction ignores the probes'
    sampling error: with 50 (200) Fashion-MNIST probes × 500 units with N(0, 1)
    weights and bias, its 95% interval covered the population fraction in 60%
    (80%) of 2000 replications, the probe-set fraction in 95% (95%); the
    population interval covered the population fraction in 94.5% (95%).

Predicted — :func:`predicted_fraction`.  Under :math:`z \sim N(\mu, s^2)`, saturation
outside :math:`(z_{lo}, z_{hi})` has probability
:math:`\Phi((z_{lo}-\mu)/s) + \Phi((\mu - z_{hi})/s)`.  Anchors (sigmoid, ε = 0.01):
s = √501 gives 0.8373, s = √1.5 gives 1.755e-4 — Nielsen's two initializations.
For real data, :func:`predicted_fraction_mixture` averages this over the rows of
a data matrix with :math:`z \mid x \sim N(\mu_w \sum_j x_j + \mu_b,\;
\sigma_w^2 \lVert x\rVert^2 + \sigma_b^2)` (exact for Gaussian weights).

ReLU family.  ``criterion="inactive"`` (their default) gives the fraction of
inputs with z ≤ 0; :func:`dead_fraction` gives the fraction of *units* inactive
for every probe input — a different quantity.

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with
multiway clustering. *Journal of Business & Economic Statistics* 29(2), 238–249.
Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to
cluster-robust inference. *Journal of Human Resources* 50(2), 317–372.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._docstrings import fill
from satsim._moments import t_quantile
from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation
from satsim.init import as_initializer
from satsim.inputs import Rows, nielsen

__all__ = [
    "ProportionResult",
    "dead_fraction",
    "fraction",
    "predicted_fraction",
    "predicted_fraction_mixture",
    "sweep",
]

__dir__ = public_dir(globals())


#: estimands of :func:`fraction` for layer (2-D) input
_ESTIMANDS = ("population", "probe_set")


@result
class ProportionResult(Result, Plottable):
    """A proportion with its confidence interval.

    ``estimand`` names what the interval is for: ``"population"`` (the
    probability for a new draw — new unit and new input for a layer) or
    ``"probe_set"`` (a layer's expected fraction conditional on its probe inputs);
    see :func:`fraction`.  ``n`` is the number of independent draws behind the
    interval for 1-D input (values) and the number of units for a layer;
    ``n_probes`` the number of independent probe clusters of a layer (probe
    inputs, or groups of them given as ``probe_clusters``; 0 for 1-D input);
    ``n_values`` the number of pre-activations seen.  ``per_unit`` holds the
    per-neuron fractions for layer input (else empty).
    """

    _title = "Saturated fraction"

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    n_values: int
    count: int
    confidence_level: float
    method: str
    activation: str
    criterion: str
    z_low: float
    z_high: float
    per_unit: np.ndarray
    estimand: str = "population"
    n_probes: int = 0

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "activation": [self.activation],
                "criterion": [self.criterion],
                "z_low": [self.z_low],
                "z_high": [self.z_high],
                "estimand": [self.estimand],
                "estimate": [self.estimate],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "n": [self.n],
                "n_probes": [self.n_probes],
                "n_values": [self.n_values],
                "count": [self.count],
                "method": [self.method],
                "confidence_level": [self.confidence_level],
            }
        )


def _level(confidence_level: Any) -> float:
    return check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                      low_inclusive=False, high_inclusive=False)


@functools.lru_cache(maxsize=1024)
def _binomial(count: int, n: int, level: float, method: str) -> tuple[float, float]:
    # cached: a pure function of its four numbers, and training telemetry asks for the
    # same ones every epoch (count 0 of the same n, typically); one statsmodels call
    # costs ~0.2 ms, more than the rest of a layer's record
    from statsmodels.stats.proportion import proportion_confint

    try:
        lo, hi = proportion_confint(count, n, alpha=1 - level, method=method)
    except (ValueError, NotImplementedError) as exc:
        raise ValueError(f"`method` is not a statsmodels proportion_confint method; "
                         f"got method={method!r}") from exc
    # the closed-form bounds are exactly 0 / 1 at count 0 / n; remove rounding residue
    return (0.0 if count == 0 else float(lo)), (1.0 if count == n else float(hi))


def _criterion_name(act: Activation, criterion: str | None) -> str:
    return act.default_criterion if criterion is None else criterion


@fill
def fraction(
    z: Any,
    *,
    activation: Any = "sigmoid",
    epsilon: float = 0.01,
    criterion: str | None = None,
    delta: float = 0.01,
    confidence_level: float = 0.95,
    method: str = "wilson",
    estimand: str = "population",
    probe_clusters: Any = None,
) -> ProportionResult:
    r"""Fraction of saturated pre-activations, with a confidence interval.

    For a layer, ``z`` has shape ``(inputs, neurons)``: entry :math:`z_{ij}` is unit
    j's pre-activation for probe input i, and :math:`S_{ij}` its saturation
    indicator.  The estimate is always the mean :math:`\hat p = \bar S`; the
    interval depends on the *estimand*:

    ``estimand="population"`` (default) — :math:`p = P(S = 1)` for a new unit and a
    new input drawn from the laws that produced the sample: the quantity that
    :func:`predicted_fraction`, :func:`predicted_fraction_mixture` and
    :mod:`satsim.meanfield` predict.  Probes and units are both samples, so the
    variance is two-way cluster-robust (Cameron, Gelbach & Miller 2011): with
    :math:`e_{ij} = S_{ij} - \hat p`, :math:`N = nm` values, G probe clusters and
    m units,

    .. math::

        \hat V = \frac{G}{G-1}\sum_g \Big(\sum_{i \in g, j} e_{ij}\Big)^2 / N^2
               + \frac{m}{m-1}\sum_j \Big(\sum_i e_{ij}\Big)^2 / N^2
               - \frac{Gm}{Gm-1}\sum_{g,j} \Big(\sum_{i \in g} e_{ij}\Big)^2 / N^2,

    probe-cluster + unit − intersection (each term with its small-sample factor).
    The true variance of :math:`\hat p` is at least each one-way term, so
    :math:`\hat V` is raised to the larger of them when it falls below (it can
    even be negative).  The interval is :math:`\hat p \pm t_{\min(G, m)-1}
    \sqrt{\hat V}` (the fewer clusters set the degrees of freedom; Cameron &
    Miller 2015), clipped to [0, 1]; ``method="two_way_cluster_t"``.

    ``estimand="probe_set"`` — :math:`E_w[\bar S \mid \text{probes}]`, the expected
    fraction over units *for these probe inputs*.  The units are i.i.d. given the
    probes, so the interval is one-way cluster-robust over units,
    :math:`\hat p \pm t_{m-1}\, s_{\hat p_j}/\sqrt m` with :math:`\hat p_j` the
    per-unit fractions (``method="cluster_t"``).  Narrower, and conditional: do
    not hold it against a population prediction.

    When the variance estimate is 0 (every unit and probe alike, typically all
    saturated or none), a Wilson interval is reported instead with the units
    (``"probe_set"``, ``method="wilson_units"``) or the smaller cluster count
    (``"population"``, ``method="wilson_clusters"``) as the Bernoulli draws —
    conservative.  Either t interval is a large-sample interval: when saturation is
    rare and carried by a few units it undercovers (about 0.87 at 95% with
    p ≈ 0.04, 30 units and 500 image probes).

    For 1-D input the values are independent draws from one law, so their
    fraction estimates the population probability directly (Wilson's or
    ``method``'s binomial interval); ``estimand="probe_set"`` is refused there.

    Parameters
    ----------
    z : array_like or iterable of 1-D arrays
        1-D: independent pre-activations.  2-D ``(inputs, neurons)``: one layer.
        Any other iterable: 1-D chunks, streamed.
    activation : Activation or str, default "sigmoid"
    epsilon : float, default 0.01
        Output-range fraction of the ``"output"`` criterion.
    criterion : {"output", "derivative", "tanh97", "inactive"}, optional
        Default: the activation's own (see :mod:`satsim.activations`).
    delta : float, default 0.01
        Derivative fraction of the ``"derivative"`` criterion.
    %(confidence_level)s
    method : str, default "wilson"
        statsmodels ``proportion_confint`` method for independent values.
    estimand : {"population", "probe_set"}, default "population"
        What a layer's interval is for (above).  The result's ``estimand`` says
        which was used.
    probe_clusters : array_like, shape (inputs,), optional
        Labels grouping probe inputs that are not independent of each other (e.g.
        the correlated input pairs of :func:`satsim.meanfield.propagate`); the
        groups, not the rows, are then the probe clusters of the population
        interval.  Default: every probe input is its own cluster.

    Returns
    -------
    ProportionResult

    References
    ----------
    Cameron, Gelbach & Miller (2011), *J. Bus. Econ. Stat.* 29(2), 238–249.
    """
    act = as_activation(activation)
    crit = _criterion_name(act, criterion)
    lo, hi = act.saturation_bounds(crit, epsilon=epsilon, delta=delta)
    level = _level(confidence_level)
    estimand = check_choice("estimand", estimand, _ESTIMANDS)
    common: dict[str, Any] = dict(confidence_level=level, activation=act.name, criterion=crit,
                                  z_low=lo, z_high=hi)
    if isinstance(z, np.ndarray | list | tuple) or hasattr(z, "__array__"):
        arr = check_array("z", z)
        if arr.ndim == 2:
            sat = act.is_saturated(arr, crit, epsilon=epsilon, delta=delta)
            return _layer_fraction(sat, estimand, probe_clusters, level, common)
        if arr.ndim != 1:
            raise ValueError(f"`z` must be 1-D or 2-D (inputs, neurons); got shape {arr.shape}")
        chunks: Iterable = (arr,)
    elif isinstance(z, Iterable) and not isinstance(z, str | bytes):
        chunks = z
    else:
        raise TypeError(f"`z` must be an array or an iterable of arrays; got z={z!r}")
    if estimand != "population":
        raise ValueError(
            f"`estimand` must be 'population' for 1-D z (independent values estimate the "
            f"population probability; 'probe_set' needs a layer, z of shape (inputs, "
            f"neurons)); got estimand={estimand!r}")
    if probe_clusters is not None:
        raise ValueError("`probe_clusters` applies to a layer, z of shape (inputs, neurons); "
                         f"got 1-D z and probe_clusters={probe_clusters!r}")
    count = total = 0
    for i, chunk in enumerate(chunks):
        c = check_array(f"z chunk {i}", chunk, ndim=1)
        count += int(np.count_nonzero(act.is_saturated(c, crit, epsilon=epsilon, delta=delta)))
        total += c.size
    if total == 0:
        raise ValueError("`z` must contain at least one value")
    ci = _binomial(count, total, level, method)
    return ProportionResult(estimate=count / total, ci_low=ci[0], ci_high=ci[1], n=total,
                            n_values=total, count=count, method=method,
                            per_unit=np.empty(0), estimand="population", n_probes=0, **common)


def _cluster_labels(probe_clusters: Any, n_rows: int) -> tuple[np.ndarray, int]:
    """Integer cluster codes 0..G-1 for the rows, and G."""
    if probe_clusters is None:
        return np.arange(n_rows), n_rows
    labels = np.asarray(probe_clusters)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(f"`probe_clusters` must be 1-D with one label per probe input (row of "
                         f"z, {n_rows}); got shape {labels.shape}")
    try:
        _, codes = np.unique(labels, return_inverse=True)
    except TypeError:
        raise TypeError("`probe_clusters` must hold sortable labels of one kind (ints or "
                        f"strings); got probe_clusters={probe_clusters!r}") from None
    codes = codes.reshape(-1)
    return codes, int(codes.max()) + 1


def _two_way_variance(
    sat: np.ndarray, codes: np.ndarray, groups: int
) -> tuple[float, float, float]:
    """Cameron–Gelbach–Miller variance terms of the mean of ``sat`` (rows, units):
    (probe-cluster, unit, intersection), each with its G/(G−1) factor."""
    n_rows, m = sat.shape
    total = n_rows * m
    p = float(sat.mean())
    # per (probe cluster, unit) counts: everything below is a sum over this table
    if groups == n_rows:  # one row per cluster (the default): the table is sat itself
        cells = sat.astype(np.float64)
        rows_per = np.ones(n_rows)
    else:
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        cells = np.add.reduceat(sat[order].astype(np.float64), starts, axis=0)
        rows_per = np.bincount(codes, minlength=groups).astype(np.float64)
    e_cell = cells - rows_per[:, None] * p
    e_probe = e_cell.sum(axis=1)
    e_unit = e_cell.sum(axis=0)
    denom = float(total) ** 2
    v_probe = groups / (groups - 1) * float(e_probe @ e_probe) / denom
    v_unit = m / (m - 1) * float(e_unit @ e_unit) / denom
    k = groups * m
    v_both = k / (k - 1) * float(np.sum(e_cell * e_cell)) / denom
    return v_probe, v_unit, v_both


def _layer_fraction(
    sat: np.ndarray,
    estimand: str,
    probe_clusters: Any,
    level: float,
    common: dict[str, Any],
) -> ProportionResult:
    n_rows, units = sat.shape
    if units < 2:
        raise ValueError(
            "`z` of shape (inputs, neurons) needs at least 2 neurons for a layer interval; "
            f"got shape {sat.shape} (pass z[:, 0] for one neuron's inputs)"
        )
    per_unit = sat.mean(axis=0)
    est = float(per_unit.mean())
    if estimand == "probe_set":
        if probe_clusters is not None:
            raise ValueError("`probe_clusters` applies to estimand='population' only (the "
                             "probe-set interval is conditional on the probes); got "
                             f"probe_clusters={probe_clusters!r} with estimand='probe_set'")
        n_probes = n_rows
        sd = float(per_unit.std(ddof=1))
        if sd > 0:
            half = t_quantile(level, units - 1) * sd / math.sqrt(units)
            lo, hi = max(0.0, float(est - half)), min(1.0, float(est + half))
            method = "cluster_t"
        else:
            # every unit has the same fraction (typically all 0 or all 1): fall back to a
            # Wilson interval with the units as the Bernoulli draws (conservative)
            lo, hi = _binomial(round(est * units), units, level, "wilson")
            method = "wilson_units"
    else:
        codes, n_probes = _cluster_labels(probe_clusters, n_rows)
        if n_probes < 2:
            raise ValueError(
                "estimand='population' needs at least 2 probe inputs (probe clusters): the "
                f"probes' sampling error cannot be estimated from one; got z of shape "
                f"{sat.shape} with {n_probes} probe cluster(s) (use estimand='probe_set' "
                "for the fraction conditional on these probes)")
        v_probe, v_unit, v_both = _two_way_variance(sat, codes, n_probes)
        var = max(v_probe + v_unit - v_both, v_probe, v_unit)
        clusters = min(n_probes, units)
        if var > 0:
            half = t_quantile(level, clusters - 1) * math.sqrt(var)
            lo, hi = max(0.0, float(est - half)), min(1.0, float(est + half))
            method = "two_way_cluster_t"
        else:
            # no variation between probe clusters nor between units: Wilson with the
            # smaller number of clusters as the Bernoulli draws (conservative)
            lo, hi = _binomial(round(est * clusters), clusters, level, "wilson")
            method = "wilson_clusters"
    per_unit.setflags(write=False)
    return ProportionResult(estimate=est, ci_low=lo, ci_high=hi, n=units,
                            n_values=sat.size, count=int(sat.sum()), method=method,
                            per_unit=per_unit, estimand=estimand, n_probes=n_probes, **common)


@fill
def dead_fraction(
    z: Any, *, activation: Any = "relu", confidence_level: float = 0.95, method: str = "wilson"
) -> ProportionResult:
    """Fraction of *dead* units: inactive (z ≤ 0) for every probe input.

    "Dead" is relative to the probe set (a unit inactive on these probes may fire on
    others), so the estimand is ``"probe_set"``: a Wilson interval with the units as
    the draws.

    Parameters
    ----------
    z : array_like, shape (inputs, neurons)
        Pre-activations of one layer: row i for probe input i, column j for unit j.
    activation : "relu" or "leaky_relu" (or an instance), default "relu"
        An activation with the ``"inactive"`` criterion (z ≤ 0).
    %(confidence_level)s
    method : str, default "wilson"
        statsmodels ``proportion_confint`` method for the k dead units out of m.

    Returns
    -------
    ProportionResult
        ``estimate`` = k/m with k the units inactive on every row, its binomial interval
        over the m units, ``per_unit`` the 0/1 dead indicators, ``criterion="dead"`` and
        ``estimand="probe_set"``.

    Raises
    ------
    ValueError
        ``z`` not 2-D, empty or not finite; an activation other than relu/leaky_relu;
        ``confidence_level`` not in (0, 1); an unknown ``method``.
    """
    act = as_activation(activation)
    arr = check_array("z", z, ndim=2)
    level = _level(confidence_level)
    inactive = act.is_saturated(arr, "inactive")
    dead = inactive.all(axis=0)
    units = arr.shape[1]
    k = int(dead.sum())
    lo, hi = _binomial(k, units, level, method)
    per_unit = dead.astype(float)
    per_unit.setflags(write=False)
    return ProportionResult(estimate=k / units, ci_low=lo, ci_high=hi, n=units,
                            n_values=arr.size, count=k, confidence_level=level, method=method,
                            activation=act.name, criterion="dead", z_low=0.0, z_high=math.inf,
                            per_unit=per_unit, estimand="probe_set", n_probes=arr.shape[0])


def predicted_fraction(
    std: Any,
    *,
    mean: Any = 0.0,
    activation: Any = "sigmoid",
    epsilon: float = 0.01,
    criterion: str | None = None,
    delta: float = 0.01,
) -> float | np.ndarray:
    r"""Saturated fraction when :math:`z \sim N(\text{mean}, \text{std}^2)`.

    .. math::

        P(z < z_{lo}) + P(z > z_{hi}) = \Phi\Big(\frac{z_{lo}-\mu}{s}\Big)
        + \Phi\Big(\frac{\mu - z_{hi}}{s}\Big)

    Vectorised over ``std`` and ``mean`` (broadcast); a scalar input gives a float.
    ``std = 0`` gives the indicator of a saturated ``mean``.

    Parameters
    ----------
    std : float or array_like
        s, the standard deviation of z (finite, ≥ 0).
    mean : float or array_like, default 0.0
        μ, the mean of z (finite).
    activation : Activation or str, default "sigmoid"
        The activation whose saturation bounds :math:`(z_{lo}, z_{hi})` are used
        (:meth:`~satsim.activations.Activation.saturation_bounds`).
    epsilon : float, default 0.01
        Output-range fraction of the ``"output"`` criterion.
    criterion : {"output", "derivative", "tanh97", "inactive"}, optional
        Default: the activation's own.
    delta : float, default 0.01
        Derivative fraction of the ``"derivative"`` criterion.

    Returns
    -------
    float or numpy.ndarray
        The probability that z is saturated, of the broadcast shape of ``std`` and
        ``mean`` (a float for scalars).

    Raises
    ------
    TypeError
        ``std`` or ``mean`` is not numeric.
    ValueError
        ``std`` negative or not finite, ``mean`` not finite, or an unknown activation,
        criterion or out-of-range ``epsilon``/``delta`` (also a criterion the
        activation does not have, e.g. ``"output"`` for relu).

    Examples
    --------
    >>> round(predicted_fraction(501 ** 0.5), 4)   # Nielsen's N(0, 1) weights
    0.8373
    >>> float(f"{predicted_fraction(1.5 ** 0.5):.4g}")  # N(0, 1/n_in) weights
    0.0001755
    """
    try:
        s = np.asarray(std, dtype=float)
        m = np.asarray(mean, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`std` and `mean` must be real numbers or arrays; "
                        f"got std={std!r}, mean={mean!r}") from None
    if not (np.all(np.isfinite(s)) and np.all(s >= 0)):
        raise ValueError(f"`std` must be finite and non-negative; got std={std!r}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"`mean` must be finite; got mean={mean!r}")
    act = as_activation(activation)
    crit = _criterion_name(act, criterion)
    lo, hi = act.saturation_bounds(crit, epsilon=epsilon, delta=delta)
    # (lo − m)/s may overflow to ±inf for subnormal s: Φ(±inf) is the right limit
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        safe = np.where(s > 0, s, 1.0)
        p = stats.norm.cdf((lo - m) / safe) + stats.norm.sf((hi - m) / safe)
        if crit == "inactive":
            degenerate = (m <= lo).astype(float)
        else:
            degenerate = ((m < lo) | (m > hi)).astype(float)
    out = np.where(s > 0, p, degenerate)
    return float(out) if out.ndim == 0 else out


def predicted_fraction_mixture(
    X: Any,
    *,
    weights: Any = "nielsen",
    bias: Any = "standard_normal",
    fan_out: int | None = None,
    activation: Any = "sigmoid",
    epsilon: float = 0.01,
    criterion: str | None = None,
    delta: float = 0.01,
) -> float:
    r"""Predicted saturated fraction for real data: the average over the rows x of
    ``X`` of :func:`predicted_fraction` with
    :math:`z \mid x \sim N(\mu_w \textstyle\sum_j x_j + \mu_b,\;
    \sigma_w^2 \lVert x\rVert^2 + \sigma_b^2)`.

    Parameters
    ----------
    X : array_like (n_rows, n_in) or :class:`satsim.inputs.Rows`
        The input rows x.
    weights, bias : Initializer or str (bias may be None), default "nielsen", "standard_normal"
        Weight and bias initializers; their means :math:`\mu_w, \mu_b` and variances
        :math:`\sigma_w^2, \sigma_b^2` at the layer's fans enter the formula (None: no
        bias, :math:`\mu_b = \sigma_b^2 = 0`).
    fan_out : int, optional
        Layer width (default n_in).
    activation : Activation or str, default "sigmoid"
        As in :func:`predicted_fraction`.
    epsilon : float, default 0.01
        As in :func:`predicted_fraction`.
    criterion : str, optional
        As in :func:`predicted_fraction`.
    delta : float, default 0.01
        As in :func:`predicted_fraction`.

    Returns
    -------
    float
        :math:`\frac{1}{n_{rows}}\sum_x P(z \text{ saturated} \mid x)`: the fraction of
        a layer's (unit, row) pairs expected to be saturated.  Exact when weights and
        bias are Gaussian (or constant), a normal approximation (CLT over the inputs)
        otherwise.

    Raises
    ------
    ValueError
        ``X`` not 2-D, empty or not finite, ``fan_out`` not a positive integer, an
        unknown initializer, or as :func:`predicted_fraction`.
    """
    data = X.X if isinstance(X, Rows) else check_array("X", X, ndim=2)
    n_in = data.shape[1]
    fan_out = n_in if fan_out is None else check_int("fan_out", fan_out, minimum=1)
    w = as_initializer(weights, param="weights")
    b = None if bias is None else as_initializer(bias, param="bias")
    var_w, mu_w = w.variance(n_in, fan_out), w.mean(n_in, fan_out)
    var_b = 0.0 if b is None else b.variance(n_in, fan_out)
    mu_b = 0.0 if b is None else b.mean(n_in, fan_out)
    sq = np.einsum("ij,ij->i", data, data)
    std = np.sqrt(var_w * sq + var_b)
    mean = mu_w * data.sum(axis=1) + mu_b
    p = predicted_fraction(std, mean=mean, activation=activation, epsilon=epsilon,
                           criterion=criterion, delta=delta)
    return float(np.mean(p))


def _sweep_cell(params: dict, rng: np.random.Generator) -> dict:
    """One (fan_in, initializer, input model) cell of :func:`sweep`: simulate once,
    measure every activation."""
    from satsim.montecarlo import simulate

    model = _INPUT_MODELS[params["inputs"]](params["fan_in"])
    res = simulate(params["initializer"], model, bias=params["bias"],
                   n_samples=params["n_samples"], keep=params["n_samples"], rng=rng)
    rows = []
    for name in params["activations"]:
        act = as_activation(name)
        frac = fraction(res.samples, activation=act, epsilon=params["epsilon"],
                        confidence_level=params["confidence_level"])
        pred = predicted_fraction(res.theory_std, mean=res.theory_mean, activation=act,
                                  epsilon=params["epsilon"])
        rows.append({"activation": act.name, "criterion": frac.criterion,
                     "estimate": frac.estimate, "ci_low": frac.ci_low, "ci_high": frac.ci_high,
                     "predicted": pred, "theory_std": res.theory_std, "n": frac.n})
    return {"rows": rows}


#: input models of :func:`sweep`, by name (a name travels to worker processes)
_INPUT_MODELS = {
    "nielsen_half": lambda n: nielsen(n, n // 2),
    "nielsen_all": lambda n: nielsen(n, n),
}


def _grid_name(given: Any, made: Any, param: str) -> str:
    """The name a sweep cell resolves again in its worker: the string given, else the
    object's registered name (an unregistered object cannot travel by name)."""
    if isinstance(given, str):
        return given
    name = getattr(made, "_satsim_spec", None) or made.name
    try:
        again = (as_initializer if param == "initializers" else as_activation)(name, param=param)
    except (TypeError, ValueError):
        again = None
    if again is None or type(again) is not type(made):
        family = "init" if param == "initializers" else "activations"
        raise ValueError(f"`{param}`: {made!r} has no name a worker can look up; register it "
                         f"(satsim.{family}.register({name!r}, ...)) or pass 'module:attr'")
    return name


@fill
def sweep(
    fan_in: Sequence[int],
    initializers: Sequence[str],
    activations: Sequence[str],
    *,
    inputs: Sequence[str] = ("nielsen_half",),
    bias: str | None = "standard_normal",
    n_samples: int = 20_000,
    epsilon: float = 0.01,
    confidence_level: float = 0.95,
    rng: Any = None,
    out: Any = None,
    executor: Any = "serial",
    workers: int | None = None,
    progress: Any = False,
    worker_setup: Any = None,
) -> pd.DataFrame:
    """Saturated fraction over fan_in × initializer × activation × input model.

    Runs on :mod:`satsim.sweep`: one cell per (fan_in, initializer, input model),
    seeded from ``rng`` and the cell's key, whose single Monte Carlo run of
    :func:`satsim.montecarlo.simulate` supplies the z's for every activation.  The
    prediction is :func:`predicted_fraction` at the closed-form mean and std of z —
    exact for Gaussian weights on a fixed input, a normal approximation otherwise.

    Parameters
    ----------
    fan_in : sequence of int
    initializers, activations : sequences of registered names
    inputs : sequence of {"nielsen_half", "nielsen_all"}
        Input models (half or all of the inputs equal to 1).
    bias : str or None, default "standard_normal"
    n_samples : int, default 20000
    epsilon : float, default 0.01
    %(confidence_level)s
    %(rng)s
    out : path, optional
        Sweep directory (resumable SQLite store); default an in-memory store.
    executor : default "serial"
        Any :func:`satsim.sweep.run` executor ("process", a Dask client, ...).
    workers, progress, worker_setup :
        Passed to :func:`satsim.sweep.run`.

    Returns
    -------
    pandas.DataFrame
        Columns ``fan_in``, ``initializer``, ``activation``, ``inputs``, ``criterion``,
        ``estimate``, ``ci_low``, ``ci_high``, ``predicted``, ``theory_std``, ``n``.
    """
    from satsim import sweep as engine

    fans = [check_int(f"fan_in[{i}]", f, minimum=1) for i, f in enumerate(fan_in)]
    inits = [_grid_name(w, as_initializer(w, param="initializers"), "initializers")
             for w in initializers]
    acts = [_grid_name(a, as_activation(a, param="activations"), "activations")
            for a in activations]
    if not (fans and inits and acts):
        raise ValueError("`fan_in`, `initializers` and `activations` must be non-empty")
    if isinstance(inputs, str) or not isinstance(inputs, Sequence):
        raise TypeError(f"`inputs` must be a sequence of input-model names; got {inputs!r}")
    for name in inputs:
        if name not in _INPUT_MODELS:
            known = ", ".join(map(repr, _INPUT_MODELS))
            raise ValueError(f"`inputs` must name models among {known}; got {name!r}")
    n_samples = check_int("n_samples", n_samples, minimum=2)
    rng = check_rng(rng)
    root = int(rng.integers(2**63))
    grid = engine.product(fixed={"activations": acts, "bias": bias, "n_samples": n_samples,
                                 "epsilon": epsilon, "confidence_level": confidence_level},
                          fan_in=fans, initializer=inits, inputs=list(inputs))
    table = engine.run(_sweep_cell, grid, out=out, root_seed=root, executor=executor,
                       workers=workers, progress=progress, worker_setup=worker_setup
                       ).to_frame()
    failed = table[table.status != "done"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} sweep cell(s) failed: {failed.error.iloc[0]}")
    rows = []
    order = {c.key: i for i, c in enumerate(grid)}
    for rec in sorted(table.to_dict("records"), key=lambda r: order[r["key"]]):
        for row in rec["rows"]:
            rows.append({"fan_in": rec["fan_in"], "initializer": rec["initializer"],
                         "activation": row["activation"], "inputs": rec["inputs"],
                         "criterion": row["criterion"], "estimate": row["estimate"],
                         "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                         "predicted": row["predicted"], "theory_std": row["theory_std"],
                         "n": row["n"]})
    return pd.DataFrame(rows)
