"""The trainability study (studies/trainability.py) end to end at test scale."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from satsim import meanfield
from satsim.plotting import HeatmapPlot, figure_from_dict
from satsim.study import StudyResult, load_study, run_study, study_params

NAME = "trainability"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("trainability")
    return out, run_study(NAME, scale="test", seed=0, out=out)


def test_tables_have_the_grid_shape_and_accuracies_are_proportions(study):
    _, res = study
    p = study_params(load_study(NAME), "test")
    heat = res.tables["heatmap"]
    assert len(heat) == len(p.depths) * len(p.weight_variances)  # no relative depths
    assert set(heat.depth) == set(p.depths)
    assert set(heat.weight_variance) == set(p.weight_variances)
    assert (heat.seeds == p.seeds).all()
    curves = res.tables["accuracy"]
    # one row per cell, seed and checkpoint (step 0 = at initialization)
    assert len(curves) == len(heat) * p.seeds * (p.checkpoints + 1)
    assert set(curves.step) == {0, *np.linspace(0, p.steps, p.checkpoints + 1)
                                .round().astype(int)[1:]}
    # the pre-registered learning-rate rule, per depth
    module = load_study(NAME)
    assert (curves.eta == [module.learning_rate(d, p.eta_max, p.eta_depth)
                           for d in curves.depth]).all()
    relu = res.tables["relu_accuracy"]
    assert set(relu.depth) == {p.relu_shallow, p.relu_deep}
    assert set(relu.init) == {"glorot_normal", "he_normal"}
    for frame, col in ((curves, "validation_accuracy"), (heat, "accuracy"),
                       (relu, "accuracy"), (res.tables["relu_curves"], "validation_accuracy")):
        assert frame[col].between(0, 1).all(), col
    grads = res.tables["relu_gradients"]
    # every weight layer of both networks (hidden layers + output), both initializers
    assert len(grads) == 2 * (p.relu_shallow + 1 + p.relu_deep + 1)
    assert (grads[grads.init == "he_normal"].ratio_to_he == 1).all()


def test_learning_rate_rule_and_depth_grid():
    module = load_study(NAME)
    # η·L = 0.3: 0.03 at 10 layers (the shallow pilot), 1e-3 at 300 (Schoenholz et al.)
    assert module.learning_rate(10, 0.03, 0.3) == pytest.approx(0.03)
    assert module.learning_rate(300, 0.03, 0.3) == pytest.approx(1e-3)
    assert module.learning_rate(4, 0.03, 0.3) == 0.03  # capped for shallow networks
    p = dataclasses.replace(study_params(module, "quick"))
    six = {1.0: 21.8, 1.5: 94.7, 1.75: 2557.0, 2.5: 70.8, 4.0: 41.9}
    grid = module.depth_grid(p, six)
    # 0.5, 1, 2 × 21.8 = 10.9, 21.8, 43.6 → ladder depths 12, 24, 40 (nearest in log)
    assert grid[1.0] == sorted({4, 8, 16, 32, 48, 12, 24, 40})
    assert max(max(v) for v in grid.values()) == p.max_depth
    assert grid[1.75] == [4, 8, 16, 32, 48]  # 6ξ_c beyond the deepest depth tried


def test_6xi_c_is_six_times_the_mean_field_depth_scale(study):
    _, res = study
    p = study_params(load_study(NAME), "test")
    for table in ("heatmap", "trainable_depth"):
        t = res.tables[table]
        _, xi_c = meanfield.depth_scales(t.weight_variance.to_numpy(), p.bias_variance,
                                         activation="tanh")
        np.testing.assert_allclose(t.six_xi_c, 6 * np.asarray(xi_c), rtol=1e-12)


def test_cell_verdicts_are_one_sided_t_tests_over_seeds(study):
    """Recomputed here with scipy's t test on the per-network accuracies."""
    from scipy import stats

    from satsim import data

    _, res = study
    p = study_params(load_study(NAME), "test")
    val = data.load("fashion-mnist").validation[1][:p.validation_size]
    chance = load_study(NAME).chance_level(val)
    assert 0.08 < chance < 0.2  # ten roughly balanced classes
    curves = res.tables["accuracy"]
    final = curves[curves.step == p.steps]
    for row in res.tables["heatmap"].itertuples():
        a = final[(final.weight_variance == row.weight_variance)
                  & (final.depth == row.depth)].validation_accuracy.to_numpy()
        up = stats.ttest_1samp(a, chance + p.margin, alternative="greater").pvalue
        down = stats.ttest_1samp(a, chance + p.margin, alternative="less").pvalue
        expect = ("trainable" if up < p.alpha else "untrainable" if down < p.alpha
                  else "undecided")
        assert row.verdict == expect, (row, up, down)


