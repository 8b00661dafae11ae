r"""Streaming Monte Carlo of the pre-activation :math:`z = w \cdot x + b`.

:func:`simulate` draws ``n_samples`` independent neurons — each a fresh weight
row (and bias, and input vector when the input model is random) — and summarises
their pre-activations without storing them: exact mergeable moments (count,
mean, variance, skewness, excess kurtosis, min, max; Pébay 2008), a histogram on
a grid fixed in advance from the closed-form moments, and exceedance counts
:math:`\#\{|z| > t\}`.

Determinism.  The stream is cut into *blocks* of
:math:`B = \max(1, \lfloor 2^{17}/n_{in} \rfloor)` neurons (about 1 MiB of float64
weights, which keeps the product in cache).  Block ``i`` draws from its own
generator, seeded by the ``i``-th child of one ``SeedSequence`` spawned from
``rng``, and block summaries are merged strictly in block order.  So for a given
seed the result is bit-identical for every ``chunk_size`` and ``workers`` — those
only decide how blocks are grouped into tasks and run.  Within a block the draws
are, in order: the weight rows, the biases, then (random input models) the inputs.

Memory.  Each worker holds one block of weights, :math:`O(B\, n_{in})`, plus a
few summaries per block in flight; nothing grows with ``n_samples``.

Threads.  ``workers > 1`` runs tasks on a thread pool.  NumPy's generators release
the GIL while filling arrays, so the fill — the bottleneck — runs in parallel.
BLAS is limited to one thread per worker for the duration (``threadpoolctl``) so
workers do not oversubscribe the cores.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from threadpoolctl import threadpool_limits

from satsim._docstrings import fill
from satsim._moments import StreamingMoments
from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_int, check_real, check_rng
from satsim._warnings import DegenerateDistributionWarning
from satsim.init import Initializer
from satsim.inputs import Fixed, InputModel
from satsim.theory import _resolve_layer, preactivation_moments

__all__ = ["BLOCK_ELEMENTS", "PreactivationResult", "simulate"]

__dir__ = public_dir(globals())

#: Target number of weight entries per block (2**17 float64 = 1 MiB).
BLOCK_ELEMENTS: int = 2**17
#: Default number of blocks per task.
_BLOCKS_PER_CHUNK: int = 32


def _z_quantile(confidence_level: float) -> float:
    check_real("confidence_level", confidence_level, low=0.0, high=1.0,
               low_inclusive=False, high_inclusive=False)
    return float(stats.norm.ppf(0.5 + confidence_level / 2.0))


@result
class PreactivationResult(Result, Plottable):
    r"""Summary of a Monte Carlo run of :math:`z = w \cdot x + b`.

    Attributes
    ----------
    n : int
        Number of simulated neurons.
    mean, var : float
        Sample mean and sample variance (``ddof=1``).
    skewness, excess_kurtosis : float
        g1 and g2 (scipy's ``bias=True`` convention); NaN if var = 0.
    fourth_central_moment : float
        :math:`m_4 = \frac1n\sum (z_i - \bar z)^4`, used by the variance CI.
    min, max : float
        Extremes of the sample.
    hist_edges, hist_counts : numpy.ndarray
        Histogram on a grid fixed before sampling (theory mean ± 8 theory std);
        ``underflow``/``overflow`` count the draws outside it.
    thresholds, exceed_counts : numpy.ndarray
        :math:`\#\{|z_i| > t\}` for each threshold t.
    theory_mean, theory_var, theory_skewness, theory_excess_kurtosis : float
        Closed forms from :func:`satsim.theory.preactivation_moments`.
    samples : numpy.ndarray
        The first ``keep`` draws, in stream order (empty if ``keep=0``).
    weights, inputs, bias, fan_in, fan_out, n_samples, chunk_size, workers, block_size,
    seed_entropy, spawn_key
        The inputs that define the run (``seed_entropy``/``spawn_key`` identify the
        ``SeedSequence`` the blocks were spawned from).
    """

    _title = "Pre-activation z = w·x + b: Monte Carlo"

    n: int
    mean: float
    var: float
    skewness: float
    excess_kurtosis: float
    fourth_central_moment: float
    min: float
    max: float
    hist_edges: np.ndarray
    hist_counts: np.ndarray
    underflow: int
    overflow: int
    thresholds: np.ndarray
    exceed_counts: np.ndarray
    theory_mean: float
    theory_var: float
    theory_skewness: float
    theory_excess_kurtosis: float
    samples: np.ndarray
    weights: Initializer
    inputs: InputModel
    bias: Initializer | None
    fan_in: int
    fan_out: int
    n_samples: int
    chunk_size: int
    workers: int
    block_size: int
    seed_entropy: int | Sequence[int] | None
    spawn_key: tuple[int, ...]

    @property
    def std(self) -> float:
        """Sample standard deviation, √var."""
        return math.sqrt(self.var)

    @property
    def theory_std(self) -> float:
        return math.sqrt(self.theory_var)

    def mean_ci(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Wald interval :math:`\\bar z \\pm z_{1-\\alpha/2}\\, s/\\sqrt n`."""
        half = _z_quantile(confidence_level) * math.sqrt(self.var / self.n)
        return self.mean - half, self.mean + half

    def var_se(self) -> float:
        r"""Kurtosis-aware standard error of the sample variance,
        :math:`\sqrt{(m_4 - s^4 (n-3)/(n-1))/n}` — valid without normality."""
        n = self.n
        v = self.fourth_central_moment - self.var**2 * (n - 3) / (n - 1)
        return math.sqrt(max(v, 0.0) / n)

    def var_ci(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Asymptotic interval for Var z: :math:`s^2 \\pm z_{1-\\alpha/2}\\,\\mathrm{SE}(s^2)`,
        with the kurtosis-aware SE of :meth:`var_se` (lower end clipped at 0)."""
        half = _z_quantile(confidence_level) * self.var_se()
        return max(self.var - half, 0.0), self.var + half

    def std_ci(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Square roots of the ends of :meth:`var_ci`."""
        low, high = self.var_ci(confidence_level)
        return math.sqrt(low), math.sqrt(high)

    def exceedance(self, confidence_level: float = 0.95, method: str = "wilson") -> pd.DataFrame:
        """Fraction of draws with :math:`|z| > t` per threshold, with a binomial CI
        (statsmodels ``proportion_confint``; Wilson by default)."""
        _z_quantile(confidence_level)
        low, high = proportion_confint(
            self.exceed_counts, self.n, alpha=1.0 - confidence_level, method=method
        )
        return pd.DataFrame(
            {
                "threshold": self.thresholds,
                "count": self.exceed_counts,
                "n": self.n,
                "estimate": self.exceed_counts / self.n,
                "ci_low": np.atleast_1d(low),
                "ci_high": np.atleast_1d(high),
                "theory": [self._normal_exceedance(t) for t in self.thresholds],
            }
        )

    def _normal_exceedance(self, t: float) -> float:
        """P(|z| > t) if z were N(theory_mean, theory_var) (exact for Gaussian weights
        on a fixed input)."""
        if self.theory_var == 0.0:
            return float(abs(self.theory_mean) > t)
        s = self.theory_std
        m = self.theory_mean
        return float(stats.norm.sf(t, m, s) + stats.norm.cdf(-t, m, s))

    def histogram_frame(self) -> pd.DataFrame:
        """Tidy histogram: ``bin_left``, ``bin_right``, ``count``, ``density`` (per unit z,
        normalised by all n draws, so it integrates to the in-grid fraction)."""
        widths = np.diff(self.hist_edges)
        return pd.DataFrame(
            {
                "bin_left": self.hist_edges[:-1],
                "bin_right": self.hist_edges[1:],
                "count": self.hist_counts,
                "density": self.hist_counts / (self.n * widths),
            }
        )

    def to_frame(self, confidence_level: float = 0.95) -> pd.DataFrame:
        """One row per statistic: ``statistic``, ``estimate``, ``ci_low``, ``ci_high``,
        ``theory``, ``n``."""
        mean_ci = self.mean_ci(confidence_level)
        var_ci = self.var_ci(confidence_level)
        std_ci = self.std_ci(confidence_level)
        nan = math.nan
        return pd.DataFrame(
            {
                "statistic": ["mean", "var", "std", "skewness", "excess_kurtosis"],
                "estimate": [self.mean, self.var, self.std, self.skewness, self.excess_kurtosis],
                "ci_low": [mean_ci[0], var_ci[0], std_ci[0], nan, nan],
                "ci_high": [mean_ci[1], var_ci[1], std_ci[1], nan, nan],
                "theory": [
                    self.theory_mean,
                    self.theory_var,
                    self.theory_std,
                    self.theory_skewness,
                    self.theory_excess_kurtosis,
                ],
                "n": self.n,
            }
        )

    def _summary_header(self) -> list[str]:
        bias = "none" if self.bias is None else self.bias.name
        return [
            f"weights={self.weights.name}  bias={bias}  inputs={self.inputs!r}",
            f"fan_in={self.fan_in}  fan_out={self.fan_out}  n={self.n}",
        ]


def _block_root(rng: np.random.Generator) -> np.random.SeedSequence:
    """One child SeedSequence of ``rng`` from which every block's seed derives."""
    seed_seq = rng.bit_generator.seed_seq
    if isinstance(seed_seq, np.random.SeedSequence):
        return seed_seq.spawn(1)[0]
    # e.g. a bit generator seeded the legacy way (no SeedSequence to spawn from)
    return np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())


class _Job:
    """Everything a worker needs to process blocks (read-only, shared by threads)."""

    def __init__(
        self,
        *,
        weights: Initializer,
        inputs: InputModel,
        bias: Initializer | None,
        fan_in: int,
        fan_out: int,
        n_samples: int,
        block_size: int,
        root: np.random.SeedSequence,
        bitgen_type: type[np.random.BitGenerator],
        edges: np.ndarray,
        thresholds: np.ndarray,
        keep: int,
    ) -> None:
        self.weights, self.inputs, self.bias = weights, inputs, bias
        self.fan_in, self.fan_out = fan_in, fan_out
        self.n_samples, self.block_size = n_samples, block_size
        self.root, self.bitgen_type = root, bitgen_type
        self.lo = float(edges[0])
        self.bins = edges.shape[0] - 1
        self.width = float(edges[1] - edges[0])
        self.thresholds = thresholds
        self.keep = keep
        # a Fixed input is folded into one matrix-vector product per block (as in
        # satsim.theory, which also gives Fixed its exact cumulants); others are sampled
        self.x = inputs.x if isinstance(inputs, Fixed) else None
        # Gaussian weights σ·G: draw G and fold σ into x (or into z for random inputs),
        # saving a pass over every block of weights
        self.sigma = weights._gaussian_scale(fan_in, fan_out)
        if self.sigma is not None and self.x is not None:
            self.x = self.sigma * self.x

    def generator(self, block: int) -> np.random.Generator:
        seed = np.random.SeedSequence(
            self.root.entropy,
            spawn_key=(*self.root.spawn_key, block),
            pool_size=self.root.pool_size,
        )
        return np.random.Generator(self.bitgen_type(seed))

    def run(self, first: int, last: int) -> list[tuple]:
        """Summaries of blocks ``first .. last-1``."""
        B = self.block_size
        buf = np.empty((B, self.fan_in))
        out = []
        for block in range(first, last):
            start = block * B
            m = min(B, self.n_samples - start)
            gen = self.generator(block)
            # arguments were validated once by simulate(): call the unchecked fills
            W = buf[:m]
            if self.sigma is not None:
                gen.standard_normal(out=W)
            else:
                self.weights._fill_rows(W, self.fan_in, self.fan_out, gen)
            if self.bias is not None:
                b = np.empty(m)
                self.bias._fill(b, self.fan_in, self.fan_out, gen)
            if self.x is not None:
                z = W @ self.x
            else:
                X = self.inputs._sample(m, gen)
                z = np.einsum("ij,ij->i", W, X)
                if self.sigma is not None:
                    z *= self.sigma
            if self.bias is not None:
                z += b
            out.append(self._summarise(z, start))
        return out

    def _summarise(self, z: np.ndarray, start: int) -> tuple:
        moments = StreamingMoments.of(z)
        # one pass: bin −1 collects underflow, bin `bins` overflow
        idx = np.clip(np.floor((z - self.lo) / self.width), -1, self.bins).astype(np.intp)
        counts = np.bincount(idx + 1, minlength=self.bins + 2)
        under, over = int(counts[0]), int(counts[-1])
        counts = counts[1:-1]
        absz = np.abs(z)
        exceed = np.array([np.count_nonzero(absz > t) for t in self.thresholds], dtype=np.int64)
        kept = z[: max(0, self.keep - start)].copy() if start < self.keep else None
        return moments, counts, under, over, exceed, kept


def _check_thresholds(thresholds: Any) -> np.ndarray:
    t = check_array("thresholds", np.atleast_1d(np.asarray(thresholds, dtype=float)), ndim=1)
    if np.any(t < 0):
        raise ValueError(f"`thresholds` must be non-negative; got thresholds={thresholds!r}")
    return t


class _Accumulator:
    """The merged summaries of the tasks: streaming moments, histogram counts,
    threshold exceedances, under/overflow and the kept draws."""

    def __init__(self, bins: int, n_thresholds: int) -> None:
        self.total = StreamingMoments()
        self.counts = np.zeros(bins, dtype=np.int64)
        self.exceed = np.zeros(n_thresholds, dtype=np.int64)
        self.under = self.over = 0
        self.kept: list[np.ndarray] = []

    def fold(self, summaries: list[tuple]) -> None:
        for moments, c, u, o, e, k in summaries:
            self.total.merge(moments)
            self.counts += c
            self.exceed += e
            self.under += u
            self.over += o
            if k is not None:
                self.kept.append(k)


def _execute(job: _Job, tasks: Iterator[tuple[int, int]], workers: int, acc: _Accumulator,
             bar: Any) -> None:
    """Run the tasks and fold their results into ``acc`` strictly in task order (so
    the merge order, hence every rounding error, is the same for any ``workers``);
    with several workers a bounded window of tasks is in flight, so memory stays
    bounded."""
    if workers == 1:
        for first, last in tasks:
            acc.fold(job.run(first, last))
            if bar is not None:
                bar.update()
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for first, last in tasks:
            pending.append(pool.submit(job.run, first, last))
            if len(pending) >= 2 * workers:
                break
        while pending:
            acc.fold(pending.popleft().result())
            if bar is not None:
                bar.update()
            nxt = next(tasks, None)
            if nxt is not None:
                pending.append(pool.submit(job.run, *nxt))


@fill
def simulate(
    weights: Any,
    inputs: Any,
    *,
    bias: Any = "standard_normal",
    n_samples: int,
    fan_out: int | None = None,
    rng: Any = None,
    chunk_size: int | None = None,
    workers: int = 1,
    keep: int = 0,
    bins: int = 200,
    thresholds: Any = (1.0,),
    progress: bool = False,
) -> PreactivationResult:
    r"""Simulate :math:`z = w \cdot x + b` for ``n_samples`` independent neurons.

    Parameters
    ----------
    %(initializer)s
    inputs : InputModel or 1-D array
        What the weights multiply (e.g. :func:`satsim.inputs.nielsen`); a random
        model draws a fresh x for every neuron (randomness over weights *and*
        inputs).  ``fan_in`` is ``inputs.n_in``.
    %(bias)s
    n_samples : int
        Number of neurons (z values), at least 2.
    fan_out : int, optional
        Width of the neuron's layer (``fan_out``/``fan_avg`` modes, orthogonal
        weights).  Default: ``fan_in``.
    %(rng)s
    chunk_size : int, optional
        Neurons per task, rounded up to whole blocks (see the module docstring).
        Affects scheduling only, never the result.  Default: 32 blocks.
    workers : int, default 1
        Number of threads.  Does not change the result.
    keep : int, default 0
        Keep the first ``keep`` z values (for fitting and QQ plots).
    bins : int, default 200
        Histogram bins on the fixed grid theory mean ± 8 theory std.
    thresholds : float or sequence of float, default (1.0,)
        Count draws with :math:`|z| > t` for each t.
    progress : bool, default False
        Show a ``tqdm`` progress bar over tasks.

    Returns
    -------
    PreactivationResult

    Examples
    --------
    Nielsen's "large" initialization: std √501 ≈ 22.4.

    >>> import satsim
    >>> res = satsim.montecarlo.simulate("standard_normal", satsim.inputs.nielsen(),
    ...                                  n_samples=20_000, rng=1)
    >>> round(res.theory_std, 2)
    22.38
    """
    weights, inputs, bias, fan_in, fan_out = _resolve_layer(weights, inputs, bias, fan_out)
    n_samples = check_int("n_samples", n_samples, minimum=2)
    workers = check_int("workers", workers, minimum=1)
    keep = check_int("keep", keep, minimum=0)
    if keep > n_samples:
        raise ValueError(f"`keep` must be at most n_samples={n_samples}; got keep={keep}")
    bins = check_int("bins", bins, minimum=1)
    thresholds = _check_thresholds(thresholds)
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be a bool; got progress={progress!r}")
    block_size = max(1, BLOCK_ELEMENTS // fan_in)
    if chunk_size is None:
        blocks_per_chunk = _BLOCKS_PER_CHUNK
    else:
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
        blocks_per_chunk = -(-chunk_size // block_size)
    rng = check_rng(rng)

    theory = preactivation_moments(weights, inputs, bias=bias, fan_out=fan_out)
    centre = theory.mean
    half = 8.0 * theory.std if theory.var > 0 else max(1.0, abs(centre))
    edges = np.linspace(centre - half, centre + half, bins + 1)

    root = _block_root(rng)
    job = _Job(
        weights=weights, inputs=inputs, bias=bias, fan_in=fan_in, fan_out=fan_out,
        n_samples=n_samples, block_size=block_size, root=root,
        bitgen_type=type(rng.bit_generator), edges=edges, thresholds=thresholds, keep=keep,
    )
    n_blocks = -(-n_samples // block_size)
    n_tasks = -(-n_blocks // blocks_per_chunk)
    # a lazy sequence of (first, last) block ranges: nothing here grows with n_samples
    tasks = iter((s, min(s + blocks_per_chunk, n_blocks))
                 for s in range(0, n_blocks, blocks_per_chunk))

    acc = _Accumulator(bins, thresholds.shape[0])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_tasks, unit="task", desc="simulate")
    with threadpool_limits(limits=1):
        _execute(job, tasks, workers, acc, bar)
    if bar is not None:
        bar.close()
    total, counts, exceed, under, over = acc.total, acc.counts, acc.exceed, acc.under, acc.over
    kept = acc.kept

    var = total.var(ddof=1)
    if var == 0.0:
        warnings.warn(
            "every simulated z is identical (zero variance); skewness and excess kurtosis "
            "are NaN",
            DegenerateDistributionWarning,
            stacklevel=2,
        )
    samples = np.concatenate(kept) if kept else np.empty(0)
    for arr in (samples, counts, exceed, edges, thresholds):
        arr.setflags(write=False)
    return PreactivationResult(
        n=total.n,
        mean=total.mean,
        var=var,
        skewness=total.skewness(),
        excess_kurtosis=total.excess_kurtosis(),
        fourth_central_moment=total.m4 / total.n,
        min=total.min,
        max=total.max,
        hist_edges=edges,
        hist_counts=counts,
        underflow=under,
        overflow=over,
        thresholds=thresholds,
        exceed_counts=exceed,
        theory_mean=theory.mean,
        theory_var=theory.var,
        theory_skewness=theory.skewness,
        theory_excess_kurtosis=theory.excess_kurtosis,
        samples=samples,
        weights=weights,
        inputs=inputs,
        bias=bias,
        fan_in=fan_in,
        fan_out=fan_out,
        n_samples=n_samples,
        chunk_size=blocks_per_chunk * block_size,
        workers=workers,
        block_size=block_size,
        seed_entropy=root.entropy,
        spawn_key=tuple(root.spawn_key),
    )
