"""Parameter sets (parameters/*.yaml): load, validate, fill defaults, explain every mistake."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path


from .errors import ParameterError, describe_os_error, short_text
from .reading import MAX_BYTES, MiB, check_regular_file, read_bounded, read_yaml  # noqa: F401  (re-exported)

from . import paths

GEMEENTE_CODE = re.compile(r"^GM\d{4}$")
DEFAULT_NOTEBOOKS = ("01_indicatoren", "02_risicokaarten", "03_zorgkosten", "04_verdeelmodel", "05_resultaten")
# What a budget can be split by (allocation.py): expected care use from the risk model, or plain inhabitants.
BUDGET_COMPONENTS = ("jeugd", "wmo", "inwoners")
SPECIAL_SOURCES = {"statistics": ("demo", "cbs"), "geometry": ("demo", "pdok"), "records": ("demo",),
                   "reference": ("cbs",)}
RISK_REFERENCES = ("gemeente", "region", "all", "nederland", "peer")
# Below this a count is too small to publish (CBS practice); lower only with privacy.allow_below_threshold.
MIN_COUNT_FLOOR = 10
MAX_NAME_LENGTH = 64       # the set name becomes a folder name (and part of file names of downloads)
MAX_DAYS = 3650            # follow-up windows longer than ten years are a typo


@dataclass(frozen=True)
class RiskSettings:
    # gemeente | region | all | nederland (every area of sources.reference) | peer (the gemeenten or classes in peers)
    reference: str = "region"
    # None: the defaults of workbench/risk.py DEFAULT_FACTORS (what the data lack is left out, with a note).
    youth_factors: tuple[str, ...] | None = None
    wmo_factors: tuple[str, ...] | None = None
    # reference: peer -> a list of gemeente codes, or {stedelijkheid: [1, 2]} (CBS MateVanStedelijkheid, 1 = zeer sterk)
    peers: tuple[str, ...] | dict | None = None
    model: str = "quasi_poisson"  # poisson | quasi_poisson | negative_binomial
    fit_level: str | None = None  # the level the model is fitted on (default: level); expected counts are summed upwards
    min_population: int = 100
    cluster_weights: dict[str, float] = field(default_factory=lambda: {"1": 1.0, "2": 1.0, "3": 1.0})
    smoothing: bool = False
    # Two-pass fit: reference areas outside the 99,8% funnel limits after a first fit are left out of the second.
    robust: bool = False  # standard one-pass GLM unless asked (reproducible with any GLM package)


@dataclass(frozen=True)
class BudgetSettings:
    """A budget split over wijken by expected need (allocation.py): ``total`` euros, ``weights`` per component
    (jeugd, wmo: expected use from the risk model; inwoners: per head), an optional what-if ``alternative``."""

    total: float
    weights: dict[str, float]
    alternative: dict[str, float] | None = None
    label: str = "voorstel"
    alternative_label: str = "alternatief"


@dataclass(frozen=True)
class PrivacySettings:
    min_count: int = 10
    min_population: int = 50
    round_to: int | None = None
    # A reason (text) to allow min_count below 10; stamped on the manifest and every published layer.
    allow_below_threshold: str | None = None
    # interval audit (issue 15): the narrowest interval an attacker may be left with for a suppressed count
    protection: int | None = None  # default: min_count
    # dominance (p% rule) on published cost amounts: suppressed when the rest of the cost, apart from the two
    # largest clients (or providers), is less than dominance_p % of the largest: the second could estimate the first
    dominance: bool = True
    dominance_p: float = 10.0
    # what an unprotected count found by the interval audit does: "strict" fails the run, "report" writes it
    # to the manifest (privacy.intervalaudit) and lets the run through
    interval_audit: str = "strict"

    @property
    def protection_level(self) -> int:
        return int(self.protection) if self.protection is not None else int(self.min_count)


@dataclass(frozen=True)
class OutcomeSettings:
    """Results monitoring (resultaatgericht inkopen): the matrix and the follow-up windows."""
    matrix: str | None = None  # path to the result matrix (parameters/resultatenmatrix.yaml)
    return_days: int = 365  # return to care within this many days after the end
    followup_days: int = 90  # a next trajectory within this many days counts as a re-indication / continuation


@dataclass(frozen=True)
class Sources:
    statistics: str = "demo"
    geometry: str = "demo"
    records: str | None = None
    # How the municipality's export names our record fields: {our_field: their_header}.
    record_columns: dict[str, str] = field(default_factory=dict)
    # Product categories per domain the records are checked against (default parameters/producten.yaml).
    products: str | None = None
    # Where the risk model's reference areas come from (risk.reference nederland / peer): a file, a folder or cbs.
    reference: str | None = None


@dataclass(frozen=True)
class ParameterSet:
    name: str
    gemeente: tuple[str, ...]
    year: int
    level: str = "wijk"
    title: str = ""
    sources: Sources = field(default_factory=Sources)
    risk: RiskSettings = field(default_factory=RiskSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    notebooks: tuple[str, ...] = DEFAULT_NOTEBOOKS
    budget: BudgetSettings | None = None
    catalog: str | None = None
    outcomes: OutcomeSettings = field(default_factory=OutcomeSettings)
    path: Path | None = None

    @property
    def is_demo(self) -> bool:
        return "demo" in (self.sources.statistics, self.sources.geometry)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path) if self.path else None
        return d

    def fingerprint(self) -> str:
        d = self.to_dict()
        d.pop("path")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def resolve(self, value: str | None) -> Path | None:
        """A path from the file: relative to its folder, else the project folder, else the package's data."""
        if value is None or value in ("demo", "cbs", "pdok"):
            return None
        return paths.find(value, self.path.parent if self.path else None)


