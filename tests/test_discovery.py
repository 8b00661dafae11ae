"""Finding studies: built-ins, entry points, user folders; safety of discovery; one parser."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import satsim.study as study
from satsim.study import StudyError

BUILTINS = ["z_distribution", "variance_additivity", "clt", "saturation", "deep_propagation",
            "learning_slowdown", "init_training", "costs_and_regularization", "trainability"]

USER_STUDY = '''
"""A user's study."""
import dataclasses
from pathlib import Path

from satsim.study import Finding, StudyResult

TITLE = "My own study"
ORDER = 15
EXPORTS = {{"xs": "the draws"}}
with Path({marker!r}).open("a") as fh:  # counts module-level executions
    fh.write("imported\\n")


@dataclasses.dataclass(frozen=True)
class Params:
    n: int = 3
    seed: int = 7  # clashes with the common --seed option: becomes --param-seed
    scale: float = 1.5


def cell(params, rng):
    return {{"x": float(rng.random()) * params["scale"]}}


def run(params, ctx):
    from satsim import sweep

    grid = sweep.product(fixed={{"scale": params.scale}}, i=list(range(params.n)))
    xs = [c["x"] for c in ctx.run_grid(cell, grid)]
    return StudyResult(name=ctx.name, title=TITLE, description=__doc__,
                       params=dataclasses.asdict(params), tables={{}}, figures=[],
                       findings=[Finding(id="ran", claim="it ran", expected=params.n,
                                         observed=len(xs), method="count",
                                         passed=len(xs) == params.n)],
                       exports={{"xs": xs}})
