"""Tests for satsim.sweep: grids, executors, the SQLite store, resume and faults."""

import collections
import concurrent.futures as cf
import contextlib
import datetime
import functools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweep_cells as cells

from satsim import cli, sweep
from satsim.sweep import SweepError, _store

TESTS = str(Path(__file__).parent)


def strip(frame):
    return frame.drop(columns=["duration"]).sort_values("key").reset_index(drop=True)


def snapshot(directory):
    """Names and bytes of a directory's files: reads must leave both unchanged."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}


# /proc helpers: which processes are children of which, and are they still there
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="needs Linux /proc to follow worker processes")


def _stat(pid):
    """(state, ppid, start time) of process ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def children(pid, *, workers_only=False):
    """[(pid, start time)] of the live children of ``pid``; ``workers_only`` keeps the
    multiprocessing workers (not its resource tracker)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is None or st[1] != pid or st[0] == "Z":
            continue
        if workers_only:
            try:
                if b"spawn_main" not in (entry / "cmdline").read_bytes():
                    continue
            except OSError:
                continue
        out.append((int(entry.name), st[2]))
    return out


def still_alive(procs):
    """Those of [(pid, start time)] still running (a reused PID has another start time;
    a zombie has ended)."""
    return [(pid, start) for pid, start in procs
            if (st := _stat(pid)) is not None and st[2] == start and st[0] != "Z"]


def committed(out):
    try:
        return sweep.status(out)["done"]
    except SweepError:  # not created yet
        return 0


def wait_for_cells(out, n, proc, timeout=120):
    deadline = time.time() + timeout
    while committed(out) < n:
        assert proc.poll() is None, "the driver ended early"
        assert time.time() < deadline, f"fewer than {n} cells after {timeout} s"
        time.sleep(0.02)


# ------------------------------------------------------------------ grids
def test_keys_are_stable_and_order_independent():
    a = sweep.product(x=[1, 2], y=["u", "v"])
    b = sweep.product(y=["u", "v"], x=[1, 2])
    assert sorted(c.key for c in a) == sorted(c.key for c in b) and len(a) == 4
    z = sweep.zipped(x=[1, 2], y=["u", "v"])
    assert len(z) == 2 and {c.key for c in z} <= {c.key for c in a}
    r1 = sweep.random_design(5, rng=1, s=lambda g: float(g.uniform(0, 1)))
    r2 = sweep.random_design(5, rng=1, s=lambda g: float(g.uniform(0, 1)))
    assert [c.key for c in r1] == [c.key for c in r2]
    # a cell's seed depends only on (root seed, key)
    c = a.cells[0]
    assert c.seed_sequence(7).generate_state(2).tolist() == \
        sweep.Cell(params=c.params, key=c.key).seed_sequence(7).generate_state(2).tolist()


def test_grid_bad_input():
    with pytest.raises(ValueError, match="at least one named parameter"):
        sweep.product()
    with pytest.raises(ValueError, match="`x` must not be empty"):
        sweep.product(x=[])
    with pytest.raises(TypeError, match="`x` must be a sequence"):
        sweep.product(x=3)
    with pytest.raises(ValueError, match="equal lengths"):
        sweep.zipped(x=[1, 2], y=[1])
    with pytest.raises(ValueError, match="must be finite"):
        sweep.product(x=[float("nan")])
    with pytest.raises(TypeError, match="JSON values"):
        sweep.product(x=[object()])


# ------------------------------------------------------------------ executors agree
GRID = sweep.product(a=[1, 2, 3], n=[5, 50, 500])


def test_serial_and_process_executors_give_identical_results(tmp_path):
    sweep.run(cells.cell, GRID, out=tmp_path / "s", executor="serial", root_seed=3)
    sweep.run(cells.cell, GRID, out=tmp_path / "p", executor="process", workers=2, root_seed=3)
    assert strip(sweep.results(tmp_path / "s")).equals(strip(sweep.results(tmp_path / "p")))


@pytest.mark.slow
def test_dask_executor_gives_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep.run(cells.cell, GRID, out=tmp_path / "s", executor="serial", root_seed=3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as lc, \
            distributed.Client(lc) as client:
        sweep.run(cells.cell, GRID, out=tmp_path / "d", executor=client, root_seed=3)
        sweep.run(cells.cell, GRID, out=tmp_path / "u", executor=f"dask://{lc.scheduler_address[len('tcp://'):]}",
                  root_seed=3)
    ref = strip(sweep.results(tmp_path / "s"))
    assert ref.equals(strip(sweep.results(tmp_path / "d")))
    assert ref.equals(strip(sweep.results(tmp_path / "u")))


# ------------------------------------------------------------------ resume and failures
def test_resume_skips_done_and_retries_failed(tmp_path):
    grid = sweep.product(i=list(range(9)))
    first = sweep.run(cells.flaky_cell, grid, out=tmp_path, executor="serial", retries=2)
    assert first.counts == {"done": 6, "failed": 3, "pending": 0, "total": 9}
    frame = sweep.results(tmp_path)
    failed = frame[frame.status == "failed"]
    assert (failed.attempts == 3).all() and failed.error.str.contains("fails on purpose").all()
    again = sweep.run(cells.flaky_cell, grid, out=tmp_path, executor="serial", retries=0)
    assert again.skipped == 6 and again.ran == 3
    assert sweep.results(tmp_path).query("status == 'failed'").attempts.eq(4).all()


def test_status_cli(tmp_path, capsys):
    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    assert cli.main(["sweep", "status", str(tmp_path)]) == 0
    assert "done 9  failed 0  pending 0" in capsys.readouterr().out
    assert cli.main(["sweep", "export", str(tmp_path)]) == 0
    assert (tmp_path / "results.csv").read_text().startswith("key,")
    assert cli.main(["sweep", "status", str(tmp_path / "missing")]) == 2
    assert "no sweep database" in capsys.readouterr().err


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
import sweep_cells
from satsim import sweep

if __name__ == "__main__":
    grid = sweep.product(i=list(range(40)), sleep=[0.05])
    sweep.run(sweep_cells.slow_cell, grid, out={out!r}, executor="process", workers=2,
              root_seed=11)
"""


