"""Geometry of gemeenten, wijken and buurten (CBS wijk- en buurtkaart, via PDOK) in the areas contract.

Reads the wijkenbuurten GeoPackage (layers gemeenten/wijken/buurten of any year, also CBS_Buurten and
the like), legacy shapefiles with upper-case fields (zipped or not), GeoJSON (WGS84 is reprojected) and a
folder holding several of these; downloads from the PDOK OGC API into the cache.

The result: GeoDataFrame in EPSG:28992 with ``code, name, level, gemeente_code, wijk_code, year, water,
geometry``. Missing coarser levels are dissolved from finer ones (a file of buurten yields wijken and
gemeenten). Remarks for the run's manifest are in ``gdf.attrs["notes"]``.
"""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.errors import GEOSException

from ..errors import DataError
from . import checks, net
from .common import gemeente_of, level_of, normalize_code, wijk_of

RD = "EPSG:28992"
LEVELS = ("gemeente", "wijk", "buurt")
CODE_FIELDS = {"buurt": ("buurtcode", "bu_code"), "wijk": ("wijkcode", "wk_code"), "gemeente": ("gemeentecode", "gm_code")}
NAME_FIELDS = {"buurt": ("buurtnaam", "bu_naam"), "wijk": ("wijknaam", "wk_naam"), "gemeente": ("gemeentenaam", "gm_naam")}
YEAR_FIELDS = ("jaarstatcode", "jrstatcode", "jaar")
GEO_SUFFIXES = (".gpkg", ".zip", ".shp", ".geojson", ".json")
YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
# Rough extents of the Netherlands, to recognise a file without CRS.
RD_BOUNDS = (-10_000, 280_000, 310_000, 640_000)
WGS84_BOUNDS = (2.5, 50.5, 7.5, 54.0)
OGC_API = "https://api.pdok.nl/cbs/wijken-en-buurten-{year}/ogc/v1"
OGC_COLLECTIONS = {"gemeente": "gemeenten", "wijk": "wijken", "buurt": "buurten"}
ATOM_PAGE = "https://www.pdok.nl/atom-downloadservices/-/article/cbs-wijken-en-buurten"
CBS_MAP_PAGE = "https://www.cbs.nl/nl-nl/dossier/nederland-regionaal/geografische-data/wijk-en-buurtkaart-{year}"


def load_areas(spec: str, params) -> gpd.GeoDataFrame:
    """Areas for a parameter set: ``pdok`` (cache, else the OGC API) or a file or folder."""
    if spec == "pdok":
        path = ensure_geometry(params.gemeente, params.year)
    else:
        path = params.resolve(spec)
        if path is None or not path.exists():
            raise DataError("geometriebestand niet gevonden", where=str(path or spec),
                            hint="controleer sources.geometry in het parameterbestand")
    return read_areas(path, default_year=params.year)


def read_areas(path: str | Path, *, default_year: int | None = None) -> gpd.GeoDataFrame:
    checks.readable_file(path, "geometry", "geometriebestand")  # no device, pipe or huge file
    with checks.reading(path, "geometriebestand"):  # a broken file: one Dutch message, never a traceback
        return _read_areas(Path(path), default_year=default_year)


def _read_areas(path: Path, *, default_year: int | None = None) -> gpd.GeoDataFrame:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in GEO_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError("de map bevat geen geometrie (.gpkg, .zip, .shp, .geojson)", where=str(path))
    notes: list[str] = []
    frames = []
    for f in files:
        for layer in _layers(f):
            frames.append(_read_layer(f, layer, default_year, notes))
    areas = pd.concat(frames, ignore_index=True)
    dup = areas["code"][areas["code"].duplicated()]
    if len(dup):
        raise DataError(f"gebiedscodes komen dubbel voor in de geometrie: {', '.join(dup.unique()[:5])}",
                        where=str(path), hint="elke gemeente, wijk en buurt mag één keer voorkomen; "
                                              "gebruik één jaar van de wijk- en buurtkaart")
    areas = _repair_geometry(gpd.GeoDataFrame(areas, geometry="geometry", crs=RD), notes)
    try:
        areas = _add_missing_levels(areas, notes)
    except GEOSException as exc:  # a damaged file can defeat even repaired geometry
        raise DataError(f"de geometrie is beschadigd en niet samen te voegen ({exc})", where=str(path),
                        hint="download de wijk- en buurtkaart opnieuw of repareer de geometrie (QGIS: Geometrie repareren)") from None
    areas = gpd.GeoDataFrame(areas, geometry="geometry", crs=RD)
    areas.attrs["notes"] = list(dict.fromkeys(notes))
    return areas