'''


def _cli(*args, cwd, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if k != "SATSIM_STUDIES"}
    full_env.update(env or {})
    # -P: like the `satsim` console script, do not put the current directory on sys.path
    # (plain `python -m` would; that is Python's doing, not satsim's)
    return subprocess.run([sys.executable, "-P", "-m", "satsim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


@pytest.fixture
def user_dir(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    marker = tmp_path / "imports.log"
    (d / "my_study.py").write_text(USER_STUDY.format(marker=str(marker)))
    (d / "_helpers.py").write_text("raise RuntimeError('private modules are never imported')\n")
    return d, marker


def test_nothing_is_imported_from_the_current_directory(tmp_path):
    marker = tmp_path / "ran.log"
    evil = f"with open({str(marker)!r}, 'a') as fh: fh.write(__name__ + '\\n')\n"
    (tmp_path / "studies").mkdir()
    # looks like a study to a text search, shadows a built-in, and a dependency
    (tmp_path / "studies" / "clt.py").write_text(evil + "class Params: pass\ndef run(): pass\n")
    (tmp_path / "studies" / "evil.py").write_text(evil + "class Params: pass\ndef run(): pass\n")
    (tmp_path / "weasyprint.py").write_text(evil)
    (tmp_path / "pandas.py").write_text(evil)
    out = _cli("list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == BUILTINS
    script = shutil.which("satsim", path=str(Path(sys.executable).parent))
    if script:  # the console script users run
        out = subprocess.run([script, "list"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert [line.split()[0] for line in out.stdout.splitlines()] == BUILTINS
    assert not marker.exists()


def test_user_folder_is_imported_once_without_touching_sys_path(user_dir, tmp_path):
    d, marker = user_dir
    before = list(sys.path)
    found = study.discover(d)
    study.discover(d)
    study.load_study("my_study", studies=d)
    assert sys.path == before
    assert list(found)[:3] == ["z_distribution", "my_study", "variance_additivity"]  # ORDER 15
    info = found["my_study"]
    assert info.origin == f"folder {d}" and info.path == d / "my_study.py"
    assert info.title == "My own study"
    assert marker.read_text().count("imported") == 1


def test_user_folder_from_the_environment_and_option(user_dir, tmp_path):
    d, marker = user_dir
    out = _cli("list", cwd=tmp_path, env={"SATSIM_STUDIES": str(d)})
    assert out.returncode == 0, out.stderr
    assert "my_study" in out.stdout and f"[folder {d}]" in out.stdout
    assert marker.read_text().count("imported") == 1  # one listing, one import
    out = _cli("list", "--studies", str(d), cwd=tmp_path)
    assert "my_study" in out.stdout
    without = _cli("list", cwd=tmp_path)
    assert "my_study" not in without.stdout


def test_help_documents_the_study_folders(tmp_path):
    for args in (["--help"], ["list", "--help"], ["report", "--help"], ["run", "--help"]):
        out = _cli(*args, cwd=tmp_path)
        assert out.returncode == 0, (args, out.stderr)
        text = " ".join(out.stdout.split())
        assert "--studies" in text or "SATSIM_STUDIES" in text, args


def test_a_name_clash_with_a_builtin_is_an_error_naming_both_files(tmp_path):
    d = tmp_path / "clash"
    d.mkdir()
    (d / "clt.py").write_text("TITLE = 'x'\nclass Params: pass\ndef run(p, c): pass\n")
    with pytest.raises(StudyError, match=r"'clt' is defined twice: .*studies/clt\.py and "
                                         r".*clash/clt\.py"):
        study.discover(d)
    out = _cli("list", "--studies", str(d), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "defined twice" in out.stderr


@pytest.mark.parametrize("body, reason", [
    ("def broken(:\n", "SyntaxError"),
    ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ("import sys\nsys.exit(3)\n", "sys.exit(3) at import"),
    ("import no_such_module_here\n", "ModuleNotFoundError"),
])
def test_a_study_that_fails_to_import_is_reported_in_one_line(tmp_path, user_dir, body,
                                                              reason):
    d, _ = user_dir
    (d / "broken.py").write_text(body)
    out = _cli("list", "--studies", str(d), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert "my_study" in names and set(BUILTINS) <= set(names) and "broken" not in names
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "'broken'" in lines[0] and reason in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    run = _cli("run", "broken", "--studies", str(d), cwd=tmp_path)
    assert run.returncode == 2 and reason in run.stderr and run.stderr.count("\n") == 1


def test_entry_point_studies_of_installed_packages(tmp_path):
    site = tmp_path / "site"
    pkg = site / "thirdparty_studies"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "wide.py").write_text(textwrap.dedent('''
        import dataclasses
        TITLE = "A third-party study"
        ORDER = 95

        @dataclasses.dataclass(frozen=True)
        class Params:
            n: int = 1

        def run(params, ctx):
            raise NotImplementedError
    '''))
    info = site / "thirdparty_studies-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-studies\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[satsim.studies]\nwide = thirdparty_studies.wide\n")
    out = _cli("list", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("wide") and "A third-party study" in last
    assert "[entry point of thirdparty-studies]" in last


# ------------------------------------------------------------------ one parser
def _options(help_text: str) -> set[str]:
    return {w.rstrip(",") for w in help_text.split() if w.startswith("--")}


def test_satsim_run_and_the_script_share_one_parser(tmp_path):
    root = Path(__file__).resolve().parents[1]
    a = _cli("run", "clt", "--help", cwd=tmp_path)
    b = subprocess.run([sys.executable, str(root / "studies" / "clt.py"), "--help"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert _options(a.stdout) == _options(b.stdout)
    assert {"--n-in", "--n-samples", "--seed", "--scale", "--out", "--quiet",
            "--executor", "--studies"} <= _options(a.stdout)


def test_parameters_named_like_options_do_not_crash_the_parser(user_dir, tmp_path):
    d, _ = user_dir
    out = tmp_path / "out"
    r = _cli("run", "my_study", "--studies", str(d), "--scale", "test", "--seed", "3",
             "--param-seed", "11", "--param-scale", "2.5", "--n", "4", "-o", str(out),
             "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet: no bars, no warnings
    res = study.StudyResult.load(out / "my_study")
    assert res.params == {"n": 4, "seed": 11, "scale": 2.5}
    assert res.provenance["seed"] == 3 and res.provenance["scale"] == "test"
    assert res.provenance["overrides"] == {"n": 4, "seed": 11, "scale": 2.5}
    assert len(res.exports["xs"]) == 4 and max(res.exports["xs"]) <= 2.5
    script = subprocess.run([sys.executable, str(d / "my_study.py"), "--help"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    # a user's file has no main(); `satsim run` is its command line
    assert script.returncode == 0


def test_user_study_script_main_uses_the_same_parser(user_dir, tmp_path):
    d, _ = user_dir
    (d / "my_study.py").write_text((d / "my_study.py").read_text() + textwrap.dedent('''
        if __name__ == "__main__":
            from satsim.study import main
            raise SystemExit(main(__file__))
    '''))
    r = subprocess.run([sys.executable, str(d / "my_study.py"), "--n", "2", "--quiet", "-o",
                        str(tmp_path / "o"), "--scale", "test"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert study.StudyResult.load(tmp_path / "o" / "my_study").params["n"] == 2


# ------------------------------------------------------------------ exports
def test_a_missing_export_is_a_clear_error(tmp_path):
    d = tmp_path / "pair"
    d.mkdir()
    (d / "producer.py").write_text(textwrap.dedent('''
        import dataclasses
        from satsim.study import StudyResult
        TITLE = "producer"
        EXPORTS = {"value": "a number"}

        @dataclasses.dataclass(frozen=True)
        class Params:
            n: int = 1

        def run(params, ctx):
            return StudyResult(name=ctx.name, title=TITLE, description="", params={},
                               tables={}, figures=[], findings=[], exports={"value": 1.0})
    '''))
    (d / "consumer.py").write_text(textwrap.dedent('''
        import dataclasses
        from satsim.study import StudyResult
        TITLE = "consumer"
        REQUIRES = ("producer",)

        @dataclasses.dataclass(frozen=True)
        class Params:
            name: str = "value"

        def run(params, ctx):
            v = ctx.export("producer", params.name)
            return StudyResult(name=ctx.name, title=TITLE, description="", params={},
                               tables={}, figures=[], findings=[], notes=[str(v)])
    '''))
    res = study.run_study("consumer", scale="test", studies=d)
    assert res.notes == ["1.0"]
    with pytest.raises(StudyError, match=r"needs the export 'other' of study 'producer', "
                                         r"which exports \['value'\]"):
        study.run_study("consumer", scale="test", studies=d, overrides={"name": "other"})
    (d / "liar.py").write_text((d / "producer.py").read_text().replace(
        'exports={"value": 1.0}', "exports={}"))
    with pytest.raises(StudyError, match=r"declares EXPORTS \['value'\] but its result "
                                         r"exports \[\]"):
        study.run_study("liar", scale="test", studies=d)


def test_the_readme_study_runs_as_written(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in readme.split("```python\n")[1:]
                 if b.startswith("# mystudies/noise.py")).split("```")[0]
    (tmp_path / "mystudies").mkdir()
    (tmp_path / "mystudies" / "noise.py").write_text(block)
    r = _cli("run", "noise", "--studies", "mystudies", "--cells", "50", "--quiet", "-o",
             "out", "--scale", "test", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "noise" in r.stdout and "all findings pass" in r.stdout


GATE_STUDY = '''"""A study whose one finding fails for n > 4 and is undecided for n = 4."""
import dataclasses

