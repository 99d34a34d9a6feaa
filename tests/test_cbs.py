"""CBS KWB statistics from real files in every delivery format; missing stays missing; bad input is explained."""
import json
import shutil

import pandas as pd
import pytest

from conftest import realdata
from workbench.catalog import load_catalog
from workbench.errors import DataError
from workbench.sources import cbs

AMS = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"
UTR = "cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx"
PARQUET = "pdok_wijkenbuurten_2024/wijk_2024_stats.parquet"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_amsterdam_2019_odata_csv_care_columns_filled(catalog):
    s = cbs.read_statistics(realdata(AMS), catalog, gemeenten=["GM0363"])
    assert s.year == 2019  # from the table id in the file name, not from parameters
    assert len(s.values) == 579
    assert s.values.loc["GM0363", "a_jz_tn"] == 20735
    assert s.values.loc["GM0363", "a_wmo_t"] == 70295
    wijken = s.areas.index[s.areas["level"] == "wijk"]
    assert len(wijken) == 99
    assert (s.status.loc[wijken, "a_jz_tn"] == "ok").sum() == 96
    # '.' in the CSV is missing, never zero
    buurten = s.areas.index[s.areas["level"] == "buurt"]
    gaps = s.status.loc[buurten, "a_jz_tn"] != "ok"
    assert gaps.sum() > 0 and s.values.loc[buurten[gaps], "a_jz_tn"].isna().all()
    assert "ind_wbi" in s.areas and s.areas.loc["WK036300", "ind_wbi"] == 1


