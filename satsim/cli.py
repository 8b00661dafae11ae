"""The ``satsim`` command.

``satsim report [NAME…] -o DIR`` runs (or reuses) the studies and writes
``DIR/index.html`` and ``DIR/satsim-report.pdf``; ``satsim run NAME…`` runs studies;
``satsim list`` lists them; ``satsim data fetch NAME`` downloads a registered
dataset and verifies it; ``satsim sweep status DIR`` counts a sweep's cells;
``satsim demo`` prints the z-distribution table for every initializer.  Errors
print one line on stderr and exit with status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["STUDY_ORDER", "demo_table", "main"]

#: the report's order (the argument's order)
STUDY_ORDER = ("z_distribution", "variance_additivity", "clt", "saturation",
               "deep_propagation", "learning_slowdown", "init_training",
               "costs_and_regularization")


class CLIError(Exception):
    """An error reported as one line with exit code 2."""


def demo_table(
    *, n_samples: int = 50_000, n_in: int = 1000, active: int = 500, rng=None, workers: int = 1
) -> pd.DataFrame:
    """The demo's table: one row per registered initializer (N(0, 1) bias throughout).

    Each initializer gets an independent stream spawned from ``rng``.
    """
    from satsim import init, inputs
    from satsim._validation import check_rng
    from satsim.montecarlo import simulate

    x = inputs.nielsen(n_in, active)
    rng = check_rng(rng)
    rows = []
    for name, stream in zip(init.names(), rng.spawn(len(init.names())), strict=True):
        with warnings.catch_warnings():
            # zeros/constant weights make z = b; their weight kurtosis is undefined,
            # which does not matter for this table.
            warnings.simplefilter("ignore", category=UserWarning)
            res = simulate(name, x, n_samples=n_samples, rng=stream, workers=workers)
        low, high = res.std_ci(0.95)
        exc = res.exceedance(0.95).iloc[0]
        rows.append({
            "initializer": name, "weight_var": res.weights.variance(n_in, n_in),
            "predicted_std": res.theory_std, "simulated_std": res.std, "std_ci_low": low,
            "std_ci_high": high, "frac_abs_z_gt_1": exc["estimate"],
            "frac_ci_low": exc["ci_low"], "frac_ci_high": exc["ci_high"],
            "frac_if_normal": exc["theory"],
        })
    return pd.DataFrame(rows)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        sys.stderr.write(f"satsim: error: {message}\n")
        raise SystemExit(2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--scale", choices=("test", "quick", "full"), default="quick",
                   help="quick (default, minutes) or full (the published scale)")
    p.add_argument("--jobs", type=_positive_int, default=1, help="parallel workers (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--executor", default="serial",
                   help="where studies run their sweep cells: serial (default), process, "
                        "or dask://HOST:PORT")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _build_parser() -> argparse.ArgumentParser:
    from satsim import __version__

    parser = _Parser(prog="satsim", description="Statistics-first simulation of weight "
                     "initialization and neuron saturation.")
    parser.add_argument("--version", action="version", version=f"satsim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    rep = sub.add_parser("report", help="run/reuse studies; write DIR/index.html and the PDF")
    rep.add_argument("studies", nargs="*", metavar="NAME", help="studies (default: all)")
    rep.add_argument("-o", "--out", default="reports", help="output directory (default reports)")
    rep.add_argument("--no-pdf", action="store_true", help="HTML only")
    rep.add_argument("--rerun", action="store_true", help="ignore saved study results")
    _common(rep)

    run = sub.add_parser("run", help="run studies and save their results")
    run.add_argument("studies", nargs="+", metavar="NAME")
    run.add_argument("-o", "--out", default="reports/studies", help="output directory")
    _common(run)

    sub.add_parser("list", help="list the studies")

    data = sub.add_parser("data", help="datasets: fetch NAME")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser, required=True)
    fetch = data_sub.add_parser("fetch", help="download a dataset and verify its SHA-256 sums")
    fetch.add_argument("name", help="dataset name (mnist, fashion-mnist)")
    fetch.add_argument("--dest", help="directory (default: $SATSIM_DATA/NAME or the cache)")
    fetch.add_argument("--mirror", action="append", help="base URL to try (repeatable)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")

    sw = sub.add_parser("sweep", help="sweeps: status DIR")
    sw_sub = sw.add_subparsers(dest="sweep_command", parser_class=_Parser, required=True)
    st = sw_sub.add_parser("status", help="done / failed / pending counts of a sweep")
    st.add_argument("dir", help="the sweep's output directory")
    ex = sw_sub.add_parser("export", help="write the sweep's results as CSV")
    ex.add_argument("dir", help="the sweep's output directory")
    ex.add_argument("-o", "--out", help="CSV path (default DIR/results.csv)")

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


def _check_names(names: Sequence[str]) -> list[str]:
    from satsim.study import discover

    known = discover()
    for n in names:
        if n not in known:
            raise CLIError(f"unknown study {n!r}; known studies: {', '.join(known) or 'none'}")
    return list(names)


def _run_one(args):
    name, scale, seed, out, reuse, executor = args
    from satsim.study import run_study

    run_study(name, scale=scale, seed=seed, out=out, reuse=reuse, executor=executor)
    return name


def _run_studies(names, *, scale, seed, out, reuse, jobs, quiet, executor="serial"):
    from tqdm.auto import tqdm

    from satsim.study import StudyResult, load_study

    required = {r for n in names for r in getattr(load_study(n), "REQUIRES", ())}
    phases = [[n for n in names if n in required], [n for n in names if n not in required]]
    bar = tqdm(total=len(names), unit="study", desc="studies",
               disable=quiet or not sys.stderr.isatty())
    for phase in phases:
        tasks = [(n, scale, seed, str(out), reuse, executor) for n in phase]
        if jobs > 1 and len(tasks) > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for _ in pool.map(_run_one, tasks):
                    bar.update()
        else:
            for t in tasks:
                bar.set_postfix_str(t[0])
                _run_one(t)
                bar.update()
    bar.close()
    return [StudyResult.load(Path(out) / n) for n in names]


def _data_command(args) -> int:
    from satsim import data

    path = data.fetch(args.name, dest=args.dest, mirrors=args.mirror,
                      progress=not args.no_progress)
    print(f"{args.name}: verified files in {path}")
    return 0


def _demo(args) -> int:
    table = demo_table(n_samples=args.n_samples, n_in=args.n_in, active=args.active,
                       rng=np.random.default_rng(args.seed), workers=args.jobs)
    print(f"z = w·x + b on Nielsen's input ({args.active} of {args.n_in} inputs = 1), "
          f"bias N(0, 1), {args.n_samples} neurons per initializer, seed {args.seed}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _sweep_command(args) -> int:
    from satsim import sweep

    try:
        if args.sweep_command == "status":
            c = sweep.status(args.dir)
            print(f"done {c['done']}  failed {c['failed']}  pending {c['pending']}  "
                  f"(total {c['total']})")
        else:
            path = Path(args.out) if args.out else Path(args.dir) / "results.csv"
            sweep.results(args.dir).to_csv(path, index=False)
            print(f"wrote {path}")
    except sweep.SweepError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _check_executor(value: str) -> str:
    if value in ("serial", "process") or value.startswith("dask://"):
        return value
    raise CLIError(f"--executor must be serial, process or dask://HOST:PORT; got {value!r}")


def _dispatch(args) -> int:
    if getattr(args, "executor", None) is not None:
        _check_executor(args.executor)
    if args.command == "data":
        return _data_command(args)
    if args.command == "sweep":
        return _sweep_command(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "list":
        from satsim.study import discover, load_study

        for name in discover():
            print(f"{name:28} {load_study(name).TITLE}")
        return 0
    if args.command == "run":
        names = _check_names(args.studies)
        out = _writable(Path(args.out))
        results = _run_studies(names, scale=args.scale, seed=args.seed, out=out, reuse=False,
                               jobs=args.jobs, quiet=args.quiet, executor=args.executor)
        for res in results:
            bad = [f.id for f in res.findings if not f.passed]
            status = "all findings pass" if not bad else f"FAILED: {', '.join(bad)}"
            print(f"{res.name:28} {len(res.findings)} findings, {status} -> {out / res.name}")
        return 0
    if args.command == "report":
        from satsim.report import write_report

        names = _check_names(args.studies or [n for n in STUDY_ORDER if n in _known()])
        out = _writable(Path(args.out))
        results = _run_studies(names, scale=args.scale, seed=args.seed, out=out / "studies",
                               reuse=not args.rerun, jobs=args.jobs, quiet=args.quiet,
                               executor=args.executor)
        paths = write_report(results, out, pdf=not args.no_pdf)
        n = sum(len(r.findings) for r in results)
        passed = sum(f.passed for r in results for f in r.findings)
        print(f"{passed} of {n} findings passed; wrote {', '.join(str(p) for p in paths.values())}")
        return 0
    return _demo(argparse.Namespace(n_samples=50_000, n_in=1000, active=500, seed=0, jobs=1))


def _known():
    from satsim.study import discover

    return discover()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except CLIError as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    except Exception as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
