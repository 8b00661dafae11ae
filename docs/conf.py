"""Sphinx configuration for satsim's documentation site.

Build (from the repository root)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Choices, written down (DESIGN.md: build what a careful user would expect):

* **Docstrings are numpydoc**; ``numpydoc_validation_checks`` makes a public
  function without its Parameters/Returns sections a warning, and ``-W`` turns
  every warning into a failure (``tests/test_docs.py`` builds the site so CI does).
* **Cross-references are checked** (``nitpicky = True``) for satsim's own names.
  No intersphinx: the build machine and CI have no network beyond package
  registries, so references to numpy, scipy, pandas, matplotlib, torch, dask and the
  standard library are ignored by prefix (``nitpick_ignore_regex`` below) instead of
  resolved against inventories fetched at build time.
* **Mathematics uses MathJax** (``sphinx.ext.mathjax``): the site is read in a
  browser, MathJax is loaded from its CDN when a page is viewed (not when it is
  built), and without network the TeX source stays readable.  ``sphinx.ext.imgmath``
  would need LaTeX and dvipng/dvisvgm on every machine that builds the docs.
  (satsim's *reports* render MathML and need no network; the site follows Sphinx's
  default.)
* **The API reference is generated from ``__all__``**: one page per public module,
  written to ``docs/api/generated/`` when the build starts, so a name added to a
  module's ``__all__`` appears without editing an ``.rst`` file.
* **The gallery is executed** by sphinx-gallery from ``examples/gallery/plot_*.py``,
  each a study's figure drawn through satsim's public API at a tiny size.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # build the checkout's satsim, installed or not

os.environ.setdefault("MPLBACKEND", "Agg")  # gallery scripts run headless

import satsim  # noqa: E402

project = "satsim"
author = "satsim developers"
copyright = "satsim developers, BSD-3-Clause"
release = satsim.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path: list[str] = []
# numpydoc renames the citations of a module docstring's References section, and Sphinx
# then reports them as "not referenced" although they are listed on purpose
suppress_warnings = ["ref.citation"]
# Docstrings write the absolute value of z as plain |z|, which reST reads as a
# substitution: define it as itself (it is what every such docstring means)
rst_prolog = r"""
.. |z| replace:: \|z\|
"""
html_static_path: list[str] = []

html_theme = "pydata_sphinx_theme"
html_title = f"satsim {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "github_url": None,
}

# -- autodoc / numpydoc ---------------------------------------------------------------
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
autosummary_generate = False  # the API pages are written below, from __all__
numpydoc_show_class_members = False  # class members are documented by autodoc
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False  # attributes get targets (:attr: links)
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # see check_function_docstring below

# -- every public function documents its parameters and what it returns ---------------------
#: numpydoc validation codes that fail the build for a public *function* (issue 21 §4):
#: GL08 no docstring, PR01 a parameter not documented, PR02 an unknown parameter
#: documented, RT01 a function that returns a value has no Returns section.
#: Classes and methods are not held to this (their attributes are documented instead).
#: Every public function is held to it: there is no list of exemptions.
FUNCTION_CHECKS = ("GL08", "PR01", "PR02", "RT01")

_checked: set[str] = set()


def check_function_docstring(app, what, name, obj, options, lines):
    if what != "function" or name in _checked:
        return
    _checked.add(name)  # autodoc and autosummary both process a docstring
    from numpydoc.validate import validate
    from sphinx.util import logging

    report = validate(f"{obj.__module__}.{obj.__qualname__}")
    for code, message in report["errors"]:
        if code in FUNCTION_CHECKS:
            logging.getLogger("satsim.docs").warning(
                "%s: %s %s", name, code, message, type="satsim", subtype="docstring")


def resolve_alias(app, env, node, contnode):
    """Resolve a reference written with another public or defining path to an object
    (``satsim.nn.network.Network.fit``, ``Network.fit`` inside ``satsim.nn.network``)
    to where the API reference documents it."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    module = node.get("py:module")
    candidates = [target] + ([f"{module}.{target}"] if module else [])
    domain = env.domains["py"]
    for cand in candidates:
        parts = cand.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in ALIASES and ALIASES[head] != head:
                new = ".".join([ALIASES[head], *parts[i:]])
                ref = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                          new, node, contnode)
                if ref is not None:
                    return ref
    return None


def setup(app):
    app.connect("autodoc-process-docstring", check_function_docstring)
    app.connect("missing-reference", resolve_alias)


# -- cross-references --------------------------------------------------------------------
nitpicky = True
_EXTERNAL = ("numpy", "np", "scipy", "pandas", "pd", "matplotlib", "torch", "dask",
             "distributed", "statsmodels", "jinja2", "docutils", "weasyprint", "bokeh",
             "hypothesis", "argparse", "collections", "concurrent", "contextlib", "typing",
             "pathlib", "os", "sqlite3", "importlib", "multiprocessing", "threading", "types",
             "enum", "dataclasses", "json", "re", "io", "datetime", "tqdm", "mpl_toolkits",
             "fcntl", "signal", "subprocess", "abc", "ast")
