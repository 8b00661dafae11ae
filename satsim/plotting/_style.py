"""Colours and the style context every figure is drawn in (see :mod:`satsim.plotting`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass



#: more series than this on one axes cannot be told apart: facet instead
MAX_SERIES = 8

_CB = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4",
       "#949494", "#ece133", "#56b4e9"]  # seaborn "colorblind"
_EXTRA = ["#1b4f72", "#7d3c98", "#117864", "#922b21", "#b7950b", "#34495e"]


def _initializer_names() -> tuple[str, ...]:
    from satsim import init

    return init.names()


def color_for(label: Any, fallback: int = 0) -> str:
    """The colour of a series: fixed per initializer across the whole report.

    A label that is, or contains as a word, a registered initializer's name gets
    that initializer's colour; any other label gets the ``fallback``-th colour.

    Parameters
    ----------
    label : object
        The series' label (an initializer name, or text containing one as a word, such
        as ``"he_normal, tanh"``); it is converted with ``str``.
    fallback : int, default 0
        Index into the palette used when ``label`` names no registered initializer
        (typically the series' position); taken modulo the palette's length.

    Returns
    -------
    str
        A hex colour (``"#rrggbb"``): the colour of the first registered initializer
        that ``label`` names (by its position in :func:`satsim.init.names`), otherwise the
        ``fallback``-th colour of the palette (seaborn's ten "colorblind" colours,
        then six darker ones).
    """
    names = _initializer_names()
    palette = _CB + _EXTRA
    text = str(label)
    words = re.split(r"[^A-Za-z0-9_]+", text)
    for i, name in enumerate(names):
        if name == text or name in words:
            return palette[i % len(palette)]
    return palette[fallback % len(palette)]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The report's look, for the drawing inside the block only (``rc_context``)."""
    import matplotlib as mpl
    import seaborn as sns

    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=1.1),
          "svg.fonttype": "none",  # SVG text stays text: selectable, searchable
          "font.family": "DejaVu Sans", "axes.titleweight": "bold",
          "legend.frameon": False, "figure.dpi": 100}
    with mpl.rc_context(rc):
        yield
