"""The report as a reader meets it: a real browser at two widths, the PDF's pages."""

import html as htmllib
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from satsim.study import run_study

STUDIES = ["z_distribution", "variance_additivity", "clt", "saturation", "deep_propagation",
           "learning_slowdown", "init_training", "costs_and_regularization"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from satsim.report import write_report

    out = tmp_path_factory.mktemp("report")
    results = [run_study(n, scale="test", seed=0, out=out / "studies", reuse=True)
               for n in STUDIES]
    paths = write_report(results, out)
    return paths, results


@pytest.mark.slow
def test_report_teaches_before_it_audits(report):
    """The three questions come first (after the short answers), each with rendered
    mathematics, a measurement with its interval and a figure; then the audit."""
    paths, _ = report
    html = paths["html"].read_text()
    order = [html.index(f'id="{i}"') for i in ("answer", "q1", "q2", "q3", "key-numbers",
                                                "z_distribution", "findings", "provenance")]
    assert order == sorted(order), order
    for q in ("q1", "q2", "q3"):
        section = html[html.index(f'<section id="{q}"'):]
        section = section[:section.index("</section>")]
        assert "<math" in section and "</math>" in section  # MathML, not TeX source
        assert "CI [" in section and '<div class="measure">' in section
        assert "<figure" in section or 'class="explorer"' in section
        assert 'class="audit-link"' in section
    first = html[html.index('id="answer"'):html.index('id="q1"')]
    for q in ("Why do variances of independent sums add?", "Why is z ~ N(0, 501)",
              "Why does that saturate hidden neurons"):
        assert q in first, q
    # one environment table; per study only what differs
    prov = html[html.index('id="provenance"'):]
    assert prov.count("numpy") == 1 and prov.count("<h3>") == 2


@pytest.mark.slow
def test_every_saturated_fraction_says_its_setting(report):
    """A saturated fraction is meaningless without its inputs, network and criterion."""
    paths, _ = report
    html = paths["html"].read_text()
    keys = html[html.index('id="key-numbers"'):html.index("</section>", html.index(
        'id="key-numbers"'))]
    rows = re.findall(r"<tr><td>(.*?)</td>", keys, flags=re.S)
    saturated = [r for r in rows if "saturated" in r]
    assert len(saturated) >= 4
    for r in saturated:
        r = htmllib.unescape(r)
        assert "ln 99" in r and ("inputs" in r or "images" in r), r
        assert "N(0, 1" in r, r
    q3 = html[html.index('<section id="q3"'):]
    q3 = htmllib.unescape(q3[:q3.index("</section>")])
    assert "n_in = " in q3 and "N(0, 1) weights and bias" in q3


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 800])
def test_report_in_a_real_browser(report, width):
    paths, _ = report
    _check_in_browser(paths["html"], width, min_svgs=15,
                      hero=("#z_distribution-hero", "predicted saturated"))


def _sigmoid_saturated(var_z: float) -> float:
    # independent closed form: P(|z| > ln 99) for z ~ N(0, var_z)
    from scipy import stats

    return float(2 * stats.norm.sf(math.log(99) / math.sqrt(var_z)))


def _slowdown(var_z: float) -> float:
    # E σ'(z) / σ'(0) for z ~ N(0, var_z), by adaptive quadrature
    from scipy import integrate, stats

    s = math.sqrt(var_z)
    def f(z):  # σ'(z) = e^{-|z|}/(1 + e^{-|z|})², written so it cannot overflow
        e = math.exp(-abs(z))
        return stats.norm.pdf(z, scale=s) * e / (1 + e) ** 2

    val, _ = integrate.quad(f, -np.inf, np.inf, limit=200)
    return val / 0.25


