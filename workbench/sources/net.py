"""Downloads and the cache folder for open data (CBS OData, PDOK OGC API).

The cache lives in ``cache/`` of the project folder (see workbench.paths), or where the environment variable ``MMR_CACHE``
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

from .. import io, paths
from ..errors import DataError

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
    return paths.cache_dir()


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


def _open(url: str, accept: str, manual: str):
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(req, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"de server antwoordde met HTTP {exc.code} ({exc.reason})", where=url,
                          hint=manual or None) from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        raise Unreachable(f"geen verbinding ({getattr(exc, 'reason', exc)})", where=url, hint=manual or None) from None


def get_text(url: str, *, manual: str = "") -> str:
    """GET a text document (an Atom feed); failures as in :func:`get_json`."""
    with _open(url, "application/atom+xml, application/xml, text/xml, */*", manual) as resp:
        return resp.read().decode("utf-8-sig")


def download(url: str, target: Path, *, manual: str = "") -> Path:
    """Stream a (large) file to ``target``, written atomically; failures as in :func:`get_json`."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    try:
        with _open(url, "*/*", manual) as resp, open(tmp, "wb") as fh:
            shutil.copyfileobj(resp, fh, 1 << 20)
    except Unreachable:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:  # connection lost halfway: nothing half-written stays behind
        tmp.unlink(missing_ok=True)
        raise Unreachable(f"download afgebroken ({exc})", where=url, hint=manual or None) from None
    os.replace(tmp, target)
    return target


def get_all(url: str, *, manual: str = "") -> list[dict]:
    """All rows of a paged OData response (follows ``odata.nextLink``)."""
    rows: list[dict] = []
    while url:
        page = get_json(url, manual=manual)
        rows.extend(page.get("value", []))
        url = page.get("odata.nextLink")
    return rows


write_atomic = io.write_atomic  # the cache files of the downloads are written like every other file
