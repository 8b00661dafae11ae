"""Prose for people: reStructuredText rendered by docutils, mathematics as MathML or SVG.

Study docstrings, findings and the teaching sections are reStructuredText (numpydoc
text already is): ``literal``, *emphasis*, **strong**, bullet lists, ``:math:`…```
and ``.. math::``.  :func:`rst_to_html` renders them with docutils' HTML5 writer, so
no markup reaches a reader as raw text.  Sphinx's cross-reference roles
(``:func:``, ``:meth:``, ``:class:``, ``:mod:`` …), which docutils alone does not
know, render as code.

Mathematics has two targets.  On screen (``math="mathml"``) docutils' own LaTeX →
MathML converter writes MathML, which browsers lay out natively, offline, with no
script.  WeasyPrint does not lay out MathML, so the PDF (``math="svg"``) gets each
formula as an SVG drawn by matplotlib's mathtext from the same LaTeX source, with
its baseline aligned to the text.  The LaTeX used must therefore lie in the
intersection of what both understand (tested on every formula of the report).

Untrusted text is safe to pass: ``raw`` and file-inclusion directives are disabled
and docutils escapes everything else.
"""

from __future__ import annotations

import functools
import hashlib
import html as htmllib
import io
import re
from typing import Any

from docutils import nodes
from docutils.core import publish_parts
from docutils.parsers.rst import roles
from docutils.writers.html5_polyglot import Writer as Html5Writer

from satsim._namespace import public_dir

__all__ = ["MATH_TARGETS", "escape", "inline", "latex_to_svg", "problems", "rst_to_html",
           "unique_math_ids"]

__dir__ = public_dir(globals())

#: how mathematics is written: MathML for browsers, SVG (mathtext) for the PDF
MATH_TARGETS = ("mathml", "svg")

#: Sphinx roles that docutils does not know: shown as code (the last dotted part is
#: kept whole, as a reader would type it)
_CODE_ROLES = ("func", "meth", "class", "mod", "attr", "data", "obj", "exc", "ref",
               "term", "py:func", "py:meth", "py:class", "py:mod", "py:attr", "file",
               "program", "envvar", "option", "command")


def _code_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
               options: Any = None, content: Any = None) -> tuple[list, list]:
    target = text.strip().lstrip("~!")
    if target.endswith(">") and "<" in target:  # :func:`title <target>`
        target = target[target.index("<") + 1:-1]
    return [nodes.literal(rawtext, target)], []


for _role in _CODE_ROLES:
    roles.register_local_role(_role, _code_role)

_SETTINGS = {
    "report_level": 5,  # never print docutils' system messages to stderr
    "halt_level": 5,
    "raw_enabled": False,  # untrusted text cannot inject HTML
    "file_insertion_enabled": False,
    "doctitle_xform": False,  # a leading section title stays where it is
    "sectsubtitle_xform": False,
    "initial_header_level": 3,
    "syntax_highlight": "none",
    "embed_stylesheet": False,
    "warning_stream": False,
}


def _publish(text: str, math_output: str) -> tuple[str, list[str]]:
    stream = io.StringIO()
    settings = dict(_SETTINGS, math_output=math_output, warning_stream=stream,
                    report_level=2)
    # `x` (single backticks, common in docstrings) is code, as in numpydoc
    parts = publish_parts(".. default-role:: literal\n\n" + text, writer=Html5Writer(),
                          settings_overrides=settings)
    problems = [line for line in stream.getvalue().splitlines() if line.strip()]
    return parts["fragment"], problems


