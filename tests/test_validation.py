"""`workbench validate` and the record checks of every run: each bad record explained by row and kind."""
from datetime import date

import pandas as pd
import pytest

from workbench import cli
from workbench.errors import DataError
from workbench.validation import ERROR, KINDS, WARNING, load_products, validate_records

TODAY = date(2024, 6, 1)
AREAS = pd.DataFrame({"code": ["BU99010101", "BU99010102", "WK990101", "GM9901"],
                      "level": ["buurt", "buurt", "wijk", "gemeente"], "gemeente_code": "GM9901"})


def good_row(i: int, **changes) -> dict:
    row = {"client_id": f"CL{i:05d}", "household_id": f"HH{i:05d}", "birth_year": "2012", "postcode": "0123AB",
           "buurt_code": "BU99010101", "domain": "jeugd", "product": "ambulante jeugdhulp", "provider": "Aanbieder A",
           "start": "2023-01-15", "end": "2023-09-30", "cost": "4500.50", "result": "behaald", "evaluated": "ja"}
    row.update(changes)
    return row


def write(tmp_path, rows, name="records.csv", **kw) -> str:
    path = tmp_path / name
    df = pd.DataFrame(rows)
    if name.endswith(".xlsx"):
        df.to_excel(path, index=False, engine="openpyxl")
    else:
        df.to_csv(path, index=False, **{"sep": ";", **kw})
    return str(path)


def check(path, **kw):
    return validate_records(path, areas=AREAS, gemeenten=("GM9901",), products=load_products(), today=TODAY, **kw)


def test_clean_file_has_no_problems_and_typed_records(tmp_path):
    report = check(write(tmp_path, [good_row(i) for i in range(5)]))
    assert report.ok and not report.problems, report.render()
    r = report.records
    assert len(r) == 5 and r["cost"].dtype == float and str(r["start"].dtype).startswith("datetime")
    assert "geen problemen" in report.render()


BAD = [  # (changes to row 3 of 4, kind, severity)
    ({"client_id": ""}, "leeg_verplicht", ERROR),
    ({"start": "31-02-2023x"}, "datum_onleesbaar", ERROR),
    ({"start": "2203-01-01"}, "datum_onwaarschijnlijk", ERROR),
    ({"end": "2022-12-31"}, "einde_voor_begin", ERROR),
    ({"cost": "veel"}, "kosten_geen_getal", ERROR),
    ({"cost": "-10"}, "kosten_negatief", ERROR),
    ({"cost": "25000000"}, "kosten_onwaarschijnlijk", ERROR),
    ({"domain": "participatie"}, "domein_onbekend", ERROR),
    ({"buurt_code": "9901 01"}, "buurtcode_ongeldig", ERROR),
    ({"buurt_code": "BU99019999"}, "buurtcode_onbekend", ERROR),
    ({"result": "prima"}, "resultaat_onbekend", ERROR),
    ({"start": "2024-12-01", "end": ""}, "begin_in_toekomst", WARNING),
    ({"cost": ""}, "kosten_ontbreken", WARNING),
    ({"buurt_code": "BU03630101"}, "buurt_buiten_gebied", WARNING),
    ({"postcode": "12AB"}, "postcode_ongeldig", WARNING),
    ({"product": "ruimtevaart"}, "product_onbekend", WARNING),
    ({"product": "begeleiding"}, "product_onbekend", WARNING),  # a Wmo product under jeugd
    ({"birth_year": "tien"}, "geboortejaar_ongeldig", WARNING),
    ({"household_id": ""}, "veld_leeg", WARNING),
    ({"evaluated": "misschien"}, "geëvalueerd_onleesbaar", WARNING),
]


@pytest.mark.parametrize("changes,kind,severity", BAD, ids=[b[1] + "-" + "-".join(b[0]) for b in BAD])
def test_each_problem_kind_names_its_rows(tmp_path, changes, kind, severity):
    rows = [good_row(i) for i in range(4)]
    rows[2] = good_row(2, **changes)
    report = check(write(tmp_path, rows))
    found = [p for p in report.problems if p.kind == kind]
    assert found, report.render()
    assert found[0].rows == [4]  # data row 3 = file row 4 (header is row 1)
    assert found[0].severity == severity == KINDS[kind][0]
    assert report.ok == (severity == WARNING)
    text = report.render()
    assert kind in text and "rij 4" in text
    assert ("de run STOPT" in text) == (severity == ERROR)
    if severity == ERROR:
        assert report.records is None
        with pytest.raises(DataError, match="fouten die de cijfers zouden veranderen"):
            report.raise_for_errors()
    else:
        assert len(report.records) == 4 and report.note_lines()


def test_duplicates_exact_counted_once_conflicting_stop(tmp_path):
    rows = [good_row(i) for i in range(3)] + [good_row(1)]
    report = check(write(tmp_path, rows))
    assert [p.kind for p in report.problems] == ["dubbel_identiek"] and report.problems[0].rows == [5]
    assert len(report.records) == 3
    rows[-1] = good_row(1, cost="99")
    report = check(write(tmp_path, rows))
    conflict = [p for p in report.problems if p.kind == "dubbel_traject"]
    assert conflict and conflict[0].rows == [3, 5] and not report.ok


