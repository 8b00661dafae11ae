"""``satsim analyze`` / :func:`satsim.analyze.analyze`: a user's network and schemes."""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from satsim import data
from satsim.analyze import analyze


@pytest.fixture(scope="module")
def result():
    return analyze([784, 60, 30, 10], ["he_normal", "standard_normal"], activation="tanh",
                   scale="test", rng=0)


def test_layer_one_numbers_against_an_independent_computation(result):
    """Layer 1's z on data rows, bias 0: z = w·x with Var w = 2/784 (he_normal) or 1
    (standard_normal), so E z² = Var(w)·E‖x‖²; E‖x‖² from the whole training set here.
    The saturated fraction of N(0, 1) weights under tanh's "output" criterion
    (|z| > atanh 0.98) is computed by brute force from per-row normal tails."""
    X = data.load("fashion-mnist").train[0]
    sq = np.einsum("ij,ij->i", X, X)
    lay = result.layers[(result.layers.inputs == "data") & (result.layers.layer == 1)]
    lay = lay.set_index("scheme")
    for scheme, var_w in (("he_normal", 2 / 784), ("standard_normal", 1.0)):
        want = math.sqrt(var_w * sq.mean())
        r = lay.loc[scheme]
        # 200 probe rows drawn from the same rows: their mean squared norm differs from
        # the population's by ~sd(‖x‖²)/√200 ≈ 4%; the prediction uses the probe rows
        assert r.z_rms_predicted == pytest.approx(want, rel=0.08)
        assert r.z_rms_ci_low <= r.z_rms_predicted * 1.05 and r.z_rms_ci_high >= \
            r.z_rms_predicted * 0.95
    thr = math.atanh(0.98)
    from scipy import stats

    p_pop = float(np.mean(2 * stats.norm.sf(thr / np.sqrt(sq))))  # N(0,1) weights, z ~ N(0, ‖x‖²)
    r = lay.loc["standard_normal"]
    # population fraction over all rows vs the 200-probe prediction: a few % apart at most
    assert r.saturated_predicted == pytest.approx(p_pop, abs=0.03)
    assert r.saturated_ci_low - 0.02 <= r.saturated_predicted <= r.saturated_ci_high + 0.02
    assert r.saturated > 0.8  # the argument's point: N(0, 1) weights saturate most units


def test_meanfield_rows_and_findings(result):
    mf = result.meanfield.set_index("scheme")
    # he_normal: σ_w² = 2 on every layer; the tanh critical σ_w² at σ_b² = 0 is exactly 1
    assert mf.loc["he_normal"].sigma_w2.tolist() == pytest.approx([2.0, 2.0])
    assert mf.loc["he_normal"].critical_sigma_w2.tolist() == pytest.approx([1.0, 1.0])
    assert set(mf.phase) == {"chaotic"}
    ids = [f.id for f in result.findings]
    assert "saturation_standard_normal_layer1" in ids and "trains_he_normal" in ids
    sat = next(f for f in result.findings if f.id == "saturation_standard_normal_layer1")
    assert "standard_normal saturates" in sat.claim and sat.passed is True
    assert result.training.epoch.tolist().count(1) == 2  # both schemes, epoch 1
    assert "he_normal" in result.overview and "findings agree" in result.overview