def _plain(text: str) -> str:
    """Text that is not valid reStructuredText, shown as it was written."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]
    return "".join(f"<p>{htmllib.escape(p, quote=False)}</p>\n" for p in paragraphs)


@functools.lru_cache(maxsize=4096)
def _render(text: str, math: str) -> str:
    if math not in MATH_TARGETS:
        raise ValueError(f"`math` must be one of {MATH_TARGETS}; got math={math!r}")
    body, issues = _publish(text, "MathML" if math == "mathml" else "LaTeX")
    if issues:
        # docutils would print its system messages into the page: a reader gets the
        # text as written instead (the built-in texts are tested to have no issues)
        return _plain(text)
    return body if math == "mathml" else _svg_math(body)


def rst_to_html(text: str, *, math: str = "mathml") -> str:
    """Render reStructuredText to an HTML fragment.

    Parameters
    ----------
    text : str
        reStructuredText (a docstring, a finding, a teaching section).
    math : {"mathml", "svg"}
        How ``:math:`` roles and ``.. math::`` blocks are written: MathML (browsers)
        or inline SVG drawn by matplotlib's mathtext (the PDF through WeasyPrint).

    Returns
    -------
    str
        HTML, safe to insert unescaped: docutils escapes the text, and ``raw`` and
        ``include`` directives are disabled.  Text that docutils warns about (not
        valid reStructuredText, e.g. a user's plain-text docstring with ``|x|``) is
        shown as written, in escaped paragraphs, never with docutils' messages.
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string; got text={text!r}")
    return _render(text, math)


def inline(text: str, *, math: str = "mathml") -> str:
    """Like :func:`rst_to_html` for one short paragraph (a table cell): the enclosing
    ``<p>`` is dropped.

    Parameters
    ----------
    text : str
        reStructuredText of one paragraph (any other value is converted with ``str``).
    math : {"mathml", "svg"}, default "mathml"
        How mathematics is written, as in :func:`rst_to_html`.

    Returns
    -------
    str
        The paragraph's HTML without its ``<p>`` element; the full fragment when the
        text renders as more than one paragraph or block.

    Raises
    ------
    ValueError
        ``math`` is not one of :data:`MATH_TARGETS`.
    """
    out = rst_to_html(str(text), math=math).strip()
    m = re.fullmatch(r"<p>(.*)</p>", out, flags=re.S)
    return m.group(1) if m and "<p>" not in m.group(1) else out


_SPECIAL = re.compile(r"([\\`*|_<>\[\]])")


def escape(text: str) -> str:
    """``text`` as literal reStructuredText: its markup characters backslash-escaped
    (for values such as a case name or a finding's observed text put into prose).

    Parameters
    ----------
    text : str
        Any text (any other value is converted with ``str``).

    Returns
    -------
    str
        ``text`` with a backslash before each of ``\\ ` * | _ < > [ ]``, so that
        docutils shows it as written.
    """
    return _SPECIAL.sub(r"\\\1", str(text))


_MATH_SVG = re.compile(r'<svg class="math".*?</svg>', flags=re.S)
_MATH_KEY = re.compile(r'id="(m[0-9a-f]{10})-')


def unique_math_ids(html: str) -> str:
    """Number the ids inside each SVG formula of a page, so that a formula written
    twice does not define its glyphs' ids twice (SVG references stay inside it).

    Parameters
    ----------
    html : str
        A page or fragment holding formulas drawn by :func:`latex_to_svg`.

    Returns
    -------
    str
        ``html`` with the k-th formula's id prefix ``m<hash>-`` renamed
        ``m<hash><k>-``; everything else unchanged.
    """
    count = 0

    def one(m: re.Match) -> str:
        nonlocal count
        svg = m.group(0)
        key = _MATH_KEY.search(svg)
        if key is None:
            return svg
        count += 1
        return svg.replace(f"{key.group(1)}-", f"{key.group(1)}{count}-")

    return _MATH_SVG.sub(one, html)


def problems(text: str) -> list[str]:
    """docutils' warnings for ``text`` (a malformed docstring, an unknown role).

    Parameters
    ----------
    text : str
        reStructuredText, parsed as :func:`rst_to_html` parses it.

    Returns
    -------
    list of str
        docutils' system messages (level warning and above), one line each; empty when
        the text is valid.
    """
    return _publish(text, "MathML")[1]


# --------------------------------------------------------------------- SVG maths
_LATEX_SPAN = re.compile(r'<tt class="math">(.*?)</tt>', flags=re.S)
_LATEX_BLOCK = re.compile(r'<pre class="math">\s*(.*?)\s*</pre>', flags=re.S)
_LATEX_DIV = re.compile(r'<div class="math">\s*(.*?)\s*</div>', flags=re.S)


def _svg_math(body: str) -> str:
    def block(m: re.Match) -> str:
        svg = latex_to_svg(htmllib.unescape(m.group(1)), display=True)
        return f'<div class="math-block">{svg}</div>'

    def span(m: re.Match) -> str:
        return latex_to_svg(htmllib.unescape(m.group(1)))

    body = _LATEX_BLOCK.sub(block, body)
    body = _LATEX_DIV.sub(block, body)
    return _LATEX_SPAN.sub(span, body)


#: LaTeX spellings that mathtext lacks, and its own (same glyph)
_ALIASES = {r"\le": r"\leq", r"\ge": r"\geq", r"\tfrac": r"\frac", r"\dfrac": r"\frac",
            r"\lvert": "|", r"\rvert": "|"}
_MATHTEXT_ALIASES = re.compile("|".join(re.escape(k) + r"(?![A-Za-z])" for k in _ALIASES))


@functools.lru_cache(maxsize=1024)
def latex_to_svg(latex: str, *, display: bool = False, fontsize: float = 10.0) -> str:
    """One formula as inline SVG (paths, no fonts needed), baseline on the text's.

    Parameters
    ----------
    latex : str
        The formula, without dollar signs, in the LaTeX subset that matplotlib's
        mathtext understands.
    display : bool
        A display formula (its own line, slightly larger) rather than inline.
    fontsize : float
        Size in points of the surrounding text.

    Returns
    -------
    str
        An ``<svg>`` element sized in pt whose ``vertical-align`` puts the formula's
        baseline on the line's.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    size = fontsize * (1.15 if display else 1.0)
    source = _MATHTEXT_ALIASES.sub(lambda m: _ALIASES[m.group(0)], " ".join(latex.split()))
    source = f"${source}$"
    prop = FontProperties(size=size)
    with mpl.rc_context({"mathtext.fontset": "dejavusans", "svg.fonttype": "path",
                         "svg.hashsalt": "satsim"}):
        width, height, depth = MathTextParser("path").parse(source, dpi=72, prop=prop)[:3]
        fig = Figure(figsize=(width / 72, height / 72), dpi=72)
        fig.text(0, depth / height, source, fontproperties=prop)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", transparent=True,
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # ids from mathtext glyph paths must be unique per page: prefix them by content
    key = "m" + hashlib.sha1(f"{latex}|{display}|{fontsize}".encode()).hexdigest()[:10]
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{key}-{m.group(2)}"',
                 svg)
    style = f"vertical-align: -{depth:.2f}pt; display: inline-block"
    label = htmllib.escape(latex)
    return svg.replace("<svg ", f'<svg class="math" role="img" aria-label="{label}" '
                       f'style="{style}" ', 1)
