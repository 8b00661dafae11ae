"""The lecture notebook ``examples/lecture.ipynb`` runs top to bottom in a fresh kernel.

The notebook is executed once per module with nbclient, in a temporary working
directory, by a kernel of *this* interpreter: a kernelspec written into a temporary
directory (put first on ``JUPYTER_PATH``) starts ``sys.executable -m ipykernel_launcher``,
so a ``python3`` kernelspec the user installed elsewhere (``--user``, another
environment) cannot run the notebook against another satsim.  The test checks that the
kernel's ``sys.prefix`` is ours.
"""

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "lecture.ipynb"

#: per cell: the slowest (loading the data, training four small networks) takes under
#: 10 s on 2 shared cores; the whole notebook about 20-30 s with the kernel's start-up
CELL_TIMEOUT = 300
#: printed by the last cell, which the test appends to its in-memory copy
_PROBE = "satsim-test-kernel-prefix:"


def _kernelspec(root: Path) -> Path:
    """A ``python3`` kernelspec for this interpreter under ``root/kernels``."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (satsim tests)",
        "language": "python",
    }))
    return root


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """(the executed notebook, the names of the files in its working directory after)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import sys; print({_PROBE!r}, sys.prefix)"))
    jupyter = _kernelspec(tmp_path_factory.mktemp("jupyter"))
    workdir = tmp_path_factory.mktemp("lecture")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join(
            [str(jupyter), *filter(None, [os.environ.get("JUPYTER_PATH")])]))
        NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    return nb, sorted(p.name for p in workdir.iterdir())


def _outputs(cell):
    return cell.get("outputs", []) if cell.cell_type == "code" else []


def _text(nb) -> str:
    """Everything the notebook printed or displayed as plain text."""
    parts = []
    for cell in nb.cells:
        for out in _outputs(cell):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _questions(nb) -> dict[str, set[str]]:
    """Output MIME types of the code cells under each "## 1." / "## 2." / "## 3." heading."""
    found: dict[str, set[str]] = {}
    current = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.match(r"##\s+([123])\.", cell.source)
            if m:
                current = m.group(1)
                found[current] = set()
        elif current is not None:
            for out in _outputs(cell):
                found[current].update(out.get("data", {}))
    return found


def test_notebook_is_committed_clean():
    """Valid nbformat 4, a python3 kernel, no outputs or execution counts (small diffs)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], cell.source[:60]
        assert cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
def test_notebook_runs_in_this_environment(executed):
    nb, files = executed
    for cell in nb.cells:
        for out in _outputs(cell):
            assert out.output_type != "error", (cell.source[:60], out.get("evalue"))
            # warnings (and anything else on stderr) would show in a lecture
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                (cell.source[:60], out.text)
    prefix = _text(nb).split(_PROBE, 1)[1].split()[0]
    assert prefix == sys.prefix  # the kernel ran this interpreter's environment
    assert files == []  # the notebook writes nothing into the directory it runs in


@pytest.mark.slow
def test_notebook_shows_the_key_numbers(executed):
    text = _text(executed[0])
    # closed form, Nielsen's neuron, sigmoid output within 1% of 0 or 1:
    # 2Φ(−ln 99/√501) = 0.8373 and 2Φ(−ln 99/√1.5) = 1.755e-4 (satsim.saturation docs)
    assert "z ~ N(0, 501), predicted saturated fraction 83.7%" in text
    assert "z ~ N(0, 1.5), predicted saturated fraction 0.0175%" in text
    assert "|z| > ln 99 = 4.595" in text  # the criterion is said where the numbers are
    assert "closed form 501" in text and "closed form 1.5" in text
    assert "(theory 1.4)" in text
    assert "about 1 in 20" in text
    assert re.search(r"Hidden layer at initialization.*predicted \d+(\.\d+)?%.*measured", text)


@pytest.mark.slow
def test_each_figure_shows_once_and_no_object_reprs_leak(executed):
    # .plot() figures show through the notebook's inline backend: a cell must not show
    # the same figure twice (once as the open figure, once as a returned Figure), nor
    # the text repr of a matplotlib object ("<Axes: …>", "Text(0.5, 0.98, …)")
    for cell in executed[0].cells:
        outs = _outputs(cell)
        images = [o for o in outs if "image/png" in o.get("data", {})]
        assert len(images) <= 1, (cell.source[:60], len(images))
        for o in outs:
            plain = o.get("data", {}).get("text/plain", "")
            if "image/png" not in o.get("data", {}):
                assert not re.match(r"(<Axes|<Figure|Text\(|\[<Axes)", plain), \
                    (cell.source[:60], plain[:80])


@pytest.mark.slow
def test_every_question_has_a_figure_and_a_rich_result(executed):
    questions = _questions(executed[0])
    assert sorted(questions) == ["1", "2", "3"]
    for q, mimes in questions.items():
        assert "image/png" in mimes, f"question {q} shows no figure"
        assert "text/html" in mimes, f"question {q} shows no HTML result"
