"""Run history: every run of a parameter set is ``outputs/<set>/<run-id>/manifest.json``.

Read-only: list the runs of a set (good, failed, interrupted), find the last good run (the one ``latest``
points at) and render the history as a Dutch table for ``workbench runs``. Writing runs is pipeline.py's job.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WorkbenchError

STATUS_LABELS = {"ok": "geslaagd", "failed": "mislukt", "interrupted": "afgebroken", "running": "bezig",
                 "skipped": "overgeslagen", "locked": "vergrendeld", "timeout": "time-out"}


class NoRuns(WorkbenchError):
    """No run history where the user asked for it."""


@dataclass
class RunInfo:
    name: str
    run_id: str
    status: str
    path: Path
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    error: str | None = None
    parameter_fingerprint: str | None = None
    inputs: dict = field(default_factory=dict)
    is_latest: bool = False

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def read_manifest(run_dir: str | Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def list_sets(outputs: str | Path) -> list[str]:
    outputs = Path(outputs)
    if not outputs.is_dir():
        return []
    return sorted(p.name for p in outputs.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_runs(outputs: str | Path, name: str) -> list[RunInfo]:
    """Every run of one set, oldest first; runs in progress (hidden ``.partial`` folders) are not listed."""
    set_dir = Path(outputs) / name
    if not set_dir.is_dir():
        return []
    link = set_dir / "latest"
    latest = os.readlink(link) if link.is_symlink() else None
    runs = []
    for p in set_dir.iterdir():
        if p.name.startswith(".") or p.is_symlink() or not p.is_dir():
            continue
        m = read_manifest(p)
        if m is None:
            runs.append(RunInfo(name, p.name, "onbekend", p, error="geen leesbaar manifest.json"))
            continue
        runs.append(RunInfo(name, m.get("run_id", p.name), m.get("status", "onbekend"), p, m.get("started"),
                            m.get("finished"), m.get("seconds"), m.get("error"), m.get("parameter_fingerprint"),
                            m.get("inputs") or {}, p.name == latest))
    return sorted(runs, key=lambda r: (r.started or "", r.run_id))


def last_good(outputs: str | Path, name: str) -> dict | None:
    """The manifest of the run ``latest`` points at, if that run is good; else None."""
    link = Path(outputs) / name / "latest"
    if not link.exists():
        return None
    m = read_manifest(link.resolve())
    return m if m and m.get("status") == "ok" else None


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec:02d} s" if minutes < 60 else f"{minutes // 60} u {minutes % 60:02d} min"


def _when(iso: str | None) -> str:
    return (iso or "-")[:19].replace("T", " ")


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table (also readable in a log file)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def render_history(outputs: str | Path, name: str | None = None) -> str:
    """The history of one set (or of every set) as text: newest first, ``*`` marks the run ``latest`` points at."""
    outputs = Path(outputs)
    names = [name] if name else list_sets(outputs)
    if name and not list_runs(outputs, name):
        known = list_sets(outputs)
        raise NoRuns(f"geen runs van parameterset '{name}'", where=str(outputs / name),
                     hint=(f"bekende sets in {outputs}: {', '.join(known)}" if known
                           else "draai eerst `workbench run` of `workbench batch`; andere map: --outputs"))
    if not names:
        raise NoRuns("nog geen runs", where=str(outputs),
                     hint="draai eerst `workbench run` of `workbench batch`; andere map: --outputs")
    blocks = []
    for n in names:
        runs = list_runs(outputs, n)
        rows = []
        for r in reversed(runs):
            inputs = ", ".join(f"{k} {v[:8]}" for k, v in sorted(r.inputs.items())) or "-"
            rows.append([("* " if r.is_latest else "  ") + r.run_id, r.label, _when(r.started), _duration(r.seconds),
                         (r.parameter_fingerprint or "-")[:8], inputs, (r.error or "")[:80]])
        good = sum(r.status == "ok" for r in runs)
        blocks.append(f"{n}: {len(runs)} run(s), {good} geslaagd\n"
                      + table(rows, ["run-id", "status", "start (UTC)", "duur", "parameters", "invoer", "melding"]))
    return "\n\n".join(blocks) + "\n\n* = latest (de laatste geslaagde run; die toont de app)"
