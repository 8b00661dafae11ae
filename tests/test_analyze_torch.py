"""satsim analyze --torch: a user's PyTorch model measured at init and trained per scheme."""

import math
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from satsim.analyze._torch import (  # noqa: E402
    _epoch_record,
    _findings,
    _summaries,
    analyze_torch,
)
from satsim.sweep._store import canonical, config_digest  # noqa: E402

MODELS = textwrap.dedent("""
    import torch
    def build():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 48),
                                   torch.nn.Tanh(), torch.nn.Linear(48, 24), torch.nn.ReLU(),
                                   torch.nn.Linear(24, 10))
""")


@pytest.fixture
def models(tmp_path, monkeypatch):
    pkg = tmp_path / "usermodels_at"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "usermodels_at:build"
    sys.modules.pop("usermodels_at", None)


def test_epoch_record_matches_autograd_and_hooks_written_here():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 3)).double()
    probe = torch.randn(64, 20, dtype=torch.float64) * 3
    probe_y = torch.randint(0, 3, (64,))
    Xv, yv = torch.randn(50, 20, dtype=torch.float64), torch.randint(0, 3, (50,))
    rows = {r["layer"]: r for r in _epoch_record(model, probe, probe_y, Xv, yv, epoch=0,
                                                 layer_kw={})}
    # gradients of the mean cross-entropy on the probe, by autograd
    loss = torch.nn.functional.cross_entropy(model(probe), probe_y)
    g0, g2 = torch.autograd.grad(loss, [model[0].weight, model[2].weight])
    assert rows["0"]["grad_sq"] == pytest.approx(float((g0 ** 2).sum()), rel=1e-12)
    assert rows["2"]["grad_sq"] == pytest.approx(float((g2 ** 2).sum()), rel=1e-12)
    # accuracy by hand
    acc = float((model(Xv).argmax(1) == yv).double().mean())
    assert rows["0"]["validation_accuracy"] == pytest.approx(acc, abs=1e-15)
    # saturation of the tanh layer, counted here: tanh(z) = 2σ(2z) - 1 is within ε = 0.01
    # of its range's ends, rescaled to (0, 1), when |tanh z| > 1 - 2ε
    z = model[0](probe).detach().numpy()
    bound = math.atanh(1 - 2 * 0.01)
    frac = float(np.mean(np.abs(z) > bound))
    assert rows["0"]["saturated"] == pytest.approx(frac, abs=1 / z.size)
    assert math.isnan(rows["2"]["saturated"])  # logits: no activation
    assert model[0].weight.grad is None


def test_summaries_are_t_intervals_over_seeds_computed_here():
    runs = pd.DataFrame({
        "scheme": ["a"] * 3, "seed": [0, 1, 2], "epoch": [1] * 3, "layer": ["0"] * 3,
        "layer_index": [1] * 3, "validation_accuracy": [0.6, 0.7, 0.65],
        "saturated": [0.1, 0.2, 0.3], "grad_sq": [1.0, 2.0, 4.0]})
    acc, lay = _summaries(runs, 0.95)
    v = np.array([0.6, 0.7, 0.65])
    half = stats.t.ppf(0.975, 2) * v.std(ddof=1) / math.sqrt(3)
    assert acc.accuracy.iloc[0] == pytest.approx(v.mean())
    assert acc.accuracy_ci_low.iloc[0] == pytest.approx(v.mean() - half)
    g = np.array([1.0, 2.0, 4.0])
    half = stats.t.ppf(0.975, 2) * g.std(ddof=1) / math.sqrt(3)
    assert lay.grad_sq_ci_high.iloc[0] == pytest.approx(g.mean() + half)
    assert lay.grad_sq_ci_low.iloc[0] == 0.0  # clipped: a squared norm is not negative


def test_training_finding_can_fail_and_be_undecided():
    def table(acc, lo, hi):
        return pd.DataFrame({"scheme": ["s"], "epoch": [2], "accuracy": [acc],
                             "accuracy_ci_low": [lo], "accuracy_ci_high": [hi],
                             "n_seeds": [3]})
    assert _findings(table(0.8, 0.75, 0.85), 10)[0].passed is True
    assert _findings(table(0.05, 0.04, 0.06), 10)[0].passed is False  # below chance
    assert _findings(table(0.11, 0.05, 0.2), 10)[0].passed is None  # straddles chance


def top_level_scheme(shape, rng):  # a user's sampling function, defined at top level
    return rng.standard_normal(shape) * 0.05