def test_notebook_rendering(result):
    assert repr(result).startswith("AnalysisResult(784-60-30-10 tanh")
    assert "<table>" in result._repr_html_()
    assert list(result.to_frame().columns[:3]) == ["scheme", "inputs", "layer"]
    import matplotlib

    matplotlib.use("Agg", force=False)
    fig = result.plot()
    assert len(fig.axes) >= 2


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(sizes=[784, 0, 10]), ValueError, r"`sizes\[1\]` must be a positive integer"),
        (dict(sizes="784,30,x"), ValueError, r"`sizes\[2\]` is not an integer"),
        # strict parsing: an empty item or inner spaces are errors, not dropped or joined
        (dict(sizes="784,,10"), ValueError, r"`sizes\[1\]` is empty"),
        (dict(sizes="784 30 10"), ValueError, r"`sizes\[0\]` is not an integer"),
        (dict(sizes=[784, 30, 10], activation="os:system"), TypeError,
         r"'os:system' is builtin_function_or_method"),
        (dict(sizes=[784, 30, 10], activation="shutil:rmtree"), TypeError,
         r"not an Activation or a function written for satsim"),
        # refused before anything large is allocated: 416 million weights, 11 GiB
        (dict(sizes=[784, 20000, 20000, 10]), ValueError, r"about 1\d\.\d GiB of memory"),
        (dict(sizes=[784, 30, 10], scale="test", epochs=10**6), ValueError,
         r"about \d+\.\d h \(limit 2\.0 h\).*force=True"),
        (dict(sizes=[784, 30, 10], inits=["no_such_init"]), ValueError, r"`inits\[0\]`"),
        (dict(sizes=[784, 30, 10], inits=["nope.mod:f"]), ValueError,
         r"`inits\[0\]`: cannot import 'nope.mod'"),
        (dict(sizes=[100, 30, 10]), ValueError, r"`sizes\[0\]` must be the data's input size"),
        (dict(sizes=[784, 30, 10], activation=["tanh", "relu"]), ValueError, r"`activation`"),
        (dict(sizes=[784, 30, 10], scale="huge"), ValueError, r"`scale`"),
        (dict(sizes=[784, 30, 10], inits=["lsuv"], data=None), ValueError, r"lsuv"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        analyze(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_command_line_end_to_end_with_a_module_attr_scheme(tmp_path):
    pkg = tmp_path / "myinits"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        import math
        def my_init(shape, rng):
            fan_in = shape[1] if len(shape) > 1 else shape[0]
            return rng.uniform(-1, 1, size=shape) * math.sqrt(3.0 / fan_in)
    """))
    out = tmp_path / "report"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "satsim", "analyze", "--sizes", "784,40,20,10",
         "--activation", "tanh", "--init", "he_normal", "--init", "myinits:my_init",
         "--init", "lsuv", "--scale", "test", "--quiet", "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (out / "index.html").exists() and (out / "satsim-report.pdf").exists()
    findings = json.loads((out / "findings.json").read_text())
    assert any("myinits:my_init saturates" in f["claim"] for f in findings)
    html = (out / "index.html").read_text()
    assert "Mean field" in html and "Training on real data" in html
    bad = subprocess.run([sys.executable, "-m", "satsim", "analyze", "--sizes", "784,0,10",
                          "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "`--sizes` (item 2) must be a positive integer; got 0" in bad.stderr


@pytest.mark.slow
def test_the_readme_vet_your_own_initializer_section_runs_as_written(tmp_path, monkeypatch):
    """Every Python block of the README's "Vet your own initializer" section, in order,
    in one namespace (the report lands in a temporary directory)."""
    from pathlib import Path

    from satsim import activations, init

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Vet your own initializer", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    finally:
        init.unregister("laplace")
        activations.unregister("lecun_tanh")
    assert (tmp_path / "reports" / "my-analysis" / "index.html").exists()
    assert "laplace" in namespace["res"].schemes
    assert len(namespace["stats"].to_frame()) == 2


@pytest.mark.slow
def test_command_line_on_a_pytorch_model(tmp_path):
    """``satsim analyze --torch module:attr --input-shape …``: per-layer statistics of the
    user's nn.Module under each --init, through satsim.torch."""
    pytest.importorskip("torch")
    import pandas as pd

    pkg = tmp_path / "mymodels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        import torch
        def build():
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64),
                                       torch.nn.Tanh(), torch.nn.Linear(64, 10))
    """))
    out = tmp_path / "torch-report"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "satsim", "analyze", "--torch", "mymodels:build",
         "--input-shape", "1,28,28", "--init", "he_normal", "--init", "standard_normal",
         "--scale", "test", "--epochs", "1", "--seeds", "2", "--device", "cpu", "--no-pdf",
         "-o", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # trained under each scheme (issue 20 §5): accuracy per epoch over 2 seeds, and
    # per-layer saturation and gradient norms
    training = pd.read_csv(out / "training.csv")
    assert set(training.scheme) == {"he_normal", "standard_normal"}
    assert set(training.epoch) == {0, 1} and set(training.n_seeds) == {2}
    per_layer = pd.read_csv(out / "training_layers.csv")
    assert {"saturated", "grad_sq"} <= set(per_layer.columns)
    assert len(list((out / "sweeps").iterdir())) == 1
    import pandas as pd

    table = pd.read_csv(out / "layers.csv")
    assert set(table.scheme) == {"he_normal", "standard_normal"}
    first = table[table.layer.astype(str) == "1"].set_index("scheme")  # Sequential index
    # tanh after Linear(784, 64): N(0, 1) weights saturate most units, He far fewer
    assert first.loc["standard_normal", "saturated"] > 0.8
    assert first.loc["he_normal", "saturated"] < first.loc["standard_normal", "saturated"]
    # the realised variance of the initialized tensor is the scheme's (2/784): 50 176
    # normal draws give a sample variance within 2% (≈ 3 sd) of it
    assert first.loc["he_normal", "weight_var"] == pytest.approx(2 / 784, rel=0.02)


def test_review_edge_cases(tmp_path):
    from satsim.init import Normal

    # no hidden layer: z of the one layer, an empty mean-field table, no crash
    res = analyze([784, 10], ["he_normal"], data=None, scale="test", epochs=0, rng=0)
    assert len(res.meanfield) == 0 and len(res.layers) == 1
    # two different objects with one name keep separate rows
    res = analyze([784, 20, 10], [Normal(0, 0.05), Normal(0, 0.1)], data=None,
                  scale="test", epochs=0, rng=0)
    assert res.schemes == ("normal", "normal#2")
    # a user activation trains as measured (the cells get the objects, not names)
    res = analyze([784, 20, 10], ["he_normal"], activation=lambda z: np.tanh(z),
                  scale="test", seeds=2, rng=0)
    assert len(res.training) == 2
    with pytest.raises(ValueError, match=r"`sizes\[-1\]` must be the number of classes 10"):
        analyze([784, 20, 5], ["he_normal"], scale="test")
    # a changed configuration under the same -o gets its own store, never stale cells
    a = analyze([784, 20, 10], ["he_normal"], scale="test", out=tmp_path, rng=0)
    b = analyze([784, 20, 10], ["he_normal"], bias_init="standard_normal", scale="test",
                out=tmp_path, rng=0)
    assert len(list((tmp_path / "sweeps").iterdir())) == 2
    assert not a.training.equals(b.training)


#: runs `satsim ARGS…` and writes the process's peak resident memory (VmHWM, KiB) to
#: argv[1] at exit.  VmHWM belongs to the address space made by exec, unlike ru_maxrss,
#: which keeps the forking parent's (pytest's) peak across fork and exec.
_PEAK_RSS = """
import atexit, sys
def peak(path):
    with open("/proc/self/status") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM"))
    with open(path, "w") as fh:
        fh.write(kib)
