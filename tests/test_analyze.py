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
        (dict(sizes="784,30,x"), ValueError, r"`sizes\[2\]` must be a positive integer"),
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
    assert "sizes[1]" in bad.stderr


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
         "-o", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
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
