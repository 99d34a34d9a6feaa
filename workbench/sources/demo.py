"""A deterministic, entirely FICTIONAL demo region: three gemeenten, their wijken and buurten.

Everything here is invented: the areas, the statistics and the clients. The region exists so
that every notebook, map and model of the workbench runs out of the box, and so that the
models can be checked against a known truth: care use is generated from stated risk
factors (``TRUE_YOUTH_EFFECTS``, ``TRUE_WMO_EFFECTS``) with planted wijk effects, and the
care records contain planted provider differences. The truth is written to ``truth.json``.

Files written by :func:`generate` (and cached by :func:`ensure_demo`):

- ``areas.gpkg``     layers gemeenten, wijken, buurten (EPSG:28992, a valid coverage)
- ``kwb_<year>.csv`` KWB-like statistics per year (CBS short column codes)
- ``records.parquet`` care trajectories (pseudonymous, fictional) of :data:`DEMO_YEAR`: every cell as the text
  a CSV export would have (zstd-compressed Parquet keeps the committed ``geodata/demo`` small)
- ``truth.json``     the generating model
- ``README.txt``     what the folder is; ``fingerprint.txt`` which generator made it

The output depends only on this file: numpy ``default_rng`` streams with fixed seeds. The repository commits
the output as ``geodata/demo`` (a test checks that it equals what this generator makes); a wheel carries it as
package data. :func:`ensure_demo` uses that copy and generates into the project folder only when it does
not fit this generator (see workbench.paths); it never writes into the package's folder.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zlib
from io import StringIO
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import paths

GENERATOR_VERSION = "1"
SEED = 20230101
CRS = "EPSG:28992"
DEMO_YEARS = (2021, 2022, 2023)  # statistics per year; geometry identical in all years
DEMO_YEAR = 2023  # the year the records describe
FICTIONAL_NOTE = "Fictieve demoregio: alle gebieden, cijfers en cliënten zijn verzonnen."
RECORDS = "records.parquet"
FILES = ("areas.gpkg", *(f"kwb_{y}.csv" for y in DEMO_YEARS), RECORDS, "truth.json", "README.txt")

# --- the generating truth (what a risk model should recover) --------------------------------
# Youth care: a_jz_tn ~ Poisson(jongeren_tot23 * exp(b0 + sum(beta * x)) * wijk_factor * noise)
# Wmo:        a_wmo_t ~ Poisson(a_inw          * exp(c0 + sum(beta * x)) * wijk_factor * noise)
# x in percentage points (0-100) as computed from the written KWB columns.
TRUE_YOUTH_EFFECTS = {"eenoudergezinnen": 0.025, "sociaal_minimum": 0.04, "laag_opgeleid": 0.012}
TRUE_WMO_EFFECTS = {"aandeel_65plus": 0.035, "sociaal_minimum": 0.03, "eenpersoonshuishoudens": 0.01}
YOUTH_EXPOSURE = "jongeren_tot23 = a_00_14 + 0.8*a_15_24"
WMO_EXPOSURE = "a_inw"
YOUTH_TARGET_RATE = 0.10  # region: youth care per person under 23
WMO_TARGET_RATE = 0.065  # region: Wmo clients per inhabitant
NOISE_CV = 0.08  # buurt-level gamma noise (mean 1): small overdispersion
PLANTED_YOUTH = {"WK990105": 1.5, "WK990103": 0.65}  # De Hoven higher, Havenkwartier lower than expected
PLANTED_WMO = {"WK990107": 1.4, "WK990104": 0.7}  # Zuiderpark higher, Oud-Noord lower than expected
LOWER_RESULTS = {"provider": "GGZ Brakelstroom", "result_area": "J4", "effect": -0.25}
EASY_CASE_MIX = {"provider": "Kindpunt Ommerdijk"}

# --- the layout --------------------------------------------------------------------------------
REGION_CENTRE = (190000.0, 450000.0)
TOWN_CENTRE = (188500.0, 449000.0)
TOWN_RADIUS = 5200.0

# (code, name, target inhabitants, [(wijk name, (angle deg, distance m) from TOWN_CENTRE,
#   deprivation, age, family, [buurt names ordered from the wijk centre outward])])
GEMEENTEN = [
    ("GM9901", "Vlietstede", 150_000, [
        ("Centrum", (0, 0), 1.1, 0.0, -1.2,
         ["Binnenstad", "Marktkwartier", "Vlietkade", "Kloosterhof", "Grote Kerkbuurt", "Singelbuurt"]),
        ("Stationskwartier", (20, 1700), 1.6, -0.4, -0.5,
         ["Stationsplein", "Spoorzicht", "Emmabuurt", "Parallelweg", "Zwaluwhof"]),
        ("Havenkwartier", (308, 1700), 1.4, -0.1, 0.1,
         ["Oude Haven", "Kadewijk", "Pakhuisbuurt", "Scheepmakerij", "Loswal"]),
        ("Oud-Noord", (92, 1700), 0.5, 0.5, -0.2,
         ["Noorderbleek", "Tuindorp", "Wilhelminabuurt", "Beatrixpark", "Lindelaan"]),
        ("De Hoven", (236, 1700), 0.3, 0.0, 0.4,
         ["Hofstede", "Hovenplein", "Boomgaard", "Oranjehof", "Kastanjehof"]),
        ("Kerkwijk", (164, 1700), -0.1, 0.7, -0.1,
         ["Kerkeveld", "Pastoriebuurt", "Kosterslaan", "Abdijhof", "Torenzicht"]),
        ("Zuiderpark", (250, 3700), 0.9, 0.4, 0.2,
         ["Zuiderflats", "Parkrand", "Vijverhof", "Rozenhof", "Sportpark Zuid"]),
        ("Molenwijk", (130, 3700), 0.4, 0.1, 0.6,
         ["De Korenmolen", "Molenerf", "Maalderij", "Wiekenbuurt", "Molenvliet"]),
        ("Bloemenbuurt", (70, 3700), -0.5, 0.5, 0.3,
         ["Tulpenveld", "Narcisbuurt", "Irishof", "Seringenbuurt", "Dahliapark"]),
        ("Westerveld", (190, 3700), -0.9, -0.5, 1.0,
         ["Westerhout", "Veldzicht", "Akkerhof", "Weidebuurt", "Westerbuitengebied"]),
        ("Oostpolder", (10, 3700), -0.6, -0.4, 0.9,
         ["Polderhof", "Gemaalbuurt", "Slotenveld", "Rietkraag", "Oostpolder-Buitengebied"]),
        ("Rivierzone", (310, 3700), -0.2, 0.2, 0.2,
         ["Uiterwaarden", "Rivierhof", "Dijkhuizen", "Waardbuurt", "Het Vlietmeer"]),
    ]),
    ("GM9902", "Brakelveen", 45_000, [
        ("Brakelveen-Dorp", (60, 8200), 0.1, 0.6, 0.1,
         ["Dorpskern", "Brink", "Kerkstraat-Oost", "Schoolbuurt", "Veenkamp", "Esdorp"]),
        ("Brakelveen-Zuid", (25, 6900), -0.7, 0.4, 0.6, ["De Zuidhoek", "Zuiderakker", "Beekdal", "Hazelaar"]),
        ("Veenhoek", (88, 10800), -0.8, 0.9, 0.2, ["Veenhoek-Dorp", "Turfvaart", "Hoogveen", "Veenhoek-Buitengebied"]),
        ("Oosterbrakel", (-10, 8300), -0.9, 0.8, 0.3, ["Oosterbrakel", "Esweg", "Brakelse Heide"]),
        ("Noorderveld", (125, 8000), -1.0, 1.0, 0.2, ["Noorderveld", "Hessenweg", "Buitengebied Noord"]),
    ]),
    ("GM9903", "Ommerdijk", 20_000, [
        ("Ommerdijk-Dorp", (240, 7600), 0.0, 0.8, 0.0, ["Ommer Centrum", "Dijkstraat", "Sluishof", "Ommer-Noord"]),
        ("Dijkzicht", (178, 7000), -0.7, 0.9, 0.3, ["Dijkzicht", "Kolkbuurt", "Zomerdijk"]),
        ("Ommerbroek", (295, 8600), -0.9, 1.1, 0.2, ["Ommerbroek", "Broekweg", "Buitengebied Ommerdijk"]),
    ]),
]
WATER_BUURT_NAME = "Het Vlietmeer"
SPLIT_NORMAL_DEG = 60.0  # outside the town: Brakelveen on this side of a line through the town centre

KWB_COLUMNS = ["gwb_code", "regio", "gm_naam", "recs", "a_inw", "a_00_14", "a_15_24", "a_25_44", "a_45_64",
               "a_65_oo", "a_hh", "a_1p_hh", "a_hh_z_k", "a_hh_m_k", "a_1ouder_hh", "g_ink_pi", "p_hh_li",
               "p_hh_osm", "a_soz_wb", "a_soz_ao", "a_opl_lg", "a_opl_md", "a_opl_hg", "p_huurw", "p_wcorpw",
               "g_wozbag", "g_afs_hp", "g_afs_gs", "g_afs_kv", "g_afs_sc", "a_jz_tn", "p_jz_tn", "a_wmo_t",
               "p_wmo_t"]
COUNT_COLUMNS = ["a_inw", "a_00_14", "a_15_24", "a_25_44", "a_45_64", "a_65_oo", "a_hh", "a_1p_hh", "a_hh_z_k",
                 "a_hh_m_k", "a_1ouder_hh", "a_soz_wb", "a_soz_ao", "a_opl_lg", "a_opl_md", "a_opl_hg",
                 "a_jz_tn", "a_wmo_t"]
# weighted means: column -> weight column (and decimals)
MEAN_COLUMNS = {"g_ink_pi": ("a_inw", 1), "p_hh_li": ("a_hh", 1), "p_hh_osm": ("a_hh", 1), "p_huurw": ("a_hh", 0),
                "p_wcorpw": ("a_hh", 0), "g_wozbag": ("a_hh", 0), "g_afs_hp": ("a_inw", 1),
                "g_afs_gs": ("a_inw", 1), "g_afs_kv": ("a_inw", 1), "g_afs_sc": ("a_inw", 1)}

# --- care records -----------------------------------------------------------------------------
YOUTH_PRODUCTS = {  # share of trajectories, median planned days, annual cost range (euro)
    "ambulante jeugdhulp": (0.48, 240, (2000, 8000)),
    "jeugd-ggz": (0.20, 270, (3000, 10000)),
    "dagbehandeling": (0.06, 300, (15000, 30000)),
    "jeugdhulp met verblijf": (0.07, 420, (60000, 120000)),
    "jeugdbescherming": (0.13, 450, (8000, 15000)),
    "jeugdreclassering": (0.06, 240, (5000, 10000)),
}
WMO_PRODUCTS = {
    "hulp bij het huishouden": (0.34, 900, (3000, 6000)),
    "hulpmiddelen": (0.22, 1100, (500, 5000)),  # one-off
    "begeleiding": (0.15, 420, (5000, 12000)),
    "vervoer": (0.12, 1000, (800, 2500)),
    "dagbesteding": (0.09, 600, (6000, 15000)),
    "woningaanpassing": (0.04, 75, (2000, 20000)),  # one-off
    "kortdurend verblijf": (0.02, 45, (20000, 40000)),
    "beschermd wonen": (0.02, 800, (50000, 80000)),
}
ONE_OFF = ("hulpmiddelen", "woningaanpassing")
RESULT_AREAS = {  # product -> (areas, probabilities)
    "ambulante jeugdhulp": (["J1", "J3", "J4", "G3"], [0.45, 0.20, 0.20, 0.15]),
    "jeugd-ggz": (["J4", "J3"], [0.85, 0.15]),
    "dagbehandeling": (["J3", "J4"], [0.70, 0.30]),
    "jeugdhulp met verblijf": (["J2", "J1"], [0.60, 0.40]),
    "jeugdbescherming": (["J2"], [1.0]),
    "jeugdreclassering": (["J2", "J1"], [0.5, 0.5]),
    "hulp bij het huishouden": (["Z5"], [1.0]),
    "hulpmiddelen": (["V2"], [1.0]),
    "begeleiding": (["G1", "G3", "V2", "M1"], [0.25, 0.25, 0.35, 0.15]),
    "vervoer": (["VV"], [1.0]),
    "dagbesteding": (["M1", "M2"], [0.55, 0.45]),
    "woningaanpassing": (["V2"], [1.0]),
    "kortdurend verblijf": (["M4"], [1.0]),
    "beschermd wonen": (["BW"], [1.0]),
}
PROVIDERS = {  # product -> {provider: weight}
    "ambulante jeugdhulp": {"Jeugdhulp Rivierland": 0.40, "Kindpunt Ommerdijk": 0.30, "GGZ Brakelstroom": 0.15,
                            "Gezinshuis De Kleine Haven": 0.15},
    "jeugd-ggz": {"GGZ Brakelstroom": 0.55, "Jeugdhulp Rivierland": 0.30, "Kindpunt Ommerdijk": 0.15},
    "dagbehandeling": {"Gezinshuis De Kleine Haven": 0.6, "Jeugdhulp Rivierland": 0.4},
    "jeugdhulp met verblijf": {"Gezinshuis De Kleine Haven": 0.65, "Jeugdhulp Rivierland": 0.35},
    "jeugdbescherming": {"Jeugdbescherming Vlietstreek": 1.0},
    "jeugdreclassering": {"Jeugdbescherming Vlietstreek": 1.0},
    "hulp bij het huishouden": {"Thuishulp Vlietstede": 0.55, "Zorggroep De Linde": 0.45},
    "hulpmiddelen": {"Hulpmiddelencentrum Midden": 1.0},
    "begeleiding": {"Zorggroep De Linde": 0.45, "Welzijn Ommerdijk-Brakelveen": 0.35, "Stichting De Brug": 0.20},
    "vervoer": {"Regiotaxi Vliet en Veen": 1.0},
    "dagbesteding": {"Welzijn Ommerdijk-Brakelveen": 0.55, "Zorggroep De Linde": 0.45},
    "woningaanpassing": {"Hulpmiddelencentrum Midden": 1.0},
    "kortdurend verblijf": {"Zorggroep De Linde": 1.0},
    "beschermd wonen": {"Stichting De Brug": 1.0},
}
LEVEL_PROBS = {  # intervention level 1..6 (6 = crisis, rare)
    "ambulante jeugdhulp": [0.30, 0.35, 0.20, 0.10, 0.04, 0.01],
    "jeugd-ggz": [0.15, 0.30, 0.30, 0.17, 0.06, 0.02],
    "dagbehandeling": [0.05, 0.20, 0.35, 0.27, 0.10, 0.03],
    "jeugdhulp met verblijf": [0.00, 0.05, 0.20, 0.37, 0.30, 0.08],
    "jeugdbescherming": [0.00, 0.05, 0.22, 0.37, 0.28, 0.08],
    "jeugdreclassering": [0.05, 0.20, 0.35, 0.25, 0.12, 0.03],
    "hulp bij het huishouden": [0.35, 0.35, 0.20, 0.07, 0.03, 0.00],
    "hulpmiddelen": [0.50, 0.30, 0.15, 0.05, 0.00, 0.00],
    "begeleiding": [0.15, 0.30, 0.30, 0.17, 0.07, 0.01],
    "vervoer": [0.55, 0.30, 0.12, 0.03, 0.00, 0.00],
    "dagbesteding": [0.10, 0.30, 0.35, 0.18, 0.07, 0.00],
    "woningaanpassing": [0.45, 0.35, 0.15, 0.05, 0.00, 0.00],
    "kortdurend verblijf": [0.05, 0.15, 0.30, 0.30, 0.15, 0.05],
    "beschermd wonen": [0.00, 0.05, 0.20, 0.35, 0.35, 0.05],
}
EASY_LEVEL_PROBS = [0.55, 0.35, 0.08, 0.02, 0.0, 0.0]
YOUTH_AGES = {"ambulante jeugdhulp": (2, 17), "jeugd-ggz": (6, 22), "dagbehandeling": (2, 12),
              "jeugdhulp met verblijf": (8, 18), "jeugdbescherming": (0, 17), "jeugdreclassering": (12, 22)}
WMO_AGES = {"hulp bij het huishouden": (68, 97), "hulpmiddelen": (55, 97), "begeleiding": (19, 75),
            "vervoer": (60, 97), "dagbesteding": (25, 92), "woningaanpassing": (55, 95),
            "kortdurend verblijf": (70, 97), "beschermd wonen": (19, 62)}
END_REASONS = ["volgens plan", "voortijdig", "verhuizing", "overleden", "crisis"]
RESULTS = ["behaald", "deels", "niet behaald", "stabilisatie"]
EXPORT_FIRST = pd.Timestamp(2021, 1, 1)
EXPORT_LAST = pd.Timestamp(DEMO_YEAR, 12, 31)


# =============================================================================================
# public API
# =============================================================================================
def fingerprint() -> str:
    """sha256 of this generator's source plus GENERATOR_VERSION: a change means regenerate."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(GENERATOR_VERSION.encode())
    return h.hexdigest()


