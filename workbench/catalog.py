"""The indicator catalogue (parameters/indicators.yaml) as typed, validated objects."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from . import formatting, paths
from .errors import CatalogError

CLUSTERS = {
    1: "Het kind zelf",
    2: "De thuissituatie",
    3: "Kansen en mogelijkheden",
    4: "Interventies",
    5: "Maatschappelijk resultaat",
}
DIRECTIONS = ("higher_is_risk", "lower_is_risk")
TESTS = ("wilson", "poisson", "none")
VARIABLE_KINDS = ("count", "percent", "rate", "mean", "amount")
SOURCE_FORMATS = ("odata", "xlsx", "pdok", "shape")
# Sources named in the catalogue's `delivered` block: kwb (the KWB table: OData and spreadsheet alike), pdok, shape.
DELIVERY_SOURCES = ("kwb", "pdok", "shape")
DEFAULT_CATALOG = paths.package_file("parameters", "indicators.yaml")  # the package's; a project may have its own


@dataclass(frozen=True)
class Alias:
    """Where one source format delivers a variable: column stems, optionally a percentage of another variable."""

    columns: tuple[str, ...]  # empty: this format does not deliver the variable (not a gap of a file)
    percent_of: str | None = None


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    kind: str
    source: str = "statistics"  # or "records"
    aliases: dict[str, Alias] = field(default_factory=dict)
    note: str = ""
    topic: str = ""  # what CBS calls the figures in a sentence ("jeugdzorg", "inkomen"): for first-release notes


@dataclass(frozen=True)
class Derived:
    name: str
    label: str
    formula: str
    inputs: tuple[str, ...]
    note: str = ""
    estimate: bool = False  # an approximation (e.g. an age band), used only where no source delivers the figure


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    cluster: int
    unit: str
    direction: str
    population: str
    min_count: int
    test: str
    numerator: str | None = None
    denominator: str | None = None
    value: str | None = None
    weight: str | None = None
    count: str | None = None
    scale: float = 1.0
    note: str = ""
    # The variable in which a source delivers this figure itself (a percentage or rate in ``unit``). Where it is
    # delivered it is published as is; with the count it also gives the denominator (count / rate).
    rate: str | None = None
    # Decimals a person reads, when they differ from the unit's own (CBS publishes WOZ in x 1.000 euro whole,
    # income in x 1.000 euro with one decimal).
    decimals: int | None = None

    @property
    def shown_decimals(self) -> int:
        """The decimals this indicator's values are shown with: its own, else its unit's."""
        return formatting.decimals_for(self.unit) if self.decimals is None else int(self.decimals)

    @property
    def kind(self) -> str:
        """'ratio' (numerator/denominator) or 'value' (a published percentage or mean)."""
        return "ratio" if self.numerator else "value"

    @property
    def higher_is_risk(self) -> bool:
        return self.direction == "higher_is_risk"

    @property
    def cluster_label(self) -> str:
        return CLUSTERS[self.cluster]

    @property
    def unit_text(self) -> str:
        """The unit as a reader says it: '% van de inwoners', 'per 1.000 jongeren tot 23 jaar', else the unit."""
        if self.unit == "%":
            return f"% van de {self.population}"
        if self.unit == "per 1.000":
            return f"per 1.000 {self.population}"
        return self.unit

    @property
    def heading(self) -> str:
        """'Huurwoningen (% van de woningen)'; the label alone when it already says its unit."""
        unit = self.unit_text
        return self.label if not unit or unit in self.label else f"{self.label} ({unit})"

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(v for v in (self.numerator, self.denominator, self.value, self.weight, self.count) if v)

    @property
    def source_inputs(self) -> tuple[str, ...]:
        """Every catalogue variable a figure may come from, the delivered rate included."""
        return self.inputs + ((self.rate,) if self.rate else ())


@dataclass
class Catalog:
    variables: dict[str, Variable]
    derived: dict[str, Derived]
    indicators: dict[str, Indicator]
    path: Path | None = None
    # Per source variable: which sources deliver it in which years ({"kwb": (2019, ..., 2024), "pdok": (2024,)}).
    delivered: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)

    def __getitem__(self, indicator_id: str) -> Indicator:
        try:
            return self.indicators[indicator_id]
        except KeyError:
            known = ", ".join(sorted(self.indicators))
            raise CatalogError(
                f"onbekende indicator '{indicator_id}'",
                where=str(self.path or "catalogus"),
                hint=f"kies uit: {known}",
            ) from None

    def __iter__(self):
        return iter(self.indicators.values())

    def in_cluster(self, cluster: int) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.cluster == cluster]

    def source_columns(self, indicator_id: str) -> dict[str, list[str]]:
        """Per source format, the columns an indicator is computed from (derived inputs resolved)."""
        out: dict[str, list[str]] = {}
        for var in self.base_variables(self[indicator_id].source_inputs):
            v = self.variables[var]
            if v.source == "records":
                out.setdefault("records", []).append(var)
                continue
            if "xlsx" not in v.aliases:
                out.setdefault("xlsx", []).append(var)
            for fmt, alias in v.aliases.items():
                if alias.columns:
                    out.setdefault(fmt, []).extend(alias.columns)
        return out

    def base_variables(self, names) -> list[str]:
        """Resolve derived variables to the source variables they are computed from."""
        seen: list[str] = []
        for name in names:
            parts = self.derived[name].inputs if name in self.derived else (name,)
            for p in parts:
                if p not in seen:
                    seen.append(p)
        return seen

    def estimated_denominator(self, indicator_id: str) -> Derived | None:
        """The derived estimate an indicator divides by when no source delivers its denominator (else None)."""
        d = self.derived.get(self[indicator_id].denominator or "")
        return d if d is not None and d.estimate else None

    def topics(self, names) -> list[str]:
        """The CBS topics ("jeugdzorg", "Wmo") of variables, in catalogue order, each once."""
        out: list[str] = []
        for name in self.base_variables(names):
            v = self.variables.get(name)
            if v is not None and v.topic and v.topic not in out:
                out.append(v.topic)
        return out

    def delivery(self, indicator_id: str) -> dict[str, tuple[int, ...]]:
        """Per source, the years in which it delivers every source variable of an indicator (the catalogue's
        ``delivered`` block). Indicators from the municipality's own records are not listed (any year)."""
        out: dict[str, tuple[int, ...]] = {}
        parts = [self.delivered.get(v, {}) for v in self.base_variables(self[indicator_id].inputs)]
        for src in DELIVERY_SOURCES:
            years = [set(p.get(src, ())) for p in parts]
            common = set.intersection(*years) if years else set()
            if common:
                out[src] = tuple(sorted(common))
        return out

    def delivered_in(self, indicator_id: str, source: str, years) -> bool:
        """True when ``source`` delivers the indicator in every one of ``years``."""
        return set(years) <= set(self.delivery(indicator_id).get(source, ()))

    def uses_records(self, indicator_id: str) -> bool:
        return any(self.variables[v].source == "records" for v in self.base_variables(self[indicator_id].inputs))


