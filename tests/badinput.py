"""Generated bad-input variants of the real CBS/PDOK files (../shared/realdata), the demo care records and the
demo parameter file, and a runner that judges each one.

Used by tests/test_bad_input.py (a fixed sample, in the normal suite) and benchmarks/bad_input.py (the full
set). Every variant says what must happen:

- ``refuse``: one WorkbenchError (a Dutch message naming the file), nothing else;
- ``report``: refused, or loaded with a note or warning that the clean file does not have;
- ``accept``: loads; ``why`` documents why that is right (a harmless change).

A variant may also ``verify`` the loaded result (e.g. that 862.965 inhabitants were read as 862965). The
runner calls the loader functions the CLI calls (cbs.read_statistics, pdok.read_areas,
validation.validate_records, params.load_parameters) under an alarm: a traceback (any other exception), a
hang (the alarm) or a silent acceptance is a failure.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import sqlite3
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
ODATA_CSV = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"
KWB_XLSX = "cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx"
PDOK_PARQUET = "pdok_wijkenbuurten_2024/wijk_2024_stats.parquet"
PDOK_GEOJSON = "pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson"
ERMELO_GPKG = "geometry/buurt_2021_GM0233_Ermelo.gpkg"
GRONINGEN_SHP = "geometry/wijk_2017_GM0014_Groningen_shp.zip"
FORMULA = "=cmd|' /C calc'!A0"


@dataclass
class Variant:
    id: str
    target: str                      # statistics | geometry | records | parameters
    expect: str                      # refuse | report | accept
    build: Callable[[Path], Path]    # writes the variant into a folder; returns the path to load
    why: str = ""                    # for accept: why that is right
    verify: Callable | None = None   # optional check of the loaded result (raises AssertionError)
    year: int = 2019
    gemeenten: tuple = ()


@dataclass
class Outcome:
    variant: Variant
    status: str                      # refused | accepted | traceback | hang
    message: str = ""
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        """ok, or what went wrong: traceback, hang, silent acceptance, false refusal, unclear message, wrong value."""
        if self.status in ("traceback", "hang"):
            return self.status
        if self.status == "wrong":
            return "wrong value"
        e = self.variant.expect
        if self.status == "refused":
            if e == "accept":
                return "false refusal"
            return "ok" if _clean(self.message) else "unclear message"
        if e == "any":
            return "ok"
        if e == "refuse":
            return "silent acceptance"
        if e == "report" and not self.notes:
            return "silent acceptance"
        return "ok"


def _clean(message: str) -> bool:
    """One message, no traceback, not huge, and naming a place (file/key) or a fix."""
    return bool(message) and "Traceback" not in message and len(message) < 4000 and (":" in message)


# --- the runner ------------------------------------------------------------------------------------------------

class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


_BASELINE: dict[tuple, list] = {}


def load(variant: Variant, path: Path):
    """Call the loader the CLI calls for this target; returns (result, notes)."""
    from workbench.catalog import load_catalog

    if variant.target == "statistics":
        from workbench.sources import cbs

        stats = cbs.read_statistics(path, load_catalog(), default_year=variant.year, gemeenten=variant.gemeenten)
        return stats, list(stats.notes)
    if variant.target == "geometry":
        from workbench.sources import pdok

        areas = pdok.read_areas(path, default_year=variant.year)
        return areas, list(areas.attrs.get("notes", []))
    if variant.target == "records":
        from workbench.validation import load_products, validate_records

        report = validate_records(path, areas=demo_areas(), gemeenten=("GM9901", "GM9902", "GM9903"),
                                  products=load_products())
        report.raise_for_errors()
        return report, report.note_lines()
    if variant.target == "parameters":
        from workbench.pipeline import check_parameters  # what `workbench run` calls first

        params = check_parameters(path)
        return params, ([f"drempel verlaagd: {params.privacy.allow_below_threshold}"]
                        if params.privacy.allow_below_threshold else [])
    raise ValueError(variant.target)


def run_variant(variant: Variant, folder: Path, timeout: int = 30) -> Outcome:
    from workbench.errors import WorkbenchError

    folder.mkdir(parents=True, exist_ok=True)
    path = variant.build(folder)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(timeout)
    t0 = time.perf_counter()
    try:
        result, notes = load(variant, path)
    except _Alarm:
        return Outcome(variant, "hang", f"geen antwoord binnen {timeout} s", seconds=time.perf_counter() - t0)
    except WorkbenchError as exc:
        return Outcome(variant, "refused", exc.render(), seconds=time.perf_counter() - t0)
    except Exception:  # noqa: BLE001 - that is what we look for
        return Outcome(variant, "traceback", traceback.format_exc(limit=-3), seconds=time.perf_counter() - t0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - t0
    base = baseline_notes(variant)
    new = [n for n in notes if n not in base]
    if variant.verify is not None:
        try:
            variant.verify(result)
        except AssertionError as exc:
            return Outcome(variant, "wrong", str(exc), new, seconds)
    return Outcome(variant, "accepted", "", new, seconds)


def baseline_notes(variant: Variant) -> list:
    """Notes of the unmodified source file of a variant (its family's 'clean' build)."""
    family = variant.id.split("/")[0]
    key = (family, variant.target)
    if key not in _BASELINE:
        clean = CLEAN.get(family)
        if clean is None:
            _BASELINE[key] = []
        else:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                v = Variant(f"{family}/clean", variant.target, "accept", clean, year=variant.year,
                            gemeenten=variant.gemeenten)
                _, notes = load(v, v.build(Path(tmp)))
                _BASELINE[key] = notes
    return _BASELINE[key]


_AREAS = None


def demo_areas():
    global _AREAS
    if _AREAS is None:
        from workbench.sources import demo

        folder = demo.ensure_demo()
        frames = [pd.read_csv(io.StringIO("code,level,gemeente_code\n"))]
        import pyogrio

        for layer in ("gemeenten", "wijken", "buurten"):
            frames.append(pyogrio.read_dataframe(folder / "areas.gpkg", layer=layer, read_geometry=False)
                          [["code", "level", "gemeente_code"]])
        _AREAS = pd.concat(frames, ignore_index=True)
    return _AREAS


# --- building blocks -----------------------------------------------------------------------------------------------

def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        p = folder / name
        p.write_bytes(data)
        return p
    return build


def _rows_of(raw: bytes, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=sep))


def _csv_bytes(rows, sep: str, quote_all: bool, bom: bool) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
               lineterminator="\n").writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


CLEAN: dict[str, Callable[[Path], Path]] = {}


# --- statistics: the OData CSV of Amsterdam 2019 ----------------------------------------------------------------------

