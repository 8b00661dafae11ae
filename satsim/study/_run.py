"""Running a study: its context, discovery, parameters, provenance and the saved
result it may reuse (see :mod:`satsim.study`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim.study import _discovery
from satsim.study._result import (
    SCALES,
    StudyError,
    StudyInfo,
    StudyResult,
    _jsonable,
)


# --------------------------------------------------------------------------- context
def _root_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**63))


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyContext:
    """What a study's ``run(params, ctx)`` is given.

    Attributes
    ----------
    name, scale, seed :
        The study's name and the run's scale and seed.
    rng : numpy.random.Generator
        The study's own stream, from ``SeedSequence(seed, spawn_key=(hash(name),))``:
        independent of run order and of the other studies.
    workdir : Path or None
        Resumable work directory (``OUT/NAME``); None keeps sweeps in memory.
    executor, workers :
        Where :meth:`run_grid` runs cells (any :func:`satsim.sweep.run` executor).
    progress : callable or None
        ``progress(study, grid, finished, total)`` after every cell.
    """

    name: str
    scale: str
    seed: int
    rng: np.random.Generator
    workdir: Path | None = None
    executor: Any = "serial"
    workers: int | None = None
    progress: Callable[[str, str, int, int], None] | None = None
    requires: Mapping[str, StudyResult] = dataclasses.field(default_factory=dict)
    params_digest: str = ""

    def export(self, study: str, name: str) -> Any:
        """The export ``name`` of the required study ``study``.

        Raises :class:`StudyError` when ``study`` is not in this study's ``REQUIRES``
        or did not export ``name`` — a consumer never silently drops a check.
        """
        if study not in self.requires:
            raise StudyError(f"study {self.name!r} reads an export of {study!r} but does "
                             f"not list it in REQUIRES (it lists {sorted(self.requires)})")
        exports = self.requires[study].exports
        if name not in exports:
            raise StudyError(f"study {self.name!r} needs the export {name!r} of study "
                             f"{study!r}, which exports {sorted(exports) or 'nothing'}")
        return exports[name]

    def sweep_options(self, grid: str = "cells", *, module: types.ModuleType | None = None
                      ) -> dict[str, Any]:
        """Keyword arguments for :func:`satsim.sweep.run` (or a library function that
        runs its own sweep, such as :func:`satsim.saturation.sweep`): the store under
        ``workdir`` (or in memory), the executor and a progress callback."""
        out = None
        if self.workdir is not None:
            import satsim

            tag = f"{self.scale}-seed{self.seed}-{self.params_digest}-v{satsim.__version__}"
            out = self.workdir / "sweeps" / tag / grid
        options: dict[str, Any] = {"out": out, "executor": self.executor,
                                   "workers": self.workers}
        if self.progress is not None:
            report, study = self.progress, self.name
            options["progress"] = lambda finished, total: report(study, grid, finished,
                                                                 total)
        if module is not None and self.executor not in ("serial", None):
            setup = _discovery.worker_setup(module)
            if setup is not None:
                options["worker_setup"] = setup
            _ship_by_value_for_dask(module, self.executor)
        return options

    def run_grid(self, cell: Callable[[dict, np.random.Generator], Any], grid, *,
                 name: str = "cells") -> list[dict]:
        """Run ``cell`` over ``grid`` on :mod:`satsim.sweep`; return the records
        (parameters merged with results) in grid order.

        The store is ``workdir/sweeps/TAG/NAME`` (TAG names scale, seed, parameters and
        satsim version), so rerunning the same command resumes; the root seed comes
        from the study's stream.  A failed cell is a :class:`StudyError`.
        """
        from satsim import sweep

        root = _root_seed(self.rng)
        module = sys.modules.get(getattr(cell, "__module__", ""), None)
        options = self.sweep_options(name, module=module)
        res = sweep.run(cell, grid, root_seed=root, **options)
        table = res.to_frame()
        failed = table[table.status != "done"]
        if len(failed):
            first = failed.error.dropna().iloc[0] if "error" in failed else "?"
            raise StudyError(f"{len(failed)} of {len(grid)} sweep cell(s) of study "
                             f"{self.name!r} failed; first error: {first}")
        records = {r["key"]: r for r in table.to_dict("records")}
        return [records[c.key] for c in grid]


def _ship_by_value_for_dask(module: types.ModuleType, executor: Any) -> None:
    """Dask workers on other machines need not have a user's study folder: cloudpickle
    ships such a module's code by value (built-in and installed studies go by name)."""
    dask = (isinstance(executor, str) and executor.startswith("dask://")) or hasattr(
        executor, "get_executor")  # an address or a distributed.Client
    if not dask or not module.__name__.startswith(_discovery._USER_PREFIX):
        return
    try:
        import cloudpickle
    except ImportError:  # no Dask installed: the executor itself will say so
        return
    cloudpickle.register_pickle_by_value(module)


