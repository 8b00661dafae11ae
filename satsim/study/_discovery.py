"""Finding studies by import — never by reading file text, never from the current directory.

Three sources, in this order:

1. **Built-in studies**: the modules of the :mod:`satsim.studies` package (the
   repository's top-level ``studies/`` folder, shipped in the wheel as that subpackage).
2. **Installed packages**: entry points in the group ``satsim.studies``; the entry
   point's name is the study's name and its value the module, e.g.
   ``my_study = "mypkg.my_study"`` under ``[project.entry-points."satsim.studies"]``.
3. **A folder the user names**: ``--studies DIR`` on the command line, the ``studies=``
   argument of the Python functions, or ``$SATSIM_STUDIES`` (``os.pathsep``-separated).
   Each ``DIR/NAME.py`` not starting with ``_`` is imported as the submodule ``NAME``
   of a package ``satsim_user_studies_<hash>`` created in ``sys.modules`` with
   ``__path__ = [DIR]``: ``sys.path`` is never changed, a study may import its
   neighbours relatively (``from . import helpers``), and process workers register
   the same package before their first cell (:func:`worker_setup`), so they unpickle
   the study's cell functions by name.

A module is a study when it defines ``Params``, ``run`` and ``TITLE``.  Each module is
imported at most once per process (the import system's cache).  A user or
entry-point study whose name clashes with a built-in one (or another source's) is an
error naming both files.  A study that fails to import (a syntax error, an exception,
``sys.exit`` at import) is reported by name in one line and the others are still found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
import types
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["Discovery", "StudyInfo", "find", "register_user_packages", "user_dirs"]

ENTRY_POINT_GROUP = "satsim.studies"
ENV = "SATSIM_STUDIES"
_USER_PREFIX = "satsim_user_studies_"
REQUIRED = ("Params", "run", "TITLE")


class StudyDiscoveryError(ValueError):
    """Two studies share a name (raised, not collected: the user must rename one)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyInfo:
    """Where a study comes from; ``module`` is its importable name."""

    name: str
    module: str
    path: Path | None
    origin: str  # "built-in", "entry point of DIST", "folder DIR"
    title: str
    order: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class Discovery:
    """The studies found (in report order) and one line per study that failed."""

    studies: dict[str, StudyInfo]
    errors: dict[str, str]


def user_dirs(studies: str | os.PathLike | Sequence[str | os.PathLike] | None = None
              ) -> list[Path]:
    """The user's study folders: ``studies`` (one path or several), then ``$SATSIM_STUDIES``.

    A folder that does not exist is an error naming it (it was asked for explicitly).
    """
    raw: list[str | os.PathLike] = []
    if studies is not None:
        raw.extend([studies] if isinstance(studies, str | os.PathLike) else studies)
    env = os.environ.get(ENV, "")
    raw.extend(p for p in env.split(os.pathsep) if p)
    out: list[Path] = []
    for p in raw:
        d = Path(p).expanduser().resolve()
        if not d.is_dir():
            source = "$SATSIM_STUDIES" if str(p) in env.split(os.pathsep) else "--studies"
            raise StudyDiscoveryError(f"{source}: {str(p)!r} is not a directory")
        if d not in out:
            out.append(d)
    return out


def _package_name(directory: Path) -> str:
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return _USER_PREFIX + digest


def _ensure_package(name: str, directory: str) -> None:
    """A package ``name`` whose submodules are the files of ``directory``."""
    if name in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [directory]
    module = importlib.util.module_from_spec(spec)
    module.__doc__ = f"satsim user studies from {directory}"
    sys.modules[name] = module


def register_user_packages(packages: dict[str, str]) -> None:
    """Worker side: make the user study packages ``{name: directory}`` importable."""
    for name, directory in packages.items():
        _ensure_package(name, directory)


def worker_setup(module: types.ModuleType):
    """A picklable callable that prepares a worker process to import ``module`` by name,
    or None when nothing is needed (built-in and installed studies)."""
    top = module.__name__.split(".")[0]
    if not top.startswith(_USER_PREFIX):
        return None
    directory = sys.modules[top].__path__[0]
    return functools.partial(register_user_packages, {top: directory})


def _is_study(module: types.ModuleType) -> bool:
    return all(hasattr(module, a) for a in REQUIRED)


#: modules that failed to import, with their one-line reason: a broken study's code is
#: run once per process, not once per listing
_FAILED: dict[str, str] = {}


def _import(module_name: str) -> types.ModuleType:
    if module_name in _FAILED:
        raise ImportError(_FAILED[module_name])
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        _FAILED[module_name] = _one_line(exc)
        raise ImportError(_FAILED[module_name]) from exc


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r}) at import"
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _candidates(dirs: Iterable[Path]) -> Iterable[tuple[str, str, Path | None, str]]:
    """(name, module, path, origin) for every candidate, built-ins first."""
    import satsim.studies as builtin

    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and not info.ispkg:
            path = Path(builtin.__path__[0]) / f"{info.name}.py"
            yield info.name, f"satsim.studies.{info.name}", path, "built-in"
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                     key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        origin = f"entry point of {dist.name}" if dist is not None else "entry point"
        spec = None
        with contextlib.suppress(ImportError, ValueError):  # reported when imported
            spec = importlib.util.find_spec(ep.module)
        where = Path(spec.origin) if spec is not None and spec.origin else None
        yield ep.name, ep.module, where, origin
    for d in dirs:
        package = _package_name(d)
        _ensure_package(package, str(d))
        for p in sorted(d.glob("*.py")):
            if not p.name.startswith("_"):
                yield p.stem, f"{package}.{p.stem}", p, f"folder {d}"


def find(studies: str | os.PathLike | Sequence[str | os.PathLike] | None = None) -> Discovery:
    """Import every candidate study once; return those found and those that failed."""
    dirs = user_dirs(studies)
    found: dict[str, StudyInfo] = {}
    errors: dict[str, str] = {}
    where: dict[str, str] = {}
    for name, module_name, path, origin in _candidates(dirs):
        shown = str(path) if path is not None else module_name
        if name in where:
            raise StudyDiscoveryError(
                f"study name {name!r} is defined twice: {where[name]} and {shown}; "
                "rename one of them")
        where[name] = shown
        try:
            module = _import(module_name)
        except ImportError as exc:  # a broken study must not hide the others
            errors[name] = f"study {name!r} ({shown}) failed to import: {exc}"
            continue
        if not _is_study(module):
            if origin.startswith("folder"):
                continue  # a helper module beside the user's studies
            missing = [a for a in REQUIRED if not hasattr(module, a)]
            errors[name] = f"study {name!r} ({shown}) does not define {', '.join(missing)}"
            continue
        order = getattr(module, "ORDER", float("inf"))
        found[name] = StudyInfo(name=name, module=module_name, path=path, origin=origin,
                                title=str(module.TITLE), order=float(order))
    ordered = dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))
    return Discovery(studies=ordered, errors=errors)