def _tanh_phase(sw2: float, sb2: float) -> tuple[float, float]:
    # q* by iterating the length map, χ1 at q*, with 201-point Gauss–Hermite (probabilists')
    u, w = np.polynomial.hermite_e.hermegauss(201)
    w = w / w.sum()
    q = 1.0
    for _ in range(2000):
        q = sw2 * float(np.sum(w * np.tanh(math.sqrt(q) * u) ** 2)) + sb2
    chi = sw2 * float(np.sum(w / np.cosh(math.sqrt(q) * u) ** 4))
    return q, chi


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_sliders_recompute_the_closed_forms_in_the_page(report):
    """A teacher presses the presets and moves the sliders: the page shows the numbers
    an independent computation gives (to the precision it prints)."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    paths, _ = report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(paths["html"].as_uri(), wait_until="load")

            def readout(name):
                return page.evaluate("""(name) => {
                    for (const d of Bokeh.documents) {
                        const m = d.get_model_by_name(name); if (m) return m.text; }
                    return null; }""", name)

            def set_value(name, value):
                page.evaluate("""([name, value]) => {
                    for (const d of Bokeh.documents) {
                        const m = d.get_model_by_name(name); if (m) { m.value = value; } } }""",
                              [name, value])

            page.wait_for_function("""() => Bokeh.documents.some(d => {
                const m = d.get_model_by_name('readout'); return m && m.text.length > 0; })""",
                                   timeout=20_000)
            # as loaded: Nielsen's N(0, 1) weights, 1000 inputs, 500 active
            text = htmllib.unescape(readout("readout"))
            assert "Var z = 500·1 + 1 = <b>501</b>" in text, text
            page.get_by_role("button", name="N(0, 1/n_in) weights").click()
            page.wait_for_timeout(300)
            text = htmllib.unescape(readout("readout"))
            assert f"{100 * _sigmoid_saturated(1.5):.3g}%" == "0.0175%"
            assert "<b id=\"sat-value\">0.0175%</b>" in text, text
            assert f"{_slowdown(1.5):.3g}" in text, (text, _slowdown(1.5))
            page.get_by_role("button", name="N(0, 1) weights", exact=True).click()
            page.wait_for_timeout(300)
            text = htmllib.unescape(readout("readout"))
            assert "<b id=\"sat-value\">83.7%</b>" in text, text
            assert f"{100 * _sigmoid_saturated(501):.3g}%" == "83.7%"
            assert f"{_slowdown(501):.3g}" in text, (text, _slowdown(501))
            # other settings: 200 inputs, 50 active, σ_w² = 10^-0.5
            set_value("n_in", 200)
            set_value("active", 50)
            set_value("log_sigma_w2", -0.5)
            page.wait_for_timeout(300)
            text = htmllib.unescape(readout("readout"))
            var = 50 * 10 ** -0.5 + 1
            assert f">{100 * _sigmoid_saturated(var):.3g}%<" in text, (text, var)
            assert f"{_slowdown(var):.3g}" in text, (text, _slowdown(var))
            # the phase diagram: q*, χ1 at σ_w² = 1 and 2.5 (σ_b² = 0.05)
            for sw2 in (1.0, 2.5):
                set_value("phase_sigma_w2", sw2)
                page.wait_for_timeout(200)
                text = htmllib.unescape(readout("phase_readout"))
                q, chi = _tanh_phase(sw2, 0.05)
                assert f"q* = <b>{float(f'{q:.4g}'):g}</b>" in text, (text, q)
                assert f"χ1 = <b>{float(f'{chi:.4g}'):g}</b>" in text, (text, chi)
                assert ("ordered" if chi < 1 else "chaotic") in text
            assert errors == []
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_no_raw_markup_and_math_is_laid_out(report):
    """What a reader sees (the browser's rendered text, the PDF's text) has no
    reStructuredText left in it, and MathML formulas have a real layout."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    paths, _ = report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(paths["html"].as_uri(), wait_until="load")
            text = page.inner_text("body")
            boxes = page.evaluate("""() => Array.from(document.querySelectorAll(
                'section.lesson math')).map(m => { const r = m.getBoundingClientRect();
                return [r.width, r.height, !!m.querySelector('mfrac, msup, msub, munderover')]; })""")
            frac = page.evaluate("""() => { const f = document.querySelector('section.lesson mfrac');
                const [a, b] = f.children; return a.getBoundingClientRect().bottom <=
                b.getBoundingClientRect().top + 1; }""")
        finally:
            browser.close()
    for raw in ("``", ":func:", ":meth:", ":class:", "**", ".. math::", ":math:",
                "System Message", "\\frac", "\\operatorname"):
        assert raw not in text, raw
    assert len(boxes) >= 10 and all(w > 5 and h > 5 for w, h, _ in boxes), boxes
    assert frac  # a fraction's numerator is laid out above its denominator
    pdf_text = subprocess.run(["pdftotext", str(paths["pdf"]), "-"], capture_output=True,
                              text=True, check=True, timeout=300).stdout
    for raw in ("``", ":func:", ":meth:", "**", ":math:", "System Message", "\\frac"):
        assert raw not in pdf_text, raw
    assert "Why do variances of independent sums add?" in pdf_text


