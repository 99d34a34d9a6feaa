"""The audit's text search (``audit._scan_text``) finds what the plain matcher finds, on adversarial text.

The search tokenises UTF-8 bytes and starts its postcode pattern with a digit (both for speed); the plain matcher
below is the definition: every run of ``[A-Za-z0-9_-]`` as a token, a postcode as four digits with no letter or digit
before, an optional (non-breaking) space, two capitals and no letter or digit after."""
import json
import random
import re

from workbench import audit

TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
POSTCODE = re.compile(r"(?<![0-9A-Za-z])(\d{4})[ \u00a0]?([A-Z]{2})(?![A-Za-z0-9])")

IDS = {
    "client_id": {"C0000001", "C0000012", "c0000001", "0001234", "ab-cd_01", "-_-_", "C000000", "éclient1",
                  "id with space", "C٣00001", "\U0001f600abc", "Ｃ0000001"},
    "household_id": {"H000001", "H000001x", "1234AB", "00001234", "x" * 40},
    "postcode": {"1234AB", "0110AA", "9999ZZ", "١٢٣٤AB", "12 34AB"},
}
PIECES = [*IDS["client_id"], *IDS["household_id"], "1234", "1234 AB", "1234\u00a0AB", "0110AA", "0110 AA", "9999ZZ",
          "١٢٣٤AB", "１２３４AB", "AB", "ZZ", "C", "H", "0", "9", "_", "-", " ", "\u00a0", "\n", "\t", ".", ",", ";", '"',
          "'", "<", ">", "&", "é", "ß", "Ω", "ı", "İ", "K", "٣", "²", "\ufeff", "\x00", "\x85", "\u2028", "\ud800",
          "\udfff", "\U0001f600", "x", "Z", "a"]


def plain_scan(text: str, ids: dict, min_count: int) -> list[audit.Leak]:
    """The audit's text search as first written: a set of ``TOKEN.findall`` tokens and ``POSTCODE.findall``."""
    leaks = []
    tokens = set(TOKEN.findall(text))
    for kind in ("client_id", "household_id"):
        hit = tokens & ids.get(kind, set())
        if hit:
            leaks.append(audit.Leak("f", "w", f"{len(hit)} {kind}-waarde(n) uit de registratie"))
    if ids.get("postcode"):
        found = {a + b for a, b in POSTCODE.findall(text)} & ids["postcode"]
        if found:
            leaks.append(audit.Leak("f", "w", f"{len(found)} postcode(s) uit de registratie"))
    from workbench.maps import audit_text

    for field_name, value in audit._HTML_COUNT.findall(text + "\n" + audit_text(text)):
        n = audit._nl_number(value)
        if n is not None and n < min_count:
            leaks.append(audit.Leak("f", "w", f"telling {field_name} = {value} onder de drempel {min_count}"))
    return leaks


def scan(text: str, ids: dict, min_count: int = 10) -> list[audit.Leak]:
    leaks = []
    audit._scan_text("f", "w", text, audit._search_ids(ids), min_count, leaks)
    return leaks


def test_scan_finds_what_the_plain_matcher_finds_on_adversarial_text():
    rng = random.Random(20261201)
    texts = ["", "C0000001", "xC0000001", "C0000001x", "C0000001_", "-C0000001", "C0000001-", "éC0000001é",
             "C0000001é", "٣C0000001", "C0000001\ud800", "1234AB", "01234AB", "1234ABC", "1234AB1", "a1234AB", "_1234AB",
             "é1234AB", "1234 AB", "1234  AB", "1234\u00a0AB", "1234ab", "١٢٣٤AB", "1234ABé", "12345AB 1234AB",
             json.loads('"C0000001\\ud800H000001"'), "H000001x H000001", "0110AA0110AA 0110AA"]
    for _ in range(3000):
        texts.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))))
    checked = 0
    for text in texts:
        expected = plain_scan(text, IDS, 10)
        assert scan(text, IDS, 10) == expected, repr(text)
        checked += bool(expected)
    assert checked > 300  # the texts really hold ids and postcodes


def test_scan_on_latin1_bytes_and_without_ids():
    raw = bytes(range(256)) + b"C0000001\xa01234\xa0AB\xff1234AB\x00H000001"
    text = raw.decode("latin-1")
    assert scan(text, IDS) == plain_scan(text, IDS, 10) != []
    assert scan(text, {}) == plain_scan(text, {}, 10) == []
    assert scan(text, {"postcode": IDS["postcode"]}) == plain_scan(text, {"postcode": IDS["postcode"]}, 10) != []


def test_record_identifiers_keep_ids_of_four_characters_or_more():
    import pandas as pd

    records = pd.DataFrame({"client_id": [" C001 ", "C1", None, "C0001"], "household_id": ["H12", "H123", "H123", None],
                            "postcode": ["1234 ab", None, "1234AB", "0110AA"]})
    ids = audit.record_identifiers(records)
    assert ids == {"client_id": {"C001", "C0001"}, "household_id": {"H123"}, "postcode": {"1234AB", "0110AA"}}


def test_html_tables_found_whatever_the_case_of_the_tag():
    for tag in ("table", "TABLE", "Table"):
        html = f"<p>x</p><{tag} border=1><thead><tr><th>aantal</th></tr></thead><tbody><tr><td>3</td></tr></tbody></{tag}>"
        assert dict(audit._HTMLTables(html).columns()) == {"aantal": ["3"]}, tag
    assert audit._HTMLTables("<iframe srcdoc=\"&lt;table&gt;&lt;tr&gt;&lt;td&gt;3\"></iframe>").tables == []


def test_identifiers_in_text_columns_of_parquet_are_found_whatever_the_string_storage(tmp_path):
    """pandas 3 reads Parquet text as its "str" dtype, in Arrow arrays by default or as Python objects (what
    ``import workbench`` sets): the final scan searches the text columns either way. Parquet is compressed, so its
    bytes give nothing away: only the columns can."""
    import pandas as pd

    from workbench.params import PrivacySettings

    records = pd.DataFrame({"client_id": ["CLX93817", "CLX11111"], "household_id": ["HH000123", "HH000999"]})
    pd.DataFrame({"code": ["WK01"], "toelichting": ["zie CLX93817"]}).to_parquet(tmp_path / "t.parquet")
    for storage in ("python", "pyarrow"):
        with pd.option_context("mode.string_storage", storage):
            leaks = audit.audit_publication(tmp_path, records, PrivacySettings())
        assert [leak.what for leak in leaks] == ["1 client_id-waarde(n) uit de registratie"], storage