atexit.register(peak, sys.argv[1])
sys.argv = ["satsim", *sys.argv[2:]]
from satsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_measured(args, tmp_path, **kw):
    """Run ``satsim *args``; (return code, stderr, peak resident memory in MiB)."""
    peak = tmp_path / "peak.txt"
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(peak), *args],
                          capture_output=True, text=True, timeout=300, **kw)
    return proc.returncode, proc.stderr, int(peak.read_text()) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_red_team_command_lines_are_one_line_exit_2(tmp_path):
    """Each case the red team found: one line on stderr, exit status 2, and the process
    stays small: refused before allocating.  Cap 400 MiB: importing satsim, NumPy,
    pandas and torch peaks at ≈ 315 MiB here (VmHWM; 70–140 MiB without torch), while
    the cases allocated 3–6.5 GB before."""
    pytest.importorskip("torch")
    pkg = tmp_path / "rt"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        import torch
        import satsim.init
        def big():
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10**6, 10))
        unpicklable = satsim.init.from_function(
            lambda shape, rng: rng.standard_normal(shape) * 0.05, name="unpicklable")
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = str(tmp_path / "o")
    cases = {
        "--sizes 784,,10": "`--sizes` (item 2) is empty",
        "--sizes 784 30 10": "`--sizes` (item 1) is not an integer",
        "--sizes 784,20000,20000,10": "GiB of memory (limit 4.0 GiB)",
        "--sizes 784,30,10 --scale test --epochs 1000000": "pass --force",
        "--torch rt:big --input-shape 1,1000,1000 --data none": "GiB of memory",
        "--sizes 784,30,10 --activation os:system": "`--activation`: 'os:system' is builtin",
        "--sizes 784,30,10 --init no_such_init": "`--init` (item 1) must be",
        "--sizes 784,30,10 --init rt:unpicklable --jobs 2 --scale test":
            "`--init`: 'rt:unpicklable' cannot name a stored run",
        "--sizes 784,30,10 --torch rt:big": "--torch and --sizes: give one",
        "--sizes 784,30,10 --epochs -1": "expected a non-negative integer",
    }
    peaks = {}
    for args, expected in cases.items():
        argv = ["analyze", *args.replace("784 30 10", "784_30_10").split(), "-o", out,
                "--no-pdf", "--quiet"]
        argv = [a.replace("784_30_10", "784 30 10") for a in argv]
        rc, err, peak = _run_measured(argv, tmp_path, env=env, cwd=tmp_path)
        peaks[args] = peak
        assert rc == 2, (args, err)
        assert err.count("\n") == 1 and expected in err, (args, err)
        assert peak < 400, (args, peak)
    print("peak MiB per case:", {k: round(v) for k, v in peaks.items()})


