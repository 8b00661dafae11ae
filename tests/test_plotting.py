"""Typed figures: validation, no global state, and what each kind draws."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from satsim import plotting


def _lines_table():
    rows = []
    for init in ("standard_normal", "nielsen", "he_normal"):
        for act in ("sigmoid", "tanh"):
            for x in (1, 2, 3, 4, 5):
                rows.append({"initializer": init, "activation": act, "layer": x,
                             "y": x * 0.1 + len(init) * 0.01, "lo": x * 0.1 - 0.02,
                             "hi": x * 0.1 + 0.05, "pred": x * 0.1 + len(init) * 0.012})
    return {"t": pd.DataFrame(rows)}


def test_import_touches_no_matplotlib_state():
    code = ("import sys, satsim.plotting; print('matplotlib' in sys.modules); "
            "import matplotlib; matplotlib.use('svg'); matplotlib.rcParams['lines.linewidth'] "
            "= 7.5; import pandas as pd; from satsim.plotting import LinePlot; "
            "t = pd.DataFrame({'x': [1, 2], 'y': [3, 4]}); "
            "LinePlot(id='a', table='t', title='T', caption='c', x='x', y='y')"
            ".render({'t': t}); print(matplotlib.get_backend(), "
            "matplotlib.rcParams['lines.linewidth'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    assert out == ["False", "svg", "7.5"]  # lazy import; the user's backend and rc kept


def test_plot_outside_ipython_touches_no_pyplot_state():
    # A script (or the report, or a worker): a bare Figure each time, none registered
    # with pyplot, so a loop of plots cannot pile up figures there.
    code = ("import numpy as np, matplotlib; matplotlib.use('Agg'); "
            "from satsim import saturation; "
            "res = saturation.fraction(np.random.default_rng(0).normal(0, 3, (50, 20)), "
            "activation='tanh'); axes = [res.plot() for _ in range(25)]; "
            "import matplotlib.pyplot as plt; "
            "print(plt.get_fignums(), type(axes[0].figure).__name__)")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    assert out == ["[]", "Figure"]


def test_plot_displays_in_a_notebook_without_asking(tmp_path):
    # A real kernel: `res.plot()` as a cell's last line leaves one PNG in the outputs
    # (the inline backend shows pyplot figures), with no `%matplotlib` magic.
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import numpy as np\nimport matplotlib.pyplot as plt\nfrom satsim import saturation\n"
        "res = saturation.fraction(np.random.default_rng(0).normal(0, 3, (50, 20)), "
        "activation='tanh')\nres.plot();")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert "image/png" in outputs[0].data


@pytest.mark.parametrize("field, value, error, message", [
    ("id", "", TypeError, "`id` must be a non-empty string"),
    ("x", 3, TypeError, "`x` must be a non-empty string; got x=3"),
    ("size", (6, -1), ValueError, "`size` must be"),
])
def test_fields_are_validated(field, value, error, message):
    kw = dict(id="f", table="t", title="T", caption="c", x="x", y="y")
    kw[field] = value
    with pytest.raises(error, match=message):
        plotting.LinePlot(**kw)


def test_a_misspelt_field_is_an_error_naming_it():
    with pytest.raises(TypeError, match="bnad"):
        plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y", bnad=("a",))
    d = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y").to_dict()
    assert plotting.figure_from_dict(d) == plotting.LinePlot(id="f", table="t", title="T",
                                                            caption="c", x="x", y="y")
    with pytest.raises(TypeError, match=r"LinePlot has no field\(s\) \['colour'\]; valid"):
        plotting.figure_from_dict({**d, "colour": "red"})
    with pytest.raises(ValueError, match="figure kind must be one of"):
        plotting.figure_from_dict({**d, "kind": "pie"})


def test_missing_columns_and_tables_are_named():
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="layer", y="nope")
    with pytest.raises(ValueError, match=r"has no column\(s\) \['nope'\]"):
        fig.render(_lines_table())
    with pytest.raises(ValueError, match="needs table 'other'"):
        plotting.LinePlot(id="f", table="other", title="T", caption="c", x="a",
                          y="b").render(_lines_table())


def test_facets_hues_bands_and_references():
    spec = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="layer", y="y",
                             hue="initializer", col="activation", band=("lo", "hi"),
                             ref="pred", integer_x=True)
    fig = spec.render(_lines_table())
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["sigmoid", "tanh"]
    for ax in axes:
        solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(solid) == len(dashed) == 3
        assert len(ax.collections) == 3  # one band per series
        # the same initializer has the same colour in every panel and figure
        assert solid[0].get_color() == plotting.color_for("standard_normal")
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "standard_normal", "nielsen", "he_normal", "measured", "prediction"]


def test_too_many_series_on_one_axes_is_refused():
    t = pd.DataFrame({"s": [f"s{i}" for i in range(12)], "x": range(12), "y": range(12)})
    spec = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y", hue="s")
    with pytest.raises(ValueError, match="12 series on one axes"):
        spec.render({"t": t})


def test_legend_entries_are_words_not_booleans():
    t = pd.DataFrame({"dep": [True, False], "c": ["a", "b"], "v": [1.0, 2.0]})
    with pytest.raises(TypeError, match="True/False"):
        plotting.BarPlot(id="f", table="t", title="T", caption="c", category="c", value="v",
                         hue="dep").render({"t": t})


def test_log_axes_have_plain_number_labels():
    t = pd.DataFrame({"x": [1, 2, 4, 8, 16, 32, 64, 128], "y": np.geomspace(0.5, 0.004, 8)})
    fig = plotting.LinePlot(id="f", table="t", title="T", caption="c", x="x", y="y",
                            logx=True, logy=True).render({"t": t})
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 4 and all("^" not in lab and "$" not in lab for lab in labels)
    assert "10" in labels and "100" in labels


def test_svg_is_vector_with_text_and_unique_ids():
    t = _lines_table()
    spec = plotting.LinePlot(id="f", table="t", title="Title here", caption="c", x="layer",
                             y="y", hue="initializer", col="activation")
    a = plotting.to_svg(spec.render(t), prefix="one")
    b = plotting.to_svg(spec.render(t), prefix="two")
    assert a.startswith("<svg") and "<text" in a and "Title here" in a
    ids_a = set(__import__("re").findall(r'id="([^"]+)"', a))
    ids_b = set(__import__("re").findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert plotting.HeatmapPlot.raster and not plotting.LinePlot.raster


def test_hero_writes_the_predicted_fractions():
    z = np.linspace(-60, 60, 241)
    rows = [pd.DataFrame({"initializer": n, "z": z,
                          "density": np.exp(-0.5 * (z / s) ** 2) / (s * np.sqrt(2 * np.pi))})
            for n, s in (("standard_normal", 22.4), ("nielsen", 1.22))]
    tables = {"h": pd.concat(rows), "p": pd.DataFrame({
        "initializer": ["standard_normal", "nielsen"], "predicted_saturated": [0.8373, 1.755e-4]})}
    fig = plotting.SaturationHero(id="hero", table="h", predictions="p", title="T",
                                  caption="c").render(tables)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "83.7%" in texts and "0.0175%" in texts
    assert len(fig.axes) == 3  # σ and σ′, then one density row per initializer
    assert all(ax.get_xlim() == (-60.0, 60.0) for ax in fig.axes)  # one z axis


# ------------------------------------------------------------------ results in a notebook
@pytest.fixture(scope="module")
def results():
    import satsim
    from satsim import components, inputs, meanfield, saturation

    pre = satsim.simulate("nielsen", inputs.nielsen(), n_samples=5_000, rng=1)
    var = satsim.check_sum_variance(components.independent(
        __import__("scipy").stats.norm(), 500, k=3, rng=2), margin=0.1)
    z = np.random.default_rng(3).normal(0, 3, size=(40, 50))
    prop = saturation.fraction(z)
    deep = meanfield.propagate("nielsen", "tanh", depth=3, width=60, n_probe=20, rng=4)
    phase = meanfield.phase_diagram(np.linspace(0.5, 3, 6), np.linspace(0, 0.2, 4))
    return {"pre": pre, "var": var, "prop": prop, "deep": deep, "phase": phase}


@pytest.mark.parametrize("key", ["pre", "var", "prop", "deep", "phase"])
def test_results_have_a_short_repr_an_html_table_and_a_plot(results, key):
    from matplotlib.axes import Axes

    res = results[key]
    text = repr(res)
    assert text.startswith(f"<{type(res).__name__}") and len(text.splitlines()) <= 9
    assert len(text) < 1500 and "array(" not in text  # no raw histogram arrays
    assert "<table" in res._repr_html_()
    ax = res.plot()
    assert isinstance(ax, Axes) and (ax.get_lines() or ax.collections or ax.patches)
    from matplotlib.figure import Figure

    mine = Figure().subplots()
    assert res.plot(ax=mine) is mine  # draws onto the Axes it is given


def test_a_result_with_nothing_to_look_at_has_no_plot():
    import satsim

    res = satsim.fit.fit_distribution(np.random.default_rng(0).normal(size=300))
    assert not hasattr(res, "plot")
    with pytest.raises(TypeError, match="has nothing to plot"):
        plotting.plot_result(res)


def test_the_readme_figures_example_runs():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in readme.split("```python\n")[1:]
                 if b.startswith("import satsim\nfrom satsim import inputs, plotting"))
    namespace: dict = {}
    exec(compile(block.split("```")[0], "README.md", "exec"), namespace)
    assert namespace["fig"].axes and namespace["ax"].get_lines()


def test_history_is_frozen_short_and_plots():
    import dataclasses as dc

    from satsim import data
    from satsim.nn import Network

    ds = data.load("fashion-mnist")
    X, y = ds.train[0][:300], ds.train[1][:300]
    hist = Network([784, 10, 10], rng=0).fit(X, y, epochs=2, batch_size=10, eta=0.1,
                                               validation=(X[:50], y[:50]))
    with pytest.raises(dc.FrozenInstanceError):
        hist.stopped_early = True
    assert len(repr(hist).splitlines()) <= 3 and "<table" in hist._repr_html_()
    axes = hist.plot()
    assert len(axes) == 3 and all(a.get_lines() for a in axes)
    assert [t for t in axes[0].get_xticks() if 0 <= t <= 2] == [0, 1, 2]  # integer epochs
