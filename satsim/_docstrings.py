"""Shared parameter descriptions, written once (DESIGN.md §3.7).

Docstrings use ``%(key)s`` placeholders for the keys of :data:`PARAMETERS`; the
:func:`fill` decorator substitutes them.  Only known keys are replaced, so
LaTeX and literal ``%`` signs elsewhere in a docstring are left alone.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["PARAMETERS", "fill"]

T = TypeVar("T", bound=Callable)

PARAMETERS: dict[str, str] = {
    "rng": """\
rng : None, int, SeedSequence, BitGenerator or Generator, optional
    Source of randomness (SPEC 7).  It is normalised once with
    :func:`numpy.random.default_rng`; independent streams are derived from it
    with ``SeedSequence.spawn``.  Pass an int for reproducible results.""",
    "confidence_level": """\
confidence_level : float, default 0.95
    Confidence level of the reported interval, in (0, 1).""",
    "fans": """\
fan_in, fan_out : int
    Number of inputs and outputs of the layer the weight belongs to.  With the
    satsim/PyTorch weight layout ``(fan_out, fan_in)``, a weight matrix of shape
    ``(m, n)`` has ``fan_out = m`` and ``fan_in = n`` (Keras stores kernels as
    ``(fan_in, fan_out)``, the transpose).""",
    "initializer": """\
weights : Initializer or str
    Weight initializer, or the name of a registered preset (see
    :func:`satsim.init.names`).""",
    "bias": """\
bias : Initializer, str or None, default "standard_normal"
    Bias initializer or registered name; ``None`` means no bias (b = 0).  The
    bias is sampled with the layer's fans, so ``"torch_linear"`` draws
    U(±1/√fan_in) as PyTorch's ``nn.Linear`` does.""",
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def fill(obj: T) -> T:
    """Substitute ``%(key)s`` placeholders in ``obj.__doc__``, keeping indentation."""
    doc = obj.__doc__
    if not doc:
        return obj

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in PARAMETERS:
            return match.group(0)
        # Indent continuation lines to the placeholder's column.
        line_start = doc.rfind("\n", 0, match.start()) + 1
        indent = doc[line_start : match.start()]
        if indent.strip():
            indent = ""
        text = PARAMETERS[key]
        first, *rest = text.splitlines()
        rest = [textwrap.indent(line, indent) if line else line for line in rest]
        return "\n".join([first, *rest])

    obj.__doc__ = _PLACEHOLDER.sub(replace, doc)
    return obj
