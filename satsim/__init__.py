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

The sub-namespaces and names are loaded on first use (PEP 562 ``__getattr__``):
``import satsim`` itself imports neither NumPy nor SciPy, so the ``satsim`` command
(``satsim.cli``) imports them inside its own error handling: a Ctrl-C while they
load is one line and exit status 130, not a traceback.  ``satsim.init.get(...)``,
``from satsim import meanfield`` and ``from satsim import simulate`` work as with
eager imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from satsim._namespace import public_dir
from satsim._warnings import (
    ApproximationWarning,
    ConvergenceWarning,
    DegenerateDistributionWarning,
    MonteCarloPrecisionWarning,
    SatsimWarning,
    TrainingDivergenceWarning,
)

if TYPE_CHECKING:  # the names as the type checker sees them; loaded lazily below
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

#: sub-namespaces, imported on first attribute access
_SUBMODULES = frozenset({
    "activations", "components", "data", "fit", "gradients", "identities", "init",
    "inputs", "meanfield", "montecarlo", "nn", "saturation", "sweep", "theory",
})
#: names re-exported from a sub-namespace: name -> module
_NAMES = {
    "fit_distribution": "fit", "normality": "fit",
    "calibrate": "identities", "check_sum_variance": "identities",
    "Initializer": "init", "VarianceScaling": "init",
    "PreactivationResult": "montecarlo", "simulate": "montecarlo",
    "PreactivationTheory": "theory", "preactivation_moments": "theory",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        # the import binds satsim.<name> in this namespace: no second call
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__dir__ = public_dir(globals())