# --------------------------------------------------------------------------- discovery
def discover(studies: str | os.PathLike | Sequence[str | os.PathLike] | None = None
             ) -> dict[str, StudyInfo]:
    """Study name → :class:`StudyInfo`, in report order (built-ins, installed
    packages' ``satsim.studies`` entry points, then the folders in ``studies`` and
    ``$SATSIM_STUDIES``).  Studies that fail to import are left out; see
    :func:`discover_errors`.

    Every candidate module is imported (once per process).

    Parameters
    ----------
    studies : str, os.PathLike, sequence of them, or None, default None
        Folder(s) of the user's own studies, searched after the built-in studies and
        those of installed packages (entry-point group ``satsim.studies``) and before
        the folders in ``$SATSIM_STUDIES`` (``os.pathsep``-separated).

    Returns
    -------
    dict[str, StudyInfo]
        Each study that imported and defines what a study must, by name, ordered by
        its ``ORDER`` (default: last) and then by name.

    Raises
    ------
    StudyError
        If a folder in ``studies`` or ``$SATSIM_STUDIES`` is not a directory, or two
        studies have the same name.
    """
    return _find(studies).studies


def discover_errors(studies=None) -> dict[str, str]:
    """Study name → one-line reason, for studies that were found but failed to import.

    Parameters
    ----------
    studies : str, os.PathLike, sequence of them, or None, default None
        Folder(s) of the user's own studies, searched after the built-in studies and
        those of installed packages (entry-point group ``satsim.studies``) and before
        the folders in ``$SATSIM_STUDIES`` (``os.pathsep``-separated).

    Returns
    -------
    dict[str, str]
        For each candidate whose import raised (any exception, or ``SystemExit``), or
        that was built in or installed but does not define what a study must (a module
        in a user's folder that does not is a helper, skipped), a one-line message naming the
        study, where it was found and why it failed; empty when all is well.

    Raises
    ------
    StudyError
        If a folder in ``studies`` or ``$SATSIM_STUDIES`` is not a directory, or two
        studies have the same name.
    """
    return _find(studies).errors


def _find(studies) -> _discovery.Discovery:
    try:
        return _discovery.find(studies)
    except _discovery.StudyDiscoveryError as exc:
        raise StudyError(str(exc)) from None


def load_study(name: str, *, studies=None) -> types.ModuleType:
    """Import a study module by name (see :func:`discover` for where it looks).

    Parameters
    ----------
    name : str
        The study's name (its module's name without the package, e.g. ``"variance"``).
    studies : str, os.PathLike, sequence of them, or None, default None
        Folder(s) of the user's own studies, searched after the built-in studies and
        those of installed packages (entry-point group ``satsim.studies``) and before
        the folders in ``$SATSIM_STUDIES`` (``os.pathsep``-separated).

    Returns
    -------
    types.ModuleType
        The imported study module.

    Raises
    ------
    StudyError
        If ``name`` is not a study found (the message lists those found), if it failed to
        import or lacks what a study must define (the reason from
        :func:`discover_errors`), or for the errors of :func:`discover`.
    """
    found = _find(studies)
    if name in found.errors:
        raise StudyError(found.errors[name])
    if name not in found.studies:
        known = ", ".join(found.studies) or "none found"
        raise StudyError(f"unknown study {name!r}; known studies: {known}")
    return sys.modules[found.studies[name].module]


