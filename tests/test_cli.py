"""The ``satsim`` command: start-up and Ctrl-C, using the machine's cores, progress
lines when output is not a terminal, and ``satsim demo``."""

import contextlib
import io
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sweep_cells  # tests/ is on sys.path (and on the workers' path: spawn copies it)

from satsim import cli, saturation, sweep
from satsim.study import StudyProgress, StudyResult, run_study
from satsim.study._pool import CellPool, WorkerDied

DONE = re.compile(r"satsim: (\w+) done in \d+\.\d s \((\d)/(\d)\)")


# ------------------------------------------------------------------ start-up
def test_import_satsim_loads_the_compute_stack_on_first_use():
    code = (
        "import sys, satsim\n"
        "heavy = [m for m in ('numpy', 'scipy', 'pandas', 'statsmodels') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert abs(satsim.init.get('nielsen').variance(1000, 10) - 1e-3) < 1e-15\n"
        "from satsim import meanfield, simulate\n"
        "assert callable(simulate) and callable(meanfield.chi1)\n"
        "assert satsim.simulate is satsim.montecarlo.simulate\n"
        "assert 'matplotlib' not in sys.modules\n"
        "try:\n"
        "    satsim.nope\n"
        "except AttributeError as exc:\n"
        "    assert 'nope' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('satsim.nope resolved')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


# A sitecustomize that holds the first import of NumPy for a minute after writing a
# mark: the test sends Ctrl-C exactly while the compute stack is being imported.
SLOW_NUMPY = '''
import os, sys, time

class _SlowNumpy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            with open(os.environ["SATSIM_TEST_IMPORT_MARK"], "w") as fh:
                fh.write("importing numpy")
            time.sleep(60)
        return None

if os.environ.get("SATSIM_TEST_IMPORT_MARK"):
    sys.meta_path.insert(0, _SlowNumpy())
'''


def _console_script():
    script = Path(sys.executable).with_name("satsim")
    if not script.exists():
        pytest.skip("no satsim console script next to this Python")
    return [str(script)]


@pytest.mark.parametrize("entry, argv", [
    ("console script", ["report", "-o", "{tmp}/out"]),
    ("python -m satsim", ["list"]),
    ("python -m satsim.cli", ["run", "clt", "-o", "{tmp}/out"]),
])
def test_ctrl_c_while_numpy_loads_is_one_line_and_exit_130(tmp_path, entry, argv):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_NUMPY)
    mark = tmp_path / "importing"
    cmd = {"console script": _console_script,
           "python -m satsim": lambda: [sys.executable, "-m", "satsim"],
           "python -m satsim.cli": lambda: [sys.executable, "-P", "-m", "satsim.cli"]}[entry]()
    env = dict(os.environ, SATSIM_TEST_IMPORT_MARK=str(mark),
               PYTHONPATH=os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([*cmd, *(a.format(tmp=tmp_path) for a in argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not mark.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "numpy was never imported"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err == "satsim: interrupted\n" and out == ""


# ------------------------------------------------------------------ jobs and executors
def test_help_says_the_default_uses_every_cpu(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["report", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: one per CPU," in text and "1 runs everything in this process" in text
    assert "auto (default: one pool of --jobs worker processes" in text


def _tables(out, name):
    folder = out / name / "result" / "tables"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_results_are_the_same_on_the_default_pool_and_in_one_process(tmp_path, capsys):
    # the default (--executor auto, --jobs = the CPUs) against everything in this process
    pooled, alone = tmp_path / "pooled", tmp_path / "alone"
    assert cli.main(["run", "clt", "--scale", "test", "-o", str(pooled), "--jobs", "2"]) == 0
    assert cli.main(["run", "clt", "--scale", "test", "-o", str(alone), "--jobs", "1"]) == 0
    assert _tables(pooled, "clt") == _tables(alone, "clt")
    direct = run_study("clt", scale="test", seed=0, executor="serial")
    with CellPool(2) as pool:
        shared = run_study("clt", scale="test", seed=0, executor=pool)
    assert shared.tables["clt"].equals(direct.tables["clt"])


def test_the_pool_runs_many_grids_and_attributes_a_dead_worker_to_its_cell():
    grid = sweep.product(i=list(range(6)), sleep=[0.01])
    with CellPool(2) as pool:
        first = sweep.run(sweep_cells.slow_cell, grid, out=None, executor=pool, root_seed=2)
        deadly = sweep.run(sweep_cells.deadly_cell,
                           sweep.product(i=[1], how=["ok", "exit3", "segv"]), out=None,
                           executor=pool, root_seed=2, retries=1)
        again = sweep.run(sweep_cells.slow_cell, grid, out=None, executor=pool, root_seed=2)
    serial = sweep.run(sweep_cells.slow_cell, grid, out=None, executor="serial", root_seed=2)
    for res in (first, again):
        assert res.to_frame().value.tolist() == serial.to_frame().value.tolist()
    dead = deadly.to_frame().set_index("how")
    assert dead.status.to_dict() == {"ok": "done", "exit3": "failed", "segv": "failed"}
    assert dead.error["exit3"] == "WorkerDied: worker process died: exited with code 3"
    assert dead.error["segv"] == "WorkerDied: worker process died: killed by signal SIGSEGV"
    assert dead.attempts["exit3"] == 2  # charged, retried once, then recorded
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(print, "late")
    assert issubclass(WorkerDied, RuntimeError)


def test_workers_that_die_while_starting_fail_the_cells_in_one_line(tmp_path, monkeypatch,
                                                                   capfd):
    hook = tmp_path / "hook"
    hook.mkdir()  # every spawned worker exits at interpreter start-up
    (hook / "sitecustomize.py").write_text(
        "import os, sys\nif '--multiprocessing-fork' in sys.argv:\n    os._exit(7)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), *sys.path]))
    with CellPool(2) as pool:
        res = sweep.run(sweep_cells.noop_cell, sweep.product(i=[1, 2, 3]), out=None,
                        executor=pool, retries=0)
        with pytest.raises(WorkerDied, match="worker processes die while starting"):
            pool.submit(print, "more")
    table = res.to_frame()
    assert (table.status == "failed").all()
    assert table.error.str.startswith("WorkerDied: worker processes die while starting "
                                      "(worker process died: exited with code 7)").all()
    assert "Traceback" not in capfd.readouterr().err


def test_a_pool_that_never_ran_anything_starts_no_process():
    pool = CellPool(3)
    pool.shutdown()
    assert pool._thread is None
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        CellPool(0)


SLOW_STUDY = '''
import dataclasses
import time

from satsim.study import Finding, StudyResult

TITLE = "Slow cells"


@dataclasses.dataclass(frozen=True)
class Params:
    cells: int = 40
    sleep: float = 0.15


def cell(params, rng):
    time.sleep(params["sleep"])
    return {"value": float(rng.random())}


def run(params, ctx):
    from satsim import sweep

    grid = sweep.product(fixed={"sleep": params.sleep}, i=list(range(params.cells)))
    values = [c["value"] for c in ctx.run_grid(cell, grid)]
    return StudyResult(name=ctx.name, title=TITLE, description="", params={}, tables={},
                       figures=[], findings=[Finding(id="all", claim="all cells ran",
                                                     expected=params.cells,
                                                     observed=len(values), method="count",
                                                     passed=len(values) == params.cells)])
'''


def _pool_workers(pid):
    """PIDs of the live multiprocessing children of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _committed(out):
    """Cells committed so far by the slow study under ``out`` (0 before its store exists)."""
    for store in out.glob("slow/sweeps/*/cells"):
        try:
            return sweep.status(store)["done"]
        except sweep.SweepError:  # created, no sweep recorded yet
            return 0
    return 0


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_minus_9_of_satsim_leaves_no_pool_worker_and_the_rerun_resumes(tmp_path):
    studies = tmp_path / "user"
    studies.mkdir()
    (studies / "slow.py").write_text(SLOW_STUDY)
    out = tmp_path / "out"
    cmd = [sys.executable, "-P", "-m", "satsim.cli", "run", "slow", "--studies", str(studies),
           "-o", str(out), "--jobs", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while _committed(out) < 4:
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        workers = _pool_workers(proc.pid)
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)  # satsim only, not its process group
        proc.wait(timeout=30)
        deadline = time.time() + 5
        while any(_alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    (store,) = out.glob("slow/sweeps/*/cells")
    rows = sweep.results(store)
    assert len(rows) == 40 and (rows.attempts == 1).all()
    assert StudyResult.load(out / "slow").finding("all").passed


# ------------------------------------------------------------------ progress
def test_each_finished_study_is_one_line_when_output_is_not_a_terminal(tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["report", "learning_slowdown", "clt", "--scale", "test", "-o", str(out),
            "--no-pdf"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [DONE.fullmatch(line).groups() for line in lines] == [
        ("learning_slowdown", "1", "2"), ("clt", "2", "2")], captured.err
    assert "\r" not in captured.err and "findings passed" in captured.out
    assert cli.main(argv) == 0  # the rerun reuses both saved results, and says so
    assert capsys.readouterr().err.splitlines() == [
        "satsim: learning_slowdown reused the saved result (1/2)",
        "satsim: clt reused the saved result (2/2)"]
    assert cli.main([*argv, "--quiet"]) == 0
    assert cli.main(["run", "clt", "--scale", "test", "-o", str(tmp_path / "r"),
                     "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_done_lines_do_not_break_the_bars_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    progress = StudyProgress(stream=term)
    progress("clt", "cells", 0, 4)
    progress("clt", "cells", 4, 4)
    progress.study_done("clt", 1.25, 1, 2)
    progress.study_done("saturation", None, 2, 2)
    progress.close()
    text = term.getvalue()
    assert "4/4" in text
    assert "satsim: clt done in 1.2 s (1/2)\n" in text
    assert "satsim: saturation reused the saved result (2/2)\n" in text


# ------------------------------------------------------------------ demo
def test_demo_states_its_setting_and_uses_the_default_saturation_criterion(capsys):
    assert cli.main(["demo", "--n-samples", "2000", "--seed", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("inputs: n_in = 1000, 500 active (x = 1, the rest 0); bias N(0, 1); "
                      "activation sigmoid, saturated when σ(z) < 0.01 or > 0.99 "
                      "(|z| > ln 99 = 4.595)")
    assert "saturated" in out[2] and "frac_abs_z_gt_1" not in out[2]


def test_demo_saturation_is_satsim_saturation_fraction_on_the_same_draws():
    from satsim import init, inputs
    from satsim.montecarlo import simulate

    table = cli.demo_table(n_samples=3000, n_in=100, active=50, rng=7).set_index("initializer")
    streams = np.random.default_rng(7).spawn(len(init.names()))
    x = inputs.nielsen(100, 50)
    for name in ("standard_normal", "he_normal"):
        stream = streams[init.names().index(name)]
        z = simulate(name, x, n_samples=3000, rng=stream, keep=3000).samples
        frac = saturation.fraction(z)  # the package default: sigmoid, ε = 0.01
        row = table.loc[name]
        assert row.saturated == frac.estimate
        assert (row.saturated_ci_low, row.saturated_ci_high) == pytest.approx(
            (frac.ci_low, frac.ci_high), rel=1e-12)
        assert row.saturated_if_normal == saturation.predicted_fraction(
            row.predicted_std, mean=0.0)
    # N(0, 1) weights on 50 active inputs plus an N(0, 1) bias: std √51, and
    # P(|z| > ln 99) = 2 Φ(−ln 99 / √51) ≈ 0.519 (closed form)
    assert table.loc["standard_normal"].saturated_if_normal == pytest.approx(
        2 * 0.5 * math.erfc(math.log(99) / math.sqrt(51) / math.sqrt(2)), rel=1e-9)


def test_a_full_disk_is_said_as_such(monkeypatch, capsys):
    """ENOSPC anywhere under a command is "the disk is full", one line, exit 2 (it was
    reported as whatever the write's caller made of it, e.g. a corrupted file)."""
    import errno

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/index.html")

    monkeypatch.setattr(cli, "_dispatch", full)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("satsim: error: the disk is full writing /data/out/index.html;")