def ensure_demo(cache_dir: Path | None = None, force: bool = False) -> Path:
    """The folder with the demo files, (re)generated when missing, stale or when ``force``.

    Without ``cache_dir``: the project's ``geodata/demo`` or else the package's copy, whichever this generator
    made; otherwise (or with ``force``) generated into the project's ``geodata/demo``."""
    if cache_dir is None and not force:
        for folder in (paths.demo_dir(), paths.bundled_demo_dir()):
            if _is_current(folder):
                return folder
    target = Path(cache_dir) if cache_dir is not None else paths.demo_dir()
    if not force and _is_current(target):
        return target
    if paths.PACKAGE in Path(os.path.abspath(target)).parents:
        from ..errors import WorkbenchError

        raise WorkbenchError("de demoregio wordt nooit in de map van het geïnstalleerde pakket geschreven",
                             where=str(target), hint="kies een projectmap: workbench --project MAP demo")
    generate(target)
    return target


def read_records(folder: Path) -> pd.DataFrame:
    """The demo's care records as the text cells of a CSV export (as ``validation.read_raw`` reads them)."""
    return pd.read_parquet(Path(folder) / RECORDS)


def _write_records(records: pd.DataFrame, path: Path) -> None:
    # Through CSV text first, so every cell is exactly the string a CSV export of these records would hold.
    text = records.to_csv(index=False, lineterminator="\n")
    table = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    table.to_parquet(path, index=False, compression="zstd", compression_level=19)