RISK_ENUMS = {"model": ("poisson", "quasi_poisson", "negative_binomial"), "fit_level": ("wijk", "buurt")}
NOT_ANALYSES = ("app",)  # notebooks in notebooks/ that a run must not execute


def _catalog_ids(catalog_spec, path: Path | None) -> set[str] | None:
    """Indicator ids of the parameter set's catalogue (None when it cannot be read: that is reported elsewhere)."""
    from .errors import WorkbenchError

    target = None
    if isinstance(catalog_spec, str):
        try:
            target = paths.find(catalog_spec, path.parent if path else None)
        except (OSError, ValueError):
            return None
        if check_regular_file(target, "yaml") is not None:
            return None
    try:
        from .catalog import DEFAULT_CATALOG

        target = Path(target or DEFAULT_CATALOG)
        return _ids_of(str(target), target.stat().st_mtime_ns)
    except (WorkbenchError, OSError, ValueError):
        return None


@functools.lru_cache(maxsize=8)
def _ids_of(path: str, mtime_ns: int) -> frozenset[str]:
    from .catalog import load_catalog

    return frozenset(load_catalog(path).indicators)


def _check_factors(value, where: str, catalog_spec, path: Path | None, problems: list[str]) -> None:
    """Risk factors: a list of indicator ids from the catalogue, each once."""
    if not _expect(value, list, where, "een lijst indicator-id's", problems):
        return
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        problems.append(f"{where}: {short_text(bad, 60)} is geen indicator-id (tekst)")
        return
    if len(set(value)) < len(value):
        problems.append(f"{where}: een factor staat er meer dan één keer in")
    known = _catalog_ids(catalog_spec, path)
    if known is not None:
        unknown = [v for v in value if v not in known]
        if unknown:
            problems.append(f"{where}: {short_text(', '.join(unknown), 80)} staat niet in de indicatorcatalogus "
                            f"(kies uit: {', '.join(sorted(known))})")


def _check_privacy(p: dict, where: str, problems: list[str]) -> bool:
    """min_count >= 10 unless allow_below_threshold gives a reason; populations positive; round_to 5 or 10."""
    n = len(problems)
    reason = p.get("allow_below_threshold")
    if reason is not None and (not isinstance(reason, str) or len(reason.strip()) < 10):
        problems.append(f"{where}.allow_below_threshold: verwacht de reden in een zin (tekst van minstens 10 tekens), "
                        f"gevonden {short_text(reason, 40)}")
    elif isinstance(reason, str) and len(reason) > 500:
        problems.append(f"{where}.allow_below_threshold: reden hooguit 500 tekens")
    if "min_count" in p and _number(p["min_count"], f"{where}.min_count", problems, lo=1, hi=1000, integer=True,
                                    what="een geheel getal (standaard 10)"):
        if p["min_count"] < MIN_COUNT_FLOOR and reason is None:
            problems.append(f"{where}.min_count: {p['min_count']} is lager dan de onthullingsdrempel {MIN_COUNT_FLOOR}; "
                            "tellingen onder 10 mogen niet gepubliceerd worden. Alleen met een reden: "
                            "privacy.allow_below_threshold: \"<waarom, en wie besloot>\" (komt in het manifest en elke laag)")
    if "min_population" in p:
        _number(p["min_population"], f"{where}.min_population", problems, lo=1, hi=10_000_000, integer=True,
                what="een aantal inwoners (geheel getal)")
    if p.get("round_to") not in (None, 5, 10) or isinstance(p.get("round_to"), bool):
        problems.append(f"{where}.round_to: moet leeg, 5 of 10 zijn")
    return len(problems) == n


