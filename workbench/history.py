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


# --- one writer per set across machines ---------------------------------------------------------------------

LEASE_NAME = ".lease"
LEASE_SECONDS = 120.0  # a holder renews every quarter of this; a lease not renewed for this long is free


class Lease:
    """``outputs/<set>/.lease``: one writer per set across machines that share the outputs folder.

    Why a lease file and not an flock or Dask's own Lock: an flock is only as good as the file system's lock
    service (NFS needs lockd/NFSv4 state, SMB and many FUSE mounts do not pass it on) and Dask's Lock lives in
    one scheduler, so it cannot see a second batch on another scheduler or a local batch. The lease is a plain
    file, created atomically with link(2) from a private temporary file (atomic on local file systems and on
    NFS, where O_EXCL was not always), naming the holder, its host and pid, a token, and an expiry. The holder
    renews it (a background thread) every quarter of ``seconds``. A lease is free when its expiry has passed,
    or at once when its holder ran on this host and that process is gone. Clocks of the machines must agree
    to well within ``seconds`` (NTP). If a holder finds its lease gone or replaced (it stalled past the expiry
    and someone took over), ``lost`` is set and the holder must stop writing.
    """

    def __init__(self, set_dir: str | Path, holder: str, seconds: float = LEASE_SECONDS):
        self.set_dir = Path(set_dir)
        self.path = self.set_dir / LEASE_NAME
        self.holder = holder
        self.seconds = float(seconds)
        self.token: str | None = None
        self.lost = False
        self.taken_over: dict | None = None
        import threading

        self._mutex = threading.Lock()  # a renewal never writes the lease back after release removed it

    def read(self, path: Path | None = None) -> dict | None:
        try:
            return json.loads((path or self.path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_tmp(self, token: str) -> Path:
        import platform
        import time
        from datetime import datetime, timezone

        now = time.time()
        info = {"holder": self.holder, "host": platform.node(), "pid": os.getpid(), "token": token,
                "renewed": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
                "expires": now + self.seconds}
        tmp = self.set_dir / f"{LEASE_NAME}.{token}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def _create(self) -> bool:
        import secrets

        token = secrets.token_hex(8)
        tmp = self._write_tmp(token)
        try:
            os.link(tmp, self.path)
            made = True
        except FileExistsError:
            made = False
        except OSError:  # NFS: the reply can be lost although the link was made
            made = os.stat(tmp).st_nlink == 2
        finally:
            tmp.unlink(missing_ok=True)
        if made:
            self.token = token
        return made

    def is_free(self, info: dict) -> bool:
        """Whether the lease described by ``info`` may be taken over (expired, or its holder died on this host)."""
        import platform
        import time

        from .pipeline import pid_alive

        if time.time() > float(info.get("expires", 0)):
            return True
        return info.get("host") == platform.node() and not pid_alive(int(info.get("pid", 0)))

    def _break(self, info: dict) -> None:
        """Move the stale lease aside (rename: only one contender wins); put back a fresh one moved by mistake."""
        aside = self.set_dir / f"{LEASE_NAME}.{info.get('token', 'x')}.{os.getpid()}.stale"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        moved = self.read(aside)
        if moved is not None and moved.get("token") != info.get("token"):
            try:  # a new holder came in between reading and renaming: give its lease back
                os.link(aside, self.path)
            except FileExistsError:
                pass
        else:
            self.taken_over = info
        aside.unlink(missing_ok=True)

    def acquire(self) -> Lease:
        """Take the lease or raise pipeline.SetLocked naming the holder (exit code 2 in the CLI)."""
        from .pipeline import SetLocked

        self.set_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._create():
                _KEEPER.add(self)
                return self
            info = self.read()
            if info is None:  # just released, or another contender is half-way: try again
                continue
            if not self.is_free(info):
                raise self._refusal(info)
            self._break(info)
        raise SetLocked(f"parameterset '{self.set_dir.name}': de lease kon niet worden genomen (te veel gelijktijdige "
                        "pogingen)", where=str(self.path), hint="probeer het opnieuw")

    def _refusal(self, info: dict):
        from .pipeline import SetLocked

        return SetLocked(
            f"parameterset '{self.set_dir.name}' wordt al geschreven door {info.get('holder', '?')} "
            f"(op {info.get('host', '?')}, proces {info.get('pid', '?')}, vernieuwd {info.get('renewed', '?')})",
            where=str(self.path),
            hint="wacht tot die klaar is, of stop die batch; een lease die niet meer vernieuwd wordt, vervalt "
                 f"vanzelf na {self.seconds:.0f} s (niets met de hand opruimen)")

    def check(self) -> None:
        """Raise SetLocked when a live holder has the lease (without taking it)."""
        info = self.read()
        if info is not None and not self.is_free(info):
            raise self._refusal(info)

    def renew(self) -> bool:
        with self._mutex:
            return self._renew()

    def _renew(self) -> bool:
        if self.token is None or self.lost:
            return False
        info = self.read()
        if info is None or info.get("token") != self.token:
            self.lost = True
            return False
        try:
            os.replace(self._write_tmp(self.token), self.path)
        except OSError:  # storage away for a moment: the next renewal tries again, well before the expiry
            return True
        return True

    def release(self) -> None:
        _KEEPER.discard(self)
        with self._mutex:
            if self.token is not None and not self.lost:
                info = self.read()
                if info is not None and info.get("token") == self.token:
                    self.path.unlink(missing_ok=True)
            self.token = None

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class _LeaseKeeper:
    """One daemon thread per process renews every held lease (a batch may hold hundreds)."""

    def __init__(self):
        import threading

        self.leases: set[Lease] = set()
        self.lock = threading.Lock()
        self.thread = None

    def add(self, lease: Lease) -> None:
        import threading

        with self.lock:
            self.leases.add(lease)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="mmr-lease-keeper", daemon=True)
                self.thread.start()

    def discard(self, lease: Lease) -> None:
        with self.lock:
            self.leases.discard(lease)

    def _loop(self) -> None:
        import time

        while True:
            with self.lock:
                leases = list(self.leases)
            if not leases:
                time.sleep(1)
                continue
            for lease in leases:
                lease.renew()
            time.sleep(min(lease.seconds for lease in leases) / 4)


_KEEPER = _LeaseKeeper()
