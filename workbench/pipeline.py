"""Runs: execute a parameter set's notebooks with papermill into outputs/<set>/<run-id>/, atomically.

A run is built in a hidden temporary folder and renamed when complete. A failure leaves only a
failure record (manifest.json with status "failed", the error, and the failing notebook for the
analyst) and never moves ``latest``.
"""
from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .errors import WorkbenchError
from .params import REPO_ROOT, ParameterSet, load_parameters

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PACKAGES = ("mmr-workbench", "pandas", "geopandas", "shapely", "pyogrio", "folium", "statsmodels", "papermill",
            "numpy", "scipy", "voila", "ipywidgets")


class RunFailed(WorkbenchError):
    """A notebook failed; the failure record says which and why."""


@dataclass
class RunResult:
    name: str
    run_id: str
    status: str
    path: Path
    seconds: float
    manifest: dict


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "niet geïnstalleerd"
    return out


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def point_latest(set_dir: Path, run_id: str) -> None:
    """Move the ``latest`` symlink atomically (create beside it, then rename over it)."""
    tmp = set_dir / f".latest.{secrets.token_hex(3)}"
    os.symlink(run_id, tmp)
    os.replace(tmp, set_dir / "latest")


def latest_run(outputs: Path, name: str) -> Path | None:
    link = Path(outputs) / name / "latest"
    return link.resolve() if link.exists() else None


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm


def run(param_file: str | Path, outputs: str | Path = "outputs", *, progress: bool = True,
        kernel_name: str = "python3", timeout: int | None = 900) -> RunResult:
    """Validate, load, run every notebook of the parameter set, publish, and commit the run."""
    import papermill as pm

    from .dataset import load_dataset
    from .publish import write_publish

    started = time.time()
    params: ParameterSet = load_parameters(param_file)
    ds = load_dataset(params)  # bad input stops here, before anything is written under outputs/
    outputs = Path(outputs).resolve()
    set_dir = outputs / params.name
    run_id = new_run_id()
    tmp = set_dir / f".{run_id}.partial"
    tmp.mkdir(parents=True)
    manifest = {
        "name": params.name, "run_id": run_id, "status": "running",
        "started": datetime.now(timezone.utc).isoformat(), "parameters": params.to_dict(),
        "parameter_fingerprint": params.fingerprint(), "inputs": ds.input_fingerprints(),
        "input_paths": {k: str(v) for k, v in ds.inputs.items()}, "versions": package_versions(),
        "fictional": ds.fictional, "notes": ds.notes, "timings": {}, "host": platform.node(),
        "command": " ".join(sys.argv),
    }
    tqdm = _progress(progress)
    bar = tqdm(total=len(params.notebooks) + 1, desc=params.name, unit="stap") if tqdm else None
    current = None
    try:
        for nb in params.notebooks:
            current = nb
            if bar:
                bar.set_postfix_str(nb)
            t0 = time.time()
            pm.execute_notebook(
                str(NOTEBOOK_DIR / f"{nb}.ipynb"), str(tmp / f"{nb}.ipynb"),
                parameters={"parameter_file": str(params.path), "output_dir": str(tmp)},
                kernel_name=kernel_name, progress_bar=False, cwd=str(NOTEBOOK_DIR), execution_timeout=timeout,
                report_mode=False,
            )
            manifest["timings"][nb] = round(time.time() - t0, 2)
            if bar:
                bar.update(1)
        current = "publish.gpkg"
        if bar:
            bar.set_postfix_str("publish.gpkg")
        t0 = time.time()
        manifest["publish"] = write_publish(ds, tmp / "publish.gpkg", run_id)
        manifest["timings"]["publish"] = round(time.time() - t0, 2)
        if bar:
            bar.update(1)
        # Last gate: nothing in the run folder may carry a record identifier or a count under the threshold.
        current = "privacycontrole"
        t0 = time.time()
        from .privacy import DisclosureError, audit_publication

        leaks = audit_publication(tmp, ds.records, params.privacy, ds.catalog)
        manifest["timings"]["privacycontrole"] = round(time.time() - t0, 2)
        if leaks:
            raise DisclosureError("privacycontrole vond sporen van de zorgregistratie in de uitvoer: "
                                  + "; ".join(map(str, leaks[:5])))
        manifest["privacy"] = {"audit": "geen sporen van de registratie gevonden", "min_count": params.privacy.min_count,
                               "round_to": params.privacy.round_to}
    except BaseException as exc:
        if bar:
            bar.close()
        _record_failure(set_dir, tmp, run_id, manifest, current, exc, started)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RunFailed(f"run {run_id} mislukt in {current}: {_short(exc)}",
                        where=str(set_dir / run_id / "manifest.json"),
                        hint="open het mislukte notebook in die map om de fout te zien") from None
    if bar:
        bar.close()
    manifest["outputs"] = sorted(p.name for p in tmp.iterdir())
    manifest["sizes"] = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    manifest["status"] = "ok"
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    manifest["seconds"] = round(time.time() - started, 2)
    write_json_atomic(tmp / "manifest.json", manifest)
    final = set_dir / run_id
    os.replace(tmp, final)
    point_latest(set_dir, run_id)
    return RunResult(params.name, run_id, "ok", final, manifest["seconds"], manifest)


def _short(exc: BaseException) -> str:
    name = getattr(exc, "ename", None) or type(exc).__name__
    value = getattr(exc, "evalue", None) or str(exc)
    return f"{name}: {value}".strip()[:500]


def _record_failure(set_dir: Path, tmp: Path, run_id: str, manifest: dict, current, exc, started) -> None:
    """Keep only a failure record: the manifest and, for the analyst, the notebook that failed."""
    record = set_dir / run_id
    record.mkdir(parents=True, exist_ok=True)
    failed_nb = tmp / f"{current}.ipynb"
    if current and failed_nb.exists():
        shutil.move(str(failed_nb), record / f"{current}.mislukt.ipynb")
    shutil.rmtree(tmp, ignore_errors=True)
    manifest.update(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", failed_step=current,
                    error=_short(exc), traceback=traceback.format_exception_only(type(exc), exc)[-1].strip(),
                    finished=datetime.now(timezone.utc).isoformat(), seconds=round(time.time() - started, 2))
    write_json_atomic(record / "manifest.json", manifest)