nitpick_ignore_regex = [
    # private modules and names are not part of the API reference, by design
    (r"py:.*", r"satsim\._.*|.*\._\w+|_\w+"),
    # the built-in studies are documented by the report, not the API reference
    (r"py:mod", r"satsim\.studies(\..*)?"),
    # autodoc renders some attribute annotations as a quoted string
    (r"py:class", r"'.*"),
    # satsim.torch is edited concurrently (issue 21 §4 leaves its docstrings to that work)
    (r"py:meth", r"to_frame"),
    (r"py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    # Python builtins named in docstrings (no intersphinx inventory for them)
    (r"py:.*", r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|None|"
               r"callable|Callable|Any|Exception|ValueError|TypeError|KeyError|"
               r"KeyboardInterrupt|RuntimeError|Warning|UserWarning|DeprecationWarning|"
               r"OSError|FileNotFoundError|ImportError|Iterator|Iterable|Mapping|"
               r"Sequence|Path|Generator|SeedSequence|BitGenerator|DataFrame|Series|"
               r"ndarray|Figure|Axes)"),
]

# -- the API reference: one page per public module, from __all__ -----------------------------


def public_modules() -> list[str]:
    """satsim's public modules: no path component starts with ``_``; studies excluded."""
    names = ["satsim"]
    for info in pkgutil.walk_packages(satsim.__path__, "satsim."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or parts[1] == "studies":
            continue
        names.append(info.name)
    return sorted(names)


def _kind(obj: object) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def _exports(modules: list[str]) -> dict[str, list[tuple[str, object]]]:
    return {name: [(n, getattr(importlib.import_module(name), n))
                   for n in getattr(importlib.import_module(name), "__all__", [])]
            for name in modules}


def _home(obj: object, exporters: list[str]) -> str:
    """The page that documents ``obj``: the shortest public path to it other than the
    facade's (``satsim.nn.Network``, not ``satsim.nn.network.Network``;
    ``satsim.montecarlo.simulate``, not ``satsim.simulate``), as users write it.
    autodoc records the defining module's path as canonical, so references to either
    resolve."""
    named = [m for m in exporters if m != "satsim"] or exporters
    return min(named, key=lambda m: (m.count("."), m))


#: another path to a documented object → the path it is documented at
ALIASES: dict[str, str] = {}


def write_api_pages(out: Path) -> dict[str, dict[str, str]]:
    """Write ``out/<module>.rst`` for every public module.

    Returns ``{module: {public name: documented path}}``: each object is documented
    once, on its home page (:func:`_home`); every other module exporting it lists it
    in its summary table with a link there.
    """
    out.mkdir(parents=True, exist_ok=True)
    exports = _exports(public_modules())
    exporters: dict[int, list[str]] = {}
    for name, rows in exports.items():
        for _, obj in rows:
            if _kind(obj) != "module" and not (_kind(obj) == "data" and
                                               isinstance(obj, (int, float, str, tuple))):
                exporters.setdefault(id(obj), []).append(name)
    paths: dict[str, dict[str, str]] = {}
    for name, rows in exports.items():
        lines = [name, "=" * len(name), "", f".. automodule:: {name}", "   :no-members:", "",
                 f".. currentmodule:: {name}", ""]
        submods = [obj.__name__ for _, obj in rows if _kind(obj) == "module"]
        if submods:
            lines += ["Sub-namespaces: " + ", ".join(f":mod:`{m}`" for m in submods) + ".",
                      ""]
        listed = [(n, obj) for n, obj in rows if _kind(obj) != "module"]
        paths[name] = {}
        here = []
        for n, obj in listed:
            home = _home(obj, exporters[id(obj)]) if id(obj) in exporters else name
            paths[name][n] = f"{home}.{n}"
            ALIASES[f"{name}.{n}"] = f"{home}.{n}"
            defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if _kind(obj) in ("class", "exception", "function"):
                ALIASES.setdefault(defined, f"{home}.{n}")
            here.append((n, obj, home))
        own = [n for n, _, home in here if home == name]
        if own:
            lines += [".. rubric:: Public names", "", ".. autosummary::", ""]
            lines += [f"   {n}" for n in own] + [""]
        others = [(n, obj, home) for n, obj, home in here if home != name]
        if others:
            # autosummary refuses names below the current module (satsim.nn → satsim.nn.network)
            lines += [".. rubric:: Re-exported here", ""]
            lines += [f"* :{'py:class' if _kind(obj) in ('class', 'exception') else 'py:obj'}:"
                      f"`{n} <{home}.{n}>` — documented in :mod:`{home}`"
                      for n, obj, home in others] + [""]
        for n, obj, home in here:
            if home != name:
                continue
            kind = _kind(obj)
            if kind in ("class", "exception"):
                lines += [f".. auto{kind}:: {n}", "   :members:", "   :show-inheritance:", ""]
            elif kind == "function":
                lines += [f".. autofunction:: {n}", ""]
            else:
                lines += [f".. autodata:: {n}", "   :no-value:", ""]
        text = "\n".join(lines)
        path = out / f"{name}.rst"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")  # unchanged pages keep their mtime
    return paths


API_PATHS = write_api_pages(HERE / "api" / "generated")

# -- the gallery ---------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples" / "gallery"),
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",  # execute every plot_*.py
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "show_memory": False,
    "plot_gallery": "True",
    "reset_modules": ("matplotlib",),
}