def _is_current(folder: Path) -> bool:
    fp = folder / "fingerprint.txt"
    try:
        if fp.read_text(encoding="utf-8").strip() != fingerprint():
            return False
    except OSError:
        return False
    return all((folder / name).is_file() for name in FILES)


def generate(out_dir: Path) -> None:
    """Write every demo file into ``out_dir``; each file appears complete or not at all.

    Files are built in a temporary folder beside them and moved in one by one with
    ``os.replace``; ``fingerprint.txt`` is removed first and written last, so an
    interrupted run is regenerated by the next :func:`ensure_demo`. Other files in
    ``out_dir`` are left alone.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-tmp-", dir=out_dir))
    try:
        areas, buurt = _build_areas()
        stats, truth = _build_statistics(buurt)
        records, provider_truth = _build_records(stats[DEMO_YEAR], buurt)
        truth["providers"] = provider_truth

        _write_gpkg(areas, tmp / "areas.gpkg")
        for year, table in stats.items():
            table[KWB_COLUMNS].to_csv(tmp / f"kwb_{year}.csv", index=False, encoding="utf-8", lineterminator="\n")
        _write_records(records, tmp / RECORDS)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.txt").write_text(_readme(), encoding="utf-8")

        stale = out_dir / "fingerprint.txt"
        if stale.exists():
            stale.unlink()
        for name in FILES:
            os.replace(tmp / name, out_dir / name)
        (tmp / "fingerprint.txt").write_text(fingerprint() + "\n", encoding="utf-8")
        os.replace(tmp / "fingerprint.txt", out_dir / "fingerprint.txt")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _readme() -> str:
    return (
        f"{FICTIONAL_NOTE}\n\n"
        "Deze map is gemaakt door workbench/sources/demo.py (deterministisch, vaste seed)\n"
        f"met generatorversie {GENERATOR_VERSION}. Niet met de hand bewerken: bij een andere\n"
        "versie van demo.py wordt de map opnieuw gemaakt (zie fingerprint.txt).\n\n"
        "areas.gpkg      lagen gemeenten, wijken, buurten (EPSG:28992)\n"
        f"kwb_<jaar>.csv  kerncijfers per gebied ({', '.join(map(str, DEMO_YEARS))}), CBS-kolomcodes\n"
        f"{RECORDS} fictieve zorgtrajecten (jeugd en Wmo) van {DEMO_YEAR}, alle cellen als tekst\n"
        "truth.json      het model waarmee zorggebruik en resultaten zijn gemaakt\n\n"
        "This folder is fictional demo data generated by workbench/sources/demo.py.\n"
    )


def _rng(name: str) -> np.random.Generator:
    """One independent, stable random stream per purpose (adding a stream does not shift others)."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


# =============================================================================================
# geometry
# =============================================================================================
def _polar(angle_deg: float, dist: float, origin=TOWN_CENTRE) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return origin[0] + dist * math.cos(a), origin[1] + dist * math.sin(a)


def _outline() -> shapely.Polygon:
    t = np.linspace(0, 2 * np.pi, 97)[:-1]
    r = 1 + 0.05 * np.sin(3 * t + 0.5) + 0.03 * np.cos(5 * t + 1.2)
    x = REGION_CENTRE[0] + 10800 * r * np.cos(t)
    y = REGION_CENTRE[1] + 12800 * r * np.sin(t)
    return shapely.Polygon(np.round(np.c_[x, y], 2))


def _gemeente_regions(outline) -> list:
    t = np.linspace(0, 2 * np.pi, 73)[:-1]
    r = TOWN_RADIUS * (1 + 0.06 * np.sin(2 * t + 1.0) + 0.04 * np.cos(3 * t))
    town = shapely.Polygon(np.c_[TOWN_CENTRE[0] + r * np.cos(t), TOWN_CENTRE[1] + r * np.sin(t)])
    n = math.radians(SPLIT_NORMAL_DEG)
    d = np.array([-math.sin(n), math.cos(n)]) * 60000  # along the split line
    c = np.array(TOWN_CENTRE)
    off = np.array([math.cos(n), math.sin(n)]) * 60000
    half = shapely.Polygon([c - d, c + d, c + d + off, c - d + off])
    rest = outline.difference(town)
    return [town.intersection(outline), rest.intersection(half), rest.difference(half)]


def _sample_in(region, n: int, rng) -> np.ndarray:
    minx, miny, maxx, maxy = region.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        cand = rng.uniform([minx, miny], [maxx, maxy], size=(4 * n + 8, 2))
        pts = np.vstack([pts, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]])
    return pts[:n]


def _voronoi_cells(points: np.ndarray, clip) -> np.ndarray:
    vor = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=clip.buffer(20000), ordered=True)
    cells = np.asarray(shapely.get_parts(vor))
    return shapely.intersection(cells, clip)