def _repair_geometry(areas: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """Invalid polygons (self-intersections, damaged files) are repaired, with a note; empty ones are an error."""
    empty = areas.geometry.isna() | areas.geometry.is_empty
    if empty.any():
        raise DataError(f"{int(empty.sum())} gebied(en) zonder geometrie (bijv. {', '.join(areas.loc[empty, 'code'].astype(str)[:5])})",
                        hint="download de wijk- en buurtkaart opnieuw; het bestand lijkt beschadigd")
    invalid = ~areas.geometry.is_valid
    if invalid.any():
        areas = areas.copy()
        areas.loc[invalid, "geometry"] = areas.geometry[invalid].make_valid()
        notes.append(f"{int(invalid.sum())} ongeldige geometrie(ën) gerepareerd (bijv. {', '.join(areas.loc[invalid, 'code'].astype(str)[:5])})")
    return areas


def _layers(path: Path) -> list[str | None]:
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise DataError(f"geen leesbaar geometriebestand ({exc})", where=str(path),
                        hint="gebruik een GeoPackage, (gezipte) shapefile of GeoJSON van de wijk- en buurtkaart") from None
    if not layers:
        raise DataError("het bestand bevat geen enkele laag (leeg of onvolledig)", where=str(path),
                        hint="gebruik de wijk- en buurtkaart zoals PDOK/CBS die levert")
    if path.suffix.lower() == ".gpkg":
        useful = [name for name in layers if any(w in name.lower() for w in ("gemeente", "wijk", "buurt"))]
        return useful or layers[:1]
    return layers


def _read_layer(path: Path, layer: str | None, default_year, notes: list[str]) -> pd.DataFrame:
    where = f"{path}" + (f" (laag {layer})" if layer and path.suffix.lower() in (".gpkg", ".zip") else "")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:
        raise DataError(f"kan de laag niet lezen ({exc})", where=where) from None
    cols = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    level = next((lv for lv in ("buurt", "wijk", "gemeente") if any(f in cols for f in CODE_FIELDS[lv])), None)
    if level is not None:
        code_col = next(cols[f] for f in CODE_FIELDS[level] if f in cols)
    else:
        code_col = next((cols[c] for c in ("statcode", "id", "code") if c in cols), None)
        if code_col is None:
            raise DataError(f"geen kolom met gebiedscodes (verwacht buurtcode/wijkcode/gemeentecode of BU_CODE/"
                            f"WK_CODE/GM_CODE; gevonden: {', '.join(list(cols)[:10])})", where=where)
    codes = gdf[code_col].map(normalize_code)
    checks.check_codes(codes, where, code_col)  # look-alikes (WK0363O0, GM0000) are refused, not skipped
    checks.check_geometry(gdf, where)
    levels = codes.map(level_of)
    bad = levels.isna()
    if bad.all():
        raise DataError(f"kolom '{code_col}' bevat geen CBS-gebiedscodes (bijv. {codes.iloc[0]!r})", where=where)
    if bad.any():
        notes.append(f"{path.name}: {int(bad.sum())} rijen zonder geldige gebiedscode overgeslagen")
    gdf = gdf[~bad.to_numpy()]
    codes, levels = codes[~bad], levels[~bad]

    def field(options, default):
        col = next((cols[c] for c in options if c in cols), None)
        return gdf[col].astype("string").str.strip().to_numpy() if col else default

    out = pd.DataFrame({"code": codes.to_numpy(), "level": levels.to_numpy()})
    out["name"] = field(NAME_FIELDS[level], codes.to_numpy()) if level else codes.to_numpy()
    out["name"] = out["name"].fillna(out["code"])
    gm = field(CODE_FIELDS["gemeente"], None)
    out["gemeente_code"] = [normalize_code(g) if g is not None and pd.notna(g) else gemeente_of(c)
                            for g, c in zip(gm if gm is not None else [None] * len(out), out["code"])]
    out["wijk_code"] = [c if lv == "wijk" else wijk_of(c) for c, lv in zip(out["code"], out["level"])]
    out["gemeente_naam"] = field(NAME_FIELDS["gemeente"], None) if level != "gemeente" else out["name"]
    out["wijk_naam"] = field(NAME_FIELDS["wijk"], None) if level == "buurt" else None
    out["year"] = _year(gdf, cols, path, default_year, notes)
    wcol = cols.get("water")
    if wcol:
        w = gdf[wcol]
        out["water"] = (w.astype("string").str.strip().str.upper().isin(["JA", "TRUE", "1", "J"]).to_numpy()
                        if not pd.api.types.is_bool_dtype(w) else w.to_numpy())
    else:
        out["water"] = False
    geo = _to_rd(gdf, where, notes)
    checks.check_extent(geo, gdf, where)
    out["geometry"] = geo.geometry.to_numpy()
    return out


def _year(gdf, cols, path: Path, default_year, notes) -> int:
    for f in YEAR_FIELDS:
        if f in cols:
            years = {str(v)[:4] for v in gdf[cols[f]].dropna()}
            if len(years) == 1 and next(iter(years)).isdigit():
                return int(years.pop())
    m = YEAR_IN_NAME.search(path.stem)
    if m:
        return int(m.group(1))
    if default_year is None:
        raise DataError("het jaar van de geometrie staat niet in het bestand", where=str(path),
                        hint="zet het jaar in de bestandsnaam (bijv. wijken_2024.geojson)")
    notes.append(f"het jaar van {path.name} staat niet in het bestand; aangenomen: {default_year}")
    return int(default_year)


def _to_rd(gdf: gpd.GeoDataFrame, where: str, notes: list[str]) -> gpd.GeoDataFrame:
    if gdf.crs is not None and gdf.crs.is_geographic and (abs(gdf.total_bounds) > 180).any():
        # GDAL labels every GeoJSON WGS84 (RFC 7946), also old exports in RD metres: judge by the numbers.
        gdf = gdf.set_crs(None, allow_override=True)
    if gdf.crs is None:
        x0, y0, x1, y1 = gdf.total_bounds
        within = lambda b: b[0] <= x0 and x1 <= b[2] and b[1] <= y0 and y1 <= b[3]  # noqa: E731
        if within(RD_BOUNDS):
            gdf = gdf.set_crs(RD)
            notes.append(f"{where}: geen coördinatenstelsel in het bestand; uit de coördinaten afgeleid: RD New (EPSG:28992)")
        elif within(WGS84_BOUNDS):
            gdf = gdf.set_crs("EPSG:4326")
            notes.append(f"{where}: geen coördinatenstelsel in het bestand; uit de coördinaten afgeleid: WGS84 (EPSG:4326)")
        else:
            raise DataError(f"geen coördinatenstelsel in het bestand en de coördinaten ({x0:.0f}, {y0:.0f}) – "
                            f"({x1:.0f}, {y1:.0f}) passen niet bij RD New of WGS84 in Nederland", where=where,
                            hint="lever het bestand met .prj (shapefile) of met CRS (GeoPackage/GeoJSON)")
    return gdf.to_crs(RD) if gdf.crs.to_epsg() != 28992 else gdf


def _add_missing_levels(areas: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Dissolve wijken from buurten and gemeenten from the finest level present, where the file lacks them."""
    gareas = gpd.GeoDataFrame(areas, geometry="geometry", crs=RD)
    parts = [gareas]
    for level, key, name_col, source_levels in (("wijk", "wijk_code", "wijk_naam", ("buurt",)),
                                                ("gemeente", "gemeente_code", "gemeente_naam", ("wijk", "buurt"))):
        have = set(gareas.loc[gareas["level"] == level, "code"])
        src_level = next((lv for lv in source_levels if (gareas["level"] == lv).any()), None)
        if src_level is None:
            continue
        src = gareas[(gareas["level"] == src_level) & ~gareas[key].isin(have)]
        if src.empty:
            continue
        agg = {c: "first" for c in (name_col, "gemeente_code", "gemeente_naam", "year") if c != key}
        diss = src.dissolve(by=key, aggfunc=agg, as_index=False)
        new = gpd.GeoDataFrame({
            "code": diss[key], "level": level,
            "name": diss[name_col].fillna(diss[key]) if name_col in diss else diss[key],
            "gemeente_code": diss["gemeente_code"], "wijk_code": diss[key] if level == "wijk" else None,
            "gemeente_naam": diss["gemeente_naam"] if level == "wijk" else None, "wijk_naam": None,
            "year": diss["year"],
            # a dissolved wijk/gemeente is water only when all its parts are
            "water": src.groupby(key)["water"].all().reindex(diss[key]).to_numpy(),
            "geometry": diss.geometry}, geometry="geometry", crs=RD)
        parts.append(new)
        gareas = pd.concat(parts, ignore_index=True)
        parts = [gareas]
        notes.append(f"{len(new)} {level}(en) samengesteld uit de {src_level}en van de geometrie")
    gareas["year"] = gareas["year"].astype(int)
    gareas["water"] = gareas["water"].astype(bool)
    return gareas[["code", "name", "level", "gemeente_code", "wijk_code", "year", "water", "geometry"]]


# --------------------------------------------------------------------------------------------------
# PDOK OGC API and the cache
# --------------------------------------------------------------------------------------------------

def cache_file(gemeenten, year: int) -> Path:
    return net.cache_dir() / "pdok" / f"wijkenbuurten_{year}_{'_'.join(sorted(gemeenten))}.gpkg"


def manual_instructions(gemeenten, year: int) -> str:
    target = cache_file(gemeenten, year)
    return (f"geometrie {year}: download de wijk- en buurtkaart {year} als GeoPackage (wijkenbuurten_{year}_v1.gpkg) "
            f"via {ATOM_PAGE} of {CBS_MAP_PAGE.format(year=year)}, en zet hem in {target.parent}/ als {target.name} "
            f"(of zet in het parameterbestand sources.geometry: <pad naar het .gpkg>)")


# Which service serves which year (PDOK's own service pages): the OGC API Features has one API per recent year
# (wijken-en-buurten-2023, -2024, -2025); every year has a WFS (service.pdok.nl/cbs/wijkenbuurten/<jaar>/wfs/v1_0)
# and an Atom download feed with the national GeoPackage (.../<jaar>/atom/index.xml). Older years: the WFS for
# the gemeenten asked for, and when that fails the national GeoPackage from the Atom feed (downloaded once).
OGC_FIRST_YEAR = 2023
WFS_URL = "https://service.pdok.nl/cbs/wijkenbuurten/{year}/wfs/v1_0"
ATOM_URL = "https://service.pdok.nl/cbs/wijkenbuurten/{year}/atom/index.xml"
WFS_PAGE = 1000


def items_url(year: int, level: str, gemeente: str) -> str:
    query = urllib.parse.urlencode({"f": "json", "gemeentecode": gemeente, "limit": 1000})
    return f"{OGC_API.format(year=year)}/collections/{OGC_COLLECTIONS[level]}/items?{query}"


def wfs_url(year: int, level: str, gemeente: str, start: int = 0) -> str:
    """WFS 2.0 GetFeature of one gemeente's areas as GeoJSON in RD New (an XML filter: PDOK ignores CQL_FILTER)."""
    flt = ("<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\"><fes:PropertyIsEqualTo>"
           f"<fes:ValueReference>gemeentecode</fes:ValueReference><fes:Literal>{gemeente}</fes:Literal>"
           "</fes:PropertyIsEqualTo></fes:Filter>")
    query = urllib.parse.urlencode({"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                    "typeNames": OGC_COLLECTIONS[level], "outputFormat": "application/json",
                                    "srsName": "EPSG:28992", "count": WFS_PAGE, "startIndex": start, "filter": flt})
    return f"{WFS_URL.format(year=year)}?{query}"


def _features_ogc(gemeenten, year: int, level: str, manual: str) -> gpd.GeoDataFrame | None:
    features = []
    for gm in sorted(gemeenten):
        url = items_url(year, level, gm)
        while url:
            page = net.get_json(url, manual=manual)
            features.extend(page.get("features", []))
            url = next((link["href"] for link in page.get("links", []) if link.get("rel") == "next"), None)
    # OGC API Features answers in CRS84 (lon/lat) unless asked otherwise.
    return gpd.GeoDataFrame.from_features(features, crs="OGC:CRS84").to_crs(RD) if features else None


def _features_wfs(gemeenten, year: int, level: str, manual: str) -> gpd.GeoDataFrame | None:
    features = []
    for gm in sorted(gemeenten):
        start = 0
        while True:
            page = net.get_json(wfs_url(year, level, gm, start), manual=manual).get("features", [])
            features.extend(page)
            start += len(page)
            if len(page) < WFS_PAGE:
                break
    return gpd.GeoDataFrame.from_features(features, crs=RD) if features else None


def atom_links(feed: str) -> list[str]:
    """The download links of an Atom feed (href attributes), in feed order."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(feed)
    except ET.ParseError:
        return []
    return [el.attrib["href"] for el in root.iter() if el.tag.endswith("link") and el.attrib.get("href")]


def national_geopackage(year: int, manual: str) -> Path:
    """The national wijk- en buurtkaart of ``year`` from PDOK's Atom feed, downloaded once into the cache."""
    target = net.cache_dir() / "pdok" / f"wijkenbuurten_{year}_NL.gpkg"
    if target.exists():
        return target
    feed_url = ATOM_URL.format(year=year)
    links = atom_links(net.get_text(feed_url, manual=manual))
    gpkg = [u for u in links if u.lower().split("?")[0].endswith(".gpkg")]
    if not gpkg:  # a service feed points to a dataset feed first
        for sub in [u for u in links if u.lower().split("?")[0].endswith(".xml") and u != feed_url][:3]:
            gpkg = [u for u in atom_links(net.get_text(sub, manual=manual)) if u.lower().split("?")[0].endswith(".gpkg")]
            if gpkg:
                break
    if not gpkg:
        raise net.Unreachable(f"de Atom-feed van {year} noemt geen GeoPackage", where=feed_url, hint=manual)
    return net.download(gpkg[0], target, manual=manual)


def _from_national(gemeenten, year: int, manual: str) -> dict[str, gpd.GeoDataFrame]:
    path = national_geopackage(year, manual)
    wanted = ", ".join(f"'{g}'" for g in sorted(gemeenten))
    layers = {}
    for name, _ in pyogrio.list_layers(path):
        level = next((lv for lv, coll in OGC_COLLECTIONS.items() if coll in str(name).lower() or lv in str(name).lower()), None)
        if level is None or OGC_COLLECTIONS[level] in layers:
            continue
        gdf = gpd.read_file(path, layer=name, where=f"gemeentecode IN ({wanted})")
        if len(gdf):
            layers[OGC_COLLECTIONS[level]] = gdf.to_crs(RD)
    return layers


def fetch(gemeenten, year: int, *, offline: bool = False, force: bool = False) -> Path:
    """Download gemeenten, wijken and buurten of the gemeenten into one GeoPackage in the cache: the OGC API for
    recent years; for older years the WFS, or else the national GeoPackage of the Atom feed."""
    target = cache_file(gemeenten, year)
    if target.exists() and not force:
        return target
    if offline:
        raise net.OfflineMissing(manual_instructions(gemeenten, year))
    manual = manual_instructions(gemeenten, year)
    if year >= OGC_FIRST_YEAR:
        layers = {OGC_COLLECTIONS[lv]: g for lv in OGC_COLLECTIONS
                  if (g := _features_ogc(gemeenten, year, lv, manual)) is not None}
        service = f"{OGC_API.format(year=year)}/collections"
    else:
        try:
            layers = {OGC_COLLECTIONS[lv]: g for lv in OGC_COLLECTIONS
                      if (g := _features_wfs(gemeenten, year, lv, manual)) is not None}
            service = WFS_URL.format(year=year)
        except net.Unreachable:
            layers = _from_national(gemeenten, year, manual)
            service = ATOM_URL.format(year=year)
    for level in ("gemeente", "wijk"):
        if OGC_COLLECTIONS[level] not in layers:
            raise DataError(f"PDOK levert geen {OGC_COLLECTIONS[level]} voor {', '.join(gemeenten)} in {year}",
                            where=service,
                            hint="controleer gemeentecode en jaar (na een herindeling heeft een gemeente een nieuwe code)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.gpkg")
    tmp.unlink(missing_ok=True)
    for name, gdf in layers.items():
        gdf.to_file(tmp, layer=name, driver="GPKG")
    tmp.replace(target)
    return target


def ensure_geometry(gemeenten, year: int) -> Path:
    return fetch(gemeenten, year, offline=net.offline_mode())