@pytest.mark.slow
def test_split_tables_repeat_their_key_columns(report):
    """Every part of a split table starts with the table's key columns, so a row can be
    told apart in any part; and no shown column is constant over all rows."""
    paths, _ = report
    html = paths["html"].read_text()
    tables = re.findall(r'<table class="data" data-table="([^"]*)" data-key="(\d+)">(.*?)'
                        r"</table>", html, flags=re.S)
    parts: dict[str, list[list[str]]] = {}
    for ident, key, body in tables:
        study, title, _part = ident.split("/")
        header = [htmllib.unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
        parts.setdefault(f"{study}/{title}", []).append(header[:int(key)])
        rows = [[htmllib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
                for r in re.findall(r"<tr><td.*?</tr>", body, flags=re.S)]
        if len(rows) > 1:
            for j, col in enumerate(header):
                assert len({r[j] for r in rows}) > 1 or len(header) == 1, (ident, col)
    split = {k: v for k, v in parts.items() if len(v) > 1}
    assert "clt/clt" not in split or all(v == split["clt/clt"][0] for v in split["clt/clt"])
    for name, keys in split.items():
        assert all(k == keys[0] for k in keys), (name, keys)


@pytest.fixture(scope="module")
def analysis_report(tmp_path_factory):
    from satsim.analyze import analyze

    out = tmp_path_factory.mktemp("analysis")
    res = analyze([784, 60, 30, 10], ["he_normal", "glorot_uniform", "lsuv"], scale="test",
                  rng=0)
    return res.write_report(out), res


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 800])
def test_analysis_report_in_a_real_browser(analysis_report, width):
    """``satsim analyze``'s report (same renderer) passes the same reader checks."""
    paths, res = analysis_report
    _check_in_browser(paths["html"], width, min_svgs=6, hero=None)
    html = paths["html"].read_text()
    assert res.overview.split(".")[0] in html  # the plain-language summary opens it
    assert paths["pdf"].stat().st_size > 10_000


def _check_in_browser(html_path: Path, width: int, *, min_svgs: int,
                      hero: tuple[str, str] | None) -> None:
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html_path.as_uri(), wait_until="load")
            assert page.evaluate("document.documentElement.scrollWidth") == width
            past = page.evaluate("""() => Array.from(document.querySelectorAll(
                'table, figure, svg, img, pre, h1, h2, h3, p')).filter(e =>
                e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e =>
                e.tagName + '#' + ((e.closest('[id]') || {}).id || ''))""")
            assert past == [], past
            images = page.evaluate("""() => Array.from(document.images).map(i =>
                [i.complete && i.naturalWidth > 0, i.alt])""")
            assert all(ok for ok, _ in images), images  # raster figures decode
            svgs = page.evaluate("""() => Array.from(document.querySelectorAll('figure svg'))
                .map(s => s.getBoundingClientRect().height)""")
            assert len(svgs) >= min_svgs and min(svgs) > 50  # vector figures laid out
            # every table-of-contents link points at an element that exists
            broken = page.evaluate("""() => Array.from(document.querySelectorAll(
                'nav a[href^="#"], a[href^="#"]')).map(a => a.getAttribute('href').slice(1))
                .filter(id => !document.getElementById(id))""")
            assert broken == []
            assert errors == []
            if hero is not None:
                # text in figures is text (selectable), not paths
                assert page.evaluate("""([sel, hero]) => Array.from(document.querySelectorAll(
                    sel + ' svg text')).some(t => t.textContent.includes(hero))""", list(hero))
            shot = page.screenshot(full_page=False)
        finally:
            browser.close()
    from io import BytesIO

    from PIL import Image

    px = np.asarray(Image.open(BytesIO(shot)).convert("L"), dtype=float)
    assert px.std() > 10 and (px < 200).mean() > 0.01  # text and figures, not blank