def odata_variants(rng: random.Random) -> list[Variant]:
    raw = (REALDATA / ODATA_CSV).read_bytes()
    rows = _rows_of(raw, ";")
    header, body = rows[0], rows[1:]
    # The gemeente row, its first wijken and their buurten: real rows, fewer of them (fast).
    body = body[:80]
    name = "84583NED_Amsterdam_2019.csv"
    col = {h: i for i, h in enumerate(header)}
    gm = dict(gemeenten=("GM0363",), year=2019)

    def text(rs, sep=";", quote_all=True, bom=True):
        return _csv_bytes([header] + rs, sep, quote_all, bom)

    def mk(vid, expect, rs=None, data=None, why="", verify=None, fname=name):
        b = data if data is not None else text(rs)
        return Variant(f"odata_csv/{vid}", "statistics", expect, _write(fname, b), why, verify, **gm)

    CLEAN["odata_csv"] = _write(name, text(body))
    out = [mk("clean", "accept", body, why="het echte bestand (ingekort tot 80 rijen)")]
    counts = ["AantalInwoners_5", "k_0Tot15Jaar_8", "k_65JaarOfOuder_12", "HuishoudensTotaal_28",
              "HuishoudensMetKinderen_31", "JongerenMetJeugdzorgInNatura_87", "WmoClienten_89",
              "PersonenPerSoortUitkeringBijstand_83"]
    percents = ["HuishOnderOfRondSociaalMinimum_79", "PercentageJongerenMetJeugdzorg_88",
                "HuurwoningenTotaal_41", "HuishoudensMetEenLaagInkomen_78"]
    counts = [c for c in counts if c in col]
    percents = [c for c in percents if c in col]

    def with_cell(r, c, value):
        rs = [list(x) for x in body]
        rs[r][col[c]] = value
        return rs

    def filled_rows(c):
        return [i for i, r in enumerate(body) if r[col[c]].strip() not in (".", "", "x")]

    for c in counts:
        rws = filled_rows(c)
        if not rws:
            continue
        for bad in ("-5", "-1234", "inf", "-inf", "Infinity", "1e300", "12.5", "3.14159", "99999999999"):
            r = rng.choice(rws)
            out.append(mk(f"count_{bad}/{c}/{r}", "refuse", with_cell(r, c, f"  {bad}")))
        big = [i for i in rws if int(body[i][col[c]]) >= 1000]
        if big:
            r = big[0]
            value = int(body[r][col[c]])
            dotted = f"{value:,}".replace(",", ".")
            rs = [list(x) for x in body]
            for i in big:
                rs[i][col[c]] = f"{int(body[i][col[c]]):,}".replace(",", ".")
            out.append(mk(f"thousands/{c}", "report", rs, verify=_value_is(c, body[r][col["Codering_3"]].strip(), value)))
            rs = with_cell(next(i for i in rws if i != r), c, "1.5")
            rs[r][col[c]] = dotted
            out.append(mk(f"thousands_mixed/{c}", "refuse", rs))
        out.append(mk(f"suppressed_x/{c}", "accept", with_cell(rng.choice(rws), c, "x"),
                      why="'x' is het CBS-teken voor geheim: onderdrukt, niet 0"))
        out.append(mk(f"sentinel/{c}", "accept", with_cell(rng.choice(rws), c, "-99997"),
                      why="-99997 is de CBS/PDOK-code voor geheim"))
        out.append(mk(f"stray_text/{c}", "refuse", with_cell(rng.choice(rws), c, "n.v.t.")))
    for c in percents:
        rws = filled_rows(c)
        if not rws:
            continue
        for bad in ("150", "100.5", "-3", "1e5", "inf"):
            out.append(mk(f"percent_{bad}/{c}", "refuse", with_cell(rng.choice(rws), c, bad)))
        out.append(mk(f"percent_100/{c}", "accept", with_cell(rng.choice(rws), c, "100.0"),
                      why="100% is een geldig percentage"))
    codes = [i for i, r in enumerate(body) if r[col["Codering_3"]].strip().startswith(("WK", "BU"))]
    for bad in ("WK0363O0", "WK03630O", "GM0000", "BU0363000X", "BU036300O1", "WK0000AA", "BU0363A001", "GMO363"):
        r = rng.choice(codes)
        rs = [list(x) for x in body]
        rs[r][col["Codering_3"]] = bad
        rs[r][col["WijkenEnBuurten"]] = bad
        out.append(mk(f"lookalike/{bad}", "refuse", rs))
    rs = [list(x) for x in body]
    rs[codes[3]][col["Codering_3"]] = "Totaal"
    rs[codes[3]][col["WijkenEnBuurten"]] = "Totaal"
    out.append(mk("code_not_area", "report", rs))
    rs = [list(x) for x in body]
    rs[codes[2]][col["Codering_3"]] = rs[codes[2]][col["Codering_3"]].lower()
    out.append(mk("code_lowercase", "accept", rs, why="een code in kleine letters is dezelfde code"))
    out.append(mk("duplicate_row", "refuse", body + [body[codes[1]]]))
    # the published gemeente total against the sum of its wijken (the sample has few wijken: all rows)
    full = rows[1:]
    CLEAN["odata_total"] = _write(name, text(full))
    for c in ("AantalInwoners_5", "HuishoudensTotaal_28"):
        rs = [list(x) for x in full]
        rs[0][col[c]] = str(int(int(rs[0][col[c]]) * 1.2))
        out.append(Variant(f"odata_total/{c}", "statistics", "report", _write(name, text(rs)), **gm))
    # truncation: inside the last row (fewer fields or an open quote), or exactly at a row boundary
    full_bytes = text(body)
    last = full_bytes.rstrip(b"\n").rfind(b"\n") + 1
    for k in range(12):
        cut = rng.randrange(last + 5, len(full_bytes) - 2)
        out.append(mk(f"truncated/{k}", "refuse", data=full_bytes[:cut]))
    out.append(mk("truncated_at_row", "accept", data=full_bytes[:last],
                  why="afgebroken op een regelgrens is een compleet, korter bestand; ontbrekende gebieden staan "
                      "bij de koppeling als 'niet gekoppeld' in de notities"))
    # encodings
    with_umlaut = [list(x) for x in body]
    with_umlaut[1][col["Gemeentenaam_1"]] = "Amsterdam (Zuidoost-Ëiland)"
    utf8 = text(with_umlaut)
    i = utf8.find(b"Amsterdam", 2000)
    out.append(mk("mixed_encoding/cp1252_byte", "refuse", data=utf8[:i] + b"Amst\xe9rdam" + utf8[i + 9:]))
    out.append(mk("mixed_encoding/bom_plus_cp1252", "refuse", data=full_bytes[:3000] + b"\xe9" + full_bytes[3001:]))
    out.append(mk("cp1252_whole", "accept",
                  data=text(with_umlaut, bom=False).decode("utf-8").encode("cp1252"),
                  why="een bestand dat helemaal Windows-1252 is, wordt zo gelezen (met een notitie van de codering)"))
    out.append(mk("utf16", "refuse", data=full_bytes.decode("utf-8-sig").encode("utf-16")))
    out.append(mk("double_utf8", "accept", data=utf8.decode("utf-8").encode("utf-8").decode("latin-1").encode("utf-8"),
                  why="dubbel gecodeerde tekst verandert alleen de namen, niet de codes of cijfers"))
    # shape of the file
    out.append(mk("empty", "refuse", data=b""))
    out.append(mk("header_only", "refuse", data=text([])))
    out.append(mk("bom_only", "refuse", data=b"\xef\xbb\xbf"))
    for k in range(6):
        out.append(mk(f"garbage/{k}", "refuse", data=bytes(rng.randrange(256) for _ in range(rng.choice([10, 300, 5000])))))
    out.append(mk("crlf", "accept", data=full_bytes.replace(b"\n", b"\r\n"), why="Windows-regeleinden"))
    out.append(mk("no_bom_comma_sep", "accept", data=_csv_bytes([header] + body, ",", True, False),
                  why="komma als scheidingsteken, punt als decimaalteken"))
    order = list(range(len(header)))
    rng.shuffle(order)
    out.append(mk("shuffled_columns", "accept", data=_csv_bytes([[header[i] for i in order]] + [[r[i] for i in order] for r in body], ";", True, True),
                  why="kolommen worden op naam gezocht, niet op plaats"))
    for c in ("Codering_3", "WijkenEnBuurten"):
        i = col[c]
        out.append(mk(f"drop/{c}", "accept", why="de codes staan ook in de andere codekolom (Codering / WijkenEnBuurten)",
                      data=_csv_bytes([[h for j, h in enumerate(header) if j != i]] +
                                      [[v for j, v in enumerate(r) if j != i] for r in body], ";", True, True)))
    for c in counts[:4]:
        i = col[c]
        out.append(mk(f"drop/{c}", "report", data=_csv_bytes([[h for j, h in enumerate(header) if j != i]] +
                                                             [[v for j, v in enumerate(r) if j != i] for r in body],
                                                             ";", True, True)))
    out.append(mk("extra_field", "refuse", data=full_bytes.rstrip(b"\n") + b';"extra"\n'))
    out.append(mk("open_quote", "refuse", data=full_bytes[:last] + b'"921;"WK036300' + b"\n"))
    out.append(mk("semicolon_in_name", "accept", with_cell(1, "Gemeentenaam_1", "Amsterdam; Centrum"),
                  why="een scheidingsteken binnen aanhalingstekens hoort bij de naam"))
    out.append(mk("formula_name", "accept", with_cell(1, "Gemeentenaam_1", FORMULA),
                  why="namen van wijken gaan niet naar CSV-downloads zonder neutralisatie (zie test_formula)"))
    out.append(mk("wrong_sep_pipe", "refuse", data=full_bytes.replace(b";", b"|")))
    return out