_TOP_KEYS = {"name", "title", "gemeente", "year", "level", "sources", "risk", "privacy", "notebooks", "budget", "catalog", "outcomes"}


def _check_keys(section: dict, allowed: set[str], where: str, problems: list[str]) -> None:
    for key in section:
        if key not in allowed:
            problems.append(f"{where}{key}: onbekende sleutel (toegestaan: {', '.join(sorted(allowed))})")


def _expect(value, types, where: str, what: str, problems: list[str]) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        problems.append(f"{where}: verwacht {what}, gevonden {type(value).__name__} {short_text(value, 60)}")
        return False
    return True


def _number(value, where: str, problems: list[str], *, lo=None, hi=None, integer=False, what="") -> bool:
    """A finite number (an integer if asked) within [lo, hi]; every miss is one named problem."""
    types = int if integer else (int, float)
    if not _expect(value, types, where, what or ("een geheel getal" if integer else "een getal"), problems):
        return False
    if not math.isfinite(value):
        problems.append(f"{where}: {value} is geen eindig getal (NaN of oneindig)")
        return False
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = (f"tussen {lo} en {hi}" if lo is not None and hi is not None
               else f"minstens {lo}" if lo is not None else f"hooguit {hi}")
        problems.append(f"{where}: {short_text(value, 30)} moet {rng} zijn")
        return False
    return True


def load_parameters(path: str | Path) -> ParameterSet:
    """Read and validate a parameter file. All problems are reported together in one ParameterError.

    A relative path is looked up in the project folder, then in the package (``parameters/demo.yaml``)."""
    path = paths.find(path)
    raw = read_yaml(path, "parameters", what="parameterbestand",
                    hint="controleer het pad; voorbeelden staan in parameters/ (bijv. parameters/demo.yaml)")
    if not isinstance(raw, dict):
        raise ParameterError("verwacht een YAML-blok met sleutels als name, gemeente, year", where=str(path))
    return parse_parameters(raw, path)