def _try_layout(attempt: int):
    rng = _rng(f"layout-{attempt}")
    outline = _outline()
    regions = _gemeente_regions(outline)
    seeds, rows = [], []
    for g_i, (gm_code, gm_name, _, wijken) in enumerate(GEMEENTEN):
        region = regions[g_i]
        centres = np.array([_polar(*w[1]) for w in wijken])
        if not shapely.contains_xy(region, centres[:, 0], centres[:, 1]).all():
            raise AssertionError(f"wijk centre outside {gm_name}")
        wijk_regions = _voronoi_cells(centres, region)
        for w_i, (w_name, _, dep, age, fam, buurt_names) in enumerate(wijken):
            wreg = wijk_regions[w_i]
            pts = _sample_in(wreg, len(buurt_names), rng)
            for _ in range(4):  # Lloyd relaxation inside the wijk region
                pts = shapely.get_coordinates(shapely.centroid(_voronoi_cells(pts, wreg)))
            # order buurten from the wijk centre outward, so names ending in "Buitengebied" land outside
            dist = np.hypot(pts[:, 0] - centres[w_i, 0], pts[:, 1] - centres[w_i, 1])
            pts = pts[np.argsort(dist, kind="stable")]
            wk = f"WK{gm_code[2:]}{w_i + 1:02d}"
            for b_i, b_name in enumerate(buurt_names):
                seeds.append(pts[b_i])
                rows.append({"code": f"BU{wk[2:]}{b_i + 1:02d}", "name": b_name, "wijk_code": wk, "wijk_name": w_name,
                             "gemeente_code": gm_code, "gemeente_name": gm_name, "wijk_dep": dep, "wijk_age": age,
                             "wijk_family": fam})
    seeds = np.round(np.array(seeds), 2)
    cells = _voronoi_cells(seeds, outline)
    # one consistent precision for the whole coverage: shared vertices stay shared
    cells = shapely.transform(cells, lambda xy: np.round(xy, 2))
    buurt = pd.DataFrame(rows)
    buurt["x"], buurt["y"] = seeds[:, 0], seeds[:, 1]
    if not (shapely.get_type_id(cells) == 3).all() or not shapely.is_valid(cells).all():
        raise AssertionError("invalid buurt cell")
    if not shapely.coverage_is_valid(cells):
        raise AssertionError("invalid coverage")
    wijk_geoms, gm_geoms = {}, {}
    for wk, idx in buurt.groupby("wijk_code", sort=False).indices.items():
        geom = shapely.coverage_union_all(cells[idx])
        if geom.geom_type != "Polygon":
            raise AssertionError(f"{wk} is not contiguous")
        wijk_geoms[wk] = geom
    for gm, idx in buurt.groupby("gemeente_code", sort=False).indices.items():
        geom = shapely.coverage_union_all(cells[idx])
        if geom.geom_type != "Polygon":
            raise AssertionError(f"{gm} is not contiguous")
        gm_geoms[gm] = geom
    return buurt, cells, wijk_geoms, gm_geoms


def _build_areas():
    for attempt in range(50):
        try:
            buurt, cells, wijk_geoms, gm_geoms = _try_layout(attempt)
            break
        except AssertionError:
            continue
    else:  # pragma: no cover - the layout is fixed; this guards against a broken edit
        raise RuntimeError("demo layout: no valid coverage found")
    buurt["water"] = buurt["name"].eq(WATER_BUURT_NAME)
    buurt["area_km2"] = shapely.area(cells) / 1e6
    # urbanity 0..1: the town is dense, the villages less so
    d_town = np.hypot(buurt["x"] - TOWN_CENTRE[0], buurt["y"] - TOWN_CENTRE[1])
    village = [_polar(*GEMEENTEN[1][3][0][1]), _polar(*GEMEENTEN[2][3][0][1])]
    d_v = np.min([np.hypot(buurt["x"] - vx, buurt["y"] - vy) for vx, vy in village], axis=0)
    buurt["urban"] = np.maximum(np.exp(-d_town / 2600.0), 0.45 * np.exp(-d_v / 2200.0))

    gm = pd.DataFrame([{"code": c, "name": n, "level": "gemeente", "gemeente_code": c, "wijk_code": None,
                        "water": False} for c, n, _, _ in GEMEENTEN])
    wk = buurt.drop_duplicates("wijk_code")[["wijk_code", "wijk_name", "gemeente_code"]]
    wk = pd.DataFrame({"code": wk["wijk_code"].to_numpy(), "name": wk["wijk_name"].to_numpy(), "level": "wijk",
                       "gemeente_code": wk["gemeente_code"].to_numpy(), "wijk_code": wk["wijk_code"].to_numpy(),
                       "water": False})
    bu = pd.DataFrame({"code": buurt["code"], "name": buurt["name"], "level": "buurt",
                       "gemeente_code": buurt["gemeente_code"], "wijk_code": buurt["wijk_code"],
                       "water": buurt["water"].astype(bool)})
    wk["water"] = wk["water"].astype(bool)
    gm["water"] = gm["water"].astype(bool)
    areas = {
        "gemeenten": gpd.GeoDataFrame(gm, geometry=[gm_geoms[c] for c in gm["code"]], crs=CRS),
        "wijken": gpd.GeoDataFrame(wk, geometry=[wijk_geoms[c] for c in wk["code"]], crs=CRS),
        "buurten": gpd.GeoDataFrame(bu, geometry=list(cells), crs=CRS),
    }
    return areas, buurt


def _write_gpkg(areas: dict, path: Path) -> None:
    for layer, gdf in areas.items():
        gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")


