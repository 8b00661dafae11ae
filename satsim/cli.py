"""The ``satsim`` command.

``satsim report [NAME…] -o DIR`` runs (or reuses) the studies and writes
``DIR/index.html`` and ``DIR/satsim-report.pdf``; ``satsim run NAME…`` runs studies;
``satsim list`` lists them; ``satsim analyze --sizes … --init …`` vets
initialization schemes on a user's network (:mod:`satsim.analyze`); ``satsim data
fetch NAME`` downloads a registered dataset and verifies it; ``satsim sweep status
DIR`` counts a sweep's cells; ``satsim demo`` prints the z-distribution table for
every initializer.  Errors print one line on stderr and exit with status 2
(``--debug`` shows the traceback); Ctrl-C prints one line and exits with 130.

This module imports only the standard library at import time, and ``import satsim``
is a lazy facade: NumPy, SciPy and pandas load inside :func:`main`'s error handling,
so a Ctrl-C while they load (the first second or two of every command) is the same
one line and exit status 130 as a Ctrl-C later, never a traceback.

``satsim report`` and ``satsim run`` use every CPU by default (``--jobs``: one pool of
worker processes for all the studies' sweep cells, see ``satsim.study._cli._run_command``)
and print one line as each study finishes (``--quiet`` silences it).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# standard library only above: NumPy & co. are imported inside main()'s try
from satsim._namespace import public_dir

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CLIError", "demo_setting", "demo_table", "main"]


__dir__ = public_dir(globals())


class CLIError(Exception):
    """An error reported as one line with exit code 2."""


#: the demo's saturation setting: satsim.saturation's defaults (sigmoid, ε = 0.01)
DEMO_ACTIVATION = "sigmoid"
DEMO_EPSILON = 0.01


def demo_table(
    *, n_samples: int = 50_000, n_in: int = 1000, active: int = 500, rng=None, workers: int = 1
) -> pd.DataFrame:
    """The demo's table: one row per registered initializer (N(0, 1) bias throughout).

    ``saturated`` is the fraction of simulated sigmoid neurons that are saturated by
    satsim's one default criterion (:func:`satsim.saturation.fraction`: the output
    within ε = 0.01 of 0 or 1, i.e. |z| > ln 99 ≈ 4.595), with its Wilson 95%
    interval; ``saturated_if_normal`` is :func:`satsim.saturation.predicted_fraction`
    for z ~ N(theory mean, theory std²).  Each initializer gets an independent stream
    spawned from ``rng``.

    The neuron is :math:`z = \\sum_j w_j x_j + b` with the inputs of
    :func:`satsim.inputs.nielsen` (``active`` of the ``n_in`` inputs equal to 1, the rest
    0), weights from the initializer at ``fan_in = fan_out = n_in`` and :math:`b \\sim
    N(0, 1)`, simulated by :func:`satsim.montecarlo.simulate`.

    Parameters
    ----------
    n_samples : int, default 50_000
        Neurons simulated per initializer (at least 2).
    n_in : int, default 1000
        Number of inputs (the fan-in), at least 1.
    active : int, default 500
        Number of inputs equal to 1, between 0 and ``n_in``.
    rng : None, int, SeedSequence, BitGenerator or Generator, optional
        Source of randomness (normalised with :func:`numpy.random.default_rng`; a legacy
        ``RandomState`` is refused).  ``None`` (the default) seeds from the OS.
    workers : int, default 1
        Threads for each simulation; the table does not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per registered initializer (in :func:`satsim.init.names` order) with the
        columns ``initializer``; ``weight_var`` (the weights' variance at
        ``fan_in = fan_out = n_in``); ``predicted_std`` and ``simulated_std`` (of z, the
        theory and the simulation) with ``std_ci_low``/``std_ci_high`` (95% interval);
        ``saturated`` with ``saturated_ci_low``/``saturated_ci_high``; and
        ``saturated_if_normal``.

    Raises
    ------
    TypeError
        If ``n_samples``, ``n_in``, ``active`` or ``workers`` is not an integer, or
        ``rng`` is not one of the accepted kinds.
    ValueError
        If ``n_samples < 2``, ``n_in < 1``, ``workers < 1``, or ``active`` is negative or
        larger than ``n_in``.
    """
    import pandas as pd

    from satsim import activations, init, inputs, saturation
    from satsim._validation import check_rng
    from satsim.montecarlo import simulate

    x = inputs.nielsen(n_in, active)
    _lo, hi = activations.get(DEMO_ACTIVATION).saturation_bounds(epsilon=DEMO_EPSILON)
    # sigmoid's bounds are ±ln 99 (lo = -hi): "saturated" is |z| > hi, which simulate
    # counts while it streams (the draws need not be kept, however large n_samples is)
    rng = check_rng(rng)
    rows = []
    for name, stream in zip(init.names(), rng.spawn(len(init.names())), strict=True):
        with warnings.catch_warnings():
            # zeros/constant weights make z = b; their weight kurtosis is undefined,
            # which does not matter for this table.
            warnings.simplefilter("ignore", category=UserWarning)
            res = simulate(name, x, n_samples=n_samples, rng=stream, workers=workers,
                           thresholds=(hi,))
        low, high = res.std_ci(0.95)
        sat = res.exceedance(0.95).iloc[0]
        rows.append({
            "initializer": name, "weight_var": res.weights.variance(n_in, n_in),
            "predicted_std": res.theory_std, "simulated_std": res.std, "std_ci_low": low,
            "std_ci_high": high, "saturated": sat["estimate"],
            "saturated_ci_low": sat["ci_low"], "saturated_ci_high": sat["ci_high"],
            "saturated_if_normal": saturation.predicted_fraction(
                res.theory_std, mean=res.theory_mean, activation=DEMO_ACTIVATION,
                epsilon=DEMO_EPSILON),
        })
    return pd.DataFrame(rows)


def demo_setting(*, n_in: int = 1000, active: int = 500) -> str:
    """The demo's header: inputs, bias, activation and saturation criterion.

    Parameters
    ----------
    n_in : int, default 1000
        Number of inputs, as given to :func:`demo_table`.
    active : int, default 500
        Number of inputs equal to 1, as given to :func:`demo_table`.

    Returns
    -------
    str
        One line describing the setting of :func:`demo_table`: the inputs, the
        :math:`N(0, 1)` bias, the activation (sigmoid) and its saturation criterion
        (:math:`\\sigma(z) < 0.01` or :math:`> 0.99`, i.e. :math:`|z| > \\ln 99`).  The
        arguments are written as given, not validated.
    """
    from satsim import activations

    _lo, hi = activations.get(DEMO_ACTIVATION).saturation_bounds(epsilon=DEMO_EPSILON)
    return (f"inputs: n_in = {n_in}, {active} active (x = 1, the rest 0); bias N(0, 1); "
            f"activation {DEMO_ACTIVATION}, saturated when σ(z) < {DEMO_EPSILON:g} or > "
            f"{1 - DEMO_EPSILON:g} (|z| > ln 99 = {hi:.3f})")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        sys.stderr.write(f"satsim: error: {message}\n")
        raise SystemExit(2)


def _build_parser() -> argparse.ArgumentParser:
    from satsim import __version__
    from satsim.study._cli import (
        _STUDIES_HELP,
        _add_common_options,
        _nonnegative_int,
        _positive_int,
    )

    parser = _Parser(prog="satsim", description="Statistics-first simulation of weight "
                     "initialization and neuron saturation.",
                     epilog="Studies: the built-in ones, those of installed packages "
                            "(entry-point group satsim.studies) and the folders named with "
                            "--studies DIR or $SATSIM_STUDIES.  Long runs resume: rerun the "
                            "same command; `satsim sweep status DIR` shows progress.")
    parser.add_argument("--version", action="version", version=f"satsim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    rep = sub.add_parser("report", help="run/reuse studies; write DIR/index.html and the PDF")
    rep.add_argument("studies_names", nargs="*", metavar="NAME",
                     help="studies (default: all, in their declared order)")
    _add_common_options(rep, out_default="reports")
    rep.add_argument("--no-pdf", action="store_true", help="HTML only")
    rep.add_argument("--rerun", action="store_true", help="ignore saved study results")
    rep.add_argument("--device", dest="param:device", metavar="DEVICE",
                     help="train on this torch device (cpu, cuda, cuda:1, …) in the studies "
                          "that have a torch backend (trainability); the others run in NumPy "
                          "as usual.  Default: NumPy on the CPU everywhere")

    # `satsim run` builds its full parser from the named studies' parameters
    # (satsim.study.build_parser, the same one `python studies/NAME.py` uses)
    run = sub.add_parser("run", help="run studies and save their results "
                         "(`satsim run NAME --help` lists NAME's parameters)", add_help=False)
    run.add_argument("argv", nargs=argparse.REMAINDER)

    an = sub.add_parser("analyze", help="vet initialization schemes on your own network: "
                        "z, saturation, mean field and training, as an HTML + PDF report")
    an.add_argument("--sizes", help="layer widths, input first: 784,300,100,10")
    an.add_argument("--activation", action="append", metavar="NAME",
                    help="hidden activation (name, registered name or module:attr); give it "
                         "once, or once per hidden layer (default tanh)")
    an.add_argument("--init", action="append", metavar="NAME",
                    help="a scheme to compare (name, registered name, module:attr, or lsuv); "
                         "repeat for several (default he_normal and glorot_uniform)")
    an.add_argument("--bias-init", default="zeros",
                    help="bias initializer, or none (default zeros)")
    an.add_argument("--output", choices=("softmax", "sigmoid"), default="softmax",
                    help="output layer (default softmax)")
    an.add_argument("--data", default="fashion-mnist",
                    help="fashion-mnist (default), mnist, a path (IDX directory or .npz), "
                         "or none (Gaussian inputs only, no training)")
    an.add_argument("--epochs", type=_nonnegative_int,
                    help="training epochs (default: the scale's)")
    an.add_argument("--seeds", type=_positive_int, help="training seeds (default: the scale's)")
    an.add_argument("--torch", metavar="MODULE:ATTR",
                    help="analyze a PyTorch model built by this callable (satsim.torch) "
                         "instead of --sizes")
    an.add_argument("--input-shape", help="the model's input shape per example, e.g. "
                                          "1,28,28 (with --torch)")
    an.add_argument("--device", metavar="DEVICE",
                    help="train on this torch device (cpu, cuda, cuda:1, …): the --torch "
                         "model, or the --sizes network with satsim's torch backend "
                         "(default: the CPU; NumPy for --sizes)")
    an.add_argument("--force", action="store_true",
                    help="run even when the estimated memory or time is above the limits "
                         "(4 GiB, 2 h)")
    _add_common_options(an, out_default="reports/analysis")
    an.add_argument("--no-pdf", action="store_true", help="HTML only")

    lst = sub.add_parser("list", help="list the studies")
    lst.add_argument("--studies", action="append", metavar="DIR", help=_STUDIES_HELP)

    data = sub.add_parser("data", help="datasets: fetch NAME")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser, required=True)
    fetch = data_sub.add_parser("fetch", help="download a dataset and verify its SHA-256 sums")
    fetch.add_argument("name", help="dataset name (mnist, fashion-mnist)")
    fetch.add_argument("--dest", help="directory (default: $SATSIM_DATA/NAME or the cache)")
    fetch.add_argument("--mirror", action="append", help="base URL to try (repeatable)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.add_argument("--timeout", type=float, default=900.0,
                       help="overall deadline per file and mirror, in seconds (default 900)")

    sw = sub.add_parser("sweep", help="sweeps: status DIR, export DIR")
    sw_sub = sw.add_subparsers(dest="sweep_command", parser_class=_Parser, required=True)
    st = sw_sub.add_parser("status", help="done / failed / pending cells of every sweep "
                           "store in or below DIR")
    st.add_argument("dir", help="a sweep directory, or the -o DIR given to satsim run/report")
    ex = sw_sub.add_parser("export", help="write every store's results as CSV")
    ex.add_argument("dir", help="a sweep directory, or the -o DIR given to satsim run/report")
    ex.add_argument("-o", "--out", help="CSV path when DIR holds one store (default "
                    "STORE/results.csv for each store)")

    demo = sub.add_parser("demo", help="z = w·x + b under every initializer")
    demo.add_argument("--n-samples", type=_positive_int, default=50_000,
                      help="neurons simulated per initializer (default 50000)")
    demo.add_argument("--n-in", type=_positive_int, default=1000, help="inputs (default 1000)")
    demo.add_argument("--active", type=int, default=500, help="inputs equal to 1 (default 500)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--jobs", type=_positive_int, default=1, help="worker threads (default 1)")
    return parser


def _writable(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output directory {str(out)!r}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise CLIError(f"output directory {str(out)!r} is not writable")
    return out


def _discover(studies):
    from satsim.study import StudyError, discover_errors
    from satsim.study import discover as find

    try:
        return find(studies), discover_errors(studies)
    except StudyError as exc:
        raise CLIError(str(exc)) from None


def _check_names(names: Sequence[str], studies) -> list[str]:
    known, errors = _discover(studies)
    for n in names:
        if n in errors:
            raise CLIError(errors[n])
        if n not in known:
            raise CLIError(f"unknown study {n!r}; known studies: {', '.join(known) or 'none'}")
    return list(names)


def _run_command(argv: Sequence[str]) -> int:
    """``satsim run NAME… [options]``: the study names come first; the parser is then
    generated from their parameters (the same as ``python studies/NAME.py``)."""
    from satsim.study import build_parser, load_study
    from satsim.study._cli import _report_run

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--studies", action="append")
    known, _ = pre.parse_known_args(argv)
    names = []
    for a in argv:
        if a.startswith("-"):
            break
        names.append(a)
    _check_names(names, known.studies)
    modules = [load_study(n, studies=known.studies) for n in names]
    # with no names this prints the usage (-h) or the one-line "required" error
    args = build_parser(modules, prog="satsim run").parse_args(argv)
    _writable(Path(args.out))
    return _report_run(args.names, args)


def _data_command(args) -> int:
    from satsim import data

    path = data.fetch(args.name, dest=args.dest, mirrors=args.mirror,
                      progress=not args.no_progress, timeout=args.timeout)
    print(f"{args.name}: verified files in {path}")
    return 0


def _demo(args) -> int:
    import numpy as np
    import pandas as pd

    table = demo_table(n_samples=args.n_samples, n_in=args.n_in, active=args.active,
                       rng=np.random.default_rng(args.seed), workers=args.jobs)
    print(f"z = w·x + b under every initializer: {args.n_samples} neurons each, "
          f"seed {args.seed}")
    print(demo_setting(n_in=args.n_in, active=args.active))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _sweep_command(args) -> int:
    import pandas as pd

    from satsim import sweep

    try:
        table = sweep.overview(args.dir)
        if args.sweep_command == "status":
            with pd.option_context("display.width", 200, "display.max_columns", 20,
                                   "display.max_colwidth", 80):
                print(table.to_string(index=False))
            c = table[["done", "failed", "pending", "total"]].sum()
            print(f"done {c['done']}  failed {c['failed']}  pending {c['pending']}  "
                  f"(total {c['total']}) in {len(table)} store(s)")
        else:
            root = Path(args.dir)
            if args.out and len(table) > 1:
                raise CLIError(f"{args.dir!r} holds {len(table)} sweep stores; -o names one "
                               "CSV file, so leave it out (each store gets STORE/results.csv)")
            for store in table.store:
                where = root / store
                path = Path(args.out) if args.out else where / "results.csv"
                print(f"wrote {sweep.export(where, path)}")
    except sweep.SweepError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _list(args) -> int:
    known, errors = _discover(args.studies)
    for name, info in known.items():
        origin = "" if info.origin == "built-in" else f"  [{info.origin}]"
        print(f"{name:28} {info.title}{origin}")
    for line in errors.values():
        sys.stderr.write(f"satsim: warning: {line}\n")
    return 0


def _check_device(device: str | None) -> None:
    """``--device``: usable here, checked before any study runs (one line otherwise)."""
    if device is None:
        return
    try:
        from satsim.nn import _torch
    except ImportError:
        raise CLIError(f"--device {device} trains with PyTorch, which is not installed: "
                       "pip install 'satsim[torch]'") from None
    try:
        _torch.resolve_device(device)
    except ValueError as exc:
        raise CLIError(f"--device {device}: {exc}") from None


def _report(args) -> int:
    from satsim.report import write_report
    from satsim.study import StudyProgress
    from satsim.study._cli import _run_command, findings_status

    if args.studies_names:
        names = _check_names(args.studies_names, args.studies)
    else:
        known, errors = _discover(args.studies)
        for line in errors.values():  # the report goes on with the studies that import
            sys.stderr.write(f"satsim: warning: {line}\n")
        names = list(known)
    if not names:
        raise CLIError("no studies found")
    _check_device(getattr(args, "param:device", None))
    out = _writable(Path(args.out))
    progress = StudyProgress(quiet=args.quiet)
    results = _run_command(names, args, out=out / "studies", reuse=not args.rerun,
                          progress=progress)
    paths = write_report(results, out, pdf=not args.no_pdf)
    n = sum(len(r.findings) for r in results)
    passed = sum(f.passed is True for r in results for f in r.findings)
    undecided = sum(f.passed is None for r in results for f in r.findings)
    extra = f" ({undecided} undecided)" if undecided else ""
    print(f"{passed} of {n} findings passed{extra}; wrote "
          f"{', '.join(str(p) for p in paths.values())}")
    return findings_status([f for r in results for f in r.findings], args)


def _none(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


#: Python parameters of satsim.analyze named as the command line's options in errors
_ANALYZE_OPTIONS = {"sizes": "--sizes", "inits": "--init", "activation": "--activation",
                    "bias_init": "--bias-init", "input_shape": "--input-shape",
                    "epochs": "--epochs", "seeds": "--seeds", "data": "--data",
                    "build": "--torch", "device": "--device", "output": "--output",
                    "weights": "--init", "init": "--init"}


def _as_options(message: str) -> str:
    """An analysis error as the user typed it: `sizes[1]` → `--sizes` (item 2),
    ``force=True`` → ``--force``."""
    import re

    def option(m: re.Match) -> str:
        name, index = m.group(1), m.group(2)
        flag = _ANALYZE_OPTIONS[name]
        return f"`{flag}` (item {int(index) + 1})" if index else f"`{flag}`"

    names = "|".join(_ANALYZE_OPTIONS)
    message = re.sub(rf"`({names})(?:\[(\d+)\])?`", option, message)
    message = re.sub(rf"\b({names})\[\d+\]=", "", message)  # "got sizes[1]=0": "got 0"
    message = re.sub(rf"\b({names})=", lambda m: f"{_ANALYZE_OPTIONS[m.group(1)]} ", message)
    return message.replace("pass force=True (--force)", "pass --force")


def _analyze(args) -> int:
    import numpy as np
    import pandas as pd

    from satsim.analyze import analyze, analyze_torch
    from satsim.study._cli import _cell_executor, findings_status

    if args.torch and args.sizes:
        raise CLIError("--torch and --sizes: give one (--torch analyzes your PyTorch model, "
                       "--sizes a network satsim builds)")
    if args.input_shape and not args.torch:
        raise CLIError("--input-shape is the --torch model's input shape; with --sizes the "
                       "first size is the input")
    if args.torch and not args.input_shape:
        raise CLIError("--torch needs --input-shape (e.g. 1,28,28)")
    if not args.torch and not args.sizes:
        raise CLIError("--sizes is required (e.g. --sizes 784,300,100,10), or --torch")
    acts = args.activation or []
    if args.torch and len(acts) > 1:
        raise CLIError(f"--activation: with --torch give it once (it names the activation of "
                       f"layers where the model shows none); got {len(acts)}: "
                       f"{', '.join(acts)}")
    _check_device(args.device)
    out = _writable(Path(args.out))
    progress = not args.quiet and sys.stderr.isatty()
    try:
        with _cell_executor(args) as (executor, workers):
            common = dict(data=_none(args.data), scale=args.scale, epochs=args.epochs,
                          seeds=args.seeds, device=args.device, force=args.force, out=out,
                          executor=executor, workers=workers, progress=progress,
                          rng=np.random.default_rng(args.seed))
            if args.torch:
                res: Any = analyze_torch(args.torch, args.input_shape, args.init or (),
                                         activation=acts[0] if acts else None, **common)
            else:
                acts = acts or ["tanh"]
                res = analyze(args.sizes, args.init or ["he_normal", "glorot_uniform"],
                              activation=acts[0] if len(acts) == 1 else acts,
                              output=args.output, bias_init=_none(args.bias_init), **common)
    except (ValueError, TypeError) as exc:
        raise CLIError(_as_options(str(exc))) from None
    paths = res.write_report(out, pdf=not args.no_pdf)
    if args.torch:
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            cols = [c for c in ("scheme", "layer", "kind", "fan_in", "weight_var", "z_std",
                                "saturated", "activation") if c in res.layers]
            print(res.layers[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    passed = sum(f.passed is True for f in res.findings)
    print(res.overview)
    print(f"{passed} of {len(res.findings)} findings passed; wrote "
          f"{', '.join(str(p) for p in paths.values())}")
    return findings_status(res.findings, args)


def _dispatch(args) -> int:
    if args.command == "analyze":
        return _analyze(args)
    if args.command == "data":
        return _data_command(args)
    if args.command == "sweep":
        return _sweep_command(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "list":
        return _list(args)
    if args.command == "run":
        return _run_command(args.argv)
    if args.command == "report":
        return _report(args)
    return _demo(argparse.Namespace(n_samples=50_000, n_in=1000, active=500, seed=0, jobs=1))


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM stops the program like Ctrl-C (:class:`satsim.study.Terminated`)."""
    from satsim.study import Terminated

    raise Terminated("terminated (SIGTERM)")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``satsim`` command; returns the exit status (0, 2 on errors, 130 on Ctrl-C,
    143 on SIGTERM: one line each).

    While it runs (in the main thread), SIGTERM raises
    :class:`satsim.study.Terminated`, so that a run stops as after Ctrl-C; the previous
    handler is restored on return.  Errors are reported on stderr, not raised.

    Parameters
    ----------
    argv : sequence of str or None, default None
        The arguments after the program name (``["report", "-o", "out"]``); ``None``
        reads ``sys.argv[1:]``.  Without a command (``[]``), ``satsim demo`` runs with its defaults.

    Returns
    -------
    int
        The exit status: 0 on success; 2 for a usage error or any error (one line on
        stderr; ``--debug`` adds the traceback; a full disk says so); 130 after Ctrl-C;
        143 after SIGTERM.
    """
    import signal
    import threading

    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # everything that imports NumPy & co. happens in here (the parser imports
        # satsim.study), so a Ctrl-C at any point is one line and 130
        parser = _build_parser()
        if argv[:1] == ["run"]:
            # parsed by the parser generated from the named studies (REMAINDER would not
            # take a leading option such as --help)
            args = argparse.Namespace(command="run", argv=argv[1:], debug="--debug" in argv)
        else:
            args = parser.parse_args(argv)
        return _dispatch(args)
    except CLIError as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into it: one line
        detail = str(exc)
        if type(exc).__name__ == "Terminated":
            sys.stderr.write("satsim: terminated (SIGTERM); finished work is saved: rerun "
                             "the same command to resume\n")
            return 143
        if not detail.startswith("interrupted"):
            detail = "interrupted" + (f"; {detail}" if detail else "")
        sys.stderr.write(f"satsim: {detail}\n")
        return 130
    except Exception as exc:
        if getattr(args, "debug", False) or (args is None and "--debug" in argv):
            traceback.print_exc()
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            where = f" writing {exc.filename}" if exc.filename else ""
            sys.stderr.write(f"satsim: error: the disk is full{where}; free some space and "
                             "rerun the same command (finished work is kept)\n")
            return 2
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