def parse_parameters(raw: dict, path: Path | None = None) -> ParameterSet:
    where = f"{path}: " if path else ""
    problems: list[str] = []
    _check_keys(raw, _TOP_KEYS, where, problems)
    for key in ("name", "gemeente", "year"):
        if key not in raw:
            problems.append(f"{where}{key}: ontbreekt (verplicht)")

    name = raw.get("name", "")
    if "name" in raw and _expect(name, str, f"{where}name", "tekst", problems):
        if len(name) > MAX_NAME_LENGTH:
            problems.append(f"{where}name: '{short_text(name, 40)}' is te lang (hooguit {MAX_NAME_LENGTH} tekens; "
                            "het wordt een mapnaam)")
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name.endswith("."):
            problems.append(f"{where}name: '{short_text(name, 40)}' mag alleen letters, cijfers, '-', '_' en '.' bevatten "
                            "(het wordt een mapnaam)")

    gemeente = raw.get("gemeente", [])
    gemeenten: tuple[str, ...] = ()
    if isinstance(gemeente, str):
        gemeente = [gemeente]
    if "gemeente" in raw and _expect(gemeente, list, f"{where}gemeente", "een code (GM0518) of een lijst codes", problems):
        bad = [g for g in gemeente if not isinstance(g, str) or not GEMEENTE_CODE.match(g.strip()) or g.strip() == "GM0000"]
        if bad or not gemeente:
            problems.append(f"{where}gemeente: {short_text(bad, 60) if bad else 'leeg'} is geen CBS-gemeentecode "
                            "(vorm GM + 4 cijfers, bijv. GM0518)")
        gemeenten = tuple(g.strip() for g in gemeente if isinstance(g, str))
        if len(set(gemeenten)) < len(gemeenten):
            problems.append(f"{where}gemeente: een code staat er meer dan één keer in")

    year = raw.get("year", 0)
    if "year" in raw and _expect(year, int, f"{where}year", "een jaartal (geheel getal)", problems):
        if not 2010 <= year <= 2100:
            problems.append(f"{where}year: {year} is geen plausibel jaar")

    level = raw.get("level", "wijk")
    if not isinstance(level, str) or level not in ("wijk", "buurt"):
        problems.append(f"{where}level: {short_text(level, 40)} moet 'wijk' of 'buurt' zijn")
    if "title" in raw and _expect(raw["title"], str, f"{where}title", "een titel (tekst)", problems) \
            and len(raw["title"]) > 200:
        problems.append(f"{where}title: hooguit 200 tekens")

    sources = Sources()
    if "sources" in raw:
        s = raw["sources"]
        if _expect(s, dict, f"{where}sources", "een blok met statistics, geometry, records", problems):
            _check_keys(s, {"statistics", "geometry", "records", "record_columns", "products", "reference"},
                        f"{where}sources.", problems)
            if s.get("products") is not None:
                _expect(s["products"], str, f"{where}sources.products", "een pad naar een lijst productcategorieën", problems)
            for key in ("statistics", "geometry", "records", "reference"):
                if key in s and s[key] is not None:
                    _expect(s[key], str, f"{where}sources.{key}", "een pad of " + " / ".join(SPECIAL_SOURCES[key]), problems)
            rc = s.get("record_columns", {}) or {}
            if _expect(rc, dict, f"{where}sources.record_columns", "een blok {ons_veld: kolomkop_in_export}", problems):
                for k, v in rc.items():
                    if not isinstance(v, (str, int)) or isinstance(v, bool) or len(str(v)) > 200:
                        problems.append(f"{where}sources.record_columns.{short_text(str(k), 40)}: verwacht een kolomkop "
                                        f"(tekst), gevonden {short_text(v, 40)}")
            sources = Sources(
                statistics=str(s.get("statistics", "demo")),
                geometry=str(s.get("geometry", "demo")),
                records=s.get("records"),
                record_columns={str(k): str(v) for k, v in rc.items()} if isinstance(rc, dict) else {},
                products=s.get("products") if isinstance(s.get("products"), str) else None,
                reference=s.get("reference") if isinstance(s.get("reference"), str) else None,
            )

    risk = RiskSettings()
    if "risk" in raw:
        r = raw["risk"]
        if _expect(r, dict, f"{where}risk", "een blok", problems):
            allowed = set(RiskSettings.__dataclass_fields__)
            _check_keys(r, allowed, f"{where}risk.", problems)
            _check_reference(r, where, problems)
            for key, allowed_values in RISK_ENUMS.items():
                if key in r and (not isinstance(r[key], str) or r[key] not in allowed_values):
                    problems.append(f"{where}risk.{key}: {short_text(r[key], 40)} moet {' of '.join(allowed_values)} zijn")
            for key in ("youth_factors", "wmo_factors"):
                if key in r:
                    _check_factors(r[key], f"{where}risk.{key}", raw.get("catalog"), path, problems)
            if "min_population" in r:
                _number(r["min_population"], f"{where}risk.min_population", problems, lo=1, hi=10_000_000, integer=True,
                        what="een aantal inwoners (geheel getal)")
            for key in ("robust", "smoothing"):
                if key in r and not isinstance(r[key], bool):
                    problems.append(f"{where}risk.{key}: '{r[key]}' moet true of false zijn (zonder aanhalingstekens)")
            if "cluster_weights" in r and _expect(r["cluster_weights"], dict, f"{where}risk.cluster_weights", "een blok {cluster: gewicht}", problems):
                for k, v in r["cluster_weights"].items():
                    if str(k) not in ("1", "2", "3", "4", "5"):
                        problems.append(f"{where}risk.cluster_weights.{k}: cluster moet 1 t/m 5 zijn (5 = resultaat; gebruikelijk 1-3, eventueel 4)")
                    else:
                        _number(v, f"{where}risk.cluster_weights.{k}", problems, lo=0, hi=1e6, what="een gewicht >= 0")
                weights = [v for v in r["cluster_weights"].values() if isinstance(v, (int, float))]
                if r["cluster_weights"] and all(isinstance(v, (int, float)) and math.isfinite(v) for v in weights) \
                        and not sum(weights) > 0:
                    problems.append(f"{where}risk.cluster_weights: minstens één gewicht moet groter dan 0 zijn")
            if not any(p.startswith(f"{where}risk") for p in problems):
                kw = dict(r)
                for key in ("youth_factors", "wmo_factors"):
                    if key in kw:
                        kw[key] = tuple(kw[key])
                if isinstance(kw.get("peers"), list):
                    kw["peers"] = tuple(str(g).strip() for g in kw["peers"])
                if "cluster_weights" in kw:
                    kw["cluster_weights"] = {str(k): float(v) for k, v in kw["cluster_weights"].items()}
                risk = RiskSettings(**kw)

    privacy = PrivacySettings()
    if "privacy" in raw:
        p = raw["privacy"]
        if _expect(p, dict, f"{where}privacy", "een blok", problems):
            _check_keys(p, set(PrivacySettings.__dataclass_fields__), f"{where}privacy.", problems)
            ok = _check_privacy(p, f"{where}privacy", problems)
            if "protection" in p and p["protection"] is not None:
                ok &= _number(p["protection"], f"{where}privacy.protection", problems, lo=1, hi=1000, integer=True,
                              what="een geheel getal (standaard min_count)")
            if "dominance" in p:
                ok &= _expect(p["dominance"], bool, f"{where}privacy.dominance", "true of false", problems)
            if "dominance_p" in p:
                ok &= _number(p["dominance_p"], f"{where}privacy.dominance_p", problems, lo=0.01, hi=100,
                              what="een percentage tussen 0 en 100")
            if p.get("interval_audit", "strict") not in ("strict", "report"):
                problems.append(f"{where}privacy.interval_audit: moet strict of report zijn")
                ok = False
            if ok and not set(p) - set(PrivacySettings.__dataclass_fields__):
                privacy = PrivacySettings(**p)

    notebooks = DEFAULT_NOTEBOOKS
    if "notebooks" in raw:
        nbs = raw["notebooks"]
        if _expect(nbs, list, f"{where}notebooks", "een lijst notebooknamen", problems):
            available = paths.available_notebooks()
            shown = " of ".join(paths.shown(d) for d in paths.notebook_dirs())
            analyses = sorted(set(available) - set(NOT_ANALYSES))
            for nb in nbs:
                if not isinstance(nb, str) or nb not in available:
                    problems.append(f"{where}notebooks: {short_text(nb, 40)} bestaat niet in {shown} "
                                    f"(beschikbaar: {', '.join(analyses)})")
                elif nb in NOT_ANALYSES:
                    problems.append(f"{where}notebooks: '{nb}' is geen analysenotebook (de app draait met "
                                    f"`workbench serve`); kies uit {', '.join(analyses)}")
            if len(set(map(str, nbs))) < len(nbs):
                problems.append(f"{where}notebooks: een notebook staat er meer dan één keer in")
            if not nbs:
                problems.append(f"{where}notebooks: leeg; laat de sleutel weg voor alle notebooks")
            notebooks = tuple(str(n) for n in nbs)

    budget = _parse_budget(raw.get("budget"), where, problems)

    catalog = raw.get("catalog")
    if catalog is not None:
        _expect(catalog, str, f"{where}catalog", "een pad naar een indicatorcatalogus", problems)

    outcomes = OutcomeSettings()
    if "outcomes" in raw:
        o = raw["outcomes"]
        if _expect(o, dict, f"{where}outcomes", "een blok met matrix, return_days, followup_days", problems):
            _check_keys(o, set(OutcomeSettings.__dataclass_fields__), f"{where}outcomes.", problems)
            ok = not (set(o) - set(OutcomeSettings.__dataclass_fields__))
            if o.get("matrix") is not None:
                ok &= _expect(o["matrix"], str, f"{where}outcomes.matrix", "een pad naar een resultatenmatrix", problems)
            for key in ("return_days", "followup_days"):
                if key in o:
                    ok &= _number(o[key], f"{where}outcomes.{key}", problems, lo=1, hi=MAX_DAYS, integer=True,
                                  what="een aantal dagen (geheel getal)")
            if ok:
                outcomes = OutcomeSettings(**o)

    if sources.reference and risk.reference not in ("nederland", "peer"):
        problems.append(f"{where}sources.reference: wordt alleen gebruikt met risk.reference: nederland of peer "
                        f"(nu: {risk.reference})")
    if problems:
        raise ParameterError(
            "het parameterbestand klopt niet:\n  - " + "\n  - ".join(problems),
            hint="pas de genoemde sleutels aan; zie parameters/demo.yaml voor een werkend voorbeeld",
        )
    params = ParameterSet(
        name=name, gemeente=gemeenten, year=year, level=level, title=str(raw.get("title", "")),
        sources=sources, risk=risk, privacy=privacy, notebooks=notebooks,
        budget=budget, catalog=catalog, outcomes=outcomes, path=path.resolve() if path else None,
    )
    _check_input_files(params, where)
    return params