import satsim.study
from satsim.study import Finding, StudyResult

TITLE = "Gate"
ORDER = 16


@dataclasses.dataclass(frozen=True)
class Params:
    n: int = 6


def run(params, ctx):
    passed = None if params.n == 4 else params.n < 4
    return StudyResult(name=ctx.name, title=TITLE, description=__doc__,
                       params=dataclasses.asdict(params), tables={}, figures=[],
                       findings=[Finding(id="small", claim="n is below 4", expected=4,
                                         observed=params.n, method="comparison",
                                         passed=passed)])


if __name__ == "__main__":
    raise SystemExit(satsim.study.main(__file__))
'''


def test_strict_exits_1_when_a_finding_fails(tmp_path):
    # A failed finding is a result: exit 0 by default (the line says FAILED); --strict
    # makes it exit status 1 for `satsim run`, `satsim report` and the study's own
    # script, while undecided findings and passing ones keep 0.
    d = tmp_path / "gates"
    d.mkdir()
    (d / "gate.py").write_text(GATE_STUDY)
    out = str(tmp_path / "out")

    def run(*extra):
        return _cli("run", "gate", "--studies", str(d), "--quiet", "-o", out, *extra,
                    cwd=tmp_path)

    r = run()
    assert r.returncode == 0 and "FAILED: small" in r.stdout, (r.stdout, r.stderr)
    r = run("--strict")
    assert r.returncode == 1 and "FAILED: small" in r.stdout, (r.stdout, r.stderr)
    assert r.stderr == ""
    assert run("--strict", "--n", "2").returncode == 0
    r = run("--strict", "--n", "4")
    assert r.returncode == 0 and "undecided: small" in r.stdout
    rep = _cli("report", "gate", "--studies", str(d), "--quiet", "--no-pdf", "--strict",
               "-o", str(tmp_path / "rep"), cwd=tmp_path)
    assert rep.returncode == 1 and "0 of 1 findings passed" in rep.stdout, rep.stderr
    script = subprocess.run([sys.executable, str(d / "gate.py"), "--quiet", "--strict",
                             "-o", out], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert script.returncode == 1 and "FAILED: small" in script.stdout, script.stderr


def test_an_edited_cell_is_refused_on_resume_with_one_line(user_dir, tmp_path):
    # the sweep store remembers the cell function's code: after an edit of the cell's
    # body, rerunning into the same -o is one line, exit 2 (not stale results)
    d, _ = user_dir
    out = str(tmp_path / "out")
    first = _cli("run", "my_study", "--studies", str(d), "--quiet", "-o", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    src = (d / "my_study.py").read_text()
    (d / "my_study.py").write_text(src.replace('* params["scale"]', '* params["scale"] * 2'))
    again = _cli("run", "my_study", "--studies", str(d), "--quiet", "-o", out, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "its code changed" in again.stderr, again.stderr
