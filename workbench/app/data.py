"""What the app reads: the published aggregates of the latest good run, and the analyst's stories.

Only ``outputs/<set>/latest/publish.gpkg`` and its ``manifest.json`` are read — never care records,
never the demo's source files. Geometry is simplified once per level and cached.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .. import maps, paths
from ..catalog import Catalog, Indicator
from ..errors import DataError, WorkbenchError
from ..publish import read_layer

ENV_OUTPUTS = "MMR_OUTPUTS"
ENV_SET = "MMR_SET"
ENV_STORIES = "MMR_VERHALEN"
DEFAULT_STORIES = paths.package_file("parameters", "verhalen")  # the package's fictional example


class NoPublishedRun(WorkbenchError):
    """There is no good run to show yet."""


def settings_from_env() -> tuple[Path, str]:
    """The outputs folder and parameter set the app shows (``workbench serve`` sets these)."""
    return Path(os.environ.get(ENV_OUTPUTS) or paths.outputs_dir()), os.environ.get(ENV_SET) or "demo"


def run_command(name: str) -> str:
    return f"workbench run parameters/{name}.yaml"


@dataclass
class PublishedRun:
    """The published layers of one run, loaded once."""

    path: Path
    manifest: dict
    meta: dict[str, str]
    areas: gpd.GeoDataFrame
    indicators: pd.DataFrame
    risk: pd.DataFrame
    costs: pd.DataFrame
    scores: pd.DataFrame | None
    catalog: Catalog
    has_results: bool = False
    domains: dict[str, dict] = field(default_factory=dict)  # domain -> label, indicator, exposure_label, views, headline
    models: pd.DataFrame | None = None  # layer 'modellen': per domain status and message (e.g. a first release)
    _geo: dict[str, tuple] = field(default_factory=dict, repr=False)  # level -> (web geometry, encoded)

    @classmethod
    def load(cls, outputs: str | Path, name: str) -> "PublishedRun":
        outputs = Path(outputs)
        link = outputs / name / "latest"
        hint = f"voer eerst een run uit: {run_command(name)} (en start daarna de app opnieuw of ververs de pagina)"
        if not link.exists():
            raise NoPublishedRun(f"er is nog geen geslaagde run van parameterset '{name}'", where=str(outputs / name),
                                 hint=hint)
        run_dir = link.resolve()
        gpkg, manifest_path = run_dir / "publish.gpkg", run_dir / "manifest.json"
        if not gpkg.exists() or not manifest_path.exists():
            raise NoPublishedRun("de laatste run heeft geen publish.gpkg of manifest.json", where=str(run_dir), hint=hint)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("status") != "ok":
            raise NoPublishedRun(f"de laatste run heeft status '{manifest.get('status')}'", where=str(run_dir), hint=hint)
        return cls.read(run_dir, manifest)

    @classmethod
    def read(cls, run_dir: Path, manifest: dict) -> "PublishedRun":
        """The published layers of a run folder, also of one still being built (its exports read it)."""
        gpkg, name = Path(run_dir) / "publish.gpkg", manifest.get("name", "")
        layers = set(pyogrio.list_layers(gpkg)[:, 0])

        def layer(name_: str) -> pd.DataFrame | None:
            return read_layer(gpkg, name_) if name_ in layers else None

        meta_t = layer("meta")
        meta = dict(zip(meta_t["key"], meta_t["value"].fillna(""))) if meta_t is not None else {}
        # Attributes only: the boundaries (most of the memory of a national run) are read when a level's web
        # geometry is first made (maps.web_level), not by every kernel.
        areas = pyogrio.read_dataframe(gpkg, layer="gebieden", read_geometry=False) if "gebieden" in layers else None
        if areas is None or "indicatoren" not in layers:
            raise DataError("publish.gpkg mist de lagen 'gebieden' of 'indicatoren'", where=str(gpkg),
                            hint=f"maak een nieuwe run: {run_command(name)}")
        areas["water"] = areas["water"].fillna(False).astype(bool)
        ind = layer("indicatoren")
        ind["year"] = ind["year"].astype(int)
        empty = pd.DataFrame()
        catalog, domains = run_metadata(layer("catalogus"), layer("domeinen"), where=str(gpkg), name=name)
        return cls(path=run_dir, manifest=manifest, meta=meta, areas=areas, indicators=ind,
                   risk=layer("risico") if "risico" in layers else empty,
                   costs=layer("kosten") if "kosten" in layers else empty,
                   scores=layer("risicoscore"), catalog=catalog,
                   has_results={"resultaten", "stapeling"} <= layers, domains=domains,
                   models=layer("modellen"))

    @property
    def domain_labels(self) -> dict[str, str]:
        """Domain -> Dutch label, in the run's order (the domain control)."""
        return {d: spec["label"] for d, spec in self.domains.items()}

    def risk_domain(self, domain: str) -> dict | None:
        """The care-use domain's model description (label, exposure_label), or None when it has no O/E view."""
        spec = self.domains.get(domain)
        return spec if spec and "oe" in spec["views"] else None

    def headline(self, domain: str) -> list[str]:
        """The indicators the domain shows first."""
        spec = self.domains.get(domain)
        return list(spec["headline"]) if spec else []

    def trend_indicators(self) -> list[str]:
        """Per care-use domain (jeugdhulp, Wmo) its headline indicator: the trends a wijkprofiel shows."""
        return [self.headline(d)[0] for d in self.domains if self.risk_domain(d) and self.headline(d)]

    def model_message(self, domain: str) -> str | None:
        """Why a domain has no risk model in this run, as the run says it (layer 'modellen'), or None."""
        m = self.models
        if m is None or m.empty or "domain" not in m:
            return None
        row = m[(m["domain"] == domain) & (m["status"] != "ok")]
        return str(row["message"].iloc[0]) if len(row) else None

    def reference_note(self, domain: str) -> str:
        """What 'verwacht' means for this run's model of ``domain``, with the size of its reference (layer modellen)."""
        if "_reference_notes" not in self.__dict__:
            gpkg = self.path / "publish.gpkg"
            models = read_layer(gpkg, "modellen") if "modellen" in set(pyogrio.list_layers(gpkg)[:, 0]) else None
            self.__dict__["_reference_notes"] = (
                dict(zip(models["domain"], models["reference_nl"].fillna("")))
                if models is not None and "reference_nl" in models else {})
        return self.__dict__["_reference_notes"].get(domain, "")

    # --- what the run is about -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.meta.get("name") or self.manifest.get("name", "")

    @property
    def title(self) -> str:
        """The run's title; without one, its gemeenten and year ('Utrecht 2023'), not the file name of the set."""
        if self.meta.get("title"):
            return self.meta["title"]
        gm = self.areas.loc[self.areas["level"] == "gemeente", "name"].astype(str).tolist()
        if not gm:
            return self.name
        names = gm[0] if len(gm) == 1 else (" en ".join([", ".join(gm[:-1]), gm[-1]]) if len(gm) <= 3
                                            else f"{len(gm)} gemeenten")
        return f"{names} {self.year}"

    @property
    def year(self) -> int:
        return int(self.meta.get("year") or max(self.years))

    @property
    def fictional(self) -> bool:
        return str(self.meta.get("fictional", "")).lower() in ("true", "1", "ja")

    @property
    def attribution(self) -> str:
        return self.meta.get("attribution", "")

    @property
    def fictional_note(self) -> str | None:
        return self.attribution if self.fictional else None

    @property
    def run_id(self) -> str:
        return self.manifest.get("run_id", self.path.name)

    @cached_property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.indicators["year"].unique())

    @cached_property
    def levels(self) -> list[str]:
        return [lv for lv in ("wijk", "buurt") if (self.areas["level"] == lv).any()]

    @cached_property
    def names(self) -> pd.Series:
        return self.areas.set_index("code")["name"]

    def gemeenten(self) -> list[tuple[str, str]]:
        gm = self.areas[self.areas["level"] == "gemeente"]
        return [(f"{n} ({c})", c) for c, n in zip(gm["code"], gm["name"])]

    def wijken(self, gemeente: str) -> list[tuple[str, str]]:
        w = self.areas[(self.areas["level"] == "wijk") & (self.areas["gemeente_code"] == gemeente) & ~self.areas["water"]]
        w = w.sort_values("name")
        return [(f"{n} ({c})", c) for c, n in zip(w["code"], w["name"])]

    def wijk_of(self, code: str) -> str | None:
        """The wijk an area code belongs to (itself for a wijk); None for a gemeente or an unknown code."""
        row = self.areas[self.areas["code"] == code]
        if row.empty:
            return None
        level = row["level"].iloc[0]
        return code if level == "wijk" else (row["wijk_code"].iloc[0] if level == "buurt" else None)

    def geometry(self, level: str, gemeente: str | None = None) -> gpd.GeoDataFrame:
        """Web geometry (EPSG:4326, shared borders kept), land only, indexed by code; simplified once per run
        and level (cached in the run folder, see maps.web_level)."""
        g = self._web_level(level)[0]
        return g[g["gemeente_code"] == gemeente] if gemeente else g

    def web_topology(self, level: str) -> bytes:
        """The gzipped TopoJSON of a whole level, as the app's map receives it (read from the run's cache)."""
        data = self._web_level(level)[1]
        return data.read_bytes() if isinstance(data, Path) else data

    def _web_stamp(self) -> str:
        st = (self.path / "publish.gpkg").stat()
        return f"{st.st_size:x}{st.st_mtime_ns:x}"

    def web_cached(self, level: str) -> bool:
        """Whether the web geometry of ``level`` of this published file is already in the run's cache."""
        return maps.web_level_cached(self.path / "webkaart", level, self._web_stamp())

    def _web_level(self, level: str):
        if level not in self._geo:

            def build():
                full = read_layer(self.path / "publish.gpkg", "gebieden")
                part = full[(full["level"] == level) & ~full["water"].fillna(False).astype(bool)]
                return maps.web_geometry(part).set_index("code")

            self._geo[level] = maps.web_level(self.path / "webkaart", level, self._web_stamp(), build)
        return self._geo[level]


