"""Downloads and the cache folder for open data (CBS OData, PDOK OGC API).

The cache lives in ``cache/`` at the repository root, or where the environment variable ``MMR_CACHE``
points. Layout::

    cache/cbs/<tabel>_<GMxxxx>.json            KWB rows of the gemeente(n), all levels (OData TypedDataSet)
    cache/pdok/wijkenbuurten_<jaar>_<GMxxxx>.gpkg   layers gemeenten, wijken, buurten (EPSG:28992)

Every HTTP request goes through :func:`get_json`, so tests replace that one function.
"""
from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from .. import io
from ..errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
USER_AGENT = "mmr-workbench (+https://github.com/; open data CBS/PDOK)"


class Unreachable(DataError):
    """The source cannot be reached (no network, server down); the hint says what to download by hand."""


class OfflineMissing(DataError):
    """Offline mode and the cache lacks a file; carries the manual download instructions."""

    def __init__(self, instructions: str):
        self.instructions = instructions
        super().__init__("niet in de cache en --offline staat aan", hint=instructions)


def cache_dir() -> Path:
    return Path(os.environ.get("MMR_CACHE") or REPO_ROOT / "cache").expanduser().resolve()


def offline_mode() -> bool:
    return os.environ.get("MMR_OFFLINE", "").lower() in ("1", "true", "yes", "ja")


def get_json(url: str, *, manual: str = "") -> dict:
    """GET a JSON document; any network failure becomes one Unreachable error with the manual route."""
    req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return json.loads(resp.read().decode("utf-8-sig"))
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"de server antwoordde met HTTP {exc.code} ({exc.reason})", where=url,
                          hint=manual or None) from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"geen verbinding ({reason})", where=url, hint=manual or None) from None
    except json.JSONDecodeError:
        raise Unreachable("het antwoord is geen JSON", where=url, hint=manual or None) from None


def get_all(url: str, *, manual: str = "") -> list[dict]:
    """All rows of a paged OData response (follows ``odata.nextLink``)."""
    rows: list[dict] = []
    while url:
        page = get_json(url, manual=manual)
        rows.extend(page.get("value", []))
        url = page.get("odata.nextLink")
    return rows


write_atomic = io.write_atomic  # the cache files of the downloads are written like every other file
