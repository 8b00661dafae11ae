"""The ``satsim`` command.

``satsim data fetch NAME`` downloads a registered dataset and verifies it.
``satsim`` (or ``satsim demo``) runs the z-distribution demo: for every registered
initializer on Nielsen's input (1000 inputs, 500 of them 1), the predicted std of
z = w·x + b, the simulated std with a 95% CI, and the fraction of |z| > 1 with
its Wilson CI.  Errors print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["demo_table", "main"]


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
        rows.append(
            {
                "initializer": name,
                "weight_var": res.weights.variance(n_in, n_in),
                "predicted_std": res.theory_std,
                "simulated_std": res.std,
                "std_ci_low": low,
                "std_ci_high": high,
                "frac_abs_z_gt_1": exc["estimate"],
                "frac_ci_low": exc["ci_low"],
                "frac_ci_high": exc["ci_high"],
                "frac_if_normal": exc["theory"],
            }
        )
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


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="satsim", description=__doc__.split("\n\n")[0])
    from satsim import __version__

    parser.add_argument("--version", action="version", version=f"satsim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    demo = sub.add_parser("demo", help="z = w·x + b under every initializer (the default)")
    data = sub.add_parser("data", help="datasets: fetch NAME")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser, required=True)
    fetch = data_sub.add_parser("fetch", help="download a dataset and verify its SHA-256 sums")
    fetch.add_argument("name", help="dataset name (mnist, fashion-mnist)")
    fetch.add_argument("--dest", help="directory (default: $SATSIM_DATA/NAME or the cache)")
    fetch.add_argument("--mirror", action="append", help="base URL to try (repeatable)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    for p in (parser, demo):
        p.add_argument("--n-samples", type=_positive_int, default=50_000,
                       help="neurons simulated per initializer (default 50000)")
        p.add_argument("--n-in", type=_positive_int, default=1000, help="inputs (default 1000)")
        p.add_argument("--active", type=int, default=500, help="inputs equal to 1 (default 500)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--jobs", type=_positive_int, default=1, help="worker threads (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "data":
        return _data_command(args)
    try:
        table = demo_table(
            n_samples=args.n_samples,
            n_in=args.n_in,
            active=args.active,
            rng=np.random.default_rng(args.seed),
            workers=args.jobs,
        )
    except (ValueError, TypeError) as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    print(
        f"z = w·x + b on Nielsen's input ({args.active} of {args.n_in} inputs = 1), "
        f"bias N(0, 1), {args.n_samples} neurons per initializer, seed {args.seed}"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _data_command(args) -> int:
    from satsim import data

    try:
        path = data.fetch(args.name, dest=args.dest, mirrors=args.mirror,
                          progress=not args.no_progress)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    print(f"{args.name}: verified files in {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