def run_metadata(catalogus: pd.DataFrame | None, domeinen: pd.DataFrame | None, *, where: str,
                 name: str) -> tuple[Catalog, dict[str, dict]]:
    """The catalogue and the domains a run published (layers 'catalogus' and 'domeinen' of publish.gpkg)."""
    if catalogus is None or domeinen is None:
        raise DataError("publish.gpkg mist de lagen 'catalogus' en 'domeinen' (de run is gemaakt met een oudere "
                        "versie van de werkbank)", where=where, hint=f"maak een nieuwe run: {run_command(name)}")
    ints, floats = {"cluster", "min_count", "decimals"}, {"scale"}
    indicators = {}
    for row in catalogus.to_dict("records"):
        clean = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()}
        clean.update({k: int(clean[k]) for k in ints if clean.get(k) is not None})
        clean.update({k: float(clean[k]) for k in floats if clean.get(k) is not None})
        clean["note"] = clean.get("note") or ""
        indicators[clean["id"]] = Indicator(**clean)
    domains = {row["domain"]: {"label": row["label"], "indicator": row["indicator"] or None,
                               "exposure_label": row["exposure_label"] or "", "views": json.loads(row["views"]),
                               "headline": json.loads(row["headline"])}
               for row in domeinen.fillna("").to_dict("records")}
    return Catalog(variables={}, derived={}, indicators=indicators, path=Path(where)), domains