# =============================================================================================
# statistics
# =============================================================================================
def _split(total: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Integer counts per row that sum exactly to ``total`` (largest remainder)."""
    shares = shares / shares.sum(axis=1, keepdims=True)
    raw = total[:, None] * shares
    base = np.floor(raw).astype(np.int64)
    rem = total - base.sum(axis=1)
    order = np.argsort(-(raw - base), axis=1, kind="stable")
    ranks = np.argsort(order, axis=1, kind="stable")
    return base + (ranks < rem[:, None])


def _population(buurt: pd.DataFrame) -> np.ndarray:
    """Inhabitants per buurt in DEMO_YEAR: 300-6,000, a few small rural buurten, water 0."""
    rng = _rng("population")
    n = len(buurt)
    base = np.exp(rng.normal(np.log(450 + 4300 * buurt["urban"].to_numpy() ** 0.8), 0.3, n))
    pop = base.copy()
    water = buurt["water"].to_numpy()
    small = np.zeros(n, bool)
    for gm, idx in buurt.groupby("gemeente_code", sort=False).indices.items():
        cand = idx[~water[idx]]
        k = 2 if gm == "GM9901" else 1
        small[cand[np.argsort(buurt["urban"].to_numpy()[cand], kind="stable")[:k]]] = True
    pop[small] = rng.uniform(60, 190, small.sum())
    pop[water] = 0
    targets = {c: t for c, _, t, _ in GEMEENTEN}
    free = ~small & ~water
    for _ in range(6):  # scale each gemeente to its target, keep buurten within 300-6,000
        for gm, idx in buurt.groupby("gemeente_code", sort=False).indices.items():
            f = idx[free[idx]]
            pop[f] *= (targets[gm] - pop[idx[~free[idx]]].sum()) / pop[f].sum()
            pop[f] = np.clip(pop[f], 300, 6000)
    return np.round(pop).astype(np.int64)


def _latent(buurt: pd.DataFrame) -> pd.DataFrame:
    """Latent scores per buurt: deprivation, age, family, urbanity (smooth by wijk, noisy by buurt)."""
    rng = _rng("latent")
    n = len(buurt)
    u = buurt["urban"].to_numpy()
    lat = pd.DataFrame(index=buurt.index)
    lat["dep"] = buurt["wijk_dep"].to_numpy() + 0.35 * u + rng.normal(0, 0.35, n)
    lat["age"] = buurt["wijk_age"].to_numpy() + rng.normal(0, 0.3, n)
    lat["fam"] = buurt["wijk_family"].to_numpy() - 0.6 * u + rng.normal(0, 0.3, n)
    lat["urban"] = u
    for k in range(16):  # base noise per variable (same in every year)
        lat[f"e{k}"] = rng.normal(0, 1, n)
    return lat


def _structure(buurt: pd.DataFrame, lat: pd.DataFrame, pop2023: np.ndarray, year: int) -> pd.DataFrame:
    """All non-care KWB columns of one year for the buurten."""
    t = DEMO_YEAR - year
    rng = _rng(f"structure-{year}")
    n = len(buurt)
    yn = (lambda: rng.normal(0, 0.25 * math.sqrt(t), n)) if t else (lambda: np.zeros(n))
    dep = lat["dep"].to_numpy() + (rng.normal(0, 0.05 * t, n) if t else 0) + 0.02 * t
    age = lat["age"].to_numpy() - 0.03 * t
    fam = lat["fam"].to_numpy()
    u = lat["urban"].to_numpy()
    e = [lat[f"e{k}"].to_numpy() + yn() for k in range(16)]
    water = buurt["water"].to_numpy()

    inw = np.round(pop2023 * (1 - 0.005) ** t * np.exp(rng.normal(0, 0.004 * math.sqrt(t), n) if t else 0.0))
    inw = np.where(water, 0, np.maximum(inw, 0)).astype(np.int64)

    p65 = np.clip(0.19 + 0.065 * age - 0.02 * fam - 0.03 * u + 0.012 * e[0], 0.10, 0.35)
    p014 = np.clip(0.155 + 0.03 * fam - 0.02 * age + 0.008 * e[1], 0.08, 0.23)
    p1524 = np.clip(0.115 + 0.035 * u + 0.01 * fam - 0.008 * age + 0.008 * e[2], 0.07, 0.20)
    rest = 1 - p65 - p014 - p1524
    s2544 = np.clip(0.50 + 0.10 * u - 0.05 * age + 0.03 * e[3], 0.35, 0.65)
    ages = _split(inw, np.c_[p014, p1524, rest * s2544, rest * (1 - s2544), p65])

    hh_size = np.clip(2.15 + 0.22 * fam - 0.30 * u - 0.05 * age + 0.05 * e[4], 1.45, 2.9)
    a_hh = np.round(inw / hh_size).astype(np.int64)
    s1p = np.clip(0.36 + 0.16 * u + 0.04 * dep - 0.07 * fam + 0.03 * e[5], 0.15, 0.68)
    smk = np.clip(0.31 + 0.07 * fam - 0.05 * age - 0.06 * u + 0.02 * e[6], 0.10, 0.45)
    smk = np.minimum(smk, 0.92 - s1p)
    a_1p = np.round(a_hh * s1p).astype(np.int64)
    a_mk = np.round(a_hh * smk).astype(np.int64)
    a_zk = a_hh - a_1p - a_mk
    sop = np.clip(0.17 + 0.05 * dep + 0.045 * e[7], 0.08, 0.35)
    a_1o = np.round(a_mk * sop).astype(np.int64)

    osm = np.clip(7.5 + 3.0 * dep + 1.8 * e[8], 3, 18)
    li = np.clip(osm * 1.08 + 0.8 + 0.5 * e[9], 3, 20)
    ink = np.clip(31.5 - 4.2 * dep + 1.5 * age - 1.5 * u + 1.0 * e[10], 20, 45)
    wb_rate = np.clip(np.exp(np.log(24) + 0.55 * dep + 0.12 * e[11]), 5, 80) / 1000
    ao_rate = np.clip(55 + 14 * dep + 8 * age + 4 * e[12], 25, 110) / 1000
    a_wb = rng.binomial(inw, wb_rate)
    a_ao = rng.binomial(inw, ao_rate)

    n_edu = np.round(0.93 * (0.9 * ages[:, 1] + ages[:, 2] + ages[:, 3] + 0.45 * ages[:, 4])).astype(np.int64)
    s_lg = np.clip(0.26 + 0.06 * dep + 0.02 * age + 0.05 * e[13], 0.10, 0.50)
    s_hg = np.clip(0.34 - 0.08 * dep + 0.06 * u + 0.03 * e[14], 0.10, 0.60)
    s_hg = np.minimum(s_hg, 0.92 - s_lg)
    edu = _split(n_edu, np.c_[s_lg, 1 - s_lg - s_hg, s_hg])

    huur = np.clip(40 + 15 * dep + 22 * u - 6 * fam + 4 * e[15], 15, 85)
    corp = np.clip(0.62 * huur + 7 * dep - 8 + 3 * e[5], 5, 65)
    corp = np.minimum(corp, huur - 3)
    woz = np.clip(330 - 55 * dep - 40 * u + 20 * age + 25 * e[1], 170, 650) * (1 - 0.07 * t)
    far = (1 - u) ** 2
    dist = {
        "g_afs_hp": 0.4 + 2.6 * far + 0.15 * np.abs(e[2]),
        "g_afs_gs": 0.5 + 3.2 * far + 0.2 * np.abs(e[3]),
        "g_afs_kv": 0.4 + 2.4 * far + 0.15 * np.abs(e[4]),
        "g_afs_sc": 0.4 + 1.9 * far + 0.1 * np.abs(e[6]),
    }
    out = pd.DataFrame({
        "gwb_code": buurt["code"].to_numpy(), "regio": buurt["name"].to_numpy(),
        "gemeente_code": buurt["gemeente_code"].to_numpy(), "wijk_code": buurt["wijk_code"].to_numpy(),
        "a_inw": inw, "a_00_14": ages[:, 0], "a_15_24": ages[:, 1], "a_25_44": ages[:, 2], "a_45_64": ages[:, 3],
        "a_65_oo": ages[:, 4], "a_hh": a_hh, "a_1p_hh": a_1p, "a_hh_z_k": a_zk, "a_hh_m_k": a_mk,
        "a_1ouder_hh": a_1o, "g_ink_pi": np.round(ink, 1), "p_hh_li": np.round(li, 1), "p_hh_osm": np.round(osm, 1),
        "a_soz_wb": a_wb, "a_soz_ao": a_ao, "a_opl_lg": edu[:, 0], "a_opl_md": edu[:, 1], "a_opl_hg": edu[:, 2],
        "p_huurw": np.round(huur), "p_wcorpw": np.round(corp), "g_wozbag": np.round(woz),
        **{k: np.round(v, 1) for k, v in dist.items()},
    })
    for col in ("g_ink_pi", "p_hh_li", "p_hh_osm", "p_huurw", "p_wcorpw", "g_wozbag", *dist):
        out.loc[water, col] = np.nan
    return out


def indicator_values(df: pd.DataFrame) -> pd.DataFrame:
    """The risk factors exactly as the catalogue computes them from the written columns (percent)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "eenoudergezinnen": 100 * df["a_1ouder_hh"] / df["a_hh_m_k"],
            "sociaal_minimum": df["p_hh_osm"],
            "laag_opgeleid": 100 * df["a_opl_lg"] / (df["a_opl_lg"] + df["a_opl_md"] + df["a_opl_hg"]),
            "aandeel_65plus": 100 * df["a_65_oo"] / df["a_inw"],
            "eenpersoonshuishoudens": 100 * df["a_1p_hh"] / df["a_hh"],
            "jongeren_tot23": df["a_00_14"] + 0.8 * df["a_15_24"],
        }, index=df.index)


def _linear(ind: pd.DataFrame, effects: dict) -> np.ndarray:
    return sum(beta * ind[name].fillna(0.0).to_numpy(float) for name, beta in effects.items())