def test_odata_json_export_gives_same_figures(catalog, tmp_path):
    raw = pd.read_csv(realdata(AMS), sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    doc = {"odata.metadata": "https://opendata.cbs.nl/ODataApi/odata/84583NED/$metadata#Cbs.OData.WebAPI.TypedDataSet",
           "value": raw.head(40).to_dict("records")}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    s = cbs.read_statistics(path, catalog, gemeenten=["GM0363"])
    assert s.year == 2019
    assert s.values.loc["GM0363", "a_wmo_t"] == 70295


def test_2024_dataproperties_map_by_stem(catalog):
    props = json.loads(realdata("cbs_odata/85984NED_DataProperties.json").read_text(encoding="utf-8"))
    keys = cbs.odata_keys(props, catalog)
    assert keys["a_jz_tn"] == "JongerenMetJeugdzorgInNatura_98"
    assert keys["a_wmo_t"] == "WmoClienten_100"
    assert keys["p_wmo_t"] == "WmoClientenRelatief_101"
    assert keys["p_hh_osm"] == "HuishOnderOfRondSociaalMinimum_90"
    assert keys["g_wozbag"] == "GemiddeldeWOZWaardeVanWoningen_39"  # renamed since 2019: the alias list covers it


def test_dataproperties_file_is_not_data(catalog):
    with pytest.raises(DataError, match="DataProperties"):
        cbs.read_statistics(realdata("cbs_odata/85984NED_DataProperties.json"), catalog)


def test_utrecht_2023_first_release_care_missing_not_zero(catalog):
    s = cbs.read_statistics(realdata(UTR), catalog, gemeenten=["GM0344"])
    assert s.year == 2023  # from the sheet name kwb-2023
    assert len(s.values) == 122
    for var in ("a_jz_tn", "a_wmo_t", "p_jz_tn", "p_wmo_t"):
        assert s.values[var].isna().all() and (s.status[var] == "missing").all(), var
    assert s.values.loc["GM0344", "a_inw"] > 0 and s.status.loc["GM0344", "a_soz_wb"] == "ok"
    # The note names what a reader knows, not the column code (issue 17: no codes in texts people read).
    assert any("niet gepubliceerd" in n and "Jongeren met jeugdzorg in natura" in n for n in s.notes)
    assert not any("a_jz_tn" in n or "(p_" in n for n in s.notes)


def test_xlsx_any_sheet_name_year_from_file_name(catalog, tmp_path):
    df = pd.read_excel(realdata(UTR), dtype=object)
    path = tmp_path / "kerncijfers_2023_utrecht.xlsx"
    df.to_excel(path, sheet_name="Blad1", index=False, engine="openpyxl")
    s = cbs.read_statistics(path, catalog, gemeenten=["GM0344"])
    assert s.year == 2023 and s.values.loc["WK034401", "a_inw"] == df.loc[1, "a_inw"]


def test_pdok_parquet_2024_sentinels_and_gemeente_sums(catalog):
    raw = pd.read_parquet(realdata(PARQUET))
    s = cbs.read_statistics(realdata(PARQUET), catalog, gemeenten=["GM0344"])
    assert s.year == 2024  # from the column jaar
    wijken = s.areas.index[s.areas["level"] == "wijk"]
    assert len(wijken) == 969  # including Amsterdam's alphanumeric codes (WK0363AF ...)
    assert s.areas["gemeente_code"].nunique() == 97
    secret = raw.loc[raw["aantal_inwoners"] == -99997, "wijkcode"]
    if len(secret):
        assert s.values.loc[secret, "a_inw"].isna().all()
        assert (s.status.loc[secret, "a_inw"] == "suppressed").all()
    assert not (s.values.select_dtypes("number") == -99997).any().any()
    # no care or income columns in 2024 PDOK: missing, and said so
    assert s.values["a_jz_tn"].isna().all()
    assert any("Jongeren met jeugdzorg in natura" in n for n in s.notes)  # by label, not code
    # gemeente rows are sums of complete wijk counts only
    utr = raw[raw["gemeentecode"] == "GM0344"]
    assert s.values.loc["GM0344", "a_inw"] == utr["aantal_inwoners"].sum()
    assert s.status.loc["GM0344", "g_wozbag"] == "missing"


def test_semicolon_csv_in_cp1252_with_decimal_comma(catalog, tmp_path):
    text = ('"gwb_code_10";"regio";"a_inw";"a_00_14";"g_ink_pi"\n'
            '"GM9999";"Zoëterdam";"1000";"150";"31,5"\n"WK999901";"Wijk Één";"600";"x";"."\n')
    path = tmp_path / "kwb-2022.csv"
    path.write_bytes(text.encode("cp1252"))
    s = cbs.read_statistics(path, catalog, gemeenten=["GM9999"])
    assert s.areas.loc["WK999901", "name"] == "Wijk Één"
    assert s.values.loc["GM9999", "g_ink_pi"] == 31.5
    assert s.status.loc["WK999901", "a_00_14"] == "suppressed" and pd.isna(s.values.loc["WK999901", "a_00_14"])


@pytest.mark.parametrize("content, message", [
    ("gwb_code_10|a_inw\nGM0344|100\n", "scheidingsteken"),
    ("naam;leeftijd\nPiet;40\n", "geen kolom met gebiedscodes"),
])
def test_bad_csv_one_clear_message(catalog, tmp_path, content, message):
    path = tmp_path / "kwb-2023.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        cbs.read_statistics(path, catalog)
    assert message in str(err.value) and str(path) in str(err.value)


def test_utf16_file_is_named_as_encoding_problem(catalog, tmp_path):
    path = tmp_path / "kwb-2023.csv"
    path.write_text("gwb_code_10;a_inw\nGM0344;100\n", encoding="utf-16")
    with pytest.raises(DataError, match="UTF-16"):
        cbs.read_statistics(path, catalog)


def test_gemeente_absent_from_file(catalog):
    with pytest.raises(DataError) as err:
        cbs.read_statistics(realdata(UTR), catalog, gemeenten=["GM0518"])
    assert "GM0518" in str(err.value) and "GM0344" in str(err.value) and "kwb-2023" in str(err.value)


def test_duplicate_codes(catalog, tmp_path):
    path = tmp_path / "kwb-2023.csv"
    path.write_text("gwb_code_10;a_inw\nGM0344;100\nWK034401;50\nWK034401  ;50\n", encoding="utf-8")
    with pytest.raises(DataError, match="dubbel.*WK034401"):
        cbs.read_statistics(path, catalog)


def test_folder_of_years_loads_each_year(catalog, tmp_path):
    shutil.copy(realdata(UTR), tmp_path / "kwb-2023.xlsx")
    shutil.copy(realdata(PARQUET), tmp_path / "wijk_2024.parquet")

    class P:
        gemeente = ("GM0344",)
        year = 2023

        @staticmethod
        def resolve(value):
            return tmp_path

    out = cbs.load_statistics(str(tmp_path), P, catalog)
    assert sorted(out) == [2023, 2024]


def test_table_ids_in_one_place():
    assert cbs.table_id(2019) == "84583NED" and cbs.table_id(2024) == "85984NED"
    assert cbs.year_of_table("85618ned") == 2023
    with pytest.raises(DataError, match="TABLES"):
        cbs.table_id(1990)