@pytest.mark.slow
def test_rerun_reuses_every_cell_and_reproduces_every_number(tmp_path):
    """The red-team case: two `--seed 0` runs into one -o DIR trained twice and gave
    different numbers (the store's key held an address).  The second run now finds every
    cell, trains nothing and writes the same tables."""
    out = tmp_path / "o"
    argv = [sys.executable, "-m", "satsim", "analyze", "--sizes", "784,30,10", "--init",
            "he_normal", "--init", "standard_normal", "--scale", "test", "--seed", "0",
            "-o", str(out), "--no-pdf", "--quiet"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    findings = (out / "findings.json").read_text()
    stores = list((out / "sweeps").iterdir())
    assert len(stores) == 1
    status = subprocess.run([sys.executable, "-m", "satsim", "sweep", "status", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert "4 done" in status.stdout or " 4" in status.stdout, status.stdout
    import sqlite3

    def finished(store):
        con = sqlite3.connect(store / "sweep.sqlite")
        try:
            return sorted(con.execute("SELECT key, finished FROM cells").fetchall())
        finally:
            con.close()

    before = finished(stores[0])
    assert len(before) == 4  # 2 schemes × 2 seeds (test scale)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert list((out / "sweeps").iterdir()) == stores  # the same store, no new one
    assert finished(stores[0]) == before  # no cell trained again
    assert (out / "findings.json").read_text() == findings


def test_sigterm_is_one_line_and_143(tmp_path):
    """SIGTERM during a sweep stops it like Ctrl-C: one line, exit 143 (it was a bare 143
    with no message); the cells finished before it are kept."""
    import signal
    import time

    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "satsim", "analyze", "--sizes", "784,300,100,10", "--init",
         "he_normal", "--init", "glorot_uniform", "--scale", "quick", "-o", str(out),
         "--no-pdf", "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.monotonic() + 120
    while not (out / "sweeps").exists() and proc.poll() is None:  # into the training sweep
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, (proc.returncode, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "terminated (SIGTERM)" in lines[0], err
    assert "rerun the same command to resume" in lines[0]


def test_no_hidden_layer_writes_its_report(tmp_path):
    """`--sizes 784,10` finished the analysis then crashed the report ("division by
    zero": a per-layer saturation figure with no rows); the figure now says there is
    nothing to draw and the overview says there is no hidden layer."""
    res = analyze([784, 10], ["he_normal"], scale="test", epochs=0, rng=0)
    assert "no hidden layer" in res.overview and ":;" not in res.overview
    paths = res.write_report(tmp_path, pdf=False)
    assert "nothing to draw" in paths["html"].read_text()


@pytest.mark.slow
def test_device_trains_with_the_torch_backend_and_matches_numpy(monkeypatch):
    """`--device` on the --sizes path (issue 19 §1): the cells train satsim's network on
    the torch backend; on the CPU (float64) the numbers are NumPy's to rounding (same
    initial weights and mini-batches), which the accuracy of 500 validation rows, a
    multiple of 1/500, shows exactly."""
    pytest.importorskip("torch")
    import satsim.analyze._numpy as an

    backends = []
    real = an._network

    def spy(*a, **k):
        net = real(*a, **k)
        backends.append(net.backend)
        return net

    monkeypatch.setattr(an, "_network", spy)
    kw = dict(scale="test", rng=0)
    numpy_run = analyze([784, 30, 10], ["he_normal"], **kw)
    torch_run = analyze([784, 30, 10], ["he_normal"], device="cpu", **kw)
    assert "torch" in backends and torch_run.params["device"] == "cpu"
    assert numpy_run.training.accuracy.tolist() == torch_run.training.accuracy.tolist()
