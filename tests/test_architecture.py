"""The package's import graph: layers point one way (DESIGN.md §2), no cycles.

The graph is read from the source with :mod:`ast` — every ``import`` statement,
module-level or inside a function (a lazy import is an edge all the same), except
those under ``if TYPE_CHECKING:`` (never executed).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "satsim"

#: the top layer: drives studies, draws, writes reports, parses command lines
TOP = ("satsim.plotting", "satsim.report", "satsim.cli", "satsim.study", "satsim.analyze",
       "satsim.study._discovery", "satsim.__main__", "satsim.studies",
       "satsim.study._pool")
#: the foundation every layer may use; it uses nothing else of satsim
FOUNDATION = ("satsim._results", "satsim._validation", "satsim._warnings",
              "satsim._namespace", "satsim._atomic", "satsim._docstrings", "satsim._registry")


def _in(module: str, group: tuple[str, ...]) -> bool:
    return any(module == g or module.startswith(g + ".") for g in group)


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def import_graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                # `from satsim import meanfield` imports the submodule
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                         for a in node.names]
            for name in names:
                if name.startswith("satsim"):
                    target = resolve(name)
                    if target and target != mod:
                        targets.add(target)
        graph[mod] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_reader_sees_lazy_imports_and_skips_type_checking():
    graph = import_graph()
    # satsim.study's results import satsim.plotting inside a method only
    assert "satsim.plotting" in graph["satsim.study._result"]
    # satsim/__init__ names its submodules under TYPE_CHECKING only (it loads them lazily
    # through importlib by name): no edge
    assert not graph["satsim"] & {"satsim.meanfield", "satsim.fit"}


def test_the_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_compute_never_imports_the_top_layer():
    graph = import_graph()
    bad = {m: sorted(t for t in targets if _in(t, TOP))
           for m, targets in graph.items() if not _in(m, TOP)}
    assert {m: t for m, t in bad.items() if t} == {}


def test_the_foundation_imports_nothing_else_of_satsim():
    graph = import_graph()
    bad = {m: sorted(t for t in targets if not _in(t, FOUNDATION))
           for m, targets in graph.items() if _in(m, FOUNDATION)}
    assert {m: t for m, t in bad.items() if t} == {}


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_package_imports_only_its_own_private_modules():
    """One folder per concept: ``satsim.X._part`` is imported by ``satsim.X`` and its
    other parts, by no other concept (except the few named here, each a shared helper
    one concept owns and another reuses)."""
    shared = {  # private module -> the other concepts allowed to use it, and why
        "satsim.data._npz": {"satsim.nn"},  # untrusted .npz reading for saved networks
        "satsim.init._catalogue": {"satsim.fit"},  # the scipy-backed elementwise family
        "satsim.meanfield._gaussian": {"satsim.gradients", "satsim.torch"},  # Gaussian kernels
        "satsim.meanfield._propagation": {"satsim.analyze", "satsim.gradients"},  # forward q
        "satsim.nn._torch": {"satsim.cli", "satsim.analyze"},  # resolve_device
        "satsim.sweep._executors": {"satsim.study"},  # the worker-process setup
        "satsim.sweep._store": {"satsim.analyze"},  # canonical store names
        "satsim.study._cli": {"satsim.cli"},  # the options and runs satsim's commands share
        "satsim.gradients._signal": {"satsim.analyze"},  # the t interval over seeds
    }

    def concept(module: str) -> str:
        return ".".join(module.split(".")[:2])

    bad = {}
    for m, targets in import_graph().items():
        for t in targets:
            parts = t.split(".")
            if len(parts) < 3 or not parts[2].startswith("_") or concept(t) == concept(m):
                continue
            if concept(m) not in shared.get(t, set()):
                bad.setdefault(m, []).append(t)
    assert bad == {}
