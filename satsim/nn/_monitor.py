"""What :meth:`satsim.nn.Network.fit` records each epoch, and the divergence check
(see :mod:`satsim.nn.network`'s docstring, "Cost of monitoring"): the probe subset and
the training-set monitor's rows, drawn once per fit, and one record per epoch.

The probe rows are evaluated once per record, forward (and backward for telemetry),
when telemetry or the divergence check needs them; the monitor evaluates its rows.
When one set holds the other, the probe's forward pass is also the monitor's on those
rows ("shared": the monitor adds only its other rows; "inside": the monitor is part of
the probe) — nothing is evaluated twice.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from satsim._validation import check_int
from satsim._warnings import TrainingDivergenceWarning
from satsim.nn.history import _Recorder

if TYPE_CHECKING:
    from satsim.nn.network import Network

#: the "auto" monitoring sizes of :meth:`Network.fit` (module docstring, "Cost of
#: monitoring"): each record (epoch 0 and every epoch) may spend this share of one
#: training epoch's multiply-adds on the training-set monitor and this share on the
#: probe's backward pass and statistics
_MONITOR_SHARE = 0.015
_PROBE_SHARE = 0.015
#: multiply-adds that the statistics of one probe value cost, in the same units as the
#: products (percentiles' partition, mean and spread, the saturation counts and their
#: two-way variance): about 40 ns a value, measured against the ~45-50 G multiply-adds/s
#: of single-thread float32 training at batch 64 (benchmarks/bench_training.py)
_STAT_COST = 2000
#: floors (precision) and caps (enough precision) of the "auto" sizes (fit's docstring
#: states the standard errors they bound)
_MONITOR_MIN, _MONITOR_MAX = 200, 5000
_PROBE_MIN, _PROBE_MAX = 20, 1000
_AUTO = "auto"


def _auto_sizes(sizes: Sequence[int], n: int) -> tuple[int, int]:
    r"""(training-set monitor rows m, probe rows p) of ``fit``'s ``"auto"`` defaults
    for a network of layer ``sizes`` trained on ``n`` rows.

    In multiply-adds, with :math:`F = \sum_l n_{l-1} n_l` and :math:`U = \sum_{l \ge 1}
    n_l`: an epoch costs :math:`3Fn`, the monitor's forward pass :math:`Fm`, the
    probe's backward pass and statistics :math:`p\,(2F + cU)`; each gets its share
    of the epoch, :math:`m = 3 s_m n` and :math:`p = 3 s_p n F / (2F + cU)`, clipped
    to the floors and caps and to n.
    """
    F = sum(a * b for a, b in itertools.pairwise(sizes))
    U = sum(sizes[1:])
    m = round(3 * _MONITOR_SHARE * n)
    p = round(3 * _PROBE_SHARE * n * F / (2 * F + _STAT_COST * U))
    m = min(n, max(_MONITOR_MIN, min(_MONITOR_MAX, m)))
    p = min(n, max(_PROBE_MIN, min(_PROBE_MAX, p)))
    return m, p


def _nested_rows(probe: np.ndarray, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random m-subset of range(n), sorted, that contains the (sorted,
    uniformly random) ``probe`` rows when m ≥ their number and lies inside them
    otherwise: one forward pass then serves the monitor and the probe."""
    p = probe.shape[0]
    if m <= p:
        return np.sort(probe[rng.choice(p, size=m, replace=False)])
    rest = np.ones(n, bool)
    rest[probe] = False
    others = np.flatnonzero(rest)
    return np.sort(np.concatenate([probe, others[rng.choice(others.shape[0], size=m - p,
                                                            replace=False)]]))


def check_monitor_sizes(probe_size: Any, monitor_size: Any) -> tuple[Any, bool, Any, bool]:
    """``(probe_size, probe_auto, monitor_size, monitor_auto)`` from ``fit``'s options,
    validated (an int, ``"auto"``, or None for ``monitor_size``)."""
    for name, given, least in (("probe_size", probe_size, 2),
                               ("monitor_size", monitor_size, 1)):
        if isinstance(given, str) and given != _AUTO:
            raise ValueError(f"`{name}` must be an integer >= {least} or 'auto'; got "
                             f"{name}={given!r}")
    probe_auto = isinstance(probe_size, str) and probe_size == _AUTO
    if not probe_auto:
        probe_size = check_int("probe_size", probe_size, minimum=2)
    monitor_auto = isinstance(monitor_size, str) and monitor_size == _AUTO
    if monitor_size is not None and not monitor_auto:
        monitor_size = check_int("monitor_size", monitor_size, minimum=1)
    return probe_size, probe_auto, monitor_size, monitor_auto