def _value_is(column_stem, code, value):
    def check(stats):
        var = {"AantalInwoners_5": "a_inw", "k_0Tot15Jaar_8": "a_00_14", "k_65JaarOfOuder_12": "a_65_oo",
               "HuishoudensTotaal_28": "a_hh", "HuishoudensMetKinderen_31": "a_hh_m_k",
               "JongerenMetJeugdzorgInNatura_87": "a_jz_tn", "WmoClienten_89": "a_wmo_t",
               "PersonenPerSoortUitkeringBijstand_83": "a_soz_wb"}[column_stem]
        got = stats.values.loc[code, var]
        assert got == value, f"{code} {var}: {got} gelezen, {value} verwacht"
    return check


# --- statistics: OData JSON ----------------------------------------------------------------------------------------

def odata_json_variants(rng: random.Random) -> list[Variant]:
    raw = (REALDATA / ODATA_CSV).read_bytes()
    df = pd.read_csv(io.BytesIO(raw), sep=";", dtype=str, encoding="utf-8-sig", nrows=60)
    rows = df.to_dict(orient="records")
    name = "84583NED_Amsterdam_2019.json"
    gm = dict(gemeenten=("GM0363",), year=2019)

    def mk(vid, expect, obj=None, data=None, why=""):
        b = data if data is not None else json.dumps(obj).encode("utf-8")
        return Variant(f"odata_json/{vid}", "statistics", expect, _write(name, b), why, **gm)

    good = {"odata.metadata": "https://opendata.cbs.nl/ODataApi/odata/84583NED/$metadata#TypedDataSet",
            "value": rows}
    CLEAN["odata_json"] = _write(name, json.dumps(good).encode())
    out = [mk("clean", "accept", good, why="een OData-antwoord van echte rijen")]
    for y in ("abc", "2019.5", None, [2019], {"a": 1}, "", 10 ** 30, -1, True):
        out.append(mk(f"year_{str(y)[:10]}", "refuse", {**good, "year": y}))
    out.append(mk("year_int", "accept", {**good, "year": 2019}, why="jaar als getal"))
    deep = "[" * 100_000 + "]" * 100_000
    out.append(mk("nested_100k", "refuse", data=deep.encode()))
    out.append(mk("nested_in_value", "refuse", data=b'{"value": ' + deep.encode() + b"}"))
    out.append(mk("value_not_list", "refuse", {"value": {"a": 1}}))
    out.append(mk("value_empty", "refuse", {"value": []}))
    out.append(mk("value_strings", "refuse", {"value": ["a", "b"]}))
    bad = [dict(r) for r in rows]
    bad[3]["AantalInwoners_5"] = {"nested": 1}
    out.append(mk("cell_object", "refuse", {**good, "value": bad}))
    bad = [dict(r) for r in rows]
    bad[3]["AantalInwoners_5"] = -40
    out.append(mk("cell_negative", "refuse", {**good, "value": bad}))
    bad = [dict(r) for r in rows]
    bad[3]["AantalInwoners_5"] = True
    out.append(mk("cell_bool", "refuse", {**good, "value": bad}))
    b = json.dumps(good).encode()
    for k in range(4):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(10, len(b) - 1)]))
    both = [{k: v for k, v in r.items() if k not in ("Codering_3", "WijkenEnBuurten")} for r in rows]
    out.append(mk("no_code_columns", "refuse", {**good, "value": both}))
    out.append(mk("nan_literal", "accept", why="NaN in JSON is een ontbrekende waarde: getoond als ontbrekend, nooit 0",
                  data=b.replace(b'"  862965"', b"NaN", 1) if b'"  862965"' in b
                  else b.replace(b"862965", b"NaN", 1)))
    out.append(mk("not_json", "refuse", data=b"<html>502 Bad Gateway</html>"))
    return out