def _formula_inputs(formula: str, where: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise CatalogError(f"formule '{formula}' is geen geldige rekenregel ({exc.msg})", where=where) from None
    allowed = (ast.Expression, ast.BinOp, ast.Name, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Load, ast.UnaryOp, ast.USub)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise CatalogError(f"formule '{formula}' mag alleen variabelen, getallen en + - * / bevatten", where=where)
    return tuple(dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)))


def _parse_years(raw: Any, where: str) -> tuple[int, ...]:
    """'2019-2024', 2024, or a list of those -> the years."""
    items = raw if isinstance(raw, list) else [raw]
    years: list[int] = []
    for item in items:
        text = str(item).strip()
        lo, _, hi = text.partition("-")
        if not (lo.isdigit() and (not hi or hi.isdigit())):
            raise CatalogError(f"jaren '{item}' niet te lezen (gebruik bijv. 2019-2024 of 2024)", where=where)
        years.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(set(years)))


def _parse_alias(raw: Any, where: str) -> Alias:
    if raw is None:
        return Alias(())
    if isinstance(raw, str):
        return Alias((raw,))
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return Alias(tuple(raw))
    if isinstance(raw, dict) and "column" in raw:
        unknown = set(raw) - {"column", "percent_of"}
        if unknown:
            raise CatalogError(f"onbekende sleutel(s) {sorted(unknown)} in alias", where=where)
        cols = raw["column"]
        cols = (cols,) if isinstance(cols, str) else tuple(cols)
        return Alias(cols, raw.get("percent_of"))
    raise CatalogError("een alias is een kolomnaam, een lijst kolomnamen, {column: ..., percent_of: ...} of null "
                       "(dit formaat levert de variabele niet)", where=where)


