"""The import graph of the package against the layers of docs/ARCHITECTURE.md (standard library ``ast`` only).

Every ``import`` counts, also one inside a function: a lazy import still makes a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"

# Lower numbers may be imported by higher ones, never the other way round (see docs/ARCHITECTURE.md).
LAYERS = {
    "base": 0,         # errors, status words, atomic writing, statistics helpers, the Dutch number format
    "parameters": 1,   # parameter sets and the indicator catalogue
    "sources": 2,      # open data, the municipality's records, the demo region
    "core": 3,         # Dataset, areas, indicators
    "privacy": 4,      # disclosure rules and the suppression engine
    "models": 5,       # risk, costs, allocation, outcomes
    "findings": 6,     # the protected figures of one Dataset
    "look": 7,         # maps, charts: colours, legends, Dutch labels
    "outputs": 8,      # report, publish, provider sheets, the audit of a finished run
    "runs": 9,         # the app, runs, batches, the command line
}
MODULES = {
    "workbench.errors": "base", "workbench.status": "base", "workbench.io": "base", "workbench.stats": "base",
    "workbench.reading": "base", "workbench.paths": "base", "workbench.formatting": "base",
    "workbench.intervals": "base", "workbench.memo": "base", "workbench.relations": "privacy",
    "workbench.params": "parameters", "workbench.catalog": "parameters",
    "workbench.sources": "sources", "workbench.validation": "sources",
    "workbench.dataset": "core", "workbench.areas": "core", "workbench.indicators": "core",
    "workbench.coverage": "core",
    "workbench.privacy": "privacy",
    "workbench.risk": "models", "workbench.costs": "models", "workbench.allocation": "models",
    "workbench.outcomes": "models",
    "workbench.findings": "findings",
    "workbench.maps": "look", "workbench.charts": "look",
    "workbench.report": "outputs", "workbench.publish": "outputs", "workbench.provider_sheet": "outputs",
    "workbench.audit": "outputs", "workbench.export": "outputs",
    "workbench.app": "runs", "workbench.pipeline": "runs", "workbench.batch": "runs", "workbench.history": "runs",
    "workbench.cli": "runs", "workbench.__main__": "runs", "workbench": "runs",
    "workbench.wijkprofiel": "runs", "workbench.kernels": "runs",
}
# The one import up a layer, lazy and on purpose: ``ds.findings`` is the door from the Dataset to its findings.
ALLOWED_UPWARD = {("workbench.dataset", "workbench.findings")}
# What must never depend on what, beyond the order of the layers (module prefix -> forbidden prefixes).
FORBIDDEN = {
    # the privacy rules never call the models nor know a Dataset
    "workbench.privacy": ("workbench.risk", "workbench.costs", "workbench.allocation", "workbench.outcomes",
                          "workbench.dataset", "workbench.findings"),
    # models never draw
    **{m: ("workbench.maps", "workbench.charts", "matplotlib", "folium") for m in
       ("workbench.risk", "workbench.costs", "workbench.allocation", "workbench.outcomes", "workbench.findings")},
    # presentation never loads data nor computes a figure
    **{m: ("workbench.sources", "workbench.dataset", "workbench.validation", "workbench.risk", "workbench.costs",
           "workbench.allocation", "workbench.privacy", "workbench.indicators")
       for m in ("workbench.maps", "workbench.charts")},
    "workbench.report": ("workbench.sources", "workbench.dataset", "workbench.validation", "workbench.privacy"),
    # the app never recomputes a figure nor reads sources
    "workbench.app": ("workbench.sources", "workbench.dataset", "workbench.validation", "workbench.indicators",
                      "workbench.privacy", "workbench.risk", "workbench.costs", "workbench.allocation",
                      "workbench.outcomes", "workbench.findings", "workbench.report", "workbench.audit"),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved; ``from x import y`` gives x.y
    when x.y is a module of the package, else x)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.add(sub if sub in ALL_MODULES else target)
    return out


ALL_MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    best = None
    for prefix, layer in MODULES.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return best[1] if best else None


def test_every_module_has_a_layer():
    assert [m for m in ALL_MODULES if layer_of(m) is None] == []


def test_no_import_goes_up_a_layer():
    wrong = []
    for mod, deps in graph().items():
        for dep in deps:
            if dep in ALL_MODULES and LAYERS[layer_of(dep)] > LAYERS[layer_of(mod)] and (mod, dep) not in ALLOWED_UPWARD:
                wrong.append(f"{mod} ({layer_of(mod)}) imports {dep} ({layer_of(dep)})")
    assert wrong == []


def test_no_forbidden_dependency():
    wrong = []
    for mod, deps in graph().items():
        for prefix, banned in FORBIDDEN.items():
            if mod == prefix or mod.startswith(prefix + "."):
                wrong += [f"{mod} imports {d}" for d in deps if any(d == b or d.startswith(b + ".") for b in banned)]
    assert wrong == []


def find_cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import loops."""
    g = {m: {d for d in deps if d in g and d != m} for m, deps in g.items()}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
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

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_loops():
    # a package's __init__ re-exporting its own modules is not a loop between modules
    g = {m: {d for d in deps if not (m.startswith(d + ".") and d in ALL_MODULES)} for m, deps in graph().items()}
    assert find_cycles(g) == []


def test_the_checks_catch_what_they_are_meant_to_catch():
    """The checker itself: a loop, an upward import and a forbidden import are each found."""
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert LAYERS[layer_of("workbench.privacy")] < LAYERS[layer_of("workbench.risk")]
    assert layer_of("workbench.app.views") == "runs" and layer_of("workbench.sources.cbs") == "sources"
    assert any("workbench.risk".startswith(b) for b in FORBIDDEN["workbench.privacy"])


@pytest.mark.parametrize("module,limit", [("privacy", 900), ("report", 700)])  # privacy: + dominance rule (issue 15), + the plan caches the audit rounds share (issue 16)
def test_rules_and_formatting_modules_keep_their_size(module, limit):
    """privacy.py holds the rules and the engine only (it had 1,103 lines with the model adapters and the audit);
    report.py only formats. A loose bound against regrowth."""
    assert len((PACKAGE / f"{module}.py").read_text(encoding="utf-8").splitlines()) < limit
