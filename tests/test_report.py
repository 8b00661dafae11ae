"""The report as a reader meets it: a real browser at two widths, the PDF's pages."""

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
def test_report_opens_with_the_answer(report):
    paths, _ = report
    html = paths["html"].read_text()
    first = html.index('id="answer"')
    assert first < html.index('id="findings"') < html.index('id="z_distribution"')
    answer = html[first:html.index('id="findings"')]
    for quantity in ("std of z, N(0, 1) weights", "std of z, N(0, 1/n_in) weights",
                     "saturated hidden units at init", "validation accuracy after 1 epoch",
                     "tanh critical line"):
        assert quantity in answer, quantity
    assert '<figure id="hero">' in answer and "<svg" in answer  # vector, inline
    # one environment table; per study only what differs
    prov = html[html.index('id="provenance"'):]
    assert prov.count("numpy") == 1 and prov.count("<h3>") == 2


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 800])
def test_report_in_a_real_browser(report, width):
    paths, _ = report
    _check_in_browser(paths["html"], width, min_svgs=15, hero="predicted saturated")


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


def _check_in_browser(html_path: Path, width: int, *, min_svgs: int, hero: str | None) -> None:
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
                assert page.evaluate("""(hero) => Array.from(document.querySelectorAll(
                    '#hero svg text')).some(t => t.textContent.includes(hero))""", hero)
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

    paths, _ = report
    pages = _words(paths["pdf"])
    assert len(pages) == len(weasyprint.HTML(string=paths["html"].read_text()).render().pages)
    right_margin = 13 * 72 / 25.4  # @page margin 13 mm
    for i, page in enumerate(pages, 1):
        past = [w for w in page["words"] if w[2] > page["width"] - right_margin + 0.5]
        assert not past, (i, past[:5])
    # each data table's header words are on every page where its rows are
    html = paths["html"].read_text()
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