def test_trainable_depth_is_the_deepest_trainable_cell(study):
    _, res = study
    heat, per_w = res.tables["heatmap"], res.tables["trainable_depth"]
    for row in per_w.itertuples():
        ok = heat[(heat.weight_variance == row.weight_variance)
                  & (heat.verdict == "trainable")]
        assert row.trainable_depth == (ok.depth.max() if len(ok) else 0)


def test_findings_are_decided_or_say_why(study):
    _, res = study
    ids = {f.id for f in res.findings}
    assert ids == {"shallow_cells_train", "deepest_critical_trains",
                   "critical_trains_deepest", "none_trainable_beyond_6xi_c",
                   "depth_ratio_6xi_c", "relu30_xavier_stalls_he_trains",
                   "relu22_both_train", "relu22_he_first", "xavier_gradient_ratio"}
    for f in res.findings:
        assert f.method.strip()
        if f.passed is None:
            assert str(f.observed).startswith("undecided"), (f.id, f.observed)
    # a 40-step budget cannot test the asymptotic constant; the grid has no cell that deep
    assert res.finding("depth_ratio_6xi_c").passed is None
    assert res.finding("none_trainable_beyond_6xi_c").passed is None


def test_heatmap_figure_validates_and_renders(study):
    out, res = study
    heat = [f for f in res.figures if f.id == "heatmap"]
    assert len(heat) == 1 and isinstance(heat[0], HeatmapPlot)
    assert figure_from_dict(heat[0].to_dict()) == heat[0]
    assert heat[0].line_table == "overlay"
    overlay = res.tables["overlay"]
    assert set(overlay.curve) == {"6 xi_c", "critical"}
    crit = overlay[overlay.curve == "critical"].weight_variance
    np.testing.assert_allclose(crit, meanfield.critical_weight_variance(0.05), rtol=1e-12)
    for fig in res.figures:  # every figure draws from the saved tables
        fig.render(res.tables)
    back = StudyResult.load(out / NAME)
    assert [f.to_dict() for f in back.figures] == [f.to_dict() for f in res.figures]


def test_rerun_with_the_same_out_reuses_the_sweep_stores(study, monkeypatch):
    out, first = study
    module = load_study(NAME)

    def no_network(*args, **kwargs):
        raise AssertionError("a finished cell was recomputed")

    # a helper the cell calls first, not the cell itself: the store refuses a cell
    # function whose code changed (satsim.sweep's code fingerprint)
    monkeypatch.setattr(module, "_network", no_network)
    again = run_study(NAME, scale="test", seed=0, out=out)  # reuse=False: run() again
    for key in ("heatmap", "relu_gradients", "accuracy"):
        pd.testing.assert_frame_equal(again.tables[key], first.tables[key])
    assert list(out.glob(f"{NAME}/sweeps/test-seed0-*/tanh/sweep.sqlite"))
    assert list(out.glob(f"{NAME}/sweeps/test-seed0-*/relu/sweep.sqlite"))