def _check_reference(r: dict, where: str, problems: list[str]) -> None:
    """risk.reference and risk.peers: a known reference; peers only (and always) with reference: peer."""
    ref = r.get("reference", "region")
    if not isinstance(ref, str) or ref not in RISK_REFERENCES:
        problems.append(f"{where}risk.reference: {short_text(ref, 40)} moet gemeente, region, all, nederland of peer zijn")
        return
    peers = r.get("peers")
    if ref == "peer" and peers is None:
        problems.append(f"{where}risk.peers: ontbreekt; bij reference: peer noem je de vergelijkingsgemeenten "
                        "(peers: [GM0599, GM0518]) of een CBS-klasse (peers: {stedelijkheid: [1, 2]})")
    elif ref != "peer" and peers is not None:
        problems.append(f"{where}risk.peers: alleen te gebruiken met reference: peer (nu: {ref})")
    elif isinstance(peers, list):
        bad = [g for g in peers if not isinstance(g, str) or not GEMEENTE_CODE.match(g.strip())]
        if bad or not peers:
            problems.append(f"{where}risk.peers: {bad or 'leeg'} is geen lijst CBS-gemeentecodes (vorm GM + 4 cijfers)")
    elif isinstance(peers, dict):
        classes = peers.get("stedelijkheid")
        if set(peers) != {"stedelijkheid"} or not isinstance(classes, list) or not classes or not all(
                isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 5 for c in classes):
            problems.append(f"{where}risk.peers: verwacht {{stedelijkheid: [1, 2]}} met klassen 1 (zeer sterk "
                            "stedelijk) t/m 5 (niet stedelijk)")
    elif peers is not None:
        problems.append(f"{where}risk.peers: verwacht een lijst gemeentecodes of {{stedelijkheid: [...]}}")


