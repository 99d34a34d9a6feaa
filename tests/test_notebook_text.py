"""Generated notebook text that states a default must say what the code does (tools/make_notebooks.py)."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from workbench.params import ParameterSet

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# "`risk.robust`, standaard uit" and "`followup_days` (standaard 90)"
STATED = re.compile(r"`(?:(?P<section>[a-z_]+)\.)?(?P<key>[a-z_]+)`(?:,| \()\s*standaard (?P<value>aan|uit|[\d.,]+)")


def defaults() -> dict[str, object]:
    """Every setting's default as 'section.key' and, when unambiguous, as plain 'key'."""
    out, plain = {}, {}
    for f in dataclasses.fields(ParameterSet):
        if f.default_factory is dataclasses.MISSING or not dataclasses.is_dataclass(f.default_factory):
            continue
        obj = f.default_factory()
        for g in dataclasses.fields(obj):
            value = getattr(obj, g.name)
            out[f"{f.name}.{g.name}"] = value
            plain.setdefault(g.name, []).append(value)
    out.update({k: v[0] for k, v in plain.items() if len(v) == 1})
    return out


def stated_defaults(nb_path: Path) -> list[tuple[str, str]]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return [(f"{m['section']}.{m['key']}" if m["section"] else m["key"], m["value"]) for m in STATED.finditer(text)]


def as_text(value) -> str:
    if isinstance(value, bool):
        return "aan" if value else "uit"
    return str(value)


def test_the_check_finds_stated_defaults():
    assert [m.group("key", "value") for m in STATED.finditer("(`risk.robust`, standaard aan) en `x_days` (standaard 90)")] \
        == [("robust", "aan"), ("x_days", "90")]
    assert defaults()["risk.robust"] is False  # the default the notebook once got wrong


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stated_defaults_match_the_code(nb_path):
    known = defaults()
    for key, value in stated_defaults(nb_path):
        assert key in known, f"{nb_path.name}: noemt een standaard voor onbekende instelling {key}"
        assert value == as_text(known[key]), f"{nb_path.name}: {key} staat standaard op {as_text(known[key])}, niet {value}"


def test_the_risk_notebook_states_the_robust_default():
    assert ("risk.robust", as_text(defaults()["risk.robust"])) in stated_defaults(
        next(p for p in NOTEBOOKS if p.stem == "02_risicokaarten"))