def test_layer_gradients_match_the_training_telemetry():
    from satsim import data
    from satsim.nn.network import Network

    module = load_study(NAME)
    X, y = data.load("fashion-mnist").train
    X, y = X[:64], y[:64]
    net = Network([784, 12, 12, 10], activation="relu", output="softmax",
                  cost="log_likelihood", init="he_normal", bias_init="zeros", rng=3)
    mine = module.layer_gradients(net, X, y)
    # probe_size = all rows: the telemetry's probe is then exactly X, y
    h = net.fit(X, y, epochs=0, batch_size=8, eta=0.1, telemetry=True,
                monitor_training=False, probe_size=len(X), rng=0)
    tele = pd.DataFrame(h.layers)
    np.testing.assert_allclose(mine.grad_norm, tele.grad_norm, rtol=1e-10)
    np.testing.assert_allclose(mine.z_rms, np.hypot(tele.z_mean, tele.z_std), rtol=1e-10)


def test_predicted_gradient_ratio_is_the_product_of_the_other_layers_scales():
    module = load_study(NAME)
    # equal widths: c_k² = 1/2 for every layer, so each layer's ratio is 2^{-(L-1)/2}
    np.testing.assert_allclose(module.predicted_gradient_ratio([8] * 5), 2.0 ** -1.5)
    r = module.predicted_gradient_ratio([784, 64, 64, 10])
    c2 = np.array([784 / 848, 64 / 128, 64 / 74])
    np.testing.assert_allclose(r, [np.sqrt(c2[1] * c2[2]), np.sqrt(c2[0] * c2[2]),
                                   np.sqrt(c2[0] * c2[1])])


@pytest.mark.slow
def test_process_executor_gives_the_serial_result(study, tmp_path):
    _, serial = study
    # the process executor runs every network alone (a batch of one), the serial one
    # in batches per depth: the results must not depend on it
    par = run_study(NAME, scale="test", seed=0, out=tmp_path, executor="process", workers=2)
    for key in ("heatmap", "relu_gradients"):
        pd.testing.assert_frame_equal(par.tables[key], serial.tables[key])


@pytest.mark.slow
def test_torch_backend_gives_the_numpy_result(study, tmp_path):
    pytest.importorskip("torch")
    _, numpy_run = study
    torch_run = run_study(NAME, scale="test", seed=0, out=tmp_path,
                          overrides={"backend": "torch", "device": "cpu"})
    for key in ("heatmap", "relu_gradients", "accuracy"):
        a, b = numpy_run.tables[key], torch_run.tables[key]
        # float64 on both: equal to rounding (accuracies are counts / n, identical)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


@pytest.mark.slow
def test_dask_executor_gives_the_serial_result(study, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, serial = study
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as lc, \
            distributed.Client(lc) as client:
        par = run_study(NAME, scale="test", seed=0, out=tmp_path, executor=client)
    for key in ("heatmap", "relu_gradients"):
        pd.testing.assert_frame_equal(par.tables[key], serial.tables[key])


def test_device_cuda_without_cuda_is_one_line(tmp_path):
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = subprocess.run([sys.executable, "-m", "satsim", "run", NAME, "--scale", "test",
                          "--device", "cuda", "-o", str(tmp_path)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "CUDA is not available" in out.stderr


def test_report_device_cuda_without_cuda_is_one_line_before_any_study(tmp_path):
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = subprocess.run([sys.executable, "-m", "satsim", "report", "clt", NAME, "--scale",
                          "test", "--device", "cuda", "--no-pdf", "-o", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "--device cuda" in out.stderr
    assert "CUDA is not available" in out.stderr
    assert not (tmp_path / "r" / "studies").exists()  # checked before clt ran


@pytest.mark.slow
def test_report_device_reaches_the_studies_with_a_torch_backend_only(tmp_path, capsys):
    pytest.importorskip("torch")
    from satsim.cli import main

    out = tmp_path / "r"
    assert main(["report", "clt", NAME, "--scale", "test", "--device", "cpu", "--no-pdf",
                 "--jobs", "1", "--quiet", "-o", str(out)]) == 0
    prov = {name: json.loads(next((out / "studies").glob(f"{name}/**/result.json"))
                             .read_text())["provenance"]
            for name in ("clt", NAME)}
    assert prov[NAME]["overrides"] == {"device": "cpu"}
    assert prov[NAME]["params"]["device"] == "cpu"
    assert prov["clt"]["overrides"] == {}  # clt has no device: untouched