def _parse_weights(w, where: str, problems: list[str]) -> dict[str, float] | None:
    if not _expect(w, dict, where, "een blok {jeugd: 0.6, wmo: 0.4}", problems):
        return None
    bad_keys = [k for k in w if k not in BUDGET_COMPONENTS]
    if bad_keys:
        problems.append(f"{where}: onbekende verdeelsleutel(s) {short_text(bad_keys, 60)} (toegestaan: {', '.join(BUDGET_COMPONENTS)})")
        return None
    bad = [k for k, v in w.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
           or v < 0]
    if bad:
        problems.append(f"{where}: gewichten moeten eindige getallen >= 0 zijn (fout bij {short_text(', '.join(map(str, bad)), 60)})")
        return None
    total = sum(w.values())
    if not w or abs(total - 1.0) > 1e-6:
        problems.append(f"{where}: de gewichten tellen op tot {total:g}, niet tot 1 (bijv. jeugd: 0.6, wmo: 0.4)")
        return None
    return {str(k): float(v) for k, v in w.items()}


def _parse_budget(b, where: str, problems: list[str]) -> BudgetSettings | None:
    """The budget block: {total, weights, alternative?, label?, alternative_label?}; every mistake named."""
    if b is None:
        return None
    n = len(problems)
    if not _expect(b, dict, f"{where}budget", "een blok met total en weights", problems):
        return None
    _check_keys(b, set(BudgetSettings.__dataclass_fields__), f"{where}budget.", problems)
    for key in ("total", "weights"):
        if key not in b:
            problems.append(f"{where}budget.{key}: ontbreekt (verplicht in een budget-blok)")
    total = b.get("total")
    if "total" in b and _expect(total, (int, float), f"{where}budget.total", "een bedrag in euro (getal)", problems):
        if not (math.isfinite(total) and 0 < total < 1e13):
            problems.append(f"{where}budget.total: {total} moet een positief bedrag in euro zijn")
        elif abs(round(total * 100) - total * 100) > 1e-6:
            problems.append(f"{where}budget.total: {total} heeft meer dan twee decimalen (hele centen)")
    weights = _parse_weights(b["weights"], f"{where}budget.weights", problems) if "weights" in b else None
    alternative = None
    if b.get("alternative") is not None:
        alternative = _parse_weights(b["alternative"], f"{where}budget.alternative", problems)
    for key in ("label", "alternative_label"):
        if key in b:
            _expect(b[key], str, f"{where}budget.{key}", "een naam (tekst)", problems)
    if len(problems) > n:
        return None
    return BudgetSettings(total=float(total), weights=weights, alternative=alternative,
                          label=str(b.get("label", "voorstel")), alternative_label=str(b.get("alternative_label", "alternatief")))