_INDICATOR_KEYS = {
    "id", "label", "cluster", "unit", "direction", "population", "min_count", "test",
    "numerator", "denominator", "value", "weight", "count", "scale", "note", "rate", "decimals",
}
_VARIABLE_KEYS = {"label", "kind", "source", "aliases", "note", "topic"}
_REQUIRED = ("id", "label", "cluster", "unit", "direction", "population", "min_count", "test")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalogue; every problem is reported with the file and indicator id."""
    path = Path(path) if path else paths.catalog_file()
    if not path.exists():
        raise CatalogError("indicatorcatalogus niet gevonden", where=str(path),
                           hint="geef het pad naar indicators.yaml op, of gebruik parameters/indicators.yaml uit de repository")
    from .reading import read_yaml  # strict and bounded: no aliases, no duplicate keys, no device files

    raw = read_yaml(path, what="indicatorcatalogus", error=CatalogError)
    if not isinstance(raw, dict) or not {"variables", "indicators"} <= set(raw):
        raise CatalogError("de catalogus moet de onderdelen 'variables' en 'indicators' hebben", where=str(path))

    problems: list[str] = []
    variables: dict[str, Variable] = {}
    for name, spec in (raw.get("variables") or {}).items():
        where = f"{path} > variables > {name}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: verwacht een blok met label en kind")
            continue
        kind = spec.get("kind")
        unknown = set(spec) - _VARIABLE_KEYS
        if unknown:
            problems.append(f"{where}: onbekende sleutel(s) {sorted(unknown)}")
        if kind not in VARIABLE_KINDS:
            problems.append(f"{where}: kind '{kind}' is onbekend (kies uit {', '.join(VARIABLE_KINDS)})")
            continue
        aliases = {}
        for fmt, a in (spec.get("aliases") or {}).items():
            if fmt not in SOURCE_FORMATS:
                problems.append(f"{where}: bronformaat '{fmt}' is onbekend (kies uit {', '.join(SOURCE_FORMATS)})")
                continue
            try:
                aliases[fmt] = _parse_alias(a, f"{where} > {fmt}")
            except CatalogError as exc:
                problems.append(exc.render())
        variables[name] = Variable(name, str(spec.get("label", name)), kind, spec.get("source", "statistics"), aliases,
                                   spec.get("note", ""), str(spec.get("topic", "")))

    derived: dict[str, Derived] = {}
    for name, spec in (raw.get("derived") or {}).items():
        where = f"{path} > derived > {name}"
        try:
            inputs = _formula_inputs(str(spec.get("formula", "")), where)
        except CatalogError as exc:
            problems.append(exc.render())
            continue
        for i in inputs:
            if i not in variables:
                problems.append(f"{where}: formule gebruikt onbekende variabele '{i}'")
        if not isinstance(spec.get("estimate", False), bool):
            problems.append(f"{where}: estimate moet true of false zijn")
        derived[name] = Derived(name, spec.get("label", name), spec["formula"], inputs, spec.get("note", ""),
                                bool(spec.get("estimate", False)))

    for var in variables.values():
        for fmt, alias in var.aliases.items():
            if alias.percent_of and alias.percent_of not in variables:
                problems.append(f"{path} > variables > {var.name} > {fmt}: percent_of '{alias.percent_of}' is geen variabele")

    indicators: dict[str, Indicator] = {}
    entries = raw.get("indicators") or []
    if not isinstance(entries, list):
        problems.append(f"{path} > indicators: verwacht een lijst")
        entries = []
    for n, spec in enumerate(entries, start=1):
        ident = spec.get("id", f"#{n}") if isinstance(spec, dict) else f"#{n}"
        where = f"{path} > indicators > {ident}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: verwacht een blok met id, label, cluster, ...")
            continue
        unknown = set(spec) - _INDICATOR_KEYS
        if unknown:
            problems.append(f"{where}: onbekende sleutel(s) {sorted(unknown)}")
        missing = [k for k in _REQUIRED if k not in spec]
        if missing:
            problems.append(f"{where}: ontbrekende sleutel(s) {missing}")
            continue
        if ident in indicators:
            problems.append(f"{where}: id komt twee keer voor")
        if spec["cluster"] not in CLUSTERS:
            problems.append(f"{where}: cluster moet 1 t/m 5 zijn, niet {spec['cluster']!r}")
        if spec["direction"] not in DIRECTIONS:
            problems.append(f"{where}: direction moet {' of '.join(DIRECTIONS)} zijn, niet {spec['direction']!r}")
        if spec["test"] not in TESTS:
            problems.append(f"{where}: test moet {', '.join(TESTS)} zijn, niet {spec['test']!r}")
        if not isinstance(spec["min_count"], int) or spec["min_count"] < 0:
            problems.append(f"{where}: min_count moet een geheel getal >= 0 zijn")
        if bool(spec.get("numerator")) == bool(spec.get("value")):
            problems.append(f"{where}: geef óf numerator + denominator, óf value")
        if spec.get("numerator") and not spec.get("denominator"):
            problems.append(f"{where}: numerator zonder denominator")
        for key in ("numerator", "denominator", "value", "weight", "count"):
            ref = spec.get(key)
            if ref and ref not in variables and ref not in derived:
                problems.append(f"{where}: {key} '{ref}' is geen variabele of afgeleide variabele in de catalogus")
        rate = spec.get("rate")
        if rate:
            if rate not in variables:
                problems.append(f"{where}: rate '{rate}' is geen variabele in de catalogus")
            elif variables[rate].kind not in ("percent", "rate"):
                problems.append(f"{where}: rate '{rate}' moet een percentage of cijfer per 1.000 zijn (kind percent of rate)")
            if not spec.get("numerator"):
                problems.append(f"{where}: rate hoort bij een indicator met numerator en denominator")
        if spec.get("decimals") is not None and (isinstance(spec["decimals"], bool) or spec["decimals"] not in range(5)):
            problems.append(f"{where}: decimals moet een geheel getal van 0 tot en met 4 zijn")
        try:
            scale = float(spec.get("scale", 1))
        except (TypeError, ValueError):
            problems.append(f"{where}: scale moet een getal zijn")
            scale = 1.0
        indicators[ident] = Indicator(
            id=ident, label=str(spec["label"]), cluster=spec["cluster"], unit=str(spec["unit"]),
            direction=spec["direction"], population=str(spec["population"]), min_count=spec["min_count"],
            test=spec["test"], numerator=spec.get("numerator"), denominator=spec.get("denominator"),
            value=spec.get("value"), weight=spec.get("weight"), count=spec.get("count"), scale=scale,
            note=spec.get("note", ""), rate=rate or None, decimals=spec.get("decimals"),
        )
    delivered: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, spec in (raw.get("delivered") or {}).items():
        where = f"{path} > delivered > {name}"
        if name not in variables:
            problems.append(f"{where}: '{name}' is geen variabele in de catalogus")
            continue
        if not isinstance(spec, dict) or set(spec) - set(DELIVERY_SOURCES):
            problems.append(f"{where}: verwacht een blok {{bron: jaren}} met bron {', '.join(DELIVERY_SOURCES)}")
            continue
        try:
            delivered[name] = {src: _parse_years(y, f"{where} > {src}") for src, y in spec.items()}
        except CatalogError as exc:
            problems.append(exc.render())

    if problems:
        raise CatalogError("de indicatorcatalogus is ongeldig:\n  - " + "\n  - ".join(problems), where=str(path),
                           hint="pas de genoemde regels in de catalogus aan")
    return Catalog(variables, derived, indicators, path, delivered)