def _build_statistics(buurt: pd.DataFrame):
    pop = _population(buurt)
    lat = _latent(buurt)
    structure = {y: _structure(buurt, lat, pop, y) for y in DEMO_YEARS}
    youth_f = buurt["wijk_code"].map(PLANTED_YOUTH).fillna(1.0).to_numpy()
    wmo_f = buurt["wijk_code"].map(PLANTED_WMO).fillna(1.0).to_numpy()

    ref = indicator_values(structure[DEMO_YEAR])
    expo_y = ref["jongeren_tot23"].to_numpy(float)
    expo_w = structure[DEMO_YEAR]["a_inw"].to_numpy(float)
    b0 = round(math.log(YOUTH_TARGET_RATE * expo_y.sum()
                        / (expo_y * np.exp(_linear(ref, TRUE_YOUTH_EFFECTS)) * youth_f).sum()), 4)
    c0 = round(math.log(WMO_TARGET_RATE * expo_w.sum()
                        / (expo_w * np.exp(_linear(ref, TRUE_WMO_EFFECTS)) * wmo_f).sum()), 4)
    shape = 1 / NOISE_CV ** 2
    base_noise = _rng("care-noise")
    noise_y0 = base_noise.gamma(shape, 1 / shape, len(buurt))
    noise_w0 = base_noise.gamma(shape, 1 / shape, len(buurt))

    tables = {}
    for year in DEMO_YEARS:
        s = structure[year]
        ind = indicator_values(s)
        rng = _rng(f"care-{year}")
        if year == DEMO_YEAR:
            ny, nw = noise_y0, noise_w0
        else:  # the buurt's own level persists; a little extra noise per year
            ny = noise_y0 * rng.gamma(400, 1 / 400, len(buurt))
            nw = noise_w0 * rng.gamma(400, 1 / 400, len(buurt))
        mu_y = ind["jongeren_tot23"].to_numpy(float) * np.exp(b0 + _linear(ind, TRUE_YOUTH_EFFECTS)) * youth_f * ny
        mu_w = s["a_inw"].to_numpy(float) * np.exp(c0 + _linear(ind, TRUE_WMO_EFFECTS)) * wmo_f * nw
        s["a_jz_tn"] = rng.poisson(mu_y)
        s["a_wmo_t"] = rng.poisson(mu_w)
        tables[year] = _with_aggregates(s, buurt)

    truth = {
        "note": FICTIONAL_NOTE,
        "generator_version": GENERATOR_VERSION,
        "year": DEMO_YEAR,
        "youth": {"intercept": b0, "effects": TRUE_YOUTH_EFFECTS, "exposure": YOUTH_EXPOSURE,
                  "count": "a_jz_tn", "planted": PLANTED_YOUTH, "target_rate": YOUTH_TARGET_RATE},
        "wmo": {"intercept": c0, "effects": TRUE_WMO_EFFECTS, "exposure": WMO_EXPOSURE,
                "count": "a_wmo_t", "planted": PLANTED_WMO, "target_rate": WMO_TARGET_RATE},
        "effects_scale": "log rate per percentage point (indicator values 0-100 as the catalogue computes them)",
        "noise_cv": NOISE_CV,
        "noise": "buurt factor ~ Gamma(mean 1, cv noise_cv), persistent over years; counts Poisson",
        "water_buurten": buurt.loc[buurt["water"], "code"].tolist(),
    }
    return tables, truth


def _with_aggregates(b: pd.DataFrame, buurt: pd.DataFrame) -> pd.DataFrame:
    """Buurt rows plus wijk and gemeente rows (sums of counts, weighted means), in CBS order."""
    parts = []
    for key, level in (("wijk_code", "Wijk"), ("gemeente_code", "Gemeente")):
        g = b.groupby(key, sort=False)
        agg = g[COUNT_COLUMNS].sum()
        for col, (w, dec) in MEAN_COLUMNS.items():
            ok = b[col].notna() & (b[w] > 0)
            num = (b[col].where(ok, 0) * b[w].where(ok, 0)).groupby(b[key], sort=False).sum()
            den = b[w].where(ok, 0).groupby(b[key], sort=False).sum()
            agg[col] = (num / den.replace(0, np.nan)).round(dec)
        agg["gwb_code"] = agg.index
        agg["recs"] = level
        parts.append(agg.reset_index(drop=True))
    wk, gm = parts
    names = {**dict(zip(buurt["wijk_code"], buurt["wijk_name"])), **{c: n for c, n, _, _ in GEMEENTEN}}
    bu = b.copy()
    bu["recs"] = "Buurt"
    out = pd.concat([gm, wk, bu[[c for c in bu.columns if c in KWB_COLUMNS or c == "recs"]]], ignore_index=True)
    code = out["gwb_code"]
    out["regio"] = out["regio"].where(out["recs"] == "Buurt", code.map(names))
    out["gm_naam"] = ("GM" + code.str[2:6]).map({c: n for c, n, _, _ in GEMEENTEN})
    expo = out["a_00_14"] + 0.8 * out["a_15_24"]
    out["p_jz_tn"] = (100 * out["a_jz_tn"] / expo.where(expo > 0)).round(1)
    out["p_wmo_t"] = (1000 * out["a_wmo_t"] / out["a_inw"].where(out["a_inw"] > 0)).round(1)
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].astype(np.int64)
    # CBS order: gemeente, then per wijk the wijk row followed by its buurten
    sort_key = np.where(out["recs"] == "Gemeente", code.str[2:6] + "0",
                        np.where(out["recs"] == "Wijk", code.str[2:8] + "0", code.str[2:8] + "1" + code.str[8:10]))
    out = out.iloc[np.argsort(sort_key, kind="stable")].reset_index(drop=True)
    return out[KWB_COLUMNS]


# =============================================================================================
# care records
# =============================================================================================
def _choice(rng, options: list, probs, size: int) -> np.ndarray:
    p = np.asarray(probs, float)
    idx = np.searchsorted(np.cumsum(p / p.sum()), rng.random(size), side="right")
    return np.asarray(options, dtype=object)[np.minimum(idx, len(options) - 1)]


def _per_group_choice(rng, keys: np.ndarray, table: dict, size_fn=None) -> np.ndarray:
    """For each element, a draw from table[key] = (options, probs)."""
    out = np.empty(len(keys), dtype=object)
    for key in sorted(set(keys.tolist())):
        m = keys == key
        options, probs = table[key]
        out[m] = _choice(rng, options, probs, int(m.sum()))
    return out


def _clients(rng, buurt_idx: np.ndarray, p_new_hh: float, first_hh: int):
    """Household ids for clients sorted by buurt: siblings share a household (same buurt)."""
    n = len(buurt_idx)
    new = rng.random(n) < p_new_hh
    new[0:1] = True
    new[1:] |= buurt_idx[1:] != buurt_idx[:-1]
    return first_hh + np.cumsum(new) - 1