class Monitor:
    """The records of one :meth:`~satsim.nn.Network.fit`: :meth:`record` after each
    epoch (and epoch 0) appends to :attr:`history`; :meth:`diverged` is the
    divergence check on the record's probe cost."""

    def __init__(self, net: Network, X: np.ndarray, y: np.ndarray, Y: np.ndarray, *,
                 rng: np.random.Generator, sizes: tuple[Any, bool, Any, bool],
                 telemetry: bool, monitor_training: bool, divergence: float | None,
                 validation: tuple[np.ndarray, np.ndarray] | None, lmbda: float,
                 regularization: str, epsilon: float) -> None:
        probe_size, probe_auto, monitor_size, monitor_auto = sizes
        n = X.shape[0]
        self.net, self.n = net, n
        self.telemetry, self.monitor_training = telemetry, monitor_training
        self.divergence, self.validation = divergence, validation
        self.lmbda, self.regularization, self.epsilon = lmbda, regularization, epsilon
        self.history = _Recorder()
        self.start = time.perf_counter()
        auto_m, auto_p = _auto_sizes(net.sizes, n)
        # the probe draw comes first from rng and always has this size (a given
        # probe_size, or the cap with "auto"), so that the shuffles after it do not
        # depend on the monitoring; the draw is in random order, so its first auto_p
        # rows are a uniformly random auto_p-subset
        draw = rng.choice(n, size=min(_PROBE_MAX if probe_auto else probe_size, n),
                          replace=False)
        probe = np.sort(draw[:auto_p] if probe_auto else draw)
        self.use_probe = telemetry or divergence is not None
        rows: np.ndarray | None = None  # the monitor's rows; None: all n
        if monitor_training and monitor_auto and auto_m < n:
            # spawn: a child stream, leaving rng's own draws (the shuffles) as they were
            rows = _nested_rows(probe, auto_m, n, rng.spawn(1)[0])
        elif (monitor_training and not monitor_auto and monitor_size is not None
              and n > monitor_size):
            rows = np.sort(rng.spawn(1)[0].choice(n, size=monitor_size, replace=False))
        self.Xp, self.yp, self.Yp = X[probe], y[probe], Y[probe]
        self.mode = "plain"  # the monitor's own pass over Xm (or no monitor)
        self.rest: np.ndarray | None = None  # "shared": the monitor's rows outside the probe
        self.inside: np.ndarray | None = None  # "inside": their places in the probe
        self.Xm, self.ym, self.Xr, self.yr = X, y, X, y
        if monitor_training and self.use_probe:
            covered = np.ones(n, bool)
            if rows is not None:
                covered[:] = False
                covered[rows] = True
            if covered[probe].all():
                self.mode = "shared"
                covered[probe] = False
                self.rest = np.flatnonzero(covered)
                if rows is not None:  # a subset: gathered once (the whole set: by chunks)
                    self.Xr, self.yr, self.rest = X[self.rest], y[self.rest], None
            elif rows is not None and np.isin(rows, probe).all():
                self.mode, self.inside = "inside", np.searchsorted(probe, rows)
        if self.mode == "plain" and rows is not None:
            self.Xm, self.ym = X[rows], y[rows]
        self.m_rows = n if rows is None else rows.shape[0]  # the monitor's rows
        self.probe_cost: list[float] = []  # this record's cost on the probe
        self.probe_cost0 = math.nan

    def record(self, epoch: int, eta: float) -> None:
        """Evaluate and append the record of ``epoch`` (``eta``: the current rate)."""
        net, lmbda, regularization, n = self.net, self.lmbda, self.regularization, self.n
        self.probe_cost.clear()
        row: dict[str, Any] = {"epoch": epoch, "eta": eta,
                               "wall_time": time.perf_counter() - self.start}
        penalty = net._penalty(lmbda, regularization, n)
        if self.use_probe:  # one forward pass over the probe serves everything below
            zs, acts, outs = net._forward_keep(self.Xp)
            z, a = zs[-1], acts[-1]
            probe_sum = net.cost.fn(z, a, self.Yp)  # summed data cost, computed once
            self.probe_cost.append(probe_sum / z.shape[0] + penalty)
        # one batched forward pass per evaluated set gives both its cost and accuracy
        if self.monitor_training and self.mode == "plain":
            row["train_cost"], row["train_accuracy"] = net._evaluate(
                self.Xm, self.ym, lmbda, regularization, n)
        elif self.mode in ("shared", "inside"):
            if self.mode == "shared":  # the other rows, then the probe's
                total, correct = net._eval_sums(self.Xr, self.yr, self.rest)
                total += probe_sum
                correct += int(np.count_nonzero(np.argmax(a, axis=1) == self.yp))
            else:  # some of the probe's rows
                inside = self.inside
                total = net.cost.fn(z[inside], a[inside], self.Yp[inside])
                correct = int(np.count_nonzero(np.argmax(a[inside], axis=1)
                                               == self.yp[inside]))
            row["train_cost"] = float(total / self.m_rows + penalty)
            row["train_accuracy"] = correct / self.m_rows
        if self.validation is not None:
            Xv, yv = self.validation
            row["validation_cost"], row["validation_accuracy"] = net._evaluate(
                Xv, yv, lmbda, regularization, n)
        self.history.epochs.append(row)
        if self.telemetry:
            gw, gb = net._backward(zs, acts, outs, self.Yp)
            self.history.layers.extend(net._telemetry(epoch, zs, gw, gb, self.epsilon))

    def diverged(self, epoch: int, eta: float) -> bool:
        """The divergence check after ``epoch`` (module docstring); warns and records
        the reason when it fires."""
        divergence = self.divergence
        if divergence is None:
            return False
        net = self.net
        cost = self.probe_cost[0]  # from the record's forward pass on the probe
        if epoch == 0:
            self.probe_cost0 = cost
        params_finite = all(np.isfinite(np.sum(P))
                            for P in itertools.chain(net.weights, net.biases))
        if not math.isfinite(cost):
            what = f"the cost on the probe subset is {cost}"
        elif not params_finite:
            what = "a weight or bias is not finite"
        elif epoch and self.probe_cost0 > 0 and cost > divergence * self.probe_cost0:
            what = (f"the cost on the probe subset is {cost:.3g}, more than "
                    f"divergence={divergence:g} times its epoch-0 value "
                    f"{self.probe_cost0:.3g}")
        else:
            return False
        reason = f"diverged at epoch {epoch}: {what}"
        warnings.warn(f"training {reason} (is eta={eta:g} too large?); training stopped "
                      "and the history so far returned", TrainingDivergenceWarning,
                      stacklevel=3)
        self.history.stopped_early, self.history.stop_reason = True, reason
        return True
