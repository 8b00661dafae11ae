"""The command lines of studies: ``satsim run``, ``satsim report`` and ``python
studies/NAME.py`` share one generated parser (see :mod:`satsim.study`)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from satsim.study import _discovery
from satsim.study._progress import (
    StudyProgress,
)
from satsim.study._result import (
    SCALES,
    StudyError,
    StudyResult,
    _jsonable,
)
from satsim.study._run import (
    _reusable,
    load_study,
    run_study,
    study_params,
)

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
    parser.add_argument("--strict", action="store_true",
                        help="exit status 1 when a finding fails (undecided ones do not); "
                             "by default the status is 0 once everything ran, since a "
                             "failed finding is a result, not an error")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser(modules: Sequence[types.ModuleType], *, prog: str = "satsim run",
                 names: bool = True) -> argparse.ArgumentParser:
    """The command line of ``satsim run NAME…`` (and of ``python studies/NAME.py``).

    Options: ``--seed``, ``--scale``, ``-o/--out`` (default ``reports/studies``),
    ``--jobs``, ``--executor``, ``--studies``, ``--quiet``, ``--debug``, and one option
    per field of the studies' ``Params`` (``--field-name``, or ``--param-field-name``
    for a field named like one of those options), whose parsed value is stored under
    ``"param:FIELD"`` and defaults to ``None`` (not given).  A usage error prints one
    line and exits with status 2.

    Parameters
    ----------
    modules : sequence of types.ModuleType
        The study modules whose ``Params`` become options (a field shared by several
        becomes one option, typed by the first); with exactly one, its ``TITLE`` is the
        description.
    prog : str, default "satsim run"
        The program name shown in usage and error messages.
    names : bool, default True
        Whether the parser takes the positional study names (``NAME …``, one or more,
        stored as ``names``); ``False`` for a single study's own command line.

    Returns
    -------
    argparse.ArgumentParser
        The parser (not yet run on any arguments).
    """
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
    Ctrl-C: one line, exit 130.

    The study is run (its requirements reused when saved under ``--out``), saved, and
    one line per study printed: its findings and whether they pass.  Errors are
    reported, not raised: use it as ``raise SystemExit(satsim.study.main(__file__))``.

    Parameters
    ----------
    study : str
        The study's name, its module's dotted name (``satsim.studies.NAME``), or the path
        of its ``.py`` file; a file outside the built-in studies' folder makes that
        folder a study folder (as ``--studies``).
    argv : sequence of str or None, default None
        The command-line arguments (without the program name); ``None`` reads
        ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 when the study ran (even if some of its findings failed:
        the printed line says so; 1 then under ``--strict``) or for ``--help``; 2 for
        an unknown or broken study, a usage error or an error while running; 130
        after Ctrl-C; 143 when stopped by
        :class:`Terminated` (SIGTERM, once a handler raising it is installed, as
        ``satsim``'s own command line does).
    """
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
    return findings_status([f for r in results for f in r.findings], args)


def findings_status(findings: Sequence[Any], args: argparse.Namespace) -> int:
    """The exit status once everything ran: 1 under ``--strict`` when a finding failed
    (``passed is False``; undecided ones do not count), else 0."""
    failed = any(f.passed is False for f in findings)
    return 1 if failed and getattr(args, "strict", False) else 0
