"""Tests for satsim.sweep: grids, executors, the SQLite store, resume and faults."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sweep_cells as cells

from satsim import cli, sweep
from satsim.sweep import SweepError


def strip(frame):
    return frame.drop(columns=["duration"]).sort_values("key").reset_index(drop=True)


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


def test_full_disk_loses_no_committed_cell(tmp_path, monkeypatch):
    grid = sweep.product(i=list(range(30)))
    monkeypatch.setattr(sweep, "_PRAGMAS", ["PRAGMA max_page_count = 40"])
    with pytest.raises(SweepError, match=r"database or disk is full.*every earlier cell is committed"):
        sweep.run(cells.big_cell, grid, out=tmp_path, executor="serial")
    monkeypatch.setattr(sweep, "_PRAGMAS", [])
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