def _words(pdf: Path) -> list[dict]:
    """Words per page with their boxes (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=300).stdout
    pages = []
    for chunk in out.split("<page ")[1:]:
        width = float(re.search(r'width="([\d.]+)"', chunk).group(1))
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)'
            r"</word>", chunk)]
        pages.append({"width": width, "words": words})
    return pages


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_fits_the_page_and_repeats_table_headers(report, tmp_path):
    import html as htmllib

    import weasyprint

    from satsim.report import build_document, render_html

    paths, results = report
    pages = _words(paths["pdf"])
    printed = render_html(build_document(results), target="print")  # what the PDF was made of
    assert len(pages) == len(weasyprint.HTML(string=printed).render().pages)
    right_margin = 13 * 72 / 25.4  # @page margin 13 mm
    for i, page in enumerate(pages, 1):
        past = [w for w in page["words"] if w[2] > page["width"] - right_margin + 0.5]
        assert not past, (i, past[:5])
    # each data table's header words are on every page where its rows are
    html = printed
    checked = 0
    for table in re.findall(r'<table class="data".*?</table>', html, flags=re.S):
        header = [htmllib.unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
        hwords = {t for h in header for t in h.split()}
        rows = [[htmllib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for row in re.findall(r"<tr><td.*?</tr>", table, flags=re.S)]
        # a row is on a page when all its (≥ 4 distinct) words are: then so is the header
        signatures = [{t for c in r for t in c.split()} for r in rows]
        signatures = [sig for sig in signatures if len(sig) >= 4]
        for page in pages:
            words = {w[4] for w in page["words"]}
            if any(sig <= words for sig in signatures):
                assert hwords & words, header
                checked += 1
    assert checked >= 3
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(paths["pdf"]), str(tmp_path / "p")],
                   check=True, timeout=300)
    from PIL import Image

    for png in sorted(tmp_path.glob("p-*.png")):
        px = np.asarray(Image.open(png).convert("L"), dtype=float)
        assert (px < 200).mean() > 0.001, png.name  # every page has ink


@pytest.mark.slow
def test_every_report_figure_is_readable(report):
    """On the figure objects themselves: series per axes, legends off the data,
    integer ticks on integer axes, words in legends."""
    from satsim import plotting

    _, results = report
    checked = 0
    for res in results:
        for spec in res.figures:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            fig = spec.render(res.tables)
            canvas = FigureCanvasAgg(fig)  # satsim's figures are not pyplot's: give a canvas
            canvas.draw()
            renderer = canvas.get_renderer()
            axes = [a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]
            for ax in axes:
                colors = {tuple(np.round(np.asarray(
                    __import__("matplotlib").colors.to_rgba(line.get_color())), 3))
                    for line in ax.get_lines() if line.get_linestyle() not in ("None", "")}
                assert len(colors) <= plotting.MAX_SERIES + 1, (res.name, spec.id, len(colors))
            for legend in fig.legends:
                box = legend.get_window_extent(renderer)
                fbox = fig.bbox
                assert box.x0 >= fbox.x0 - 1 and box.x1 <= fbox.x1 + 1
                for ax in axes:
                    assert not box.overlaps(ax.get_window_extent(renderer)), (res.name, spec.id)
                for text in legend.get_texts():
                    assert text.get_text() not in ("True", "False"), (res.name, spec.id)
            if getattr(spec, "integer_x", False):
                for ax in axes:
                    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t
                             <= ax.get_xlim()[1]]
                    assert all(float(t).is_integer() for t in ticks), (res.name, spec.id, ticks)
            checked += 1
    assert checked >= 18
