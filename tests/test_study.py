"""Studies, the report and the satsim command, end to end."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from satsim import cli
from satsim.study import StudyError, StudyResult, discover, run_study

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ["z_distribution", "variance_additivity", "clt", "saturation", "deep_propagation",
           "learning_slowdown", "init_training", "costs_and_regularization"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("studies")
    return out, {name: run_study(name, scale="test", seed=0, out=out, reuse=True)
                 for name in STUDIES}


def test_every_study_is_discovered_in_its_declared_order():
    found = discover()
    assert list(found)[:len(STUDIES)] == STUDIES  # ORDER = 10, 20, … in each module
    assert all(found[n].origin == "built-in" for n in STUDIES)
    assert all(found[n].module == f"satsim.studies.{n}" for n in STUDIES)


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDIES)
def test_study_findings_pass_at_test_scale(results, name):
    res = results[1][name]
    failed = [(f.id, f.expected, f.observed) for f in res.findings if not f.passed]
    assert res.findings and not failed, failed
    assert res.provenance["seed"] == 0 and res.provenance["scale"] == "test"
    assert res.provenance["numpy"] == np.__version__


@pytest.mark.slow
def test_saved_results_round_trip(results):
    out, res = results
    back = StudyResult.load(out / "clt")
    assert [f.id for f in back.findings] == [f.id for f in res["clt"].findings]
    assert back.tables["clt"].shape == res["clt"].tables["clt"].shape
    # init_training consumed the saturation study's exported prediction
    ids = [f.id for f in res["init_training"].findings]
    assert "initial_saturation_standard_normal" in ids


def test_study_script_cli_from_params(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "studies" / "clt.py"), "--scale", "test", "--n-samples",
         "2000", "--n-in", "1", "4", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    saved = json.loads((tmp_path / "clt" / "result" / "result.json").read_text())
    assert saved["params"]["n_samples"] == 2000 and saved["params"]["n_in"] == [1, 4]
    assert saved["provenance"]["seed"] == 3


def test_unknown_study_and_parameter():
    with pytest.raises(StudyError, match="unknown study 'nope'; known studies:"):
        run_study("nope")
    with pytest.raises(StudyError, match=r"unknown parameter\(s\) \['bogus'\]"):
        run_study("clt", scale="test", overrides={"bogus": 1})
    with pytest.raises(StudyError, match="`scale` must be one of"):
        run_study("clt", scale="huge")


# ------------------------------------------------------------------ report
@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    from satsim.report import write_report

    out = tmp_path_factory.mktemp("report")
    paths = write_report(list(results[1].values()), out)
    return out, paths, results[1]


@pytest.mark.slow
def test_report_files_and_exports(report):
    _out, paths, res = report
    html = paths["html"].read_text()
    for name in STUDIES:
        assert f'id="{name}"' in html
    assert "The question, and the short answers" in html and "Provenance" in html
    # self-contained: the interactive figures' JavaScript is inline, no element loads
    # anything (Bokeh's bundle mentions a MathJax CDN in its code, used only for TeX labels,
    # which the report has none of)
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found = []

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "href") and v and not v.startswith(("#", "data:")):
                    self.found.append((tag, k, v))

    parser = Links()
    parser.feed(html)
    assert parser.found == [], parser.found[:5]
    assert "Bokeh" in html
    findings = json.loads(paths["json"].read_text())
    assert len(findings) == sum(len(r.findings) for r in res.values())
    assert paths["csv"].read_text().startswith("id,")


# ------------------------------------------------------------------ CLI
def test_cli_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in STUDIES)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "nope"], "unknown study 'nope'"),
        (["report", "nope", "-o", "{tmp}"], "unknown study 'nope'"),
        (["run", "clt", "--scale", "huge"], "invalid choice: 'huge'"),
        (["report", "clt", "-o", "{ro}/sub"], "cannot create output directory"),
        (["run", "clt", "--jobs", "0"], "expected a positive integer"),
        (["run", "clt", "--executor", "threads"], "argument --executor: must be auto, serial, process or dask://"),
        (["report", "clt", "--executor", "dask://"], "argument --executor: must be auto, serial, process or dask://"),
        (["report", "clt", "-o", "{tmp}", "--executor", "serial", "--jobs", "2"], "--executor serial runs one cell at a time"),
        (["run", "clt", "-o", "{tmp}", "--executor", "serial", "--jobs", "2"], "--executor serial runs one cell at a time"),
        (["run"], "the following arguments are required: NAME"),
        (["list", "--studies", "{tmp}/missing"], "is not a directory"),
    ],
)
def test_cli_bad_input_one_line_exit_2(argv, message, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.geteuid() == 0:
        # root ignores directory permissions: a path under a regular file cannot be created
        ro = tmp_path / "file"
        ro.write_text("x")
    argv = [a.format(tmp=tmp_path, ro=ro) for a in argv]
    try:
        with pytest.raises(SystemExit) as info:
            raise SystemExit(cli.main(argv))
    finally:
        if ro.is_dir():
            ro.chmod(0o700)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_cli_report_end_to_end(tmp_path, capsys):
    rc = cli.main(["report", "learning_slowdown", "clt", "-o", str(tmp_path), "--scale", "test",
                   "--quiet"])
    assert rc == 0
    assert (tmp_path / "index.html").is_file() and (tmp_path / "satsim-report.pdf").is_file()
    assert "findings passed" in capsys.readouterr().out


def test_study_streams_depend_on_the_whole_name():
    from satsim.study._run import _key

    assert _key("saturation") != _key("saturation_depth")
    assert _key("init_training") != _key("init_training_relu")


@pytest.mark.slow
def test_study_grids_give_identical_results_on_serial_and_process_executors(tmp_path):
    a = run_study("clt", scale="test", seed=4, out=tmp_path / "s", executor="serial")
    b = run_study("clt", scale="test", seed=4, out=tmp_path / "p", executor="process")
    assert a.tables["clt"].equals(b.tables["clt"])
    assert list((tmp_path / "s" / "clt").glob("sweeps/test-seed4-*/cells/sweep.sqlite"))


def test_stale_failed_cells_of_another_grid_are_ignored(tmp_path):
    bad = subprocess.run([sys.executable, str(ROOT / "studies" / "clt.py"), "--scale", "test",
                          "--n-in", "0", "4", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "failed" in bad.stderr, bad.stderr
    good = subprocess.run([sys.executable, str(ROOT / "studies" / "clt.py"), "--scale", "test",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stderr


# ------------------------------------------------------------------ protocol, saving, resuming
@pytest.mark.slow
def test_an_undecidable_finding_says_so(results):
    out, _ = results
    res = run_study("init_training", scale="test", seed=0, out=out, reuse=True,
                    overrides={"seeds": 1})
    f = res.finding("scaled_init_learns_faster")
    assert f.passed is None and f.verdict == "undecided"
    assert "needs ≥ 2 seeds" in f.observed
    assert res.provenance["overrides"] == {"seeds": 1} and res.params["seeds"] == 1
    # the requirement was reused, not rerun: its export fed the saturation findings
    assert res.finding("initial_saturation_nielsen").passed is True


def test_a_failed_save_leaves_the_previous_result_whole(tmp_path, monkeypatch):
    import satsim.study._result as study_module

    first = run_study("learning_slowdown", scale="test", out=tmp_path)
    before = (tmp_path / "learning_slowdown" / "result" / "result.json").read_text()
    calls = {"n": 0}
    real = study_module.atomic_write

    def flaky(path, data, **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # the second file of the new result: the disk is full
            raise OSError(28, "No space left on device")
        return real(path, data, **kw)

    monkeypatch.setattr(study_module, "atomic_write", flaky)
    second = dataclasses.replace(first, notes=["a newer run"])
    with pytest.raises(OSError, match="No space left"):
        second.save(tmp_path)
    assert (tmp_path / "learning_slowdown" / "result" / "result.json").read_text() == before
    assert StudyResult.load(tmp_path / "learning_slowdown").notes == first.notes
    leftovers = [p.name for p in (tmp_path / "learning_slowdown").iterdir()]
    assert sorted(leftovers) == ["result", "sweeps"], leftovers


def test_a_damaged_or_missing_table_makes_the_study_run_again(tmp_path):
    run_study("learning_slowdown", scale="test", out=tmp_path)
    table = tmp_path / "learning_slowdown" / "result" / "tables" / "trajectories.csv"
    table.write_text(table.read_text()[:-200])  # truncated: still parses as CSV
    with pytest.raises(StudyError, match="is damaged"):
        StudyResult.load(tmp_path / "learning_slowdown")
    again = run_study("learning_slowdown", scale="test", out=tmp_path, reuse=True)
    assert StudyResult.load(tmp_path / "learning_slowdown").tables["trajectories"].shape == \
        again.tables["trajectories"].shape
    table.unlink()
    with pytest.raises(StudyError, match="is missing"):
        StudyResult.load(tmp_path / "learning_slowdown")
    rc = cli.main(["report", "learning_slowdown", "-o", str(tmp_path / "rep"), "--scale",
                   "test", "--quiet", "--no-pdf"])
    assert rc == 0


SLOW_STUDY = '''
import dataclasses
import time

from satsim.study import Finding, StudyResult

TITLE = "Slow cells"


@dataclasses.dataclass(frozen=True)
class Params:
    cells: int = 30
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


def _store_rows(out):
    import sqlite3

    (db,) = list((out / "slow").glob("sweeps/*/cells/sweep.sqlite"))
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT key, attempts FROM cells").fetchall()
    finally:
        con.close()


def _wait_for_cells(out, n, proc, timeout=120):
    import sqlite3
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(_store_rows(out)) >= n:
                return
        except (ValueError, sqlite3.Error):
            pass
        time.sleep(0.05)
    raise AssertionError("cells were not committed in time")


@pytest.fixture
def slow_study(tmp_path):
    d = tmp_path / "user"
    d.mkdir()
    (d / "slow.py").write_text(SLOW_STUDY)
    return d


def _satsim(*args):
    return [sys.executable, "-P", "-m", "satsim.cli", *args]


@pytest.mark.slow
@pytest.mark.parametrize("executor", [["--executor", "serial"], ["--jobs", "2"],
                                      ["--executor", "process", "--jobs", "2"]])
def test_ctrl_c_prints_one_line_exits_130_and_the_rerun_resumes(slow_study, tmp_path,
                                                                executor):
    import signal

    out = tmp_path / "out"
    cmd = _satsim("run", "slow", "--studies", str(slow_study), "-o", str(out), *executor)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _wait_for_cells(out, 5, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert re.fullmatch(r"satsim: interrupted after (\d+) of 30 cells; rerun the same command "
                        r"to resume", lines[0]), lines[0]
    done = len(_store_rows(out))
    assert 5 <= done < 30
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    rows = _store_rows(out)
    assert len(rows) == 30 and all(attempts == 1 for _, attempts in rows)


@pytest.mark.slow
def test_kill_minus_9_of_a_study_then_the_same_command_resumes_exactly_once(slow_study,
                                                                             tmp_path):
    import signal

    out = tmp_path / "out"
    cmd = _satsim("run", "slow", "--studies", str(slow_study), "-o", str(out), "--jobs", "2")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    _wait_for_cells(out, 8, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = dict(_store_rows(out))
    assert 8 <= len(killed) < 30
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    rows = dict(_store_rows(out))
    assert len(rows) == 30 and set(rows.values()) == {1}  # each cell ran exactly once
    res = StudyResult.load(out / "slow")
    assert res.finding("all").passed
    # nothing but the result and its sweep store: no temporary store was leaked
    assert sorted(p.name for p in (out / "slow").iterdir()) == ["result", "sweeps"]


def test_sweep_status_and_export_take_the_output_directory(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli.main(["run", "learning_slowdown", "clt", "--scale", "test", "-o", str(out),
                     "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["sweep", "status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "learning_slowdown/sweeps/" in text and "clt/sweeps/" in text
    # learning_slowdown: 8 cells (two starts × true-gradient and book curves); clt: 4
    assert "done 12  failed 0  pending 0  (total 12) in 2 store(s)" in text
    assert cli.main(["sweep", "export", str(out)]) == 0
    assert len(list(out.glob("*/sweeps/*/cells/results.csv"))) == 2
    assert cli.main(["sweep", "status", str(tmp_path / "nothing")]) == 2


def test_progress_is_one_bar_per_study_counted_in_cells():
    import io

    from satsim.study import StudyProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    progress = StudyProgress(stream=term)
    progress("clt", "cells", 0, 4)
    progress("clt", "cells", 2, 4)
    progress("saturation", "sweep", 0, 10)
    progress("saturation", "mixture", 1, 4)  # a study's grids share its bar
    assert progress.finished == 3 and progress.total == 18
    progress.close()
    text = term.getvalue()
    assert "clt" in text and "2/4" in text and "cell" in text
    assert "saturation" in text and "1/14" in text
    assert progress.interrupted_message() == (
        "interrupted after 3 of 18 cells; rerun the same command to resume")
    quiet, piped = Terminal(), io.StringIO()  # --quiet, or stderr not a terminal: no bars
    for stream, kw in ((quiet, {"quiet": True}), (piped, {})):
        p = StudyProgress(stream=stream, **kw)
        p("clt", "cells", 1, 4)
        p.close()
        assert stream.getvalue() == ""