# --- statistics: PDOK parquet ----------------------------------------------------------------------------------------

def parquet_variants(rng: random.Random) -> list[Variant]:
    df = pd.read_parquet(REALDATA / PDOK_PARQUET)
    df = df[df["gemeentecode"].isin(["GM0392", "GM0513", "GM0363"])].reset_index(drop=True)
    name = "wijk_2024_stats.parquet"
    gm = dict(gemeenten=("GM0392",), year=2024)

    def mk(vid, expect, frame=None, data=None, why="", verify=None):
        if data is None:
            buf = io.BytesIO()
            frame.to_parquet(buf)
            data = buf.getvalue()
        return Variant(f"parquet/{vid}", "statistics", expect, _write(name, data), why, verify, **gm)

    CLEAN["parquet"] = mk("clean", "accept", df).build
    out = [mk("clean", "accept", df, why="de echte PDOK-attributen (Haarlem, Gouda, Amsterdam)")]
    counts = ["aantal_inwoners", "aantal_huishoudens", "aantal_personen_met_een_alg_bijstandsuitkering_tot"]
    percents = ["percentage_huurwoningen", "percentage_eenpersoonshuishoudens", "percentage_personen_0_tot_15_jaar"]
    for c in counts + percents:
        ok_rows = df.index[(df[c] >= 0)].tolist()
        for bad in (-5.0, float("inf"), 1e300, -1e300, 12.5 if c in counts else 150.0, 862.965):
            if c in percents and bad == 862.965:
                continue
            f = df.copy()
            f[c] = f[c].astype(float)
            f.loc[rng.choice(ok_rows), c] = bad
            out.append(mk(f"{c}/{bad}", "refuse", f))
        f = df.copy()
        f[c] = f[c].astype(float)
        f.loc[rng.choice(ok_rows), c] = float("nan")
        out.append(mk(f"{c}/nan", "accept", f, why="NaN in een parquet is een ontbrekende waarde (status missing)"))
        f = df.copy()
        f[c] = f[c].astype(str)
        out.append(mk(f"{c}/as_text", "accept", f, why="getallen als tekst worden als getal gelezen"))
    for bad in ("WK0392O1", "GM0000", "WK00000A", "WK039201X"):
        f = df.copy()
        f.loc[rng.randrange(len(f)), "wijkcode"] = bad
        out.append(mk(f"lookalike/{bad}", "refuse", f))
    f = df.copy()
    f.loc[3, "wijkcode"] = None
    out.append(mk("code_null", "report", f))
    out.append(mk("duplicate", "refuse", pd.concat([df, df.iloc[[2]]], ignore_index=True)))
    out.append(mk("no_code_column", "refuse", df.drop(columns=["wijkcode", "gemeentecode"])))
    buf = io.BytesIO()
    df.to_parquet(buf)
    b = buf.getvalue()
    for k in range(8):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(1, len(b) - 1)]))
    for k in range(4):
        out.append(mk(f"random/{k}", "refuse", data=b"PAR1" + bytes(rng.randrange(256) for _ in range(2000)) + b"PAR1"))
    flipped = bytearray(b)
    for _ in range(20):
        flipped[rng.randrange(len(b) // 4, len(b) - 16)] ^= 0xFF
    out.append(mk("bitflips", "any", data=bytes(flipped),
                  why="parquet heeft standaard geen controlegetal: omgezette bits in een datapagina kunnen andere "
                      "geldige getallen opleveren; weigeren mag, een traceback niet"))
    return out


# --- statistics: the KWB spreadsheet ---------------------------------------------------------------------------------

def xlsx_variants(rng: random.Random) -> list[Variant]:
    df = pd.read_excel(REALDATA / KWB_XLSX, dtype=object)
    name = "kwb-2023_Utrecht.xlsx"
    gm = dict(gemeenten=("GM0344",), year=2023)

    def mk(vid, expect, frame=None, data=None, why=""):
        if data is None:
            buf = io.BytesIO()
            frame.to_excel(buf, index=False, sheet_name="kwb-2023", engine="openpyxl")  # XlsxWriter would store "=..." as a formula
            data = buf.getvalue()
        return Variant(f"xlsx/{vid}", "statistics", expect, _write(name, data), why, **gm)

    CLEAN["xlsx"] = mk("clean", "accept", df).build
    out = [mk("clean", "accept", df, why="het echte spreadsheet")]
    for c, bad, expect in (("a_inw", -10, "refuse"), ("a_inw", "1.234.567", "report"), ("a_inw", 1e300, "refuse"),
                           ("a_hh", "12,5", "refuse"), ("p_huurw", 140, "refuse"), ("p_huurw", "55,5", "accept"),
                           ("gwb_code_10", "WK0344O1", "refuse"), ("gwb_code_10", "GM0000", "refuse"),
                           ("regio", FORMULA, "accept"), ("a_inw", "abc", "refuse")):
        f = df.copy()
        f.loc[5, c] = bad
        out.append(mk(f"{c}/{bad}", expect, f, why="decimale komma in een percentage" if bad == "55,5" else
                      "de naam wordt met een apostrof ervoor overgenomen" if bad == FORMULA else ""))
    b = (REALDATA / KWB_XLSX).read_bytes()
    for k in range(3):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(100, len(b) - 100)]))
    out.append(mk("not_zip", "refuse", data=b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(500))))
    return out


# --- geometry ------------------------------------------------------------------------------------------------------

