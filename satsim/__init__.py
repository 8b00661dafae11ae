"""satsim: statistics-first simulation of weight initialization and neuron saturation.

The facade exposes the compute modules as sub-namespaces (``satsim.init``,
``satsim.inputs``, ``satsim.montecarlo``, ``satsim.theory``, ``satsim.identities``,
``satsim.components``, ``satsim.fit``, ``satsim.activations``,
``satsim.saturation``, ``satsim.meanfield``, ``satsim.gradients``, ``satsim.data``,
``satsim.nn``) and
the most used names directly.
``satsim.testing`` (Hypothesis strategies) needs the ``test`` extra and is
imported explicitly.  Importing satsim never imports matplotlib: plotting and reports
live in separate modules that depend on compute, never the reverse.
"""

from __future__ import annotations

from satsim import (
    activations,
    components,
    data,
    fit,
    gradients,
    identities,
    init,
    inputs,
    meanfield,
    montecarlo,
    nn,
    saturation,
    sweep,
    theory,
)
from satsim._namespace import public_dir
from satsim._warnings import (
    ApproximationWarning,
    ConvergenceWarning,
    DegenerateDistributionWarning,
    MonteCarloPrecisionWarning,
    SatsimWarning,
    TrainingDivergenceWarning,
)
from satsim.fit import fit_distribution, normality
from satsim.identities import calibrate, check_sum_variance
from satsim.init import Initializer, VarianceScaling
from satsim.montecarlo import PreactivationResult, simulate
from satsim.theory import PreactivationTheory, preactivation_moments

__version__ = "0.1.0.dev0"

__all__ = [
    "ApproximationWarning",
    "ConvergenceWarning",
    "DegenerateDistributionWarning",
    "Initializer",
    "MonteCarloPrecisionWarning",
    "PreactivationResult",
    "PreactivationTheory",
    "SatsimWarning",
    "TrainingDivergenceWarning",
    "VarianceScaling",
    "__version__",
    "activations",
    "calibrate",
    "check_sum_variance",
    "components",
    "data",
    "fit",
    "fit_distribution",
    "gradients",
    "identities",
    "init",
    "inputs",
    "meanfield",
    "montecarlo",
    "nn",
    "normality",
    "preactivation_moments",
    "saturation",
    "simulate",
    "sweep",
    "theory",
]

__dir__ = public_dir(globals())
