"""satsim as users get it: a built wheel installed outside the checkout; a real Dask cluster."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = ["z_distribution", "variance_additivity", "clt", "saturation", "deep_propagation",
            "learning_slowdown", "init_training", "costs_and_regularization", "trainability"]


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SATSIM_STUDIES", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir",
                        str(out), str(ROOT)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


@pytest.mark.slow
def test_sdist_and_wheel_carry_the_studies_and_the_licence(dist):
    wheel = next(dist.glob("satsim-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for study in BUILTINS:
        assert f"satsim/studies/{study}.py" in names
    assert "satsim/studies/__init__.py" in names and "satsim/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names), [n for n in names if "dist-info" in n]
    assert not any(n.startswith("studies/") or n.startswith("tests/") for n in names)
    # every module of the source tree is in the wheel (the package list in pyproject.toml
    # is explicit: a new folder left out of it would install a satsim without it)
    source = Path(__file__).resolve().parents[1] / "satsim"
    modules = {f"satsim/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules - set(names) == set()
    sdist = next(dist.glob("satsim-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    top = members[0].split("/")[0]
    assert f"{top}/LICENSE" in members and f"{top}/studies/clt.py" in members


@pytest.mark.slow
def test_installed_wheel_runs_studies_from_any_directory(dist, tmp_path):
    venv = tmp_path / "venv"
    # The dependencies come from the interpreter running the tests, whether it is a
    # virtual environment (as on Debian/Ubuntu, PEP 668) or the system's: its
    # site-packages directories are listed in a .pth file of the new venv (a plain
    # path line: the .pth files inside them, such as the checkout's editable-install
    # hook, are not run).  `--system-site-packages` would see the *base* interpreter
    # instead, which lacks them when the tests run in a venv.  satsim itself comes from
    # the wheel, installed non-editable into the new venv, whose own site-packages comes
    # first on sys.path.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py, satsim = venv / "bin" / "python", venv / "bin" / "satsim"
    import site

    outer = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))
             and Path(p).is_dir()]
    outer += [p for p in site.getsitepackages() if p not in outer and Path(p).is_dir()]
    inner = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                            "['purelib'])"], capture_output=True, text=True, check=True)
    (Path(inner.stdout.strip()) / "zz_outer_site.pth").write_text("\n".join(outer) + "\n")
    wheel = next(dist.glob("satsim-*.whl"))
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index",
                        "--force-reinstall", str(wheel)], capture_output=True, text=True,
                       timeout=600, env=_clean_env())
    assert r.returncode == 0, r.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(py), "-c", "import json, satsim, satsim.studies; print(json.dumps("
         "[satsim.__file__, satsim.studies.__file__]))"],
        capture_output=True, text=True, cwd=elsewhere, check=True, env=_clean_env())
    for path in json.loads(where.stdout):
        assert Path(path).resolve().is_relative_to(venv.resolve()), path

    listing = subprocess.run([str(satsim), "list"], capture_output=True, text=True,
                             cwd=elsewhere, timeout=300, env=_clean_env())
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == BUILTINS

    run = subprocess.run([str(satsim), "run", "z_distribution", "--scale", "test", "-o",
                          "runs", "--quiet"], capture_output=True, text=True, cwd=elsewhere,
                         timeout=600, env=_clean_env())
    assert run.returncode == 0, run.stderr
    assert "all findings pass" in run.stdout
    assert (elsewhere / "runs" / "z_distribution" / "result" / "result.json").is_file()

    rep = subprocess.run([str(satsim), "report", "--scale", "test", "-o", "rep", "--quiet"],
                         capture_output=True, text=True, cwd=elsewhere, timeout=1200,
                         env=_clean_env())
    assert rep.returncode == 0, rep.stderr
    assert "0 of" not in rep.stdout and "findings passed" in rep.stdout
    html = (elsewhere / "rep" / "index.html").read_text()
    assert sum(f'id="{name}"' in html for name in BUILTINS) == len(BUILTINS)
    assert (elsewhere / "rep" / "satsim-report.pdf").stat().st_size > 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    # the `dask` command of this interpreter (`python -m dask` is that command): the
    # scheduler and workers must run the same environment as the client
    dask = [sys.executable, "-m", "dask"]
    port = _free_port()
    address = f"127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    workdir = tmp_path / "workers"  # not the checkout: workers import satsim by name
    workdir.mkdir()
    files = []

    def log(name):
        files.append(open(logs / name, "w"))  # noqa: SIM115 (closed in the finally below)
        return files[-1]

    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=workdir, env=_clean_env(),
                              stdout=log("scheduler.log"), stderr=subprocess.STDOUT,
                              start_new_session=True)]
    try:
        from distributed import Client

        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        for i in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", f"tcp://{address}", "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--local-directory", str(workdir / f"w{i}")],
                cwd=workdir, env=_clean_env(), stdout=log(f"worker{i}.log"),
                stderr=subprocess.STDOUT, start_new_session=True))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(p.pid, 15)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        for f in files:
            f.close()


@pytest.mark.slow
def test_report_on_a_real_dask_scheduler_and_workers(dask_cluster, tmp_path):
    out = tmp_path / "rep"
    r = subprocess.run([sys.executable, "-P", "-m", "satsim.cli", "report", "--scale", "test",
                        "--executor", f"dask://{dask_cluster}", "-o", str(out), "--quiet"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=1800,
                       env=_clean_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "findings passed" in r.stdout
    assert (out / "index.html").is_file() and (out / "satsim-report.pdf").is_file()
    status = subprocess.run([sys.executable, "-P", "-m", "satsim.cli", "sweep", "status",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    # every study with a grid has its store below -o DIR, all cells done
    for name in BUILTINS:
        assert f"studies/{name}/sweeps/" in status.stdout, name
    assert "failed 0  pending 0" in status.stdout
