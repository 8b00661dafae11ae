"""Figures as SVG, PNG and data URIs for self-contained HTML."""

from __future__ import annotations

import base64
import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure



# --------------------------------------------------------------------------- output
def _prefix_ids(svg: str, prefix: str) -> str:
    """Make an SVG's ids unique in a page that inlines several figures."""
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)


def to_svg(fig: Figure, *, prefix: str = "fig") -> str:
    """SVG markup of a figure (text as text; ids prefixed with ``prefix``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save (with ``bbox_inches="tight"`` and no date in the metadata).
    prefix : str, default "fig"
        Prefix given to every ``id`` in the markup and to the references to them
        (``url(#…)``, ``href="#…"``), so that several figures inlined in one HTML page do
        not clash; it also salts matplotlib's generated ids, making the output
        reproducible.

    Returns
    -------
    str
        The ``<svg …>…</svg>`` element, without the XML prolog and doctype, ready to
        inline in HTML; text is kept as text (``svg.fonttype = "none"``).
    """
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype for inlining
    return _prefix_ids(text, prefix)


def to_png(fig: Figure, dpi: int = 130) -> bytes:
    """PNG bytes of a figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save (with ``bbox_inches="tight"``).
    dpi : int, default 130
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG image.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def to_data_uri(payload: bytes, mime: str = "image/png") -> str:
    """A ``data:`` URI embedding bytes (for self-contained HTML).

    Parameters
    ----------
    payload : bytes
        The content to embed (for example the PNG from :func:`to_png`).
    mime : str, default "image/png"
        The content's media type, written into the URI.

    Returns
    -------
    str
        ``"data:<mime>;base64,<payload in base64>"``, usable as an ``<img src>``.
    """
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")