def test_canonical_description_has_no_address_and_refuses_lambdas():
    from satsim import init
    from satsim.nn import LSUV

    he = init.get("he_normal")
    text = repr(canonical([he, "glorot_uniform", analyze_torch]))
    assert "0x" not in text and "he_normal" in text and "analyze_torch" in text
    # parameters are part of it; arrays by their bytes; plain objects by attributes
    assert canonical(init.Normal(0, 0.1)) != canonical(init.Normal(0, 0.2))
    a = np.arange(12.0).reshape(3, 4)
    assert canonical(LSUV(a)) == canonical(LSUV(a.copy()))
    assert canonical(LSUV(a)) != canonical(LSUV(a + 1e-12))
    fn = init.from_function(top_level_scheme, name="mine")
    assert f"{__name__}:top_level_scheme" in repr(canonical(fn))
    assert "0x" not in repr(canonical(fn))
    with pytest.raises(TypeError, match="no canonical description"):
        canonical(lambda shape, rng: None)
    with pytest.raises(TypeError, match="no canonical description"):
        canonical(init.from_function(lambda shape, rng: rng.standard_normal(shape)))


def test_store_name_is_the_same_in_another_process():
    """The red-team case: a key that held an address changed on every run, so no rerun
    ever found its store.  Two interpreters must compute the same digest."""
    import subprocess

    code = ("import numpy as np; from satsim import init; from satsim.nn import LSUV; "
            "from satsim.sweep._store import config_digest; print(config_digest({'s': "
            "[init.get('he_normal'), LSUV(np.arange(6.0).reshape(2, 3))], 'n': 3}))")
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() for _ in range(2)}
    from satsim import init
    from satsim.nn import LSUV

    here = config_digest({"s": [init.get("he_normal"), LSUV(np.arange(6.0).reshape(2, 3))],
                          "n": 3})
    assert out == {here}


@pytest.mark.slow
def test_trains_each_scheme_resumes_and_reproduces(models, tmp_path, monkeypatch):
    import satsim.analyze._torch as at

    calls = []
    real = at._train_cell

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(at, "_train_cell", counting)
    kw = dict(scale="test", seeds=2, out=tmp_path / "o", rng=0)
    a = analyze_torch(models, "1,28,28", ["he_normal", "standard_normal"], **kw)
    assert len(calls) == 4  # 2 schemes × 2 seeds
    b = analyze_torch(models, (1, 28, 28), ["he_normal", "standard_normal"], **kw)
    assert len(calls) == 4  # every cell reused
    pd.testing.assert_frame_equal(a.training, b.training)
    pd.testing.assert_frame_equal(a.training_layers, b.training_layers)
    # the same seed without a store recomputes the same numbers
    c = analyze_torch(models, "1,28,28", ["he_normal", "standard_normal"], scale="test",
                      seeds=2, rng=0)
    pd.testing.assert_frame_equal(a.runs, c.runs)
    # every scheme × epoch × layer is there; N(0, 1) weights saturate the tanh layer
    assert set(a.training.epoch) == {0, 1}
    first = a.layers[a.layers.layer == "1"].set_index("scheme")
    # z ~ N(0, ‖x‖²) given x, ‖x‖ ≈ 6–15 on Fashion-MNIST rows: P(|z| > 2.30) ≈ 0.8
    assert first.loc["standard_normal", "saturated"] > 0.7
    assert first.loc["he_normal", "saturated"] < 0.05
    he = a.training[(a.training.scheme == "he_normal") & (a.training.epoch == 1)]
    assert float(he.accuracy.iloc[0]) > 0.4  # 1000 rows, 1 epoch: far above chance 0.1
    paths = a.write_report(tmp_path / "rep", pdf=False)
    html = paths["html"].read_text()
    assert "Gradient norm per layer" in html and "Validation accuracy" in html
    assert len(pd.read_csv(paths["training_layers"])) == len(a.training_layers)


def test_bad_inputs_name_the_parameter(models):
    with pytest.raises(ValueError, match="`scale`"):
        analyze_torch(models, "1,28,28", scale="huge")
    with pytest.raises(ValueError, match="input_shape"):
        analyze_torch(models, "1,28,27", scale="test", epochs=0)
    with pytest.raises(TypeError, match="`build`"):
        analyze_torch(3, "1,28,28", scale="test")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            analyze_torch(models, "1,28,28", scale="test", device="cuda")