@pytest.mark.slow
def test_kill_minus_9_then_resume_is_exactly_once_and_identical(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(Path(__file__).parent), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    db = out / "sweep.sqlite"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline:
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                done = con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
                con.close()
            except sqlite3.Error:
                done = 0
        if done >= 8:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers, mid-sweep
    proc.wait(timeout=30)
    assert 8 <= done < 40, done
    counts = sweep.status(out)
    assert 0 < counts["done"] < 40
    grid = sweep.product(i=list(range(40)), sleep=[0.05])
    sweep.run(cells.slow_cell, grid, out=out, executor="process", workers=2, root_seed=11)
    resumed = sweep.results(out)
    assert len(resumed) == 40 and resumed.key.is_unique and (resumed.attempts == 1).all()
    sweep.run(cells.slow_cell, grid, out=tmp_path / "clean", executor="serial", root_seed=11)
    assert strip(resumed).equals(strip(sweep.results(tmp_path / "clean")))


# ------------------------------------------------------------------ store faults
def test_corrupted_and_foreign_databases(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "sweep.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SweepError, match="corrupted or foreign"):
        sweep.run(cells.cell, GRID, out=tmp_path / "bad", executor="serial")
    (tmp_path / "foreign").mkdir()
    con = sqlite3.connect(tmp_path / "foreign" / "sweep.sqlite")
    con.execute("CREATE TABLE payroll (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(SweepError, match="not a satsim sweep database"):
        sweep.status(tmp_path / "foreign")


def test_unwritable_output_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SweepError, match="cannot create sweep directory"):
        sweep.run(cells.cell, GRID, out=blocker / "sub", executor="serial")
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == ro else real_access(p, m))
    with pytest.raises(SweepError, match="is not writable"):
        sweep.run(cells.cell, GRID, out=ro, executor="serial")


def test_full_disk_at_open_says_disk_full(tmp_path, monkeypatch):
    """SQLite's SQLITE_FULL while creating the store was reported as a "corrupted or
    foreign file" (red team, issue 20); it is the disk."""
    monkeypatch.setattr(_store, "_PRAGMAS", ["PRAGMA max_page_count = 1"])
    with pytest.raises(SweepError, match=r"^the disk is full: cannot write .*free some space"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")


def test_full_disk_loses_no_committed_cell(tmp_path, monkeypatch):
    grid = sweep.product(i=list(range(30)))
    monkeypatch.setattr(_store, "_PRAGMAS", ["PRAGMA max_page_count = 40"])
    with pytest.raises(SweepError, match=r"database or disk is full.*every earlier cell is committed"):
        sweep.run(cells.big_cell, grid, out=tmp_path, executor="serial")
    monkeypatch.setattr(_store, "_PRAGMAS", [])
    partial = sweep.status(tmp_path)
    assert 0 < partial["done"] < 30
    con = sqlite3.connect(tmp_path / "sweep.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    resumed = sweep.run(cells.big_cell, grid, out=tmp_path, executor="serial")
    assert resumed.skipped == partial["done"] and resumed.counts["done"] == 30


def test_store_refuses_a_different_root_seed(tmp_path):
    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial", root_seed=1)
    with pytest.raises(SweepError, match="holds a sweep with root_seed=1"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial", root_seed=2)


def test_run_bad_input(tmp_path):
    with pytest.raises(TypeError, match="`fn` must be callable"):
        sweep.run(3, GRID, out=tmp_path)
    with pytest.raises(TypeError, match=r"`grid` must be a satsim\.sweep\.Grid"):
        sweep.run(cells.cell, [1, 2], out=tmp_path)
    with pytest.raises(SweepError, match="`executor` must be"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="threads")
    with pytest.raises(ValueError, match="`retries` must be a non-negative integer"):
        sweep.run(cells.cell, GRID, out=tmp_path, retries=-1)


def test_sizes_submit_largest_first(tmp_path):
    grid = sweep.product(i=list(range(5))).with_sizes(lambda p: p["i"])
    order = []

    def record(params, rng):
        order.append(params["i"])
        return {}

    sweep.run(record, grid, out=tmp_path, executor="serial")
    assert order == [4, 3, 2, 1, 0]
    assert np.isfinite(sweep.results(tmp_path).duration).all()


# ------------------------------------------------------------------ review regressions
def test_serial_sweeps_commit_each_cell_before_the_next(tmp_path):
    seen = []

    def counting(params, rng):
        con = sqlite3.connect(tmp_path / "sweep.sqlite")
        seen.append(con.execute("SELECT COUNT(*) FROM cells").fetchone()[0])
        con.close()
        return {}

    sweep.run(counting, sweep.product(i=list(range(5))), out=tmp_path, executor="serial")
    assert seen == [0, 1, 2, 3, 4]


def test_interrupts_propagate_and_keep_finished_cells(tmp_path):
    grid = sweep.product(i=list(range(5)))
    with pytest.raises(KeyboardInterrupt):
        sweep.run(cells.interrupt_cell, grid, out=tmp_path, executor="serial")
    assert sweep.status(tmp_path)["done"] == 2  # cells 0 and 1 were committed


def test_nan_results_round_trip_as_floats(tmp_path):
    sweep.run(cells.nan_cell, sweep.product(i=[0]), out=tmp_path, executor="serial")
    row = sweep.results(tmp_path).iloc[0]
    assert np.isnan(row.x) and np.isnan(row["values"][1]) and np.isinf(row["values"][2])


def test_reserved_names_and_result_fields_do_not_clobber(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        sweep.product(status=[1, 2])

    def shadow(params, rng):
        return {"status": "weird", "i": 99}

    sweep.run(shadow, sweep.product(i=[1]), out=tmp_path, executor="serial")
    row = sweep.results(tmp_path).iloc[0]
    assert row.status == "done" and row.i == 1
    assert row.result_status == "weird" and row.result_i == 99


def test_empty_database_file_is_treated_as_new(tmp_path):
    con = sqlite3.connect(tmp_path / "sweep.sqlite")  # created, killed before any table
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    assert sweep.run(cells.cell, GRID, out=tmp_path, executor="serial").counts["done"] == 9


def test_store_refuses_another_satsim_version(tmp_path, monkeypatch):
    import satsim

    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    monkeypatch.setattr(satsim, "__version__", "99.0")
    with pytest.raises(SweepError, match="was written by satsim"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")


# ------------------------------------------------------------------ a cell kills its worker
@needs_proc
@pytest.mark.slow
def test_a_cell_that_kills_its_worker_is_recorded_and_the_rest_finish(tmp_path):
    ok = sweep.product(i=list(range(6)), how=["ok"])
    deadly = sweep.product(i=[6], how=["segv", "exit3", "sigkill"])
    res = sweep.run(cells.deadly_cell, ok + deadly, out=tmp_path / "p", executor="process",
                    workers=2, retries=1)
    assert res.counts == {"done": 6, "failed": 3, "pending": 0, "total": 9}
    assert sorted(res.failed_keys) == sorted(c.key for c in deadly)
    frame = sweep.results(tmp_path / "p")
    dead = frame[frame.how != "ok"].set_index("how")
    assert (dead.attempts == 2).all()  # the first attempt and the one retry
    assert dead.error["segv"] == "worker process died: killed by signal SIGSEGV"
    assert dead.error["exit3"] == "worker process died: exited with code 3"
    assert dead.error["sigkill"].startswith("worker process died: killed by signal SIGKILL")
    # the other cells ran once each and agree with a serial run
    sweep.run(cells.deadly_cell, ok, out=tmp_path / "s", executor="serial")
    alive = frame[frame.how == "ok"]
    assert (alive.attempts == 1).all()
    cols = ["key", "value", "cell_seed"]
    assert strip(alive)[cols].equals(strip(sweep.results(tmp_path / "s"))[cols])
    assert children(os.getpid(), workers_only=True) == []  # every worker was reaped


class KilledWorker(Exception):
    """Shaped like Dask's: raised by the future itself, with a multi-line message."""


class ScriptedExecutor(cf.Executor):
    """Runs cells in this thread, but first plays a script of failures per cell ``i``:
    an exception set on the future, or "submit" to refuse the submission (as a broken
    pool does)."""

    def __init__(self, script):
        self.script = script
        self.calls = collections.Counter()

    def submit(self, fn, /, *args, **kwargs):
        i = args[1]["i"]  # _run_cell(cell_fn, params, root_seed, key)
        plan, n = self.script.get(i, []), self.calls[i]
        self.calls[i] += 1
        fut = cf.Future()
        if n < len(plan) and plan[n] == "submit":
            raise RuntimeError("pool refuses new work")
        if n < len(plan):
            fut.set_exception(plan[n])
        else:
            fut.set_result(fn(*args, **kwargs))
        return fut


def test_future_failures_are_attempts_then_recorded_never_raised(tmp_path):
    killed = KilledWorker("Attempted to run task x on 1 different workers,\n  but all died")
    script = {0: [cf.CancelledError()], 1: [killed, killed], 2: ["submit", "submit"]}
    ex = ScriptedExecutor(script)
    grid = sweep.product(i=list(range(4)), sleep=[0])
    res = sweep.run(cells.slow_cell, grid, out=tmp_path / "f", executor=ex, retries=1)
    assert res.counts == {"done": 2, "failed": 2, "pending": 0, "total": 4}
    frame = sweep.results(tmp_path / "f").set_index("i")
    assert frame.attempts.to_dict() == {0: 2, 1: 2, 2: 2, 3: 1}
    assert frame.status[0] == "done"  # cancelled once, then retried
    # on one line, because the table shows an error's last line
    assert frame.error[1] == ("KilledWorker: Attempted to run task x on 1 different "
                              "workers, but all died")
    assert frame.error[2] == "RuntimeError: pool refuses new work"
    assert ex.calls == {0: 2, 1: 2, 2: 2, 3: 1}
    # a later run retries the failed cells only
    again = sweep.run(cells.slow_cell, grid, out=tmp_path / "f", executor=ScriptedExecutor({}))
    assert again.ran == 2 and again.counts["done"] == 4


@pytest.mark.slow
def test_a_broken_user_process_pool_is_recorded_not_raised(tmp_path):
    import multiprocessing as mp

    grid = sweep.product(i=list(range(3)), bad=[0])
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        res = sweep.run(cells.exit_on_cell, grid, out=tmp_path, executor=pool, retries=1)
    assert res.counts["pending"] == 0 and res.counts["failed"] >= 1
    bad = sweep.results(tmp_path).set_index("i").loc[0]
    assert bad.status == "failed" and bad.attempts == 2
    assert bad.error.startswith("BrokenProcessPool: ")


@pytest.mark.slow
def test_a_dask_worker_killed_by_its_cell_is_recorded_and_the_rest_finish(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    grid = sweep.product(i=list(range(6)), bad=[2])
    # allowed-failures 0: the scheduler gives up on a task after one worker death;
    # worker-saturation 1: a worker holds only the task it runs, so a dying worker takes
    # no innocent task down with it
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        res = sweep.run(cells.exit_on_cell, grid, out=tmp_path, executor=client, retries=1)
    assert res.counts == {"done": 5, "failed": 1, "pending": 0, "total": 6}
    frame = sweep.results(tmp_path).set_index("i")
    assert frame.attempts[2] == 2 and frame.error[2].startswith("KilledWorker: ")
    assert (frame.drop(index=2).status == "done").all()


# ------------------------------------------------------------------ the coordinator dies
@needs_proc
@pytest.mark.slow
def test_kill_minus_9_of_the_coordinator_leaves_no_worker_behind(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=TESTS, out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    try:
        wait_for_cells(out, 8, proc)
        kids = children(proc.pid)  # the two workers and multiprocessing's resource tracker
        assert len(children(proc.pid, workers_only=True)) == 2
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator only, not its process group
        proc.wait(timeout=30)
        deadline = time.time() + 5
        while still_alive(kids) and time.time() < deadline:
            time.sleep(0.05)
        assert still_alive(kids) == []
        done = committed(out)
        time.sleep(0.5)
        assert committed(out) == done < 40  # nobody commits for a dead coordinator
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left, if the test failed
            os.killpg(proc.pid, signal.SIGKILL)
    grid = sweep.product(i=list(range(40)), sleep=[0.05])
    sweep.run(cells.slow_cell, grid, out=out, executor="process", workers=2, root_seed=11)
    resumed = sweep.results(out)
    assert len(resumed) == 40 and resumed.key.is_unique and (resumed.attempts == 1).all()


INTERRUPTED = """
import sys
sys.path.insert(0, {tests!r})
import sweep_cells
from satsim import sweep

if __name__ == "__main__":
    grid = sweep.product(i=list(range(60)), sleep=[0.1])
    sweep.run(sweep_cells.slow_cell, grid, out={out!r}, executor="process", workers=2)
"""


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize("when", ["workers starting", "cells running"])
def test_ctrl_c_stops_the_workers_and_keeps_the_finished_cells(tmp_path, when):
    out = tmp_path / "s"
    script = tmp_path / "driver.py"
    script.write_text(INTERRUPTED.format(tests=TESTS, out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True,
                            stderr=subprocess.PIPE, text=True)
    try:
        if when == "cells running":
            wait_for_cells(out, 4, proc)
        else:  # while the workers import satsim, before they can ignore SIGINT themselves
            deadline = time.time() + 60
            while len(children(proc.pid, workers_only=True)) < 2 and time.time() < deadline:
                time.sleep(0.005)
        kids = children(proc.pid, workers_only=True)
        assert len(kids) == 2
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    # an uncaught KeyboardInterrupt ends Python by SIGINT (the shell's convention)
    assert proc.returncode == -signal.SIGINT, err
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt"
    assert err.count("Traceback (most recent call last)") == 1, err  # workers ignore SIGINT
    assert still_alive(kids) == []  # stopped and reaped before the exception propagated
    if when == "cells running":
        assert 4 <= sweep.status(out)["done"] < 60


# ------------------------------------------------------------------ one run per directory
LOCKED = """
import os, sys, time
sys.path.insert(0, {tests!r})
import sweep_cells
from satsim import sweep

if __name__ == "__main__":
    out, n, go, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    print("ready", flush=True)
    while not os.path.exists(go):  # start together with the others
        time.sleep(0.002)
    grid = sweep.product(i=list(range(n)), sleep=[0.1], log=[log])
    try:
        sweep.run(sweep_cells.logged_cell, grid, out=out, executor="serial", root_seed=5)
    except sweep.SweepError as exc:
        print(exc, file=sys.stderr)
        sys.exit(3)
"""


def start_locked_drivers(tmp_path, gos, n):
    """One driver per go file, each started and waiting for its go file to appear."""
    script = tmp_path / "driver.py"
    script.write_text(LOCKED.format(tests=TESTS))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "s"), str(n),
                               str(tmp_path / go), str(tmp_path / "log.txt")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for go in gos]
    for proc in procs:  # every driver has imported satsim and waits for its go
        assert proc.stdout.readline().strip() == "ready"
    return procs


def computed(tmp_path):
    """(PIDs, Counter of cells) of every cell computation, from the cells' log."""
    rows = [line.split() for line in (tmp_path / "log.txt").read_text().splitlines()]
    return {pid for pid, _ in rows}, collections.Counter(int(i) for _, i in rows)


@pytest.mark.slow
def test_a_second_run_on_a_busy_directory_stops_at_once(tmp_path):
    first, second = procs = start_locked_drivers(tmp_path, ["go1", "go2"], 40)
    try:
        (tmp_path / "go1").touch()
        wait_for_cells(tmp_path / "s", 3, first)
        (tmp_path / "go2").touch()
        _, err = second.communicate(timeout=60)
        assert second.returncode == 3, err
        assert f"is in use by PID {first.pid}" in err
        assert first.poll() is None  # the second did not wait for the first to end
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    frame = sweep.results(tmp_path / "s")
    assert len(frame) == 40 and (frame.attempts == 1).all()
    pids, counts = computed(tmp_path)
    assert pids == {str(first.pid)} and counts == dict.fromkeys(range(40), 1)


@pytest.mark.slow
def test_concurrent_first_runs_on_a_fresh_directory_run_exactly_once(tmp_path):
    procs = start_locked_drivers(tmp_path, ["go"] * 4, 20)
    try:
        (tmp_path / "go").touch()  # all four race for the directory, which does not exist
        outcomes = [(proc, *proc.communicate(timeout=120)) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    assert sorted(proc.returncode for proc in procs) == [0, 3, 3, 3], outcomes
    (winner,) = [proc for proc in procs if proc.returncode == 0]
    for proc, _, err in outcomes:
        if proc is not winner:
            assert f"is in use by PID {winner.pid}" in err, err
    con = sqlite3.connect(f"file:{tmp_path / 's' / 'sweep.sqlite'}?mode=ro", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert sweep.status(tmp_path / "s") == {"done": 20, "failed": 0, "pending": 0, "total": 20}
    assert (sweep.results(tmp_path / "s").attempts == 1).all()
    pids, counts = computed(tmp_path)
    assert pids == {str(winner.pid)} and counts == dict.fromkeys(range(20), 1)


def test_a_store_open_for_writing_locks_its_directory(tmp_path):
    store = sweep.Store(tmp_path)
    try:
        assert (tmp_path / "sweep.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(SweepError, match=rf"is in use by PID {os.getpid()} "):
            sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
        assert sweep.status(tmp_path)["total"] == 0  # readers are not locked out
    finally:
        store.close()
    assert sweep.run(cells.cell, GRID, out=tmp_path, executor="serial").counts["done"] == 9


# ------------------------------------------------------------------ the store binds its grid
def test_a_store_binds_its_grid_unless_extended(tmp_path):
    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    other = sweep.product(a=[1, 2, 3], n=[5, 50, 5000])  # 3 new cells; 3 of GRID's missing
    with pytest.raises(SweepError, match=r"different grid: 3 of this grid's 9 cells are not "
                       r"in the stored grid of 9 cells, and 3 stored cells are not in this "
                       r"grid.*pass extend=True"):
        sweep.run(cells.cell, other, out=tmp_path, executor="serial")
    assert sweep.status(tmp_path) == {"done": 9, "failed": 0, "pending": 0, "total": 9}
    res = sweep.run(cells.cell, other, out=tmp_path, executor="serial", extend=True)
    assert res.ran == 3 and res.skipped == 6
    assert res.counts == {"done": 12, "failed": 0, "pending": 0, "total": 12}
    # the bound grid is now all 12 cells: the first grid alone differs from it too
    with pytest.raises(SweepError, match="different grid: 0 of this grid's 9 cells"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    # the same cells in another order are the same grid
    union = sweep.product(n=[5000, 500, 50, 5], a=[3, 2, 1])
    assert sweep.run(cells.cell, union, out=tmp_path, executor="serial").ran == 0
    with pytest.raises(TypeError, match="`extend` must be True or False; got extend='yes'"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial", extend="yes")


# ------------------------------------------------------------------ reads never write
def test_reads_never_write(tmp_path):
    grid = sweep.product(i=list(range(6)))
    sweep.run(cells.flaky_cell, grid, out=tmp_path, executor="serial", retries=0)
    before = snapshot(tmp_path)
    assert set(before) == {"sweep.sqlite", "sweep.lock"}  # a finished sweep leaves no -wal
    assert sweep.status(tmp_path) == {"done": 4, "failed": 2, "pending": 0, "total": 6}
    assert len(sweep.results(tmp_path)) == 6
    assert sweep.overview(tmp_path).store.tolist() == ["."]
    with sweep.Store(tmp_path, create=False) as store:
        assert store.counts()["total"] == 6 and len(store.frame()) == 6
        with pytest.raises(SweepError, match="opened read-only"):
            store.register(sweep.product(i=[99]), extend=True)
    assert snapshot(tmp_path) == before


def test_a_store_with_no_sweep_yet_is_an_error_and_stays_untouched(tmp_path):
    empty = tmp_path / "empty"  # created, then killed before SQLite wrote a byte
    empty.mkdir()
    (empty / "sweep.sqlite").write_bytes(b"")
    bare = tmp_path / "bare"  # a database without any table
    bare.mkdir()
    con = sqlite3.connect(bare / "sweep.sqlite")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    for directory in (empty, bare):
        before = snapshot(directory)
        for read in (sweep.status, sweep.results, lambda d: sweep.Store(d, create=False)):
            with pytest.raises(SweepError, match="no sweep recorded yet"):
                read(directory)
        assert snapshot(directory) == before
    table = sweep.overview(tmp_path).set_index("store")
    assert table.error.str.contains("no sweep recorded yet").all()
    assert table.total.isna().all()


def chattr(flag, *paths):
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


@needs_proc
def test_a_store_in_a_read_only_directory_can_be_read(tmp_path):
    # root ignores permission bits, so "read-only" here is the immutable attribute
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    clean = tmp_path / "clean"
    sweep.run(cells.flaky_cell, sweep.product(i=list(range(6))), out=clean,
              executor="serial", retries=0)
    killed = tmp_path / "killed"  # the coordinator died after 3 cells: they are in the -wal
    code = (f"import sys; sys.path.insert(0, {TESTS!r}); import sweep_cells; "
            f"from satsim import sweep; sweep.run(sweep_cells.exit_on_cell, "
            f"sweep.product(i=list(range(6)), bad=[3]), out={str(killed)!r}, "
            "executor='serial')")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 1
    assert (killed / "sweep.sqlite-wal").stat().st_size > 0
    no_shm = tmp_path / "no_shm"  # the same without SQLite's -shm file, which needs writing
    shutil.copytree(killed, no_shm)
    (no_shm / "sweep.sqlite-shm").unlink()
    dirs = [clean, killed, no_shm]
    files = [f for d in dirs for f in d.iterdir()]
    refused = chattr("+i", *files, *dirs)
    try:
        if refused.returncode != 0:
            pytest.skip(f"the filesystem refuses the immutable attribute: {refused.stderr}")
        before = {d: snapshot(d) for d in dirs}
        with pytest.raises(OSError):
            (clean / "probe").touch()  # really read-only
        assert sweep.status(clean) == {"done": 4, "failed": 2, "pending": 0, "total": 6}
        for d in (killed, no_shm):
            assert sweep.status(d) == {"done": 3, "failed": 0, "pending": 3, "total": 6}
            assert sorted(sweep.results(d).i) == [0, 1, 2]
        with sweep.Store(no_shm, create=False) as store:
            assert store.counts()["done"] == 3
        assert sweep.overview(tmp_path).done.tolist() == [4, 3, 3]
        assert {d: snapshot(d) for d in dirs} == before
    finally:
        chattr("-i", *files, *dirs)


# ------------------------------------------------------------------ in memory, export, overview
def test_an_in_memory_sweep_writes_nothing_and_keeps_its_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = sweep.run(cells.cell, GRID, out=None, executor="serial", root_seed=3)
    assert list(tmp_path.iterdir()) == [] and res.out is None
    assert res.counts == {"done": 9, "failed": 0, "pending": 0, "total": 9}
    sweep.run(cells.cell, GRID, out=tmp_path / "disk", executor="serial", root_seed=3)
    assert strip(res.to_frame()).equals(strip(sweep.results(tmp_path / "disk")))


def test_export_writes_the_results_csv(tmp_path):
    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    assert sweep.export(tmp_path) == tmp_path / "results.csv"
    table = pd.read_csv(tmp_path / "results.csv")
    assert table.key.tolist() == sweep.results(tmp_path).key.tolist()
    assert sweep.export(tmp_path, tmp_path / "copy.csv").read_text() == \
        (tmp_path / "results.csv").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary file left
        "copy.csv", "results.csv", "sweep.lock", "sweep.sqlite"]


FULL_DISK = """
import resource, signal, sys
import satsim._atomic
from satsim import sweep

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
for target in (None, {old!r}):
    try:
        sweep.export({out!r}, target)
    except sweep.SweepError as exc:
        print(exc)
"""


def test_export_on_a_full_disk_leaves_no_partial_file(tmp_path):
    out = tmp_path / "s"
    sweep.run(cells.big_cell, sweep.product(i=list(range(30))), out=out, executor="serial")
    old = tmp_path / "old.csv"
    old.write_text("an earlier export\n")
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK.format(out=str(out), old=str(old)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    messages = done.stdout.strip().splitlines()
    assert len(messages) == 2, done.stdout
    assert all("could not write" in m and "File too large" in m for m in messages)
    assert sorted(p.name for p in out.iterdir()) == ["sweep.lock", "sweep.sqlite"]
    assert old.read_text() == "an earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.py", "old.csv", "s"]


def test_overview_lists_every_store_below_a_directory(tmp_path):
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    sweep.run(cells.cell, GRID, out=tmp_path, executor="serial")
    sweep.run(cells.flaky_cell, sweep.product(i=list(range(6))), out=tmp_path / "b" / "inner",
              executor="serial", retries=0)
    sweep.run(cells.cell, sweep.product(a=[1], n=[5]), out=tmp_path / "a", executor="serial")
    (tmp_path / "c").mkdir()  # no store here
    end = datetime.datetime.now(datetime.UTC)
    before = {d: snapshot(d) for d in (tmp_path, tmp_path / "a", tmp_path / "b" / "inner")}
    table = sweep.overview(tmp_path)
    assert table.columns.tolist() == ["store", "done", "failed", "pending", "total",
                                      "last_activity", "error"]
    assert table.store.tolist() == [".", "a", "b/inner"]
    assert table[["done", "failed", "pending", "total"]].values.tolist() == [
        [9, 0, 0, 9], [1, 0, 0, 1], [4, 2, 0, 6]]
    assert table.error.isna().all()
    for stamp in table.last_activity:
        assert stamp.endswith("Z")
        assert start <= datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= end
    assert {d: snapshot(d) for d in before} == before
    with pytest.raises(SweepError, match="no sweep database in or below"):
        sweep.overview(tmp_path / "c")
    with pytest.raises(SweepError, match="no sweep database in or below"):
        sweep.overview(tmp_path / "missing")


# ------------------------------------------------------------------ progress, worker setup
def test_progress_callable_is_told_of_every_committed_cell(tmp_path):
    calls = []
    grid = sweep.product(i=list(range(9)))
    sweep.run(cells.flaky_cell, grid, out=tmp_path, executor="serial", retries=1,
              progress=lambda finished, total: calls.append((finished, total)))
    assert calls == [(k, 9) for k in range(10)]  # (0, 9) first; retries are not commits
    calls.clear()
    sweep.run(cells.flaky_cell, grid, out=tmp_path, executor="serial", retries=0,
              progress=lambda finished, total: calls.append((finished, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]  # only the cells still to do
    with pytest.raises(TypeError, match="`progress` must be True, False or a callable"):
        sweep.run(cells.cell, GRID, out=tmp_path, executor="serial", progress="yes")


DYNAMIC = """
import os


def cell(params, rng):
    return {"value": float(rng.random()), "pid": os.getpid(),
            "setup": os.environ.get("SATSIM_TEST_SETUP", "")}
"""


@needs_proc
@pytest.mark.slow
def test_worker_setup_runs_once_in_each_worker_before_its_cells(tmp_path, monkeypatch):
    # a module loaded from a file, as user studies are: importable here, but not by name
    # in a fresh worker process unless worker_setup loads it there
    path = tmp_path / "dyn.py"
    path.write_text(DYNAMIC)
    name = "satsim_test_dynamic_cells"
    module = cells.load_module(name, str(path))
    monkeypatch.setitem(sys.modules, name, module)
    grid = sweep.product(i=list(range(6)))
    bare = sweep.run(module.cell, grid, out=tmp_path / "a", executor="process", workers=2,
                     retries=0)
    assert bare.counts["failed"] == 6  # recorded per cell, not a crash
    assert sweep.results(tmp_path / "a").error.str.startswith(
        f"ModuleNotFoundError: No module named '{name}'").all()
    marker = tmp_path / "setups.txt"
    setup = functools.partial(cells.load_module, name, str(path), str(marker))
    res = sweep.run(module.cell, grid, out=tmp_path / "b", executor="process", workers=2,
                    worker_setup=setup)
    frame = sweep.results(tmp_path / "b")
    assert res.counts["done"] == 6 and (frame.setup == "yes").all()
    setups = marker.read_text().split()
    assert len(setups) == len(set(setups)) <= 2  # once per worker
    assert set(frame.pid.astype(str)) <= set(setups)
    with pytest.raises(SweepError, match=r"`worker_setup` failed in a worker process:"
                                         r"(.|\n)*setup fails on purpose"):
        sweep.run(module.cell, grid, out=tmp_path / "c", executor="process", workers=1,
                  worker_setup=cells.failing_setup)
    with pytest.raises(TypeError, match="`worker_setup` must be picklable"):
        sweep.run(cells.cell, GRID, out=tmp_path / "d", worker_setup=lambda: None)
    assert children(os.getpid(), workers_only=True) == []


# ------------------------------------------------------------------ batched cells
def _results(out):
    return strip(sweep.results(out)).drop(columns=["started", "finished", "satsim",
                                                   "attempts"], errors="ignore")


def test_batched_cells_are_seeded_and_stored_one_by_one(tmp_path):
    grid = sweep.product(g=[0, 1], i=list(range(5)))
    cells.MANY_CALLS.clear()
    sweep.run(sweep.batched(cells.many_cells, by=["g"], max_size=3), grid,
              out=tmp_path / "b", executor="serial", root_seed=4)
    assert sorted(cells.MANY_CALLS) == [2, 2, 3, 3]  # two groups of 5, chunks of ≤ 3
    sweep.run(cells.one_cell, grid, out=tmp_path / "u", executor="serial", root_seed=4)
    b, u = _results(tmp_path / "b"), _results(tmp_path / "u")
    assert len(b) == 10 and b[["key", "x", "i", "g"]].equals(u[["key", "x", "i", "g"]])
    # the process executor runs the same wrapper cell by cell: same numbers
    sweep.run(sweep.batched(cells.many_cells, by=["g"]), grid, out=tmp_path / "p",
              executor="process", workers=2, root_seed=4)
    assert _results(tmp_path / "p")[["key", "x"]].equals(u[["key", "x"]])


def test_batched_resume_runs_only_what_is_missing(tmp_path):
    grid = sweep.product(g=[0], i=list(range(6)))
    sweep.run(sweep.batched(cells.many_cells, by=["g"]),
              sweep.product(g=[0], i=[0, 1]), out=tmp_path, executor="serial")
    cells.MANY_CALLS.clear()
    again = sweep.run(sweep.batched(cells.many_cells, by=["g"]), grid, out=tmp_path,
                      executor="serial", extend=True)
    assert again.skipped == 2 and again.ran == 4 and cells.MANY_CALLS == [4]


def test_a_failing_cell_in_a_batch_is_charged_to_itself(tmp_path):
    grid = sweep.product(g=[0], i=[0, 1, 2]) + sweep.product(g=[0], i=[3], fail=[True])
    res = sweep.run(sweep.batched(cells.many_cells, by=["g"]), grid, out=tmp_path,
                    executor="serial", retries=0)
    assert res.counts["done"] == 3 and res.counts["failed"] == 1
    frame = sweep.results(tmp_path)
    assert frame.query("status == 'failed'").error.str.contains("cell 3 fails").all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(fn_many=3, by=["g"]), "`fn_many` must be callable"),
    (dict(fn_many=cells.many_cells, by=[3]), "`by` must be parameter names"),
    (dict(fn_many=cells.many_cells, by=["g"], max_size=0), "`max_size`"),
])
def test_batched_bad_input(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        sweep.batched(**kwargs)


def test_futures_executors_run_batches_too(tmp_path):
    grid = sweep.product(g=[0, 1], i=list(range(4)))
    sweep.run(cells.one_cell, grid, out=tmp_path / "u", executor="serial", root_seed=2)
    with cf.ThreadPoolExecutor(2) as ex:
        cells.MANY_CALLS.clear()
        sweep.run(sweep.batched(cells.many_cells, by=["g"]), grid, out=tmp_path / "t",
                  executor=ex, root_seed=2)
        assert sorted(cells.MANY_CALLS) == [4, 4]  # one task per batch
    assert _results(tmp_path / "t")[["key", "x"]].equals(_results(tmp_path / "u")[["key", "x"]])
    # a batch with a failing cell: the batch is rerun cell by cell, the failure is its own
    bad = sweep.product(g=[0], i=[0, 1]) + sweep.product(g=[0], i=[2], fail=[True])
    with cf.ThreadPoolExecutor(2) as ex:
        res = sweep.run(sweep.batched(cells.many_cells, by=["g"]), bad, out=tmp_path / "f",
                        executor=ex, retries=1)
    assert res.counts["done"] == 2 and res.counts["failed"] == 1


# --------------------------------------------------------------------------- cell code
_CELL_MODULE = '''"""cells for the code-fingerprint tests"""


def cell(params, rng):
    """{doc}"""
    return {{"y": params["i"] * {factor} + float(rng.random())}}  # {comment}
'''


def _load_cell(path, factor, doc="first", comment="one"):
    # write the module and import it under a fresh name (as a rerun in a new process
    # would), so inspect.getsource reads what is on disk now
    import importlib.util

    path.write_text(_CELL_MODULE.format(factor=factor, doc=doc, comment=comment))
    name = f"cellmod_{abs(hash((str(path), factor, doc, comment, time.time_ns())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.cell


def test_a_changed_cell_function_is_refused_not_mixed(tmp_path):
    # Edited code under the same grid and seed used to resume silently with the old
    # results; now the store remembers the code and refuses another version (one line
    # naming the function).  Comments, docstrings and formatting are not code: an edit
    # of those resumes (every cell skipped).
    src, out = tmp_path / "cellmod.py", tmp_path / "out"
    grid = sweep.product(i=[1, 2, 3])
    first = sweep.run(_load_cell(src, 10), grid, out=out, executor="serial")
    assert first.ran == 3
    again = sweep.run(_load_cell(src, 10, doc="reworded", comment="two"), grid, out=out,
                      executor="serial")
    assert again.ran == 0 and again.skipped == 3
    with pytest.raises(SweepError, match=r"another version of the cell function cell "
                                         r"\(its code changed"):
        sweep.run(_load_cell(src, 20), grid, out=out, executor="serial")
    assert sweep.results(out)["y"].max() < 40  # nothing of the new code was stored


def test_code_fingerprint_is_the_same_in_every_interpreter(tmp_path):
    # the digest is read from the source's syntax tree, not from bytecode or reprs:
    # two processes with different hash seeds agree
    src = tmp_path / "fpmod.py"
    src.write_text("def cell(params, rng):\n    s = {'a', 'b', 'c'}\n"
                   "    return {'n': len(s) + params['i']}\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import fpmod; "
            "from satsim.sweep._grid import code_fingerprint; "
            "print(code_fingerprint(fpmod.cell))")
    digests = {subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
               for seed in ("1", "2", "3")}
    assert len(digests) == 1 and len(next(iter(digests))) == 16


def test_code_fingerprint_of_wrapped_cells():
    from satsim.sweep._grid import code_fingerprint

    fp = code_fingerprint(cells.cell)
    assert fp is not None and fp != code_fingerprint(cells.noop_cell)
    # a partial adds its arguments; a batched function its grouping
    assert code_fingerprint(functools.partial(cells.cell)) not in (None, fp)
    assert code_fingerprint(functools.partial(cells.cell, {"n": 1})) != \
        code_fingerprint(functools.partial(cells.cell, {"n": 2}))
    assert code_fingerprint(sweep.batched(cells.many_cells, by=["x"])) != \
        code_fingerprint(sweep.batched(cells.many_cells, by=["y"]))


def test_a_store_written_before_fingerprints_resumes_and_learns_the_code(tmp_path):
    out = tmp_path / "old"
    grid = sweep.product(n=[3], a=[1, 2])
    sweep.run(cells.cell, grid, out=out, executor="serial")
    con = sqlite3.connect(out / _store.DB_NAME)
    with con:
        con.execute("DELETE FROM meta WHERE key = 'cell_code'")  # as older satsim wrote it
    con.close()
    again = sweep.run(cells.cell, grid, out=out, executor="serial")
    assert again.skipped == 2
    con = sqlite3.connect(out / _store.DB_NAME)
    assert con.execute("SELECT value FROM meta WHERE key = 'cell_code'").fetchone()
    con.close()