def geojson_variants(rng: random.Random) -> list[Variant]:
    gj = json.loads((REALDATA / PDOK_GEOJSON).read_text())
    feats = [f for f in gj["features"] if f["properties"]["wijkcode"].startswith(("WK0392", "WK0513"))]
    name = "wijken_2024.geojson"
    gm = dict(year=2024)

    def mk(vid, expect, features=None, data=None, why="", obj=None):
        if data is None:
            data = json.dumps(obj if obj is not None else {**gj, "features": features}).encode()
        return Variant(f"geojson/{vid}", "geometry", expect, _write(name, data), why, **gm)

    CLEAN["geojson"] = mk("clean", "accept", feats).build
    out = [mk("clean", "accept", feats, why="echte wijken van Haarlem en Gouda (WGS84)")]

    def mapped(fn, which=None):
        res = []
        for i, f in enumerate(feats):
            g = f["geometry"]
            if which is None or i in which:
                g = {"type": g["type"], "coordinates": _map_coords(g["coordinates"], fn)}
            res.append({**f, "geometry": g})
        return res

    out.append(mk("latlon_swapped", "refuse", mapped(lambda x, y: (y, x))))
    out.append(mk("latlon_swapped_one", "refuse", mapped(lambda x, y: (y, x), {3})))
    for dx, dy, label in ((10, 0, "east"), (0, 10, "north"), (-20, 0, "west"), (180, 0, "far")):
        out.append(mk(f"shift_{label}", "refuse", mapped(lambda x, y, dx=dx, dy=dy: (x + dx, y + dy), {1})))
    out.append(mk("shift_all_germany", "refuse", mapped(lambda x, y: (x + 4, y))))
    for kind in ("Point", "LineString", "MultiPoint"):
        fs = [dict(f) for f in feats]
        for i in ([2] if kind != "MultiPoint" else range(len(fs))):
            ring = _first_ring(fs[i]["geometry"])
            fs[i] = {**fs[i], "geometry": {"type": kind, "coordinates": ring[0] if kind == "Point" else ring}}
        out.append(mk(f"geometry_{kind}", "refuse", fs))
    fs = [{**f, "geometry": {"type": "Point", "coordinates": _first_ring(f["geometry"])[0]}} for f in feats]
    out.append(mk("all_points", "refuse", fs))
    fs = [dict(f) for f in feats]
    fs[1] = {**fs[1], "geometry": None}
    out.append(mk("null_geometry", "refuse", fs))
    for bad in ("WK0392O1", "GM0000", "WK039201X", "lower"):
        fs = [dict(f) for f in feats]
        code = fs[4]["properties"]["wijkcode"].lower() if bad == "lower" else bad
        fs[4] = {**fs[4], "properties": {**fs[4]["properties"], "wijkcode": code}}
        out.append(mk(f"lookalike/{bad}", "accept" if bad == "lower" else "refuse", fs,
                      why="kleine letters: dezelfde code"))
    fs = [dict(f) for f in feats]
    fs[4] = {**fs[4], "properties": {**fs[4]["properties"], "wijkcode": "onbekend"}}
    out.append(mk("code_not_area", "report", fs))
    out.append(mk("duplicate_feature", "refuse", feats + [feats[0]]))
    out.append(mk("no_code_property", "refuse", [{**{k: v for k, v in f.items() if k != "id"}, "properties": {"naam": "x"}} for f in feats]))
    out.append(mk("empty_collection", "refuse", []))
    b = json.dumps({**gj, "features": feats}).encode()
    for k in range(6):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(10, len(b) - 10)]))
    out.append(mk("nested_100k", "refuse", data=("[" * 100_000 + "]" * 100_000).encode()))
    out.append(mk("not_json", "refuse", data=b"this is not geojson"))
    rd = mapped(lambda x, y: (100000 + (x - 4.6) * 68000, 480000 + (y - 52.3) * 111000))
    out.append(mk("rd_metres_labelled_wgs84", "report", rd))
    bowtie = [dict(f) for f in feats]
    bowtie[0] = {**bowtie[0], "geometry": {"type": "Polygon", "coordinates": [[[4.60, 52.37], [4.62, 52.39], [4.62, 52.37],
                                                                                 [4.60, 52.39], [4.60, 52.37]]]}}
    out.append(mk("self_intersection", "report", bowtie))
    return out


def _map_coords(c, fn):
    if isinstance(c[0], (int, float)):
        return list(fn(c[0], c[1]))
    return [_map_coords(x, fn) for x in c]


def _first_ring(g):
    c = g["coordinates"]
    while isinstance(c[0][0], list):
        c = c[0]
    return c