# --- "het verhaal achter de cijfers" --------------------------------------------------------------------------
STORY_KEYS = {"titel", "verhaal", "bron", "bijgewerkt"}


def load_stories(gemeente: str, folder: str | Path | None = None) -> dict[str, dict]:
    """Stories per wijk code from ``verhalen/<gemeente>.yaml`` or ``parameters/verhalen/<gemeente>.yaml`` of the
    project (see workbench.paths; absent file: no stories)."""
    path = paths.stories_file(gemeente, folder or os.environ.get(ENV_STORIES) or None)
    if not path.exists():
        return {}
    from ..reading import read_yaml  # bounded, no aliases, no duplicate keys

    raw = read_yaml(path, what="verhalen", error=DataError) or {}
    wijken = raw.get("wijken") if isinstance(raw, dict) else None
    if not isinstance(wijken, dict):
        raise DataError("verwacht een onderdeel 'wijken' met per wijkcode een verhaal", where=str(path),
                        hint="zie parameters/verhalen/GM9901.yaml voor een voorbeeld")
    out = {}
    for code, story in wijken.items():
        if not isinstance(story, dict) or "verhaal" not in story:
            raise DataError("een verhaal heeft ten minste de sleutel 'verhaal'", where=f"{path} > wijken > {code}")
        unknown = set(story) - STORY_KEYS
        if unknown:
            raise DataError(f"onbekende sleutel(s) {sorted(unknown)}", where=f"{path} > wijken > {code}",
                            hint=f"gebruik {', '.join(sorted(STORY_KEYS))}")
        out[str(code)] = {k: str(v) for k, v in story.items()}
    return out
