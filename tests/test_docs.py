"""The documentation site builds with warnings as errors (issue 21 §4).

``python -m sphinx -W --keep-going`` fails on a malformed docstring, a broken
cross-reference to a satsim name, a public function without its numpydoc
Parameters/Returns sections (``docs/conf.py``: ``check_function_docstring``) and a
gallery script that raises; the gallery runs at tiny sizes, so the whole build takes
well under a minute on two cores.
"""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _public_modules() -> list[str]:
    import pkgutil

    import satsim

    names = ["satsim"]
    for info in pkgutil.walk_packages(satsim.__path__, "satsim."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts) and parts[1] != "studies":
            names.append(info.name)
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sphinx")  # the docs dependencies come with the test extra
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), "docs", str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    return out / "html"


def test_the_site_builds_with_its_key_pages(site: Path) -> None:
    for page in ["index.html", "architecture.html", "api/index.html",
                 "guide/three-questions.html", "guide/depth.html", "guide/your-model.html",
                 "guide/scale.html", "gallery/index.html",
                 "gallery/plot_z_distribution.html", "gallery/plot_saturation.html",
                 "gallery/plot_meanfield_phase.html", "gallery/plot_gradients.html"]:
        assert (site / page).is_file(), page
    # the gallery was executed: its figures exist
    assert list((site / "_images").glob("sphx_glr_plot_saturation_*.png"))


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    missing = []
    for name in _public_modules():
        mod = importlib.import_module(name)
        page = site / "api" / "generated" / f"{name}.html"
        if not page.is_file():
            missing.append(name)
            continue
        html = page.read_text(encoding="utf-8")
        for public in getattr(mod, "__all__", []):
            obj = getattr(mod, public)
            if getattr(obj, "__name__", None) == f"{name}.{public}" or (
                    hasattr(obj, "__path__") or type(obj).__name__ == "module"):
                # a sub-namespace: linked from the page, documented on its own page
                target = obj.__name__
                ok = f'href="{target}.html' in html or f"#module-{target}" in html
            else:
                # documented here (an anchor) or linked to the page that documents it
                ok = re.search(rf'(id="|#)[\w.]*\b{re.escape(public)}"', html) is not None
            if not ok:
                missing.append(f"{name}.{public}")
    assert missing == []