def shapefile_variants(rng: random.Random) -> list[Variant]:
    src = zipfile.ZipFile(REALDATA / GRONINGEN_SHP)
    members = {n: src.read(n) for n in src.namelist()}
    name = "wijk_2017_Groningen.zip"

    def mk(vid, expect, keep=None, data=None, why=""):
        if data is None:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                for n, b in members.items():
                    if keep(n):
                        z.writestr(n, b)
            data = buf.getvalue()
        return Variant(f"shapefile/{vid}", "geometry", expect, _write(name, data), why, year=2017)

    CLEAN["shapefile"] = mk("clean", "accept", lambda n: True).build
    out = [mk("clean", "accept", lambda n: True, why="de echte gezipte shapefile")]
    for ext, expect in ((".shx", "refuse"), (".shp", "refuse"), (".dbf", "refuse"), (".prj", "report")):
        out.append(mk(f"without{ext}", expect, lambda n, ext=ext: not n.lower().endswith(ext)))
    out.append(mk("only_prj", "refuse", lambda n: n.lower().endswith(".prj")))
    out.append(mk("empty_zip", "refuse", lambda n: False))
    b = (REALDATA / GRONINGEN_SHP).read_bytes()
    for k in range(4):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(50, len(b) - 50)]))
    shp = next(n for n in members if n.lower().endswith(".shp"))
    members_bad = dict(members)
    members_bad[shp] = members[shp][:len(members[shp]) // 2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in members_bad.items():
            z.writestr(n, data)
    out.append(mk("half_shp", "refuse", data=buf.getvalue()))
    return out


def gpkg_variants(rng: random.Random) -> list[Variant]:
    b = (REALDATA / ERMELO_GPKG).read_bytes()
    name = "buurt_2021_Ermelo.gpkg"

    def mk(vid, expect, data=None, sql=None, why=""):
        def build(folder: Path) -> Path:
            p = folder / name
            p.write_bytes(data if data is not None else b)
            if sql:
                con = sqlite3.connect(p)
                # the GeoPackage's R-tree triggers call SpatiaLite functions that plain sqlite lacks
                for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
                    con.execute(f'DROP TRIGGER "{trigger}"')
                con.executescript(sql)
                con.commit()
                con.close()
            return p
        return Variant(f"gpkg/{vid}", "geometry", expect, build, why, year=2021)

    CLEAN["gpkg"] = mk("clean", "accept").build
    out = [mk("clean", "accept", why="de echte GeoPackage van Ermelo")]
    out.append(mk("no_contents", "refuse", sql="DELETE FROM gpkg_contents;"))
    out.append(mk("no_rows", "refuse", sql="DELETE FROM CBS_Buurten;"))
    out.append(mk("lookalike_code", "refuse", sql="UPDATE CBS_Buurten SET buurtcode='BU0233O001' WHERE fid=(SELECT min(fid) + 1 FROM CBS_Buurten);"))
    out.append(mk("gm0000", "refuse", sql="UPDATE CBS_Buurten SET buurtcode='BU00000001' WHERE fid=(SELECT min(fid) + 2 FROM CBS_Buurten);"))
    out.append(mk("null_geometry", "refuse", sql="UPDATE CBS_Buurten SET geom=NULL WHERE fid=(SELECT min(fid) + 1 FROM CBS_Buurten);"))
    for k in range(5):
        out.append(mk(f"truncated/{k}", "refuse", data=b[:rng.randrange(100, len(b) - 100)]))
    out.append(mk("sqlite_not_gpkg", "refuse", data=None, sql="DROP TABLE gpkg_contents; DROP TABLE gpkg_geometry_columns;"))
    return out


# --- the demo care records ---------------------------------------------------------------------------------------------

def records_variants(rng: random.Random) -> list[Variant]:
    from workbench.sources import demo

    raw = demo.read_records(demo.ensure_demo()).to_csv(index=False).encode()  # the demo keeps them as Parquet
    rows = _rows_of(raw, ",")
    header, body = rows[0], rows[1:1501]
    col = {h: i for i, h in enumerate(header)}
    name = "zorgregistratie.csv"

    def text(rs, sep=","):
        return _csv_bytes([header] + rs, sep, False, False)

    def mk(vid, expect, rs=None, data=None, why="", verify=None, fname=name, build=None):
        return Variant(f"records/{vid}", "records", expect, build or _write(fname, data if data is not None else text(rs)),
                       why, verify, year=2023)

    CLEAN["records"] = _write(name, text(body))
    out = [mk("clean", "accept", body, why="1.500 echte rijen van de demoregistratie")]

    def with_cell(r, c, value, base=None):
        rs = [list(x) for x in (base or body)]
        rs[r][col[c]] = value
        return rs

    pick = lambda: rng.randrange(len(body))  # noqa: E731
    for bad in ("-12.50", "inf", "1e300", "nan", "€ -5", "12,50,00", "2.000.000,00"):
        out.append(mk(f"cost/{bad}", "refuse", with_cell(pick(), "cost", bad)))
    out.append(mk("cost/thousands", "report", with_cell(pick(), "cost", "12.500")))
    out.append(mk("cost/empty", "report", with_cell(pick(), "cost", "")))
    for bad in ("0", "7", "2.5", "x", "-1", "99999999999"):
        out.append(mk(f"level/{bad}", "refuse", with_cell(pick(), "intervention_level", bad)))
    for bad in ("31-02-2023", "2023-13-01", "1850-01-01", "2023/01/01 25:00", "gisteren", "2999-01-01"):
        out.append(mk(f"start/{bad}", "refuse", with_cell(pick(), "start", bad)))
    tz = [list(x) for x in body]
    for r in range(0, len(tz), 7):
        if tz[r][col["start"]]:
            tz[r][col["start"]] = tz[r][col["start"]] + "T08:30:00+01:00"
    out.append(mk("start/tz_mixed", "accept", tz, why="tijdzones na een tijd: de datum zoals geschreven telt"))
    tz2 = [list(x) for x in body]
    tz2[5][col["end"]] = "2023-05-01T10:00:00Z"
    tz2[6][col["end"]] = "2023-05-01T10:00:00+02:00"
    out.append(mk("end/tz_two_zones", "accept", tz2, why="verschillende tijdzones: de datum zoals geschreven telt"))
    for bad in ("BU9901O101", "BU0000000A", "BU990101", "XX99010101", "GM9901"):
        out.append(mk(f"buurt/{bad}", "refuse", with_cell(pick(), "buurt_code", bad)))
    out.append(mk("buurt/amsterdam_letters", "report", with_cell(pick(), "buurt_code", "BU0363AF01"),
                  why="een geldige Amsterdamse buurtcode buiten de set: waarschuwing 'buiten gebied'"))
    for c, bad in (("domain", "jeugdzorg"), ("result", "gelukt"), ("domain", "")):
        out.append(mk(f"{c}/{bad or 'empty'}", "refuse", with_cell(pick(), c, bad)))
    for c in ("provider", "product", "result_area", "end_reason"):
        r = pick()
        out.append(mk(f"formula/{c}", "report", with_cell(r, c, FORMULA), verify=_neutralised(c)))
    out.append(mk("formula/plus", "report", with_cell(pick(), "provider", "+31 20 1234567 Zorg"), verify=_neutralised("provider")))
    out.append(mk("formula/at", "report", with_cell(pick(), "provider", "@SUM(A1:A9)"), verify=_neutralised("provider")))
    out.append(mk("negative_number_text", "accept", with_cell(pick(), "cost", "-0"),
                  why="-0 is een getal, geen formule en niet negatief"))
    out.append(mk("duplicate_rows", "report", body + body[:3]))
    full = text(body)
    last = full.rstrip(b"\n").rfind(b"\n") + 1
    for k in range(8):
        cut = rng.randrange(last + 3, len(full) - 1)
        # a cut that leaves every field (inside the last one) is refused by the field's own check or accepted
        # as a shorter value only when that value is still valid: we cut before the last comma.
        cut = min(cut, full.rfind(b",", last) - 1)
        out.append(mk(f"truncated/{k}", "refuse", data=full[:max(cut, last + 3)]))
    with_e = with_cell(3, "provider", "Zorggroep Eëm")
    b = text(with_e)
    i = b.find(b"Zorggroep De Linde")
    out.append(mk("mixed_encoding", "refuse", data=b[:i] + b"Zorggroep D\xe9 Linde" + b[i + 18:]))
    out.append(mk("cp1252_whole", "accept", data=text(with_e).decode().encode("cp1252"),
                  why="een export die helemaal Windows-1252 is"))
    out.append(mk("utf16", "accept", data=text(with_e).decode().encode("utf-16"),
                  why="'Unicode-tekst' uit Excel (UTF-16 met BOM) wordt herkend"))
    out.append(mk("semicolon", "accept", data=text(body, ";"), why="puntkomma als scheidingsteken"))
    out.append(mk("crlf", "accept", data=full.replace(b"\n", b"\r\n"), why="Windows-regeleinden"))
    out.append(mk("empty", "refuse", data=b""))
    out.append(mk("header_only", "refuse", data=text([])))
    for k in range(4):
        out.append(mk(f"garbage/{k}", "refuse", data=bytes(rng.randrange(256) for _ in range(rng.choice([20, 900, 9000])))))
    out.append(mk("missing_column", "refuse", data=_csv_bytes([[h for h in header if h != "start"]] +
                                                              [[v for h, v in zip(header, r) if h != "start"] for r in body],
                                                              ",", False, False)))
    out.append(mk("extra_field", "refuse", data=full.rstrip(b"\n") + b",extra\n"))

    def fifo(folder: Path) -> Path:
        p = folder / "export.csv"
        if not p.exists():
            os.mkfifo(p)
        return p

    def sparse(folder: Path) -> Path:
        p = folder / "huge.csv"
        with open(p, "wb") as fh:
            fh.truncate(600 << 20)
        return p

    def directory(folder: Path) -> Path:
        (folder / "map.csv").mkdir(exist_ok=True)
        return folder / "map.csv"

    out.append(mk("fifo", "refuse", build=fifo))
    out.append(mk("dev_zero", "refuse", build=lambda folder: Path("/dev/zero")))
    out.append(mk("huge_sparse", "refuse", build=sparse))
    out.append(mk("directory", "refuse", build=directory))
    return out


def _neutralised(c):
    def check(report):
        vals = report.records[c].dropna().astype(str)
        assert not vals.str.match(r"^[=+@]").any() and not vals.str.match(r"^-[^0-9]").any(), \
            f"{c}: formule niet geneutraliseerd"
        assert vals.str.startswith("'").any(), f"{c}: geen apostrof gezet"
    return check


# --- parameter files ---------------------------------------------------------------------------------------------------

def parameter_variants(rng: random.Random) -> list[Variant]:
    base = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8")
    import yaml

    doc = yaml.safe_load(base)

    def mk(vid, expect, obj=None, text=None, why="", build=None, verify=None):
        def default_build(folder: Path) -> Path:
            p = folder / "set.yaml"
            content = text if text is not None else yaml.safe_dump(obj, allow_unicode=True, sort_keys=False)
            p.write_text(content, encoding="utf-8") if isinstance(content, str) else p.write_bytes(content)
            return p
        return Variant(f"parameters/{vid}", "parameters", expect, build or default_build, why, verify, year=2023)

    def fixed(d):
        # parameters/ paths are relative to the repository: make them absolute for a file elsewhere
        d = json.loads(json.dumps(d))
        if d.get("outcomes", {}).get("matrix"):
            d["outcomes"]["matrix"] = str(REPO / d["outcomes"]["matrix"])
        return d

    good = fixed(doc)
    CLEAN["parameters"] = mk("clean", "accept", good).build

    def with_(path: str, value, d=None):
        d = json.loads(json.dumps(d or good))
        keys = path.split(".")
        cur = d
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        if value is _DELETE:
            cur.pop(keys[-1], None)
        else:
            cur[keys[-1]] = value
        return d

    out = [mk("clean", "accept", good, why="parameters/demo.yaml")]
    nan, inf = float("nan"), float("inf")
    refuse = {
        "privacy.min_count": [0, 1, 3, 9, -1, 9.5, "10", True, None, 10 ** 9, nan],
        "privacy.min_population": [-1, 0, nan, inf, "50", 2.5],
        "privacy.round_to": [3, 0, "5", True],
        "privacy.allow_below_threshold": [True, "", "ja", 5, ["x"]],
        "risk.min_population": [-5, 0, 1.5, nan, "100", 10 ** 12],
        "risk.youth_factors": [["onbekend"], [1], [["a"]], "eenoudergezinnen", ["sociaal_minimum", "sociaal_minimum"],
                               [None]],
        "risk.wmo_factors": [["bestaat_niet"], {"a": 1}, [3.5]],
        "risk.reference": ["wereld", 3, None, ["region"]],
        "risk.model": ["ols", "", 1],
        "risk.fit_level": ["gemeente", 2, None],
        "risk.cluster_weights": [{1: nan}, {9: 1}, {1: 0, 2: 0}, {1: -1}, {1: "1"}, {1: inf}, []],
        "risk.robust": ["ja", 1, None],
        "budget.weights": [{"jeugd": nan, "wmo": 0.4}, {"jeugd": inf, "wmo": -inf}, {"jeugd": 0.7, "wmo": 0.4}, {},
                           {"jeugd": "0.6", "wmo": 0.4}, {"zorg": 1.0}, {"jeugd": -0.5, "wmo": 1.5}],
        "budget.alternative": [{"jeugd": nan, "wmo": 0.5}, {"jeugd": 2}],
        "budget.total": [nan, -1, 1e20, 0.001, "25 miljoen", inf, 0],
        "budget.label": [5, ["a"]],
        "notebooks": [["app"], ["bestaat_niet"], [], "01_indicatoren", ["01_indicatoren", "01_indicatoren"], [1],
                      ["../notebooks/app"]],
        "outcomes.return_days": [10 ** 12, 0, -1, 1.5, "365", nan, 3651],
        "outcomes.followup_days": [10 ** 6, 0, None],
        "outcomes.matrix": ["/etc/passwd", "/dev/zero", "/tmp", "bestaat/niet.yaml", 5, "x" * 5000, "a\x00b"],
        "name": ["x" * 300, "x" * 65, "../x", "a/b", "", ".verborgen", "wijk€", 5, None, "a b", "x."],
        "gemeente": ["GM0000", "GM518", ["GM9901", "GM9901"], [], 518, "gm9901x", [None]],
        "year": [1900, "2023", 2023.0, True, 10 ** 9, None],
        "level": ["gemeente", 3, None],
        "title": ["x" * 1000, 5],
        "sources.records": ["/dev/zero", "/tmp", "/bestaat/niet.csv", 5, "a\x00b", "x" * 5000, "/proc/self/mem"],
        "sources.statistics": ["/dev/zero", "/dev/urandom", 3, ["a"]],
        "sources.geometry": ["/dev/null", True],
        "sources.products": ["/etc/passwd", "/dev/zero"],
        "sources.record_columns": [{"client_id": ["a", "b"]}, "client_id=ClientNr", {"client_id": "x" * 500}],
        "catalog": ["/etc/passwd", "/dev/zero", 7],
        "kleur": ["rood"],
        "risk.kleur": ["rood"],
        "privacy.kleur": ["rood"],
    }
    for path, values in refuse.items():
        for v in values:
            out.append(mk(f"{path}={str(v)[:20]}", "refuse", with_(path, v)))
    accept = {"privacy.min_count": [10, 25], "privacy.round_to": [5, 10, None], "risk.min_population": [1, 500],
              "name": ["x" * 64, "set_2024-v1.0"], "gemeente": ["GM9901"], "notebooks": [["01_indicatoren"]],
              "outcomes.return_days": [3650, 30], "budget.weights": [{"jeugd": 0.25, "wmo": 0.25, "inwoners": 0.5}],
              "risk.cluster_weights": [{1: 1, 2: 0, 3: 0}]}
    for path, values in accept.items():
        for v in values:
            out.append(mk(f"{path}={str(v)[:20]}/ok", "accept", with_(path, v), why="een geldige waarde"))
    reason = "Proef met 5 gemeenten; besloten door de FG op 1 maart"
    out.append(mk("below_threshold_with_reason", "report",
                  with_("privacy.allow_below_threshold", reason, with_("privacy.min_count", 5)),
                  verify=lambda p: _assert(p.privacy.min_count == 5 and p.privacy.allow_below_threshold == reason and
                                           p.to_dict()["privacy"]["allow_below_threshold"] == reason,
                                           "reden niet in de parameters/manifest")))
    # YAML itself
    text_ok = yaml.safe_dump(good, allow_unicode=True, sort_keys=False)
    bomb = "".join(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9 if i else ['"lol"'] * 9) + "]\n"
                   for i in range(9)) + "name: *i\n"
    out.append(mk("yaml/alias_bomb", "refuse", text=bomb))
    out.append(mk("yaml/anchor", "refuse", text=text_ok + "x: &a 1\ny: *a\n"))
    out.append(mk("yaml/merge_key", "refuse", text=text_ok + "base: &b {min_count: 10}\nprivacy2:\n  <<: *b\n"))
    out.append(mk("yaml/duplicate_top", "refuse", text=text_ok + "name: andere\n"))
    out.append(mk("yaml/duplicate_nested", "refuse", text=text_ok.replace("privacy:\n", "privacy:\n  min_count: 3\n", 1)))
    out.append(mk("yaml/tab", "refuse", text="name: x\n\tyear: 2023\n"))
    out.append(mk("yaml/unclosed", "refuse", text="name: [x\n"))
    out.append(mk("yaml/list_top", "refuse", text="- name\n- year\n"))
    out.append(mk("yaml/scalar_top", "refuse", text="hallo\n"))
    out.append(mk("yaml/empty", "refuse", text=""))
    out.append(mk("yaml/binary", "refuse", text=bytes(rng.randrange(256) for _ in range(400))))
    out.append(mk("yaml/utf16", "refuse", text=text_ok.encode("utf-16")))
    out.append(mk("yaml/cp1252", "refuse", text=text_ok.replace("Vlietstede", "Vli\u00ebtstede").encode("cp1252")))
    out.append(mk("yaml/huge", "refuse", text="# " + "x" * (2 << 20) + "\n" + text_ok))
    out.append(mk("yaml/deep", "refuse", text="name: " + "[" * 5000 + "]" * 5000 + "\n"))
    out.append(mk("yaml/python_tag", "refuse", text=text_ok + "x: !!python/object/apply:os.system ['echo hi']\n"))
    out.append(mk("yaml/complex_key", "refuse", text=text_ok + "? [a, b]\n: 1\n"))
    out.append(mk("yaml/bom", "accept", text="\ufeff" + text_ok, why="UTF-8 met BOM"))
    out.append(mk("yaml/crlf", "accept", text=text_ok.replace("\n", "\r\n"), why="Windows-regeleinden"))

    def as_dir(folder: Path) -> Path:
        (folder / "set.yaml").mkdir(exist_ok=True)
        return folder / "set.yaml"

    def as_fifo(folder: Path) -> Path:
        p = folder / "fifo.yaml"
        if not p.exists():
            os.mkfifo(p)
        return p

    out.append(mk("path/directory", "refuse", build=as_dir))
    out.append(mk("path/fifo", "refuse", build=as_fifo))
    out.append(mk("path/dev_zero", "refuse", build=lambda folder: Path("/dev/zero")))
    out.append(mk("path/missing", "refuse", build=lambda folder: folder / "bestaat_niet.yaml"))
    out.append(mk("path/too_long", "refuse", build=lambda folder: folder / ("x" * 300 + ".yaml")))
    return out


