"""One way to write a study: parameters, ``run(params, ctx)``, a :class:`StudyResult`.

A study is a module defining

* ``TITLE`` and a module docstring (the report's introduction to the study);
* ``Params`` — a dataclass whose defaults are the *quick* scale used by the report;
  ``FULL`` (and ``TEST``) — dicts of overrides for ``--scale full`` (the published
  scale) and ``--scale test`` (tiny, for the test suite);
* ``ORDER`` — a number placing it in ``satsim report`` (lower first; default: last);
* ``REQUIRES`` — names of studies whose exports it reads (optional);
* ``EXPORTS`` — ``{name: description}`` of the values and tables it hands to other
  studies (optional; the result's ``exports`` must match it);
* ``run(params, ctx) -> StudyResult`` with ctx a :class:`StudyContext`.

The built-in studies live in the package :mod:`satsim.studies` (the repository's
``studies/`` folder); others come from installed packages (entry-point group
``satsim.studies``) or a folder named with ``--studies DIR`` / ``$SATSIM_STUDIES``
(see :mod:`satsim.study._discovery`).  Each study is also a script:
``raise SystemExit(satsim.study.main(__file__))`` gives it the same command line as
``satsim run NAME`` (one generated parser for both: every ``Params`` field becomes
``--field-name``, plus ``--seed``, ``--scale``, ``-o/--out``, ``--quiet``, ``--jobs``,
``--executor``, ``--studies``).

The context carries the study's random stream (from the seed and the study's name),
the exports of its required studies (:meth:`StudyContext.export`), a resumable work
directory, the executor and a progress reporter; grids run on :mod:`satsim.sweep`
through :meth:`StudyContext.run_grid`, with their store under the output directory,
so an interrupted study resumes where it stopped.  On the command line the grids of
every study share one pool of ``--jobs`` worker processes (default: one per CPU; see
:func:`_cell_executor`); the cells' seeds come from the study's stream and the cell
keys, so results do not depend on where the cells ran.

A :class:`StudyResult` holds tidy tables, typed figures (:mod:`satsim.plotting`), findings
(:class:`Finding`: a claim, expected and observed values, the method, and a verdict —
passed, failed or undecided), exports and provenance.  :meth:`StudyResult.save`
writes ``DIR/NAME/result/`` (``result.json`` and ``tables/*.csv``) as one unit.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim._atomic import atomic_write, replace_directory
from satsim._namespace import public_dir
from satsim.study import _discovery

__all__ = [
    "SCALES",
    "Finding",
    "StudyContext",
    "StudyError",
    "StudyInfo",
    "StudyProgress",
    "StudyResult",
    "Terminated",
    "build_parser",
    "discover",
    "discover_errors",
    "environment",
    "load_study",
    "main",
    "run_study",
    "study_params",
]

SCALES = ("test", "quick", "full")
StudyInfo = _discovery.StudyInfo


__dir__ = public_dir(globals())


class StudyError(ValueError):
    """A study cannot be found, configured or run."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finding:
    """A checked claim: ``expected`` vs ``observed`` by ``method``.

    ``passed`` is True or False, or None when the data cannot decide the claim (one
    seed for a paired test, a NaN p-value); ``observed`` then says why
    (e.g. ``"undecided: needs ≥ 2 seeds"``).
    """

    id: str
    claim: str
    expected: Any
    observed: Any
    method: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        return "undecided" if self.passed is None else ("pass" if self.passed else "fail")

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyResult:
    """Tables, figure specifications, findings, exports and provenance of one study run.

    ``params`` are the parameters the study ran with (set by the study itself);
    ``exports`` the named values (JSON) and tables (DataFrames) other studies may read.
    """

    name: str
    title: str
    description: str
    params: dict
    tables: dict[str, pd.DataFrame]
    #: typed figures (:mod:`satsim.plotting`), drawn from ``tables`` when rendered
    figures: list[Any]
    findings: list[Finding]
    notes: list[str] = dataclasses.field(default_factory=list)
    #: names of tables shown in the report (the rest are exported only)
    display: list[str] = dataclasses.field(default_factory=list)
    exports: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """No finding failed (undecided ones do not count as failures)."""
        return all(f.passed is not False for f in self.findings)

    def findings_frame(self) -> pd.DataFrame:
        columns = ["id", "claim", "expected", "observed", "method", "passed"]
        return pd.DataFrame([f.to_dict() for f in self.findings],
                            columns=columns).assign(study=self.name)

    def to_frame(self) -> pd.DataFrame:
        """The findings as a tidy table."""
        return self.findings_frame()

    def finding(self, id: str) -> Finding:
        for f in self.findings:
            if f.id == id:
                return f
        raise KeyError(f"study {self.name!r} has no finding {id!r}")

    def __repr__(self) -> str:
        counts = {v: sum(f.verdict == v for f in self.findings)
                  for v in ("pass", "fail", "undecided")}
        return (f"<StudyResult {self.name}: {len(self.findings)} findings "
                f"({counts['pass']} pass, {counts['fail']} fail, {counts['undecided']} "
                f"undecided), tables {sorted(self.tables)}>")

    def save(self, out: str | os.PathLike) -> Path:
        """Write ``out/NAME/result/`` (``result.json``, ``tables/*.csv``) as one unit.

        Everything is written into a hidden sibling directory first and moved into
        place at the end (:func:`satsim._atomic.replace_directory`), so a save that
        fails part-way (full disk, kill) never leaves a mix of two runs.
        """
        home = Path(out) / self.name
        home.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=".result.", dir=home))
        try:
            (build / "tables").mkdir()
            tables: dict[str, str] = {}
            frames = dict(self.tables)
            export_tables = []
            exports = {}
            for key, value in self.exports.items():
                if isinstance(value, pd.DataFrame):
                    frames[f"export.{key}"] = value
                    export_tables.append(key)
                else:
                    exports[key] = _jsonable(value)
            for key, frame in frames.items():
                path = build / "tables" / f"{key}.csv"
                atomic_write(path, frame.to_csv(index=False))
                tables[key] = _sha256(path)
            doc = {
                "format": "satsim.study", "format_version": 3,
                "name": self.name, "title": self.title, "description": self.description,
                "params": _jsonable(self.params),
                "figures": [_jsonable(f.to_dict()) for f in self.figures],
                "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
                "display": self.display, "provenance": _jsonable(self.provenance),
                "exports": exports, "export_tables": export_tables, "tables": tables,
            }
            atomic_write(build / "result.json", json.dumps(doc, indent=2))
            os.chmod(build, 0o755)
            replace_directory(build, home / "result")
        finally:
            if build.exists():
                import shutil

                shutil.rmtree(build, ignore_errors=True)
        return home / "result"

    @classmethod
    def load(cls, directory: str | os.PathLike) -> StudyResult:
        """Read a result saved by :meth:`save` (``directory`` is ``out/NAME`` or
        ``out/NAME/result``).  Every table is checked against the SHA-256 recorded
        with it: a missing or damaged file is a :class:`StudyError`."""
        d = Path(directory)
        if not (d / "result.json").exists() and (d / "result" / "result.json").exists():
            d = d / "result"
        try:
            doc = json.loads((d / "result.json").read_text())
        except FileNotFoundError:
            raise StudyError(f"no saved study result in {str(d)!r}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StudyError(f"{str(d / 'result.json')!r} is not a readable result: "
                             f"{exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != "satsim.study":
            raise StudyError(f"{str(d / 'result.json')!r} is not a satsim study result")
        tables = {}
        for key, digest in doc["tables"].items():
            path = d / "tables" / f"{key}.csv"
            try:
                ok = _sha256(path) == digest
            except OSError:
                raise StudyError(f"table {key!r} of the saved result {str(d)!r} is "
                                 "missing") from None
            if not ok:
                raise StudyError(f"table {str(path)!r} is damaged (SHA-256 differs from "
                                 "the one saved with the result)")
            tables[key] = pd.read_csv(path)
        exports = dict(doc.get("exports", {}))
        from satsim.plotting import figure_from_dict  # matplotlib itself stays unimported

        for key in doc.get("export_tables", []):
            exports[key] = tables.pop(f"export.{key}")
        try:
            return cls(name=doc["name"], title=doc["title"], description=doc["description"],
                       params=doc["params"], tables=tables,
                       figures=[figure_from_dict(f) for f in doc["figures"]],
                       findings=[Finding(**f) for f in doc["findings"]], notes=doc["notes"],
                       display=doc.get("display", []), exports=exports,
                       provenance=doc["provenance"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StudyError(f"{str(d / 'result.json')!r} is incomplete: {exc}") from None


# --------------------------------------------------------------------------- progress
class StudyProgress:
    """Progress of a run: one line per finished study, and bars counted in sweep cells.

    Each study that finishes prints ``satsim: NAME done in 12.3 s (4/9)`` (or
    ``… reused the saved result (4/9)``) on ``stream`` — also when it is not a
    terminal (a log file, a pipe, CI); ``quiet`` silences it.  The bars (one per study,
    with its ETA) are drawn only on a terminal and not when ``quiet``.  The cell counts
    are kept in any case (the interrupt message reports them).
    """

    def __init__(self, *, quiet: bool = False, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.enabled = not quiet and getattr(self.stream, "isatty", lambda: False)()
        self._grids: dict[tuple[str, str], tuple[int, int]] = {}
        self._bars: dict[str, Any] = {}

    def study_done(self, study: str, seconds: float | None, index: int, total: int) -> None:
        """Say that ``study`` (the ``index``-th of ``total``) finished in ``seconds``
        (None: its saved result was reused)."""
        if self.quiet:
            return
        what = ("reused the saved result" if seconds is None
                else f"done in {seconds:.1f} s")
        line = f"satsim: {study} {what} ({index}/{total})"
        bar = self._bars.get(study)
        if bar is not None:
            bar.close()  # the finished bar stays above the line
        if self._bars:
            from tqdm.auto import tqdm

            tqdm.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __call__(self, study: str, grid: str, finished: int, total: int) -> None:
        self._grids[(study, grid)] = (finished, total)
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        done = sum(f for (s, _), (f, _t) in self._grids.items() if s == study)
        whole = sum(t for (s, _), (_f, t) in self._grids.items() if s == study)
        bar = self._bars.get(study)
        if bar is None:
            bar = self._bars[study] = tqdm(total=whole, initial=done, unit="cell",
                                           desc=study, file=self.stream, leave=True)
        bar.total = whole
        bar.n = done
        bar.refresh()
        if done >= whole:
            bar.close()

    @property
    def finished(self) -> int:
        return sum(f for f, _ in self._grids.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self._grids.values())

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()

    def interrupted_message(self) -> str:
        return (f"interrupted after {self.finished} of {self.total} cells; rerun the same "
                "command to resume")


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
    :func:`discover_errors`."""
    return _find(studies).studies


def discover_errors(studies=None) -> dict[str, str]:
    """Study name → one-line reason, for studies that were found but failed to import."""
    return _find(studies).errors


def _find(studies) -> _discovery.Discovery:
    try:
        return _discovery.find(studies)
    except _discovery.StudyDiscoveryError as exc:
        raise StudyError(str(exc)) from None


def load_study(name: str, *, studies=None) -> types.ModuleType:
    """Import a study module by name (see :func:`discover` for where it looks)."""
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
    may be called ``scale``) applied."""
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
    """Versions and machine facts recorded with every run (the report's environment)."""
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


# --------------------------------------------------------------------------- CLI
#: options every study command line has; a Params field with one of these names gets
#: the flag --param-NAME instead (so a parameter called `seed` cannot crash the parser)
_COMMON_OPTIONS = ("seed", "scale", "out", "o", "quiet", "jobs", "executor", "studies",
                  "debug", "help", "h", "rerun")


def _field_type(field: dataclasses.Field, module) -> Any:
    hints = typing.get_type_hints(module.Params)
    tp = hints.get(field.name, str)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]  # Optional[X] → X
    return tp


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _param_flag(field_name: str) -> str:
    """The command-line flag of a ``Params`` field."""
    flag = field_name.replace("_", "-")
    return f"--param-{flag}" if field_name in _COMMON_OPTIONS else f"--{flag}"


def _add_param_options(group, modules: Sequence[types.ModuleType]) -> None:
    seen: set[str] = set()
    for module in modules:
        for field in dataclasses.fields(module.Params):
            if field.name in seen:
                continue
            seen.add(field.name)
            tp = _field_type(field, module)
            flag = _param_flag(field.name)
            origin = typing.get_origin(tp)
            if tp is bool:
                group.add_argument(flag, dest=f"param:{field.name}",
                                   action=argparse.BooleanOptionalAction, default=None,
                                   help=f"default {field.default}")
            elif origin in (tuple, list) or tp in (tuple, list):
                args = typing.get_args(tp)
                inner = args[0] if args and args[0] is not Ellipsis else str
                group.add_argument(flag, dest=f"param:{field.name}", nargs="+", type=inner,
                                   default=None, metavar=field.name.upper(),
                                   help=f"default {' '.join(map(str, _default(field)))}")
            else:
                group.add_argument(flag, dest=f"param:{field.name}",
                                   type=tp if tp in (int, float, str) else str, default=None,
                                   metavar=field.name.upper(), help=f"default {_default(field)}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the command line's handler so that a run stops as after
    Ctrl-C: the sweep engine stops its workers, finished cells are already stored, the
    exit status is 143."""


def _positive_int(text: str, minimum: int = 1) -> int:
    what = "a positive" if minimum == 1 else "a non-negative"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    return _positive_int(text, minimum=0)


def _executor_option(value: str) -> str:
    if value in ("auto", "serial", "process") or (value.startswith("dask://")
                                                   and len(value) > 7):
        return value
    raise argparse.ArgumentTypeError(
        f"must be auto, serial, process or dask://HOST:PORT; got {value!r}")


def _default_jobs() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        sys.stderr.write(f"satsim: error: {message}\n")
        raise SystemExit(2)


_STUDIES_HELP = ("folder of your own studies (repeatable; also $SATSIM_STUDIES, "
                "os.pathsep-separated); nothing is imported from the current directory "
                "unless named here")


def _add_common_options(parser: argparse.ArgumentParser, *, out_default: str) -> None:
    """The options every command that runs studies takes."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="test (seconds), quick (default, minutes) or full (the "
                             "published scale, hours)")
    parser.add_argument("-o", "--out", default=out_default,
                        help=f"output directory (default {out_default}); sweep stores "
                             "live below it, so rerunning the same command resumes")
    parser.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                        help="worker processes for the studies' sweep cells (default: "
                             f"one per CPU, {_default_jobs()} on this machine; 1 runs "
                             "everything in this process)")
    parser.add_argument("--executor", type=_executor_option, default="auto",
                        help="where sweep cells run: auto (default: one pool of --jobs "
                             "worker processes shared by every study's grids, or this "
                             "process with --jobs 1), serial (this process, one cell at a "
                             "time), process (--jobs workers started for each grid), or "
                             "dask://HOST:PORT (a running Dask scheduler).  Results are the "
                             "same whatever runs them")
    parser.add_argument("--studies", action="append", metavar="DIR", help=_STUDIES_HELP)
    parser.add_argument("--quiet", action="store_true",
                        help="no progress: neither the line printed as each study "
                             "finishes nor the bars (drawn only when stderr is a "
                             "terminal)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser(modules: Sequence[types.ModuleType], *, prog: str = "satsim run",
                 names: bool = True) -> argparse.ArgumentParser:
    """The command line of ``satsim run NAME…`` (and of ``python studies/NAME.py``)."""
    title = modules[0].TITLE if len(modules) == 1 else "Run studies and save their results."
    parser = _Parser(prog=prog, description=title)
    if names:
        parser.add_argument("names", nargs="+", metavar="NAME", help="studies to run")
    _add_common_options(parser, out_default="reports/studies")
    group = parser.add_argument_group(
        "study parameters", "override the scale's values (a parameter named like an "
        "option above is --param-NAME)")
    _add_param_options(group, modules)
    return parser


def _overrides_from(args: argparse.Namespace, module: types.ModuleType) -> dict:
    """The parsed ``Params`` overrides that apply to ``module``."""
    out = {}
    for f in dataclasses.fields(module.Params):
        value = getattr(args, f"param:{f.name}", None)
        if value is not None:
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


def _resolve_executor(args: argparse.Namespace) -> tuple[Any, int | None]:
    """(executor, workers) from ``--executor`` and ``--jobs`` for grids that do not
    share a pool (see :func:`_cell_executor`): ``auto`` is the process executor on
    ``--jobs`` workers, or serial with ``--jobs 1``."""
    executor = getattr(args, "executor", "auto")
    jobs = args.jobs or _default_jobs()
    if executor == "serial":
        if args.jobs is not None and args.jobs > 1:
            raise StudyError(f"--executor serial runs one cell at a time in this process; "
                             f"--jobs {args.jobs} asks for worker processes (drop one of "
                             "the two)")
        return "serial", None
    if executor in ("auto", "process"):
        return ("process", jobs) if jobs > 1 or executor == "process" else ("serial", None)
    return executor, None


@contextlib.contextmanager
def _cell_executor(args: argparse.Namespace) -> Iterator[tuple[Any, int | None]]:
    """(executor, workers) for every grid run inside the block.

    With ``--executor auto`` (the default) and more than one job, one
    :class:`satsim.study._pool.CellPool` of ``--jobs`` worker processes, shared by all the
    grids and started on the first cell: a report's dozen grids pay the workers'
    start-up (importing NumPy, SciPy and the study) once, not once per grid.  It is
    stopped when the block ends — at once, abandoning the cells in flight, after an
    error or Ctrl-C (the finished cells are saved).  Otherwise
    :func:`_resolve_executor`'s choice.
    """
    jobs = args.jobs or _default_jobs()
    if getattr(args, "executor", "auto") != "auto" or jobs == 1:
        yield _resolve_executor(args)
        return
    from satsim.study._pool import CellPool

    pool = CellPool(jobs)
    ok = False
    try:
        yield pool, None
        ok = True
    finally:
        pool.shutdown(wait=True, cancel_futures=not ok)


def _saved_result(out: Path, name: str, module: types.ModuleType, args: argparse.Namespace,
                  overrides: dict) -> StudyResult | None:
    """The saved result :func:`run_study` would reuse, or None."""
    params = study_params(module, args.scale, overrides)
    return _reusable(out, name, args.seed, args.scale, _jsonable(dataclasses.asdict(params)))


def _run_command(names: Sequence[str], args: argparse.Namespace, *, out: Path,
                reuse: bool, progress: StudyProgress) -> list[StudyResult]:
    """Run ``names`` in order with the options parsed by :func:`build_parser`.

    The studies run one after another in this process, each once the previous one's
    result is saved (so a study's requirements are always ready); their grids' cells
    run on :func:`_cell_executor` — by default one pool of worker processes, one per
    CPU, shared by every grid.  ``progress`` says when each study is done.
    """
    results = []
    try:
        with _cell_executor(args) as (executor, workers):
            for index, name in enumerate(names, 1):
                module = load_study(name, studies=args.studies)
                overrides = _overrides_from(args, module)
                saved = _saved_result(out, name, module, args, overrides) if reuse else None
                if saved is not None:
                    results.append(saved)
                    progress.study_done(name, None, index, len(names))
                    continue
                start = time.perf_counter()
                # reuse=False: the check above found nothing to reuse (requirements
                # are still reused by run_study)
                results.append(run_study(name, scale=args.scale, seed=args.seed, out=out,
                                         reuse=False, overrides=overrides,
                                         executor=executor, workers=workers,
                                         progress=progress, studies=args.studies))
                progress.study_done(name, time.perf_counter() - start, index, len(names))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): keep which
        raise type(exc)(progress.interrupted_message()) from None
    finally:
        progress.close()
    return results


def _study_name(study: str) -> tuple[str, list[str] | None]:
    """A study's name and, for a file outside the built-in folder, its folder."""
    if study.endswith(".py"):
        path = Path(study).resolve()
        import satsim.studies as builtin

        if any(path.parent == Path(p).resolve() for p in builtin.__path__):
            return path.stem, None
        return path.stem, [str(path.parent)]
    for prefix in ("satsim.studies.", _discovery._USER_PREFIX):
        if study.startswith(prefix):
            return study.rsplit(".", 1)[-1], None
    return study, None


def main(study: str, argv: Sequence[str] | None = None) -> int:
    """Command line of one study (``study`` is its name or its file, ``__file__``):
    the same parser as ``satsim run NAME``.  Errors: one line on stderr, exit 2;
    Ctrl-C: one line, exit 130."""
    name, folders = _study_name(study)
    try:
        module = load_study(name, studies=folders)
    except StudyError as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    parser = build_parser([module], prog=f"satsim run {name}", names=False)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    args.studies = [*(folders or []), *(args.studies or [])] or None
    return _report_run([name], args)


def _report_run(names: Sequence[str], args: argparse.Namespace) -> int:
    """Run studies for a command line and print one line per study (exit status)."""
    out = Path(args.out)
    progress = StudyProgress(quiet=args.quiet)
    try:
        out.mkdir(parents=True, exist_ok=True)
        results = _run_command(names, args, out=out, reuse=False, progress=progress)
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"satsim: {exc}\n")
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # one line for users; the traceback is for developers
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"satsim: error: {type(exc).__name__}: {exc}\n")
        return 2
    for res in results:
        bad = [f.id for f in res.findings if f.passed is False]
        undecided = [f.id for f in res.findings if f.passed is None]
        status = "all findings pass" if not bad else f"FAILED: {', '.join(bad)}"
        if undecided:
            status += f"; undecided: {', '.join(undecided)}"
        print(f"{res.name:28} {len(res.findings)} findings, {status} -> {out / res.name}")
    return 0
