"""Package-level contracts: import hygiene, facade, CLI."""

import subprocess
import sys

import pytest

import satsim
from satsim import cli


def test_import_does_not_pull_in_plotting_libraries():
    code = (
        "import sys, satsim, satsim.init, satsim.inputs, satsim.montecarlo, satsim.theory,"
        " satsim.identities, satsim.fit, satsim.activations, satsim.saturation, satsim.meanfield,"
        " satsim.data, satsim.nn;"
        "bad = [m for m in ('matplotlib', 'seaborn', 'jinja2', 'weasyprint') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_is_explicit_and_importable():
    for name in satsim.__all__:
        assert hasattr(satsim, name), name


def test_cli_demo_prints_every_initializer(capsys):
    assert cli.main(["demo", "--n-samples", "500", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    for name in satsim.init.names():
        assert name in out
    assert "predicted_std" in out and "22.38" in out


def test_cli_table_is_seed_deterministic():
    a = cli.demo_table(n_samples=300, rng=5)
    b = cli.demo_table(n_samples=300, rng=5)
    assert a.equals(b)
    assert len(a) == len(satsim.init.names())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--n-samples", "0"], "--n-samples: expected a positive integer"),
        (["demo", "--active", "5000"], "`active` must be at most n_in=1000"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        rc = cli.main(argv)
        raise SystemExit(rc)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "satsim.cli", "demo", "--n-samples", "200"],
        capture_output=True, text=True, check=True,
    )
    assert "standard_normal" in out.stdout