def test_postcode_in_two_buurten_is_reported(tmp_path):
    rows = [good_row(0), good_row(1, buurt_code="BU99010102")]
    report = check(write(tmp_path, rows))
    assert [p.kind for p in report.problems] == ["postcode_meerdere_buurten"]


def test_missing_columns_and_mapping(tmp_path):
    rows = [good_row(i) for i in range(3)]
    for r in rows:
        r["Cliëntnummer"] = r.pop("client_id")
        r["Begindatum"] = r.pop("start")
    path = write(tmp_path, rows)
    report = check(path)
    assert not report.ok and report.problems[0].kind == "kolom_ontbreekt"
    assert "client_id" in report.problems[0].column and "start" in report.problems[0].column
    report = check(path, column_map={"client_id": "Cliëntnummer", "start": "begindatum"})  # header case ignored
    assert report.ok, report.render()
    report = check(path, column_map={"client_id": "Klantnummer", "start": "Begindatum"})
    assert [p.kind for p in report.errors] == ["koppeling_onbekend", "kolom_ontbreekt"]


@pytest.mark.parametrize("fmt", ["cp1252;", "utf-8-sig,", "utf-8\t", "utf-16;", "xlsx"])
def test_encodings_separators_excel(tmp_path, fmt):
    rows = [good_row(i, provider="Zorg & Welzijn Café", cost="1.234,50") for i in range(3)]
    if fmt == "xlsx":
        path = write(tmp_path, rows, "records.xlsx")
    else:
        path = write(tmp_path, rows, encoding=fmt[:-1], sep=fmt[-1])
    report = check(path)
    assert report.ok, report.render()
    assert report.records["provider"].iloc[0] == "Zorg & Welzijn Café"
    assert report.records["cost"].iloc[0] == pytest.approx(1234.5)  # Dutch thousands dot + decimal comma


def test_dutch_dates_and_ambiguous_thousands(tmp_path):
    rows = [good_row(0, start="15-01-2023", end="30/09/2023", cost="12.500"), good_row(1, cost="80.25")]
    report = check(write(tmp_path, rows))
    assert report.records["start"].iloc[0] == pd.Timestamp(2023, 1, 15)
    assert [p.kind for p in report.problems] == ["kosten_duizendtal"] and report.problems[0].rows == [2]


@pytest.mark.parametrize("content,match", [
    (b"", "leeg"), (b"client_id;start\n", "geen enkele rij"), (b"\x00\x01\x02PK\x03\x04" * 50, "geen tekstbestand"),
])
def test_unreadable_files_give_one_clear_error(tmp_path, content, match):
    path = tmp_path / "records.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        check(str(path))


def test_broken_excel_is_a_data_error(tmp_path):
    path = tmp_path / "records.xlsx"
    path.write_bytes(b"PK\x03\x04 dit is geen echte xlsx")
    with pytest.raises(DataError, match="niet te lezen als Excel"):
        check(str(path))


def test_cli_exit_codes_and_report_files(tmp_path, capsys):
    ok = write(tmp_path, [good_row(i) for i in range(3)] + [good_row(9, cost="")], "ok.csv")
    assert cli.main(["validate", ok, "--report", str(tmp_path / "rapport.csv")]) == 0
    out = capsys.readouterr().out
    assert "kosten_ontbreken" in out and "de run gaat door" in out
    table = pd.read_csv(tmp_path / "rapport.csv", sep=";")
    assert list(table["soort"]) == ["kosten_ontbreken"] and table["aantal"].iloc[0] == 1
    bad = write(tmp_path, [good_row(0, end="2020-01-01")], "bad.csv")
    assert cli.main(["validate", bad, "--report", str(tmp_path / "rapport.md")]) == 2
    assert "einde_voor_begin" in (tmp_path / "rapport.md").read_text(encoding="utf-8")
    renamed = write(tmp_path, [{("ClientNr" if k == "client_id" else k): v for k, v in good_row(0).items()}], "m.csv")
    assert cli.main(["validate", renamed]) == 2
    assert cli.main(["validate", renamed, "--columns", "client_id=ClientNr"]) == 0
    assert cli.main(["validate", str(tmp_path / "bestaat_niet.csv")]) == 2
    assert "niet gevonden" in capsys.readouterr().err


@pytest.mark.parametrize("repeats", [True, False])
def test_work_per_distinct_value_gives_what_work_per_cell_gives(repeats):
    """The checks transform and test each distinct value once (``per_value``); a column of mostly distinct values
    (client numbers) cell by cell. Both give exactly what the same work on every cell gives, missing values
    included."""
    from workbench.validation import BUURT_RE, per_value, per_value_flag

    values = [v for i in range(400) for n in [i % 3 if repeats else i]
              for v in (f" bu9901{n:04d}", f"BU99{n:06d} ", "", None, f"bu 9901 {n:04d}", f"=1+{n}", f"BU{n}")]
    column = pd.Series(values, dtype="string", index=range(5, 5 + len(values)))

    def clean(t):
        return t.str.strip().str.upper().str.replace(" ", "", regex=False).replace({"": pd.NA})

    pd.testing.assert_series_equal(per_value(column, clean), clean(column), check_exact=True)
    cleaned = clean(column)
    expected = [bool(BUURT_RE.fullmatch(v)) if isinstance(v, str) else False for v in cleaned]
    assert per_value_flag(cleaned, BUURT_RE.fullmatch).tolist() == expected
    assert any(expected) and not all(expected)