def _build_records(stats: pd.DataFrame, buurt: pd.DataFrame):
    rng = _rng("records")
    bu = stats[stats["gwb_code"].str.startswith("BU")].set_index("gwb_code").loc[buurt["code"]]
    codes = buurt["code"].to_numpy()
    nb = len(codes)
    n_jz = bu["a_jz_tn"].to_numpy()
    n_wmo = bu["a_wmo_t"].to_numpy()
    # clients active in DEMO_YEAR (exactly the KWB counts) plus clients whose care ended in 2021-2022
    extra_jz = rng.poisson(0.26 * n_jz)
    extra_wmo = rng.poisson(0.22 * n_wmo)

    # ---- youth clients and households
    y_b = np.repeat(np.arange(nb), n_jz + extra_jz)
    y_active = np.concatenate([np.r_[np.ones(a, bool), np.zeros(e, bool)] for a, e in zip(n_jz, extra_jz)])
    y_hh = _clients(rng, y_b, 0.72, 0)
    n_yhh = int(y_hh.max()) + 1 if len(y_hh) else 0
    hh_first = np.full(nb, -1)
    hh_count = np.zeros(nb, np.int64)
    if len(y_hh):
        starts = np.r_[0, np.flatnonzero(np.diff(y_b)) + 1]
        hh_first[y_b[starts]] = y_hh[starts]
        np.maximum.at(hh_count, y_b, y_hh - hh_first[y_b] + 1)

    # ---- Wmo clients: some in a youth household (stapeling), some couples, most alone
    w_b = np.repeat(np.arange(nb), n_wmo + extra_wmo)
    w_active = np.concatenate([np.r_[np.ones(a, bool), np.zeros(e, bool)] for a, e in zip(n_wmo, extra_wmo)])
    u = rng.random(len(w_b))
    stapel = (u < 0.06) & (hh_count[w_b] > 0)
    own_b = w_b[~stapel]
    own_hh = _clients(rng, own_b, 0.92, n_yhh)
    w_hh = np.empty(len(w_b), np.int64)
    w_hh[~stapel] = own_hh
    w_hh[stapel] = hh_first[w_b[stapel]] + np.floor(rng.random(stapel.sum()) * hh_count[w_b[stapel]]).astype(np.int64)

    domain = np.r_[np.full(len(y_b), "jeugd", dtype=object), np.full(len(w_b), "wmo", dtype=object)]
    c_b = np.r_[y_b, w_b]
    c_active = np.r_[y_active, w_active]
    c_hh = np.r_[y_hh, w_hh]
    c_stapel = np.r_[np.zeros(len(y_b), bool), stapel]
    n_c = len(c_b)

    # main product and age per client
    yp, wp = list(YOUTH_PRODUCTS), list(WMO_PRODUCTS)
    main_prod = np.empty(n_c, dtype=object)
    isy = domain == "jeugd"
    main_prod[isy] = _choice(rng, yp, [v[0] for v in YOUTH_PRODUCTS.values()], int(isy.sum()))
    main_prod[~isy] = _choice(rng, wp, [v[0] for v in WMO_PRODUCTS.values()], int((~isy).sum()))
    main_prod[c_stapel] = _choice(rng, ["begeleiding", "hulp bij het huishouden", "dagbesteding"],
                                  [0.7, 0.2, 0.1], int(c_stapel.sum()))
    lo = np.array([(YOUTH_AGES | WMO_AGES)[p][0] for p in main_prod])
    hi = np.array([(YOUTH_AGES | WMO_AGES)[p][1] for p in main_prod])
    lo = np.where(c_stapel, 28, lo)
    hi = np.where(c_stapel, 55, hi)
    # Wmo ages skewed old: the max of two uniforms
    r = rng.random(n_c)
    r = np.where(isy | c_stapel | (main_prod == "beschermd wonen"), r, np.maximum(r, rng.random(n_c)))
    age = np.floor(lo + r * (hi - lo + 1)).astype(np.int64)
    age = np.minimum(age, hi)
    birth_year = DEMO_YEAR - age

    # pseudonymous ids and fictional postcodes (4 digits 0100-0999 can never be a real Dutch postcode)
    client_num = rng.permutation(n_c) + 1
    n_hh = int(c_hh.max()) + 1
    hh_num = rng.permutation(n_hh) + 1
    wijk_index = {wk: i for i, wk in enumerate(dict.fromkeys(buurt["wijk_code"]))}
    pc4_b = np.array([110 + 10 * wijk_index[w] for w in buurt["wijk_code"]])
    buurt_pos = buurt.groupby("wijk_code", sort=False).cumcount().to_numpy()
    letters = np.array(list("ABCDEGHJKLMNPRSTVWXZ"))
    hh_b = np.zeros(n_hh, np.int64)
    hh_b[c_hh] = c_b  # each household lives in one buurt (the youth client's buurt for stapeling)
    hh_l1 = letters[(3 * buurt_pos[hh_b] + rng.integers(0, 3, n_hh)) % len(letters)]
    hh_l2 = letters[rng.integers(0, len(letters), n_hh)]
    hh_pc = np.char.add(np.char.add(np.char.zfill(pc4_b[hh_b].astype(str), 4), hh_l1.astype(str)),
                        hh_l2.astype(str))

    # ---- trajectories: main (active in DEMO_YEAR, or ended 2021-2022 for the extra clients),
    # a parallel one, a return after an ended main, a previous one ended within a year before main
    wmo_elderly = ~isy & (age >= 75)
    t_client, t_role = [np.arange(n_c)], [np.where(c_active, "main", "past")]
    par = c_active & (rng.random(n_c) < np.where(isy, 0.18, 0.25))
    t_client.append(np.flatnonzero(par))
    t_role.append(np.full(par.sum(), "parallel", dtype=object))
    prev = c_active & ~par & (rng.random(n_c) < 0.06)  # at most 3 trajectories each
    t_client.append(np.flatnonzero(prev))
    t_role.append(np.full(prev.sum(), "previous", dtype=object))
    ret_cand = c_active.copy()  # decided after the main end is known
    t_client.append(np.flatnonzero(ret_cand))
    t_role.append(np.full(ret_cand.sum(), "return", dtype=object))
    tc = np.concatenate(t_client)
    role = np.concatenate([np.asarray(x, dtype=object) for x in t_role])
    n_t = len(tc)
    t_dom = domain[tc]
    t_isy = t_dom == "jeugd"

    prod = main_prod[tc].copy()
    other = (role != "main") & (role != "past")
    alt = np.empty(n_t, dtype=object)
    alt[t_isy] = _choice(rng, yp, [v[0] for v in YOUTH_PRODUCTS.values()], int(t_isy.sum()))
    alt[~t_isy] = _choice(rng, wp, [v[0] for v in WMO_PRODUCTS.values()], int((~t_isy).sum()))
    keep_same = rng.random(n_t) < np.where(role == "parallel", 0.0, 0.5)
    prod = np.where(other & ~keep_same, alt, prod)
    same_as_main = (role == "parallel") & (prod == main_prod[tc])
    if same_as_main.any():  # a parallel trajectory is another product: the next one of its domain
        nxt = {p: lst[(lst.index(p) + 1) % len(lst)] for lst in (yp, wp) for p in lst}
        prod[same_as_main] = [nxt[p] for p in prod[same_as_main]]
    young = age[tc] < 12
    prod[(prod == "jeugdreclassering") & young] = "ambulante jeugdhulp"

    # provider, level
    provider = np.empty(n_t, dtype=object)
    for p in sorted(set(prod.tolist())):
        m = prod == p
        names = list(PROVIDERS[p])
        provider[m] = _choice(rng, names, list(PROVIDERS[p].values()), int(m.sum()))
    ur = rng.random(n_t)
    level = np.empty(n_t, np.int64)
    for p in sorted(set(prod.tolist())):
        for easy in (False, True):
            m = (prod == p) & ((provider == EASY_CASE_MIX["provider"]) == easy)
            if m.any():
                cum = np.cumsum(EASY_LEVEL_PROBS if easy else LEVEL_PROBS[p])
                level[m] = np.minimum(np.searchsorted(cum / cum[-1], ur[m], side="right") + 1, 6)
    dep_b = (bu["p_hh_osm"].fillna(8).to_numpy() - 8) / 4
    bump = rng.random(n_t) < 0.12 * np.clip(dep_b[c_b[tc]], 0, None)
    level = np.where(bump & (level < 5), level + 1, level)
    area = _per_group_choice(rng, prod, RESULT_AREAS)

    # durations (days): planned, actual by the reason it would end
    med = np.array([(YOUTH_PRODUCTS | WMO_PRODUCTS)[p][1] for p in prod], float)
    planned = np.maximum(7, np.round(med * (1 + 0.08 * (level - 1)) * np.exp(rng.normal(0, 0.4, n_t))))
    p_over = np.where(wmo_elderly[tc], 0.15, np.where(t_isy, 0.002, 0.03))
    reason_u = rng.random(n_t)
    base = np.where(t_isy[:, None], [[0.68, 0.18, 0.08, 0.0, 0.04]], [[0.72, 0.14, 0.10, 0.0, 0.04]])
    base = base * (1 - p_over)[:, None]
    base[:, 3] = p_over
    reason_idx = (reason_u[:, None] > np.cumsum(base, axis=1)).sum(axis=1).clip(0, 4)
    reason = np.asarray(END_REASONS, dtype=object)[reason_idx]
    reason[(role == "previous") & (reason == "overleden")] = "volgens plan"  # they came back
    lo_f = np.select([reason == "volgens plan", reason == "voortijdig", reason == "verhuizing",
                      reason == "overleden", reason == "crisis"], [0.85, 0.2, 0.1, 0.05, 0.1])
    hi_f = np.select([reason == "volgens plan", reason == "voortijdig", reason == "verhuizing",
                      reason == "overleden", reason == "crisis"], [1.15, 0.8, 0.9, 1.0, 0.7])
    actual = np.maximum(1, np.round(planned * rng.uniform(lo_f, hi_f)))

    day0 = (EXPORT_FIRST - pd.Timestamp(1970, 1, 1)).days
    year_first = (pd.Timestamp(DEMO_YEAR, 1, 1) - pd.Timestamp(1970, 1, 1)).days
    last = (EXPORT_LAST - pd.Timestamp(1970, 1, 1)).days
    u1 = rng.random(n_t)
    # active in DEMO_YEAR: start in [max(export start, 1 Jan - actual), 31 Dec]
    lo_s = np.maximum(day0, year_first - actual)
    start = np.floor(lo_s + u1 * (last - lo_s + 1))
    # past clients: ended in the two years before DEMO_YEAR, mostly the last one
    past = role == "past"
    end_past = np.floor(year_first - 1 - np.minimum(rng.exponential(200, n_t), year_first - day0 - 2))
    start = np.where(past, np.maximum(day0, end_past - actual), start)
    actual = np.where(past, end_past - start, actual)
    # previous: ended 15-360 days before the main start, not before 2021
    main_start = np.zeros(n_c)
    main_end = np.zeros(n_c)
    mm = role == "main"
    main_start[tc[mm]] = start[mm]
    main_end[tc[mm]] = start[mm] + actual[mm]
    is_prev = role == "previous"
    prev_end = main_start[tc] - rng.integers(15, 361, n_t)
    start = np.where(is_prev, np.maximum(day0, prev_end - actual), start)
    actual = np.where(is_prev, prev_end - start, actual)
    # return to care: the main ended (not by death) and a new trajectory started within a year
    is_ret = role == "return"
    main_reason = np.empty(n_c, dtype=object)
    main_reason[tc[mm]] = reason[mm]
    ret_start = main_end[tc] + rng.integers(20, 331, n_t)
    ret_ok = ((main_end[tc] <= last) & (main_reason[tc] != "overleden") & (ret_start <= last)
              & (rng.random(n_t) < np.where(t_isy, 0.20, 0.14)))
    start = np.where(is_ret, ret_start, start)
    keep = ~(is_ret & ~ret_ok) & ~(is_prev & (prev_end <= day0 + 14))
    end = start + actual
    # someone who died has no care afterwards
    died = main_reason == "overleden"
    died_end = np.where(died & (main_end <= last), main_end, np.inf)
    cut = (role == "parallel") & (end > died_end[tc])
    start = np.where(cut, np.minimum(start, died_end[tc] - 1), start)
    end = np.where(cut, died_end[tc], end)
    reason = np.where(cut, "overleden", reason)
    ongoing = end > last

    # cost: annual rate x days in care up to the export date; one-off products once
    lo_c = np.array([(YOUTH_PRODUCTS | WMO_PRODUCTS)[p][2][0] for p in prod], float)
    hi_c = np.array([(YOUTH_PRODUCTS | WMO_PRODUCTS)[p][2][1] for p in prod], float)
    amount = lo_c + (hi_c - lo_c) * rng.beta(2, 2, n_t)
    amount *= 1 + 0.05 * (level - 3)
    amount = np.clip(amount, lo_c, hi_c)
    days = np.minimum(end, last) - start + 1
    one_off = np.isin(prod, ONE_OFF)
    cost = np.round(np.where(one_off, amount, amount * days / 365.25), 2)

    # results of ended trajectories
    ended = ~ongoing
    p_eval = np.where(reason == "overleden", 0.6, 0.97)
    evaluated = ended & (rng.random(n_t) < p_eval)
    p_stab = np.where(np.isin(area, ["Z5", "BW"]), 0.45, np.where((level >= 4) & (level <= 5), 0.35,
                                                                   np.where(t_isy, 0.07, 0.12)))
    p_stab = np.where(reason == "crisis", 0.05, p_stab)
    p_b = 1 / (1 + np.exp(-(2.0 - 0.55 * (level - 1))))
    p_b = p_b * np.select([reason == "voortijdig", reason == "verhuizing", reason == "crisis",
                           reason == "overleden"], [0.45, 0.6, 0.2, 0.5], 1.0)
    lower = (provider == LOWER_RESULTS["provider"]) & (area == LOWER_RESULTS["result_area"])
    p_b = np.where(lower, np.maximum(p_b + LOWER_RESULTS["effect"] / (1 - p_stab), 0.02), p_b)
    ru = rng.random(n_t)
    res = np.where(ru < p_stab, "stabilisatie",
                   np.where(ru < p_stab + (1 - p_stab) * p_b, "behaald",
                            np.where(rng.random(n_t) < 0.55, "deels", "niet behaald"))).astype(object)
    res[~evaluated] = ""

    epoch = np.datetime64("1970-01-01")
    to_iso = lambda d: np.datetime_as_string(epoch + d.astype("timedelta64[D]"), unit="D").astype(object)  # noqa: E731
    end_s = to_iso(np.where(ongoing, 0, end).astype(np.int64))
    end_s[ongoing] = ""
    reason_s = np.where(ongoing, "", reason).astype(object)
    rec = pd.DataFrame({
        "client_id": np.char.add("C", np.char.zfill(client_num[tc].astype(str), 7)),
        "household_id": np.char.add("H", np.char.zfill(hh_num[c_hh[tc]].astype(str), 6)),
        "birth_year": birth_year[tc],
        "postcode": hh_pc[c_hh[tc]],
        "buurt_code": codes[c_b[tc]],
        "domain": t_dom,
        "product": prod,
        "provider": provider,
        "start": to_iso(start.astype(np.int64)),
        "end": end_s,
        "cost": cost,
        "result_area": area,
        "intervention_level": level,
        "planned_end": to_iso((start + planned).astype(np.int64)),
        "end_reason": reason_s,
        "result": res,
        "evaluated": evaluated,
    })[keep]
    rec = rec.sort_values(["client_id", "start", "product"], kind="stable").reset_index(drop=True)

    ended23 = rec["end"].str.startswith(str(DEMO_YEAR)) & rec["result"].ne("")
    sel = ended23 & rec["result_area"].eq(LOWER_RESULTS["result_area"])
    provider_truth = {
        "lower_results": {**LOWER_RESULTS, "measure": "share 'behaald' among ended trajectories with a result, "
                          "at equal intervention level (percentage points / 100)",
                          "n_ended_in_year": int((sel & rec["provider"].eq(LOWER_RESULTS["provider"])).sum())},
        "easy_case_mix": {**EASY_CASE_MIX, "effect": 0.0,
                          "note": "mostly intervention levels 1-2 (results reached more often); no provider effect"},
        "result_model": "P(stabilisatie) 0.35 at levels 4-5, 0.45 in Z5/BW; else P(behaald) = "
                        "logistic(2.0 - 0.55*(level-1)) x reason factor",
    }
    return rec, provider_truth