def _check_contents(params: ParameterSet, where: str) -> list[str]:
    """The indicator catalogue is read now, so that a wrong file (catalog: /etc/passwd) is refused before the run
    starts. The product list and result matrix are read by ``pipeline.check_parameters`` (their parsers live in
    higher layers)."""
    from .catalog import load_catalog
    from .errors import WorkbenchError

    if not params.catalog:
        return []
    try:
        load_catalog(params.resolve(params.catalog))
    except WorkbenchError as exc:
        return [f"{where}catalog: {short_text(exc.render(), 600)}"]
    return []


def _check_input_files(params: ParameterSet, where: str) -> None:
    """Every input path exists and is a regular file of bounded size (statistics and geometry may be a folder of
    such files): a device, pipe or huge file is refused here, before anything reads it."""
    problems = []
    checks = [(f"sources.{key}", getattr(params.sources, key), "statistics" if key == "reference" else key)
              for key in ("statistics", "geometry", "records", "reference")
              if getattr(params.sources, key) not in (None, *SPECIAL_SOURCES[key])]
    checks += [(key, value, "yaml") for key, value in (("sources.products", params.sources.products),
                                                      ("outcomes.matrix", params.outcomes.matrix),
                                                      ("catalog", params.catalog)) if value]
    for key, value, kind in checks:
        if "\x00" in value or len(value) > 1000:
            problems.append(f"{where}{key}: '{short_text(value, 60)}' is geen geldig pad")
            continue
        try:
            resolved = params.resolve(value)
            shown = short_text(str(resolved), 200)
            exists = resolved is not None and (resolved.exists() or resolved.is_symlink())
        except OSError as exc:
            problems.append(f"{where}{key}: '{short_text(value, 60)}': {describe_os_error(exc)[0]}")
            continue
        if not exists:
            problems.append(f"{where}{key}: bestand '{short_text(value, 100)}' bestaat niet (gezocht als {shown})")
            continue
        if kind in ("statistics", "geometry") and resolved.is_dir():
            try:
                inside = [f for f in sorted(resolved.iterdir())[:1000] if not f.name.startswith(".")]
            except OSError as exc:
                problems.append(f"{where}{key}: map {shown}: {describe_os_error(exc)[0]}")
                continue
            for f in inside:
                why = check_regular_file(f, kind)
                if why and not f.is_dir():
                    problems.append(f"{where}{key}: {short_text(str(f), 200)}: {why}")
            continue
        why = check_regular_file(resolved, kind)
        if why:
            problems.append(f"{where}{key}: {shown}: {why}")
    if not problems:
        problems = _check_contents(params, where)
    if problems:
        raise ParameterError("invoerbestand ontbreekt of is onbruikbaar:\n  - " + "\n  - ".join(problems),
                             hint="controleer het pad (relatief aan de map van het parameterbestand) of haal de data "
                                  "op met `workbench fetch`; een te groot bestand: beperk het tot de gemeenten van de set")
