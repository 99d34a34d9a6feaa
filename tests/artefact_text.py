"""The text a person reads in a run's artefacts, and the number-format faults to look for in it.

Used by tests/test_number_format.py on the demo run; also runnable by hand on any run directory:
``python tests/artefact_text.py outputs/<set>/latest`` prints every fault with where it was found.
"""
from __future__ import annotations

import html as htmllib
import json
import re
import sys
from pathlib import Path

_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.S | re.I)
_VIEW = re.compile(r'<script type="application/json" id="wb-view">(.*?)</script>', re.S)
_TAG = re.compile(r"<[^>]+>")
_IMG = re.compile(r"<img\b[^>]*>", re.I)
# Not read as numbers: code (YAML examples, file names in <code> or `backticks`) and licence names.
_CODE_TAG = re.compile(r"<code\b[^>]*>.*?</code>", re.S | re.I)
_CODE = re.compile(r"<code\b[^>]*>.*?</code>|`[^`\n]*`|\bCC BY(?:-SA)? \d\.\d\b", re.S | re.I)


def html_text(text: str) -> str:
    """The visible text of an HTML page or fragment (no scripts, styles, images or attributes)."""
    text = _IMG.sub(" ", _SCRIPT.sub(" ", _CODE_TAG.sub(" ", text)))
    return htmllib.unescape(_TAG.sub(" ", text))


def _strings(obj, out: list[str]) -> list[str]:
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("fill", "bold", "palette", "topology", "arcs", "transform", "ids", "codes"):
                _strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _strings(v, out)
    return out


def map_text(text: str) -> str:
    """A standalone map: its visible HTML plus every string of its view (tooltips, legend, key)."""
    parts = [html_text(text)]
    m = _VIEW.search(text)
    if m:
        parts += _strings(json.loads(m.group(1)), [])
    return "\n".join(html_text(p) for p in parts)


def notebook_text(path: Path) -> str:
    """Markdown cells and the outputs a reader sees (HTML or Markdown where there is one, else plain text)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                parts.append("".join(o["text"]))
            data = o.get("data") or {}
            for mime in ("text/html", "text/markdown", "text/plain"):
                if mime in data:
                    value = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
                    if "image/png" in data and mime == "text/plain":
                        break  # '<Figure size ...>' is not read
                    parts.append(html_text(value) if mime == "text/html" else value)
                    break
    return "\n".join(parts)


def workbook_text(path: Path) -> str:
    """Every text cell of an xlsx, and every number as Excel shows it (a float with the General format shows
    all its decimals)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    parts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if isinstance(v, str):
                    parts.append(v)
                elif isinstance(v, float) and cell.number_format == "General" and not v.is_integer():
                    parts.append(f"{ws.title}!{cell.coordinate}: {v!r} (General)")
    return "\n".join(parts)


def run_texts(run_dir: Path) -> dict[str, str]:
    """name -> readable text, for every artefact of a run a person reads."""
    run_dir = Path(run_dir)
    out = {}
    for p in sorted(run_dir.glob("*.ipynb")):
        out[p.name] = notebook_text(p)
    for p in sorted(run_dir.glob("*.html")):
        out[p.name] = map_text(p.read_text(encoding="utf-8"))
    for sub in ("wijkprofielen", "aanbieders"):
        for p in sorted((run_dir / sub).glob("*.html")):
            out[f"{sub}/{p.name}"] = html_text(p.read_text(encoding="utf-8"))
    if (run_dir / "tabellen.xlsx").exists():
        out["tabellen.xlsx"] = workbook_text(run_dir / "tabellen.xlsx")
    return out


# What must not appear in Dutch text a person reads. Each: (name, pattern).
FAULTS = [
    ("NaN/None", re.compile(r"\b(NaN|nan|None|NaT|<NA>)\b")),
    ("decimal point", re.compile(r"(?<![\w.,])\d+\.(?:\d{1,2}|\d{4,})(?![\w.])")),
    ("e-notation", re.compile(r"\d[eE][+-]\d")),
    ("CBS column code", re.compile(r"\b[A-Z][a-z]+(?:[A-Z0-9][a-z0-9]*)+_\d+\b")),
    ("hyphen-minus as minus", re.compile(r"(?:^|[\s(€=:])-\d")),
    ("hyphen in a number range", re.compile(r"(?<![\d-])\d+(?:,\d+)?-\d+(?![\d-])")),
    ("whole count with ,0", re.compile(
        r"\b\d{1,3}(?:\.\d{3})*,0 (?:trajecten|cliënten|clienten|jongeren|jeugdigen|inwoners|huishoudens|woningen)\b")),
]


def faults(text: str) -> list[tuple[str, str]]:
    """(fault name, the text around it) for every fault in ``text``."""
    text = _CODE.sub(" ", text)
    found = []
    for name, pattern in FAULTS:
        for m in pattern.finditer(text):
            found.append((name, text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")))
    return found


if __name__ == "__main__":
    for name, text in run_texts(Path(sys.argv[1])).items():
        for fault, where in faults(text):
            print(f"{name}: {fault}: …{where}…")
