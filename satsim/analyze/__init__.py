r"""Vet your own initializer on your own network: ``satsim analyze``.

:func:`analyze` answers, for an architecture (``sizes``, per-layer activations) and a
few initialization schemes (built-in names, registered names, ``module:attr``, plain
functions, ``"lsuv"``): will its neurons saturate, will its signal survive depth, and
does it train?  For every scheme it

1. **measures at initialization** every layer's pre-activations z on real data rows and
   on Gaussian inputs of the same mean squared norm, over ``networks`` independently
   initialized networks: the root mean square of z with a two-way (inputs × units)
   cluster-robust interval (the same estimator as :func:`satsim.saturation.fraction`,
   applied to z², then the square root), and the saturated fraction under the layer's
   activation and ``criterion`` (:func:`satsim.saturation.fraction`, population
   estimand);
2. **predicts** the same from the scheme's variances with the mean field
   (:func:`satsim.meanfield.layer_moments`: per-input length maps through the layers'
   own fans; for LSUV, from the realised per-layer weight variances);
3. places the scheme in the **mean-field phase diagram** of each hidden layer:
   σ_w² = n·Var(w), σ_b², q*, χ1, the depth scales ξ_q, ξ_c, the critical σ_w² at that
   σ_b² and Schoenholz et al.'s trainable depth 6ξ_c;
4. **trains** it on real data (Fashion-MNIST by default) for ``epochs`` epochs with
   ``seeds`` seeds on :mod:`satsim.sweep` (resumable under ``out``), recording validation
   accuracy and per-layer saturation per epoch; intervals are t intervals over seeds.

Findings (verdicts) compare each measurement with its prediction: a prediction
passes when it lies in the measured interval widened by ``margin`` (absolute, for
fractions) or by ``std_margin`` (relative, for the rms of z) — the width of a finite
network's deviation from the infinite-width theory that we accept as agreement.
Training findings ask whether each scheme learns above chance (the lower end of its
accuracy interval above 1/classes).

The result (:class:`AnalysisResult`) renders in a notebook, converts to the report's
sections (:meth:`AnalysisResult.study_results`) and writes the HTML + PDF report
(:meth:`AnalysisResult.write_report`) with the same renderer and figure classes as
``satsim report``.  :func:`analyze_torch` does the same for a PyTorch model (built by
a callable the user names) through :mod:`satsim.torch`, and trains it under each scheme.

The parts: ``_common`` (work sizes per scale, parsing of sizes and shapes), ``_numpy``
(:func:`analyze`, a :class:`satsim.nn.Network`), ``_torch`` (:func:`analyze_torch`).
"""

from satsim._namespace import public_dir
from satsim.analyze._common import MEMORY_LIMIT, SCALES, TIME_LIMIT
from satsim.analyze._numpy import AnalysisResult, analyze
from satsim.analyze._torch import TorchAnalysisResult, analyze_torch

__all__ = ["MEMORY_LIMIT", "SCALES", "TIME_LIMIT", "AnalysisResult", "TorchAnalysisResult",
           "analyze", "analyze_torch"]

__dir__ = public_dir(globals())
