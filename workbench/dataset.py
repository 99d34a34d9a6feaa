"""Everything one parameter set needs, loaded once: areas, statistics, records, the indicator table.

This is the one call an analyst makes in a fresh notebook::

    import workbench as wb
    ds = wb.load_dataset("parameters/demo.yaml")
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd

from . import coverage
from .areas import area_index as build_area_index
from .catalog import Catalog, load_catalog
from .errors import DataError
from .formatting import counted
from .indicators import build_indicators, compare_with_gemeente, denominator_note
from .params import ParameterSet, load_parameters
from .sources.common import Statistics, statistics_from_frame
from .sources.records import aggregate_records
from .validation import products_for, validate_records

ATTRIBUTION = "Bron: CBS, Kadaster/PDOK (CC BY 4.0)"


@dataclass
class Dataset:
    params: ParameterSet
    catalog: Catalog
    areas: gpd.GeoDataFrame           # the parameter set's gemeenten, all levels, EPSG:28992
    statistics: dict[int, Statistics]  # every area the source delivered, per year
    indicators: pd.DataFrame           # tidy, with intervals and comparison; NOT yet disclosure-controlled
    records: pd.DataFrame | None = None  # record level: local only, never published
    records_year: int | None = None
    records_absent: str = ""  # why the set's records are not used for its year (Dutch; e.g. demo records of another year)
    fictional: bool = False
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, Path] = field(default_factory=dict)
    # Every area the statistics delivered (all years; index code: name, level, parents): built once.
    area_index: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None  # per gemeente: loaded against CBS's own row (workbench.coverage)
    # What presentation works out once per Dataset and is no figure (simplified web geometry, which notices a
    # notebook has shown): kept here so that report.py holds no state of its own.
    memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.area_index is None:
            self.area_index = build_area_index(self.statistics)

    @cached_property
    def findings(self):
        """Every figure that leaves the package, computed once and protected (``workbench.findings.Findings``).

        The one import from a higher layer in the core, and a lazy one: the entry point the analyst calls."""
        from .findings import Findings

        return Findings(self)

    @property
    def partial_gemeenten(self) -> list[str]:
        from .coverage import PARTIAL

        return [] if self.coverage is None else list(self.coverage.index[self.coverage["status"] == PARTIAL])

    @property
    def year(self) -> int:
        return self.params.year

    @property
    def years(self) -> list[int]:
        return sorted(self.statistics)

    @property
    def has_records(self) -> bool:
        return self.records is not None or (self.is_light and self.records_year is not None)

    @property
    def is_light(self) -> bool:
        """Opened from a run's stored findings (``findings.load_run``): public parts only, no records, no
        indicator table, no statistics; anything the store lacks is computed after ``reload``."""
        return self.indicators is None

    def light(self) -> "Dataset":
        """The public part of this Dataset: parameters, catalogue, areas, area index, notes, input paths."""
        return dataclasses.replace(self, indicators=None, records=None, statistics=dict.fromkeys(self.statistics))

    def reload(self) -> "Dataset":
        """The full Dataset again (sources loaded, records checked)."""
        return load_dataset(self.params, self.catalog)

    @property
    def attribution(self) -> str:
        if self.fictional:
            from .sources import demo

            return demo.FICTIONAL_NOTE
        return ATTRIBUTION

    def level_areas(self, level: str | None = None, include_water: bool = False) -> gpd.GeoDataFrame:
        level = level or self.params.level
        a = self.areas[self.areas["level"] == level]
        if not include_water and "water" in a:
            a = a[~a["water"].astype(bool)]
        return a

    def input_fingerprints(self) -> dict[str, str]:
        return {name: fingerprint_file(path) for name, path in self.inputs.items()}


def fingerprint_file(path: Path) -> str:
    h = hashlib.sha256()
    p = Path(path)
    # Regular files only: a device or pipe (records: /dev/zero) would be read forever.
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p] if p.is_file() else []
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _demo_statistics(folder: Path, catalog: Catalog) -> dict[int, Statistics]:
    from .sources import demo

    out = {}
    for year in demo.DEMO_YEARS:
        path = folder / f"kwb_{year}.csv"
        df = pd.read_csv(path, dtype={"gwb_code": str})
        out[year] = statistics_from_frame(df, catalog, "xlsx", code_col="gwb_code", name_col="regio",
                                          year=year, source=f"demo:{path.name}", where=str(path))
    return out


def _demo_areas(folder: Path) -> gpd.GeoDataFrame:
    layers = [gpd.read_file(folder / "areas.gpkg", layer=layer) for layer in ("gemeenten", "wijken", "buurten")]
    return pd.concat(layers, ignore_index=True)


def load_statistics(params: ParameterSet, catalog: Catalog) -> tuple[dict[int, Statistics], Path | None]:
    spec = params.sources.statistics
    if spec == "demo":
        from .sources import demo

        folder = demo.ensure_demo()
        return _demo_statistics(folder, catalog), folder
    from .sources import cbs  # real open data; imported lazily so the demo needs nothing of it

    return cbs.load_statistics(spec, params, catalog), params.resolve(spec)


def load_areas(params: ParameterSet) -> tuple[gpd.GeoDataFrame, Path | None]:
    spec = params.sources.geometry
    if spec == "demo":
        from .sources import demo

        folder = demo.ensure_demo()
        return _demo_areas(folder), folder / "areas.gpkg"
    from .sources import pdok

    return pdok.load_areas(spec, params), params.resolve(spec)


def input_paths(params: ParameterSet) -> dict[str, Path]:
    """The input files (or folders) of a parameter set, as fingerprinted in a run's manifest; nothing is loaded.

    ``cbs`` / ``pdok`` (the download cache) have no fixed path and are left out, as in :func:`load_dataset`.
    """
    out: dict[str, Path] = {}
    demo_folder = None
    if "demo" in (params.sources.statistics, params.sources.geometry, params.sources.records):
        from .sources import demo

        demo_folder = demo.ensure_demo()
    if params.sources.statistics == "demo":
        out["statistics"] = demo_folder
    elif params.resolve(params.sources.statistics) is not None:
        out["statistics"] = params.resolve(params.sources.statistics)
    if params.sources.geometry == "demo":
        out["geometry"] = demo_folder / "areas.gpkg"
    elif params.resolve(params.sources.geometry) is not None:
        out["geometry"] = params.resolve(params.sources.geometry)
    if params.sources.records == "demo":
        out["records"] = demo_folder / demo.RECORDS
    elif params.sources.records:
        out["records"] = params.resolve(params.sources.records)
    return out


def load_dataset(params: ParameterSet | str | Path, catalog: Catalog | None = None) -> Dataset:
    """Load and join every source of a parameter set and build the indicator table."""
    if not isinstance(params, ParameterSet):
        params = load_parameters(params)
    catalog = catalog or load_catalog(params.resolve(params.catalog) if params.catalog else None)
    statistics, stats_path = load_statistics(params, catalog)
    areas, geo_path = load_areas(params)
    inputs = {k: v for k, v in (("statistics", stats_path), ("geometry", geo_path)) if v is not None}
    notes: list[str] = []
    for s in statistics.values():
        notes.extend(f"{s.year}: {n}" for n in s.notes)
    notes.extend(f"geometrie: {n}" for n in areas.attrs.get("notes", []))

    wanted = set(params.gemeente)
    present = set(areas["gemeente_code"])
    absent = sorted(wanted - present)
    if absent:
        raise DataError(f"gemeente(n) {', '.join(absent)} komen niet voor in de geometrie "
                        f"(wel aanwezig: {', '.join(sorted(present)[:10])}{' ...' if len(present) > 10 else ''})",
                        where=str(geo_path or params.sources.geometry),
                        hint="controleer 'gemeente' in het parameterbestand of kies een ander geometriebestand")
    areas = areas[areas["gemeente_code"].isin(wanted)].copy()
    if params.year not in statistics:
        raise DataError(f"de statistiek bevat geen jaar {params.year} (wel: {', '.join(map(str, sorted(statistics)))})",
                        where=str(stats_path or params.sources.statistics),
                        hint="zet 'year' in het parameterbestand op een beschikbaar jaar")
    _check_join(areas, statistics[params.year], params, stats_path, geo_path, notes)
    areas = merge_names(areas, statistics, params.year, _extra_names(params, geo_path))
    cov = coverage.gemeente_coverage(statistics[params.year], areas, params.level, params.gemeente)
    line = coverage.note_line(cov)
    if line:
        notes.append(line)
    geo_years = sorted(set(areas["year"].dropna().astype(int))) if "year" in areas else []
    if geo_years and geo_years != [params.year]:
        notes.append(f"statistiek uit {params.year}, geometrie uit {', '.join(map(str, geo_years))}: gekoppeld op "
                     "gebiedscode; grenzen kunnen tussen die jaren verschillen")

    area_index = build_area_index(statistics)

    records = records_agg = records_year = None
    fictional = params.is_demo
    demo_records_elsewhere = params.sources.records == "demo" and params.year != _demo_records_year()
    records_absent = ""
    if demo_records_elsewhere:  # never show the demo's records under another year's header
        records_absent = (f"De fictieve zorgregistratie van de demo beschrijft alleen {_demo_records_year()}. Kosten "
                          f"en resultaten worden daarom voor {params.year} niet getoond; kies year: "
                          f"{_demo_records_year()} om ze te zien.")
        notes.append(f"de fictieve zorgregistratie van de demo beschrijft {_demo_records_year()}; voor {params.year} "
                     "zijn er geen zorgtrajecten: kosten en resultaten worden niet getoond")
    if params.sources.records and not demo_records_elsewhere:
        if params.sources.records == "demo":
            from .sources import demo

            path = demo.ensure_demo() / demo.RECORDS
            records_year = demo.DEMO_YEAR
            fictional = True
        else:
            path = params.resolve(params.sources.records)
            records_year = params.year
        # Every run checks the records: errors stop here (before anything is written), warnings become notes.
        report = validate_records(path, params.sources.record_columns, areas=areas, gemeenten=params.gemeente,
                                  products=products_for(params))
        report.raise_for_errors()
        records = report.records
        notes.extend(report.note_lines())
        inputs["records"] = path
        records_agg = aggregate_records(records, records_year)

    tidy = build_indicators(statistics, catalog, area_index, records_agg, records_year)
    tidy = coverage.apply_coverage(tidy, cov) if "basis" in tidy else tidy
    tidy = compare_with_gemeente(tidy, area_index)
    shown = areas["code"]
    for ind in catalog:  # an estimated denominator is a fallback: say where it was used
        text = denominator_note(tidy, catalog, ind.id, params.year, shown)
        if text and "geschatte noemer" in text:
            notes.append(text)
    return Dataset(params=params, catalog=catalog, areas=areas, statistics=statistics, indicators=tidy,
                   records=records, records_year=records_year, fictional=fictional, notes=notes, inputs=inputs,
                   area_index=area_index, records_absent=records_absent, coverage=cov)


def _demo_records_year() -> int:
    from .sources import demo

    return demo.DEMO_YEAR


def _bare(names: pd.Series) -> pd.Series:
    text = names.astype("string").str.strip()
    return text.isna() | (text == "") | (text == pd.Series(names.index, index=names.index).astype("string"))


def merge_names(areas, statistics: dict[int, Statistics], year: int, extra=()):
    """Names from every loaded source: the geometry, the statistics (of ``year`` first), then ``extra``
    (attribute files beside the geometry, the OData titles ``fetch`` saved). A bare code only when no source
    has a name. The statistics of ``year`` get the same names, so every table and map shows them."""
    candidates = [areas.set_index("code")["name"]]
    if year in statistics:  # codes are only comparable within a year: other years' names are not used
        candidates.append(statistics[year].areas["name"])
    candidates += list(extra)
    best = pd.Series(dtype=object)
    for names in candidates:
        names = names[~names.index.duplicated()]
        names = names[~_bare(names)].astype(str).str.strip()
        best = best.combine_first(names) if len(best) else names
    areas = areas.copy()
    areas["name"] = areas["code"].map(best).fillna(areas["code"])
    if year in statistics:
        sa = statistics[year].areas
        bare = _bare(sa["name"])
        codes = sa.index[bare.to_numpy()]
        sa.loc[codes, "name"] = pd.Series(codes, index=codes).map(best).fillna(pd.Series(codes, index=codes)).to_numpy()
    return areas


def _extra_names(params: ParameterSet, geo_path) -> list[pd.Series]:
    """Names outside statistics and geometry: attribute files in the geometry folder and saved OData titles."""
    out: list[pd.Series] = []
    from .sources import cbs

    if geo_path is not None and Path(geo_path).is_dir():
        for f in sorted(Path(geo_path).iterdir()):
            if f.suffix.lower() in (".parquet", ".csv"):
                names = cbs.read_names(f)
                if names is not None:
                    out.append(names)
    titles = cbs.saved_titles(params.year)
    if titles is not None:
        out.append(titles)
    return out


def _check_join(areas, stats: Statistics, params, stats_path, geo_path, notes) -> None:
    """Statistics join geometry on trimmed codes; codes without a partner are listed in one message."""
    level_codes = set(areas.loc[areas["level"] == params.level, "code"])
    stat_codes = set(stats.areas.index[stats.areas["gemeente_code"].isin(params.gemeente)
                                       & (stats.areas["level"] == params.level)])
    if not level_codes & stat_codes:
        raise DataError(
            f"statistiek en geometrie delen geen enkele {params.level}code voor {', '.join(params.gemeente)} "
            f"(statistiek bijv. {', '.join(sorted(stat_codes)[:3]) or 'geen'}; geometrie bijv. {', '.join(sorted(level_codes)[:3]) or 'geen'})",
            where=f"{stats_path or params.sources.statistics} + {geo_path or params.sources.geometry}",
            hint="gebruik statistiek en geometrie van hetzelfde jaar (wijkcodes veranderen bij herindelingen)")
    only_geo = sorted(level_codes - stat_codes)
    only_stat = sorted(stat_codes - level_codes)
    if only_geo or only_stat:
        notes.append(
            f"niet gekoppeld: {counted(len(only_geo), params.level)} alleen in de geometrie ({', '.join(only_geo[:8])}), "
            f"{len(only_stat)} alleen in de statistiek ({', '.join(only_stat[:8])})")