class _Delete:
    pass


_DELETE = _Delete()


def _assert(cond, msg):
    assert cond, msg


# --- devices, pipes and huge files, for every loader --------------------------------------------------------------

def special_file_variants(rng: random.Random) -> list[Variant]:
    def fifo(name):
        def build(folder: Path) -> Path:
            p = folder / name
            if not p.exists():
                os.mkfifo(p)
            return p
        return build

    def sparse(name, size):
        def build(folder: Path) -> Path:
            p = folder / name
            with open(p, "wb") as fh:
                fh.truncate(size)
            return p
        return build

    out = []
    for target, name, size in (("statistics", "kwb-2023.csv", 1100 << 20), ("statistics", "kwb-2023.parquet", 1100 << 20),
                               ("geometry", "wijken_2023.gpkg", 2100 << 20), ("geometry", "wijken_2023.geojson", 2100 << 20),
                               ("records", "export.csv", 600 << 20)):
        out.append(Variant(f"special/{target}/fifo/{name}", target, "refuse", fifo(name), year=2023))
        out.append(Variant(f"special/{target}/huge/{name}", target, "refuse", sparse(name, size), year=2023))
        out.append(Variant(f"special/{target}/empty/{name}", target, "refuse", sparse(name, 0), year=2023))
        out.append(Variant(f"special/{target}/dev_zero", target, "refuse", lambda folder: Path("/dev/zero"), year=2023))
        out.append(Variant(f"special/{target}/dev_urandom", target, "refuse", lambda folder: Path("/dev/urandom"),
                           year=2023))
    return out


# --- all of them ---------------------------------------------------------------------------------------------------------

FAMILIES = {
    "odata_csv": odata_variants, "odata_json": odata_json_variants, "parquet": parquet_variants,
    "xlsx": xlsx_variants, "geojson": geojson_variants, "shapefile": shapefile_variants, "gpkg": gpkg_variants,
    "records": records_variants, "parameters": parameter_variants, "special": special_file_variants,
}


OWN_FAMILIES = {"records", "parameters", "special"}


def all_variants(seed: int = 15, families=None) -> list[Variant]:
    """Every variant, deterministic for a seed; families whose real file is absent are left out."""
    out = []
    for name, make in FAMILIES.items():
        if families and name not in families:
            continue
        try:
            out.extend(make(random.Random(f"{seed}-{name}")))
        except FileNotFoundError:
            if name in OWN_FAMILIES:  # the product's own demo and parameters are always there: never skip them
                raise
            continue
    seen = set()
    for v in out:  # ids are unique (a test id and a line in the report)
        while v.id in seen:
            v.id += "+"
        seen.add(v.id)
    return out