def study_params(module: types.ModuleType, scale: str = "quick",
                 overrides: Mapping[str, Any] | None = None):
    """The study's ``Params`` at ``scale`` with ``overrides`` (a mapping: a parameter
    may be called ``scale``) applied.

    The values are, in increasing precedence: the defaults of ``module.Params`` (the
    quick scale), ``module.FULL`` (at ``scale="full"``) or ``module.TEST`` (at
    ``scale="test"``), then ``overrides``.

    Parameters
    ----------
    module : types.ModuleType
        A study module (see :func:`load_study`), defining ``Params`` and ``TITLE``.
    scale : {"test", "quick", "full"}, default "quick"
        Which scale's values to start from.
    overrides : Mapping[str, Any] or None, default None
        Parameter name → value, applied last; entries whose value is ``None`` are
        ignored (an option not given on the command line).

    Returns
    -------
    Params
        An instance of ``module.Params`` holding those values.

    Raises
    ------
    StudyError
        If ``scale`` is not one of the scales, or a name in ``overrides`` (or in
        ``FULL``/``TEST``) is not a field of ``module.Params`` (the message lists the
        fields).
    """
    if scale not in SCALES:
        raise StudyError(f"`scale` must be one of {', '.join(map(repr, SCALES))}; got {scale!r}")
    values: dict[str, Any] = {}
    if scale == "full":
        values.update(getattr(module, "FULL", {}))
    elif scale == "test":
        values.update(getattr(module, "TEST", {}))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    names = {f.name for f in dataclasses.fields(module.Params)}
    unknown = set(values) - names
    if unknown:
        raise StudyError(f"unknown parameter(s) {sorted(unknown)}; {module.TITLE!r} takes "
                         f"{sorted(names)}")
    return module.Params(**values)


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():  # an installed copy: no checkout to ask
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=root, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _provenance(name, params, overrides, seed, scale, wall) -> dict:
    return {
        "study": name, "scale": scale, "seed": seed,
        "params": dataclasses.asdict(params),
        "overrides": {k: v for k, v in (overrides or {}).items() if v is not None},
        **environment(), "wall_time_s": wall,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def environment() -> dict:
    """Versions and machine facts recorded with every run (the report's environment).

    Returns
    -------
    dict
        ``"satsim"``, ``"numpy"``, ``"scipy"``, ``"pandas"`` and ``"python"`` (version
        strings), ``"machine"`` and ``"platform"`` (from the ``platform`` module), ``"cpus"``
        (:func:`os.cpu_count`, an int or None) and ``"git_revision"`` (the commit of
        satsim's git checkout, or None for an installed copy or when git cannot say).
    """
    import scipy

    import satsim

    return {
        "satsim": satsim.__version__,
        "numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "git_revision": _git_revision(),
    }


def _key(name: str) -> int:
    """A 64-bit word from the whole study name (distinct names, distinct streams)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def _digest(params_json: Any) -> str:
    text = json.dumps(params_json, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _check_result(module: types.ModuleType, name: str, result: Any) -> StudyResult:
    if not isinstance(result, StudyResult):
        raise StudyError(f"study {name!r}: run() must return a StudyResult; got "
                         f"{type(result).__name__}")
    declared = set(getattr(module, "EXPORTS", {}))
    given = set(result.exports)
    if declared != given:
        raise StudyError(f"study {name!r} declares EXPORTS {sorted(declared)} but its result "
                         f"exports {sorted(given)}")
    return result


def _reusable(out: Path, name: str, seed: int, scale: str, params_json: dict
              ) -> StudyResult | None:
    try:
        res = StudyResult.load(out / name)
    except StudyError:
        return None  # missing, damaged or from an older format: run again
    prov = res.provenance
    if prov.get("seed") == seed and prov.get("scale") == scale and res.params == params_json:
        return res
    return None


def run_study(name: str, *, scale: str = "quick", seed: int = 0,
              out: str | os.PathLike | None = None, reuse: bool = False,
              overrides: dict | None = None, executor: Any = "serial",
              workers: int | None = None,
              progress: Callable[[str, str, int, int], None] | None = None,
              studies: Any = None, _stack: tuple[str, ...] = ()) -> StudyResult:
    """Run a study (after its requirements) and save it under ``out/NAME``.

    With ``reuse``, a saved result of the same seed, scale and parameters is loaded
    instead (a missing or damaged one is run again).  Grids keep their sweep stores
    under ``out/NAME/sweeps/``: rerunning an interrupted study resumes it.
    ``studies`` names extra study folders (see :func:`discover`).

    The study's random stream comes from ``SeedSequence(seed, spawn_key=(key,))`` with
    ``key`` a hash of ``name``, so it does not depend on which studies ran before.
    Each study in its ``REQUIRES`` is run first, by this function, at the same
    ``scale``, ``seed``, ``out``, executor and ``studies``, with ``reuse=True`` and its
    own default parameters (``overrides`` apply to this study only).

    Parameters
    ----------
    name : str
        The study to run (see :func:`load_study`).
    scale : {"test", "quick", "full"}, default "quick"
        The parameters' scale (see :func:`study_params`).
    seed : int, default 0
        Root seed of the run.
    out : str, os.PathLike or None, default None
        Output directory: the result is saved to ``out/NAME/result/`` and the sweep
        stores kept under ``out/NAME/sweeps/``.  ``None`` saves nothing and keeps sweeps
        in memory.
    reuse : bool, default False
        Load a result saved under ``out`` with the same seed, scale and parameters
        instead of running the study (ignored when ``out`` is ``None``).
    overrides : dict or None, default None
        Parameter name → value for this study (see :func:`study_params`).
    executor : str or object, default "serial"
        Where grid cells run: any executor :func:`satsim.sweep.run` accepts.
    workers : int or None, default None
        Number of workers for ``executor`` (``None``: its default).
    progress : callable or None, default None
        ``progress(study, grid, finished, total)``, called after every grid cell.
    studies : str, os.PathLike, sequence of them, or None, default None
        Extra study folders (see :func:`discover`).
    _stack : tuple of str, default ()
        Internal: the studies whose requirements are being run, to detect cycles.

    Returns
    -------
    StudyResult
        The study's result, its ``params`` the parameters used and its ``provenance``
        the run's name, scale, seed, parameters, overrides, :func:`environment`, wall
        time and finishing time (or the saved result, when reused).

    Raises
    ------
    StudyError
        If the study (or one it requires) is unknown or fails to import, ``scale`` or
        a name in ``overrides`` is invalid, the requirements are circular, a grid cell
        fails, or the study's ``run`` does not return a :class:`StudyResult` exporting
        exactly its declared ``EXPORTS``.
    """
    module = load_study(name, studies=studies)
    params = study_params(module, scale, overrides)
    params_json = _jsonable(dataclasses.asdict(params))
    if out is not None and reuse:
        saved = _reusable(Path(out), name, seed, scale, params_json)
        if saved is not None:
            return saved
    if name in _stack:
        raise StudyError(f"circular study requirements: {' -> '.join((*_stack, name))}")
    requires = {}
    for req in getattr(module, "REQUIRES", ()):
        requires[req] = run_study(req, scale=scale, seed=seed, out=out, reuse=True,
                                  executor=executor, workers=workers, progress=progress,
                                  studies=studies, _stack=(*_stack, name))
    # each study's stream: from (seed, study name), independent of run order
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_key(name),)))
    ctx = StudyContext(name=name, scale=scale, seed=seed, rng=rng,
                       workdir=None if out is None else Path(out) / name,
                       executor=executor, workers=workers, progress=progress,
                       requires=requires, params_digest=_digest(params_json))
    start = time.perf_counter()
    result = _check_result(module, name, module.run(params, ctx))
    if result.params != params_json:
        result = dataclasses.replace(result, params=params_json)
    result = dataclasses.replace(result, provenance=_provenance(
        name, params, overrides, seed, scale, time.perf_counter() - start))
    if out is not None:
        result.save(out)
    return result
