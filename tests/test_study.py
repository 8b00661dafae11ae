"""Studies, the report and the satsim command, end to end."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from satsim import cli
from satsim.study import StudyError, StudyResult, discover, run_study

ROOT = Path(__file__).resolve().parents[1]
STUDIES = list(cli.STUDY_ORDER)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("studies")
    return out, {name: run_study(name, scale="test", seed=0, out=out, reuse=True)
                 for name in STUDIES}


def test_every_study_is_discovered():
    assert set(STUDIES) <= set(discover())


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
    saved = json.loads((tmp_path / "clt" / "result.json").read_text())
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
    assert "Findings summary" in html and "Provenance" in html
    assert "<script" not in html and "src=\"http" not in html  # self-contained
    findings = json.loads(paths["json"].read_text())
    assert len(findings) == sum(len(r.findings) for r in res.values())
    assert paths["csv"].read_text().startswith("id,")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.__errors = 0;
window.addEventListener('error', function () { window.__errors++; }, true);
var _ce = console.error; console.error = function () { window.__errors++; _ce.apply(console, arguments); };
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.documentElement.setAttribute('data-images', imgs.length + '/' + ok);
  document.documentElement.setAttribute('data-errors', String(window.__errors));
});
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_html_in_headless_chromium(report, tmp_path):
    _out, paths, _ = report
    probe = tmp_path / "probe.html"
    probe.write_text(paths["html"].read_text().replace("<head>", "<head>" + PROBE, 1))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    assert m, dom.stderr[-2000:]
    total, loaded = map(int, m.groups())
    assert total > 10 and loaded == total
    assert 'data-errors="0"' in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={shot}", paths["html"].as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 200).mean() > 0.01  # text and figures, not blank


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdf_pages(report, tmp_path):
    import weasyprint

    _out, paths, _ = report
    expected = len(weasyprint.HTML(string=paths["html"].read_text()).render().pages)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(paths["pdf"]), str(tmp_path / "p")],
                   check=True, timeout=300)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == expected >= len(STUDIES) + 2
    from PIL import Image

    for page in pages:
        px = np.asarray(Image.open(page).convert("L"), dtype=float)
        assert (px < 200).mean() > 0.001, page.name  # every page has ink


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
        (["run", "clt", "--executor", "threads"], "--executor must be serial, process or dask://"),
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
    from satsim.study import _key

    assert _key("saturation") != _key("saturation_depth")
    assert _key("init_training") != _key("init_training_relu")


@pytest.mark.slow
def test_study_grids_give_identical_results_on_serial_and_process_executors(tmp_path):
    a = run_study("clt", scale="test", seed=4, out=tmp_path / "s", executor="serial")
    b = run_study("clt", scale="test", seed=4, out=tmp_path / "p", executor="process")
    assert a.tables["clt"].equals(b.tables["clt"])
    assert list((tmp_path / "s" / "clt").glob("sweep-test-seed4-v*/sweep.sqlite"))


def test_stale_failed_cells_of_another_grid_are_ignored(tmp_path):
    bad = subprocess.run([sys.executable, str(ROOT / "studies" / "clt.py"), "--scale", "test",
                          "--n-in", "0", "4", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "failed" in bad.stderr
    good = subprocess.run([sys.executable, str(ROOT / "studies" / "clt.py"), "--scale", "test",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stderr
