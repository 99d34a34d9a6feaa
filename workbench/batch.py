"""Batches: many parameter sets, up to ``jobs`` at once, each its own ``python -m workbench run`` process.

Why a subprocess per run: a hung or dead kernel can then be killed for certain (the run's whole process
tree), without taking the batch or the other runs with it, and a time-out is a plain wall-clock limit. Locally
the run process is forked from a fork server that imported the package once (``warm``: no interpreter start
and imports per set; ``MMR_BATCH_WARM=0`` for a new interpreter per run, as on a Dask worker).

- The batch takes the lock of every set first (pipeline.SetLock); when another live batch or run holds
  one, the whole batch is refused before anything runs. The lock file descriptor is passed on to the run
  process, so the lock stays held while any process of the batch still writes.
- A run whose parameters, inputs and notebooks are unchanged since its last good run is skipped
  (``force`` runs it anyway); that check happens here, without starting a process.
- Kernel died, cell time-out, run time-out, or the run process killed by a signal: retried once, then
  failed. An ordinary notebook error (an exception in a cell) or bad input is not retried.
- Ctrl-C / SIGTERM: every run process gets SIGTERM (it records its run as interrupted), after a grace
  period SIGKILL; leftovers are recorded as interrupted; ``latest`` never moves for a half run.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import WorkbenchError
from .history import STATUS_LABELS, table
from .pipeline import (LOCK_NAME, SetLock, SetLocked, live_run, pid_alive, recover_partials, terminate_as_interrupt,
                       unchanged_since_last_good)

RETRIABLE = ("kernel", "timeout", "killed")
GRACE_SECONDS = 20  # after SIGTERM, how long a run may take to record itself as interrupted
POLL_SECONDS = 0.2
EXIT_RETRIABLE = 3  # `workbench run` exits with 3 when the kernel died or a cell timed out


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

        if time.time() > float(info.get("expires", 0)):
            return True
        return info.get("host") == platform.node() and not pid_alive(int(info.get("pid", 0)))

    def _break(self, info: dict) -> None:
        """Remove the stale lease ``info`` describes. Only the holder of ``.lease.break`` (made with link(2), like the
        lease) may remove a lease, and only after reading it again: two contenders that both saw the same stale
        lease can no longer remove each other's fresh one."""
        import secrets
        import time

        breaker = self.set_dir / f"{LEASE_NAME}.break"
        mine = secrets.token_hex(8)
        tmp = self.set_dir / f"{LEASE_NAME}.break.{mine}.tmp"
        tmp.write_text(mine, encoding="utf-8")
        try:
            os.link(tmp, breaker)
        except FileExistsError:
            try:  # a breaker that died half-way leaves its file; it is stale after a minute
                if time.time() - breaker.stat().st_mtime > 60:
                    breaker.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            time.sleep(0.02)
            return
        finally:
            tmp.unlink(missing_ok=True)
        try:
            current = self.read()
            if current is None or current.get("token") != info.get("token") or not self.is_free(current):
                return
            aside = self.set_dir / f"{LEASE_NAME}.{mine}.stale"
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return
            moved = self.read(aside)
            if moved is not None and moved.get("token") != info.get("token"):
                try:  # the stale holder released and a new holder came in between: give its lease back
                    os.link(aside, self.path)
                except FileExistsError:
                    pass
            else:
                self.taken_over = info
            aside.unlink(missing_ok=True)
        finally:
            breaker.unlink(missing_ok=True)

    def acquire(self) -> Lease:
        """Take the lease or raise SetLocked naming the holder (exit code 2 in the CLI)."""
        self.set_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # a contender that lost a break retries after a short pause
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


@dataclass(frozen=True)
class RunOptions:
    """How the batch runs each set, as arguments of its `workbench run` process (picklable for Dask)."""

    kernel_name: str | None = None
    pdf: bool = False  # printing the wijkprofielen starts Chromium: several seconds per set, asked for with --pdf

    def args(self) -> list[str]:
        return (["--kernel", self.kernel_name] if self.kernel_name else []) + ([] if self.pdf else ["--geen-pdf"])


@dataclass
class BatchItem:
    param_file: str
    name: str | None = None
    status: str = "waiting"  # waiting · running · ok · skipped · failed · interrupted
    run_id: str | None = None
    seconds: float = 0.0
    message: str = ""
    attempts: int = 0
    kinds: list[str] = field(default_factory=list)  # why each failed attempt failed

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


class _Log:
    """Timestamped lines appended to the --log file (nothing when there is none)."""

    def __init__(self, path: str | Path | None):
        self.fh = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        if self.fh:
            stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S%z")
            for part in str(line).splitlines() or [""]:
                self.fh.write(f"{stamp} {part}\n")
            self.fh.flush()

    def close(self) -> None:
        if self.fh:
            self.fh.close()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the kernel starts in its own session, so a process group is not enough)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the run process, its process group and every descendant (the papermill kernel included).

    Only for a process not yet waited for (``proc.poll() is None``), so that its pid cannot have been reused."""
    pids = _descendants(proc.pid) if os.path.isdir("/proc") else []
    for target in [proc.pid, *pids]:
        try:
            os.kill(target, sig)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent():
    """preexec_fn: on Linux the run gets SIGTERM when the batch dies (even by SIGKILL), so no orphan writes on."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getpid()  # the batch, i.e. the parent of the run process to be
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None

    def prepare():
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the batch died before prctl took effect
            os._exit(1)

    return prepare


class _Attempt:
    def __init__(self, item: BatchItem, proc: subprocess.Popen, result: Path, log: Path, started: float,
                 set_dir: Path, tmp: Path):
        self.item, self.proc, self.result, self.log, self.started, self.set_dir = item, proc, result, log, started, set_dir
        self.tmp = tmp  # the run's TMPDIR: removed when the run has ended (``_finish``), also after a kill
        self.timed_out = False


def _start(item: BatchItem, set_dir: Path, lock: SetLock, outputs: Path, timeout: float | None, workdir: Path,
           opts: RunOptions, warm: bool = False) -> _Attempt:
    item.attempts += 1
    result = workdir / f"{item.name}.{item.attempts}.json"
    log = workdir / f"{item.name}.{item.attempts}.log"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "workbench", "run", str(item.param_file), "--outputs", str(outputs), "--quiet",
           "--force", "--lock-held", "--result-file", str(result)]
    if timeout:
        cmd += ["--timeout", str(int(max(1, timeout)))]  # no single cell may take longer than the whole run
    cmd += opts.args()
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # A temporary folder of the run's own: what a run killed on a time-out cannot remove itself (its kernel's
    # sockets and connection file, Chromium's profile and lock socket) goes with it. Short: a Unix socket's path
    # has at most 107 characters.
    tmp = Path(tempfile.mkdtemp(prefix="t", dir=workdir))
    env["TMPDIR"] = str(tmp)
    if warm:  # forked from the batch's fork server, which imported the package once (workbench/warm.py)
        from .warm import WarmProcess

        proc = WarmProcess(cmd[3:], log, lock.fd, env)
        item.status = "running"
        return _Attempt(item, proc, result, log, time.time(), set_dir, tmp)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True, pass_fds=(lock.fd,), preexec_fn=_die_with_parent())
    item.status = "running"
    return _Attempt(item, proc, result, log, time.time(), set_dir, tmp)


def _error_line(log: Path) -> str:
    """The user-facing message of a failed run process (the CLI prints it once as 'Fout: ...')."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Fout: "):
            return " ".join(lines[i:i + 3])[6:].replace("  Oplossing:", " Oplossing:").strip()
    tail = [line for line in lines if line.strip()]
    return tail[-1].strip() if tail else ""


def _read_result(att: _Attempt) -> dict:
    """What the run process reported in its result file ({} when it died before writing it)."""
    try:
        return json.loads(att.result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _finish(att: _Attempt, rc: int, timeout: float | None) -> tuple[str, str, str | None, str | None]:
    """(status, kind, run_id, message) of a finished attempt; leftovers of a killed run become a record."""
    shutil.rmtree(att.tmp, ignore_errors=True)
    res = _read_result(att)
    if att.timed_out:
        reason = f"time-out: de run duurde langer dan {timeout:.0f} s en is gestopt (kernel hing?)"
        ids = recover_partials(att.set_dir, status="failed", reason=reason, failure_kind_="timeout")
        return "failed", "timeout", (ids[-1] if ids else res.get("run_id")), reason
    if rc == 0 and res.get("status") in ("ok", "skipped"):
        return res["status"], "", res.get("run_id"), res.get("message", "")
    if res:
        message = res.get("message") or _error_line(att.log)
        if res.get("where") and not res.get("run_id"):  # bad input: say which file
            message = f"{res['where']}: {message}"
        return res.get("status", "failed"), res.get("kind", "error"), res.get("run_id"), message
    if rc < 0 or rc in (137, 143):  # killed by a signal (the OOM killer, an operator) before it could report
        signum = -rc if rc < 0 else rc - 128
        reason = f"het runproces is gestopt door signaal {signum} ({signal.Signals(signum).name})"
        ids = recover_partials(att.set_dir, status="failed", reason=reason, failure_kind_="killed")
        return "failed", "killed", (ids[-1] if ids else None), reason
    return "failed", "error", None, _error_line(att.log) or f"runproces stopte met code {rc}"


def run_batch(param_files: list[str | Path], outputs: str | Path = "outputs", *, jobs: int = 1,
              timeout: float | None = 3600, force: bool = False, progress: bool = True,
              log: str | Path | None = None, kernel_name: str | None = None,
              retries: int = 1, cluster: str | None = None, pdf: bool = False) -> list[BatchItem]:
    """Run every parameter set; returns one BatchItem per file, in the order given.

    ``cluster``: None for the local process pool (``jobs`` at once); "local" for a dask LocalCluster of
    ``jobs`` workers; "tcp://host:8786" for an existing Dask scheduler (see _run_cluster).
    ``pdf``: also print the wijkprofielen to PDF (Chromium); without it a batch writes them as HTML only.
    Raises SetLocked (nothing run) when another live process writes one of the sets. Re-raises
    KeyboardInterrupt after stopping the runs (each recorded as interrupted) and logging the summary.
    """
    from .params import load_parameters

    jobs = max(1, int(jobs))
    opts = RunOptions(kernel_name, pdf)
    outputs = Path(outputs).resolve()
    items = [BatchItem(str(Path(p))) for p in param_files]
    logger = _Log(log)
    logger(f"batch gestart: {len(items)} parameterset(s), --jobs {jobs}, time-out {timeout} s per run, "
           f"uitvoer {outputs}{', --force' if force else ''} (proces {os.getpid()})")
    params_of = {}
    seen: dict[str, BatchItem] = {}
    for item in items:  # validate every file first; a bad one fails on its own, the others run
        try:
            params = load_parameters(item.param_file)
        except WorkbenchError as exc:
            item.name = Path(item.param_file).stem
            item.status, item.message = "failed", exc.render().replace("\n  ", " ")
            item.kinds.append("input")
            continue
        item.name = params.name
        if params.name in seen:
            item.status = "failed"
            item.message = f"zelfde set '{params.name}' als {seen[params.name].param_file}; geef elke set een eigen name:"
            item.kinds.append("input")
            continue
        seen[params.name] = item
        params_of[params.name] = params

    if cluster:
        try:
            return _run_cluster(items, params_of, outputs, cluster, jobs, timeout, force, progress, logger,
                                opts, retries)
        finally:
            logger.close()

    locks: dict[str, SetLock | Lease] = {}
    holder = f"batch {os.getpid()} (lokaal)"
    try:
        for name in sorted(params_of):  # all locks first: a second batch over these sets is refused as a whole
            locks[name] = SetLock(outputs / name, purpose="batch").acquire()
            # and the lease, which a batch on another machine (--cluster) sees on shared storage
            locks[name + "/lease"] = Lease(outputs / name, holder).acquire()
    except SetLocked as exc:
        for lk in locks.values():
            lk.release()
        logger(f"geweigerd: {exc.render()}")
        logger.close()
        raise

    with terminate_as_interrupt():
        try:
            return _run_locked(items, params_of, locks, outputs, jobs, timeout, force, progress, logger,
                               opts, retries)
        finally:
            for lk in locks.values():
                lk.release()
            logger.close()


def _run_locked(items, params_of, locks, outputs, jobs, timeout, force, progress, logger, opts, retries):
    from tqdm.auto import tqdm

    t_batch = time.time()
    for name in sorted(params_of):
        rec = recover_partials(outputs / name)
        if rec:
            logger(f"{name}: {len(rec)} afgebroken run(s) van een gestopt proces opgeruimd en vastgelegd: {', '.join(rec)}")
    queue = [it for it in items if it.status == "waiting"]
    for it in items:
        if it.status == "failed":
            logger(f"{it.name}: mislukt: {it.message}")
    tqdm.monitor_interval = 0  # no monitor thread: the run processes are forked from this one
    bar = tqdm(total=len(items), desc="batch", unit="run", disable=None if progress else True, file=sys.stderr,
               dynamic_ncols=True)
    bar.update(sum(it.status == "failed" for it in items))
    running: list[_Attempt] = []
    workdir = Path(tempfile.mkdtemp(prefix="mmr-batch-"))
    from .warm import available

    warm = available()

    def postfix():
        counts = {}
        for it in items:
            counts[it.label] = counts.get(it.label, 0) + 1
        shown = [f"{counts[k]} {k}" for k in ("geslaagd", "overgeslagen", "mislukt") if counts.get(k)]
        bar.set_postfix_str(" · ".join(shown + [f"bezig: {', '.join(a.item.name for a in running)}"]))

    def done(it: BatchItem):
        it.seconds = round(it.seconds, 1)
        bar.update(1)
        logger(f"{it.name}: {it.label} na {it.seconds:.1f} s"
               + (f", run {it.run_id}" if it.run_id else "") + (f", {it.attempts} pogingen" if it.attempts > 1 else "")
               + (f": {it.message}" if it.message and it.status != "ok" else ""))

    try:
        while queue or running:
            while queue and len(running) < jobs:
                it = queue.pop(0)
                if not force and it.attempts == 0:
                    t0 = time.time()
                    last = unchanged_since_last_good(params_of[it.name], outputs)
                    if last is not None:
                        it.status, it.run_id, it.seconds = "skipped", last["run_id"], time.time() - t0
                        it.message = "ongewijzigd sinds de laatste geslaagde run (--force om toch te draaien)"
                        done(it)
                        continue
                if it.attempts == 0:
                    logger(f"{it.name}: gestart ({it.param_file})")
                running.append(_start(it, outputs / it.name, locks[it.name], outputs, timeout, workdir, opts, warm))
            postfix()
            time.sleep(POLL_SECONDS)
            for att in list(running):
                rc = att.proc.poll()
                if rc is None and timeout and time.time() - att.started > timeout:
                    att.timed_out = True
                    kill_tree(att.proc)
                    rc = att.proc.wait()
                if rc is None:
                    continue
                # (no kill_tree after a normal exit: the pid is reaped and may belong to someone else by now;
                # a kernel whose run process died exits by itself, ipykernel watches its parent)
                running.remove(att)
                it = att.item
                it.seconds += time.time() - att.started
                status, kind, run_id, message = _finish(att, rc, timeout)
                it.run_id = run_id or it.run_id
                if status == "failed" and kind in RETRIABLE and it.attempts <= retries:
                    it.kinds.append(kind)
                    logger(f"{it.name}: poging {it.attempts} mislukt ({message}); nog één keer")
                    queue.insert(0, it)
                    it.status = "waiting"
                    continue
                it.status, it.message = status, message
                if status == "failed" and kind == "input":  # refused by the run process: bad input (exit 2)
                    it.kinds.append(kind)
                if it.attempts > 1 and status == "ok":
                    it.message = f"geslaagd bij poging {it.attempts} (eerder: {', '.join(it.kinds)})"
                elif it.attempts > 1:
                    it.message = f"{message} (ook na {it.attempts} pogingen)"
                done(it)
    except KeyboardInterrupt as exc:
        _stop_all(running, logger)
        for att in running:
            att.item.seconds += time.time() - att.started
            att.item.status, att.item.message = "interrupted", "afgebroken (Ctrl-C of SIGTERM)"
            att.item.run_id = _read_result(att).get("run_id") or att.item.run_id
        for name in params_of:
            recover_partials(outputs / name)
        for it in queue:
            it.status, it.message = "interrupted", "niet gestart: batch afgebroken"
        bar.close()
        logger("batch afgebroken (Ctrl-C of SIGTERM)")
        logger(summary(items, time.time() - t_batch))
        exc.items = items  # for the CLI's summary
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if warm:
            from .warm import shutdown

            shutdown()
    bar.close()
    logger(summary(items, time.time() - t_batch))
    return items


def _stop_all(running: list[_Attempt], logger) -> None:
    """SIGTERM to every run (each records itself as interrupted), SIGKILL after the grace period."""
    for att in running:
        logger(f"{att.item.name}: SIGTERM naar runproces {att.proc.pid}")
        try:  # the run process only: it shuts its kernel down itself (a dead kernel would read as a crash)
            os.kill(att.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + GRACE_SECONDS
    for att in running:
        try:
            att.proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            logger(f"{att.item.name}: reageert niet; SIGKILL")
        except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
            pass
        if att.proc.poll() is None:  # only while it is ours: a reaped pid may be reused
            kill_tree(att.proc)
        try:
            att.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# --- the same batch on a Dask cluster ------------------------------------------------------------------------

STOP_POLL_SECONDS = 2.0  # how often a cluster task asks whether the batch was stopped (one scheduler round trip)


def _run_one(param_file: str, name: str, outputs: Path, timeout: float | None, force: bool,
             opts: RunOptions, retries: int, holder: str, should_stop=lambda: False) -> dict:
    """One parameter set, start to end, in this process: what a cluster task does on its worker.

    The same promises as the local pool: the set's lease (other machines) and flock (this machine) first,
    leftovers of dead runs recovered, skipped when unchanged, each attempt its own `workbench run` process
    whose whole tree is killed at the time-out, a dead kernel / time-out / killed run retried once. Returns
    the BatchItem's fields as a dict (what travels back to the client).
    """
    from .params import load_parameters
    from .warm import available

    # a non-daemonic worker (LocalCluster here, or DASK_DISTRIBUTED__WORKER__DAEMON=False) forks its runs from a fork
    # server of its own that imported the package once, as the local pool does; a daemonic one starts a new interpreter
    warm_runs = available()
    item = BatchItem(param_file, name)
    set_dir = outputs / name
    t0 = time.time()
    try:
        lease = Lease(set_dir, holder).acquire()
    except SetLocked as exc:
        return {"status": "locked", "message": exc.render().replace("\n  ", " "), "seconds": time.time() - t0}
    try:
        # After a dead worker's lease was taken over, its orphaned run may still be finishing (it holds the
        # flock until it has recorded itself as interrupted): wait for that rather than report 'locked'; on a
        # loaded machine that can take longer than its grace, so wait while that run is seen alive on this host
        # (its .running.json), up to one lease period.
        patience = time.time() + (GRACE_SECONDS + 15 if lease.taken_over else 0)
        longest = time.time() + (LEASE_SECONDS if lease.taken_over else 0)
        while True:
            try:
                lock = SetLock(set_dir, purpose="batch").acquire()
                break
            except SetLocked as exc:
                if time.time() > patience and not (time.time() < longest and live_run(set_dir)):
                    return {"status": "locked", "message": exc.render().replace("\n  ", " "),
                            "seconds": time.time() - t0}
                time.sleep(1)
        workdir = Path(tempfile.mkdtemp(prefix="mmr-task-"))
        try:
            recover_partials(set_dir)
            if not force:
                last = unchanged_since_last_good(load_parameters(param_file), outputs)
                if last is not None:
                    return {"status": "skipped", "run_id": last["run_id"], "seconds": time.time() - t0,
                            "message": "ongewijzigd sinds de laatste geslaagde run (--force om toch te draaien)"}
            while True:
                att = _start(item, set_dir, lock, outputs, timeout, workdir, opts, warm=warm_runs)
                stopped, next_poll = None, time.time() + STOP_POLL_SECONDS
                while (rc := att.proc.poll()) is None:
                    if timeout and time.time() - att.started > timeout:
                        att.timed_out = True
                        kill_tree(att.proc)  # Dask cannot interrupt a task; the task kills the run's tree
                    elif lease.lost:
                        stopped = "de lease op de set ging verloren (een andere batch nam hem over); run gestopt"
                        kill_tree(att.proc)
                    elif time.time() > next_poll:
                        next_poll = time.time() + STOP_POLL_SECONDS
                        if should_stop():
                            stopped = "afgebroken (Ctrl-C of SIGTERM bij de batch)"
                            os.kill(att.proc.pid, signal.SIGTERM)  # the run records itself as interrupted
                            try:
                                att.proc.wait(timeout=GRACE_SECONDS)
                            except subprocess.TimeoutExpired:
                                kill_tree(att.proc)
                    time.sleep(POLL_SECONDS)
                item.seconds += time.time() - att.started
                if stopped:
                    recover_partials(set_dir)
                    return {"status": "interrupted" if "afgebroken" in stopped else "failed", "message": stopped,
                            "run_id": _read_result(att).get("run_id"), "seconds": item.seconds,
                            "attempts": item.attempts}
                status, kind, run_id, message = _finish(att, rc, timeout)
                item.run_id = run_id or item.run_id
                if status == "failed" and kind in RETRIABLE and item.attempts <= retries:
                    item.kinds.append(kind)
                    continue
                if item.attempts > 1 and status == "ok":
                    message = f"geslaagd bij poging {item.attempts} (eerder: {', '.join(item.kinds)})"
                elif item.attempts > 1:
                    message = f"{message} (ook na {item.attempts} pogingen)"
                return {"status": status, "run_id": item.run_id, "message": message, "seconds": item.seconds,
                        "attempts": item.attempts, "kinds": item.kinds}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            lock.release()
    finally:
        lease.release()


def _cluster_task(param_file: str, name: str, outputs: str, timeout: float | None, force: bool,
                  opts: RunOptions, retries: int, batch_id: str) -> dict:
    """The Dask task: one set on a worker (the worker needs the project folder and outputs at the same paths)."""
    import platform

    from distributed import Event, get_worker

    worker = get_worker()
    stop = Event(f"mmr-stop-{batch_id}")

    def should_stop() -> bool:
        try:
            return stop.is_set()
        except Exception:  # noqa: BLE001 - scheduler unreachable for a moment: keep running, ask again later
            return False

    holder = f"batch {batch_id} (Dask-worker {worker.address} op {platform.node()})"
    return _run_one(param_file, name, Path(outputs), timeout, force, opts, retries, holder, should_stop)


def _connect(cluster: str, jobs: int):
    """(client, cluster-or-None): a LocalCluster of ``jobs`` one-thread workers, or the scheduler at ``cluster``."""
    import dask
    from distributed import Client, LocalCluster

    # A task whose worker dies is run again elsewhere once (the same 'retried once' as the local pool).
    dask.config.set({"distributed.scheduler.allowed-failures": 1})
    if cluster == "local":
        # One thread per worker: one run (a process of its own) per worker at a time. Processes, so a
        # killed worker takes only its own run with it (its nanny starts a fresh worker). Not daemonic, so a worker
        # may start the warm fork server its runs are forked from (workbench/warm.py): a new interpreter per run cost
        # ~6.5 s of CPU per set (benchmarks/README.md)
        with dask.config.set({"distributed.worker.daemon": False}):
            lc = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, silence_logs=40)
        client = Client(lc, set_as_default=False)
        client.register_plugin(_warm_stop(), name="mmr-warm-stop")
        return client, lc
    if "://" not in cluster:  # tcp://, tls://, or inproc:// for a cluster inside this process
        raise WorkbenchError(f"onbekende --cluster '{cluster}'", where="--cluster",
                             hint="gebruik 'local' of het adres van een Dask-scheduler, bijv. tcp://rekenserver:8786")
    try:
        client = Client(cluster, timeout=30, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise WorkbenchError(f"de Dask-scheduler op {cluster} is niet bereikbaar ({exc.__class__.__name__})",
                             where="--cluster",
                             hint="start de scheduler en workers (docs/cluster/README.md) of controleer adres en "
                                  "firewall") from None
    client.register_plugin(_warm_stop(), name="mmr-warm-stop")
    return client, None


def _warm_stop():
    """Worker plugin: a closing worker stops its warm fork server and waits for it (no process left behind; the CPU
    time of the runs it forked counts for the worker, as a new interpreter per run did)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmStop(WorkerPlugin):
        idempotent = True

        def teardown(self, worker):
            from workbench.warm import shutdown

            shutdown()

    return WarmStop()


def _run_cluster(items, params_of, outputs, cluster, jobs, timeout, force, progress, logger, opts, retries):
    """Every set a task on Dask; the client keeps the progress bar, the log and the summary.

    Sets already held by a live writer (lease or flock) refuse the whole batch before anything is
    submitted, as the local pool does; a race lost after that shows as 'vergrendeld' for that set.
    """
    import secrets

    from distributed import Event, as_completed
    from tqdm.auto import tqdm

    for name in sorted(params_of):  # refuse as a whole, before anything runs
        Lease(outputs / name, "").check()
        if (outputs / name / LOCK_NAME).exists():  # a local run on this machine (its flock)
            SetLock(outputs / name, purpose="batch").acquire().release()

    batch_id = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    t_batch = time.time()
    client, local = _connect(cluster, jobs)
    workers = len(client.scheduler_info().get("workers", {}))
    logger(f"cluster {cluster}: {workers} worker(s), batch-id {batch_id}")
    for it in items:
        if it.status == "failed":
            logger(f"{it.name}: mislukt: {it.message}")
    stop = Event(f"mmr-stop-{batch_id}", client=client)
    bar = tqdm(total=len(items), desc="batch", unit="run", disable=None if progress else True, file=sys.stderr,
               dynamic_ncols=True)
    bar.update(sum(it.status == "failed" for it in items))
    futures = {}
    try:
        for it in items:
            if it.status != "waiting":
                continue
            logger(f"{it.name}: ingediend ({it.param_file})")
            it.status = "running"
            fut = client.submit(_cluster_task, str(Path(it.param_file).resolve()), it.name, str(outputs), timeout,
                                force, opts, retries, batch_id, key=f"mmr-{it.name}-{batch_id}", pure=False)
            futures[fut] = it
        for fut in as_completed(list(futures), loop=client.loop):
            it = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker and the like: the task itself never returned
                res = {"status": "failed", "message": _task_error(exc)}
                recover_partials(outputs / it.name)
            it.status = res.get("status", "failed")
            it.run_id = res.get("run_id") or it.run_id
            it.seconds = round(float(res.get("seconds") or 0.0), 1)
            it.attempts = int(res.get("attempts") or (1 if it.status in ("ok", "failed") else 0))
            it.kinds = list(res.get("kinds") or [])
            it.message = res.get("message", "")
            bar.update(1)
            logger(f"{it.name}: {it.label} na {it.seconds:.1f} s" + (f", run {it.run_id}" if it.run_id else "")
                   + (f", {it.attempts} pogingen" if it.attempts > 1 else "")
                   + (f": {it.message}" if it.message and it.status != "ok" else ""))
    except KeyboardInterrupt as exc:
        logger("batch afgebroken (Ctrl-C of SIGTERM); de taken stoppen hun runs")
        stop.set()
        done = {f for f in futures if f.done()}
        for fut, it in futures.items():
            if fut in done:
                continue
            try:  # running tasks see the stop event within seconds and record their run as interrupted
                res = fut.result(timeout=GRACE_SECONDS + 10)
                it.status, it.message, it.run_id = res.get("status", "interrupted"), res.get("message", ""), res.get("run_id")
            except Exception:  # noqa: BLE001
                fut.cancel()
                it.status, it.message = "interrupted", "niet gestart: batch afgebroken"
        bar.close()
        logger(summary(items, time.time() - t_batch))
        exc.items = items
        _close(client, local)
        raise
    bar.close()
    _close(client, local)
    logger(summary(items, time.time() - t_batch))
    return items


def _task_error(exc: BaseException) -> str:
    name = exc.__class__.__name__
    if name == "KilledWorker":
        return "de worker stopte (ook bij de tweede poging) tijdens deze run; zie de logs van de workers"
    return f"de taak op de cluster mislukte: {name}: {str(exc)[:200]}"


def _close(client, local) -> None:
    try:
        client.close(timeout=30)
    finally:
        if local is not None:
            local.close(timeout=30)


def summary(items: list[BatchItem], seconds: float | None = None) -> str:
    """The Dutch summary table printed at the end of a batch."""
    from .history import _duration

    rows = [[it.name or Path(it.param_file).stem, it.label, _duration(it.seconds) if it.attempts or it.seconds else "-",
             it.run_id or "-", it.message[:120]] for it in items]
    counts = {}
    for it in items:
        counts[it.label] = counts.get(it.label, 0) + 1
    head = f"Batch: {len(items)} parameterset(s): " + ", ".join(f"{v} {k}" for k, v in counts.items())
    if seconds is not None:
        head += f" in {_duration(seconds)}"
    return head + "\n" + table(rows, ["set", "status", "duur", "run-id", "melding"])


def exit_status(items: list[BatchItem]) -> int:
    """0 when every set ran or was skipped; 1 when any run failed or was interrupted; 2 when the only failures
    are bad input (a parameter file or input data refused before anything ran), as for ``workbench run``, or
    sets refused because another batch writes them (a race lost on a cluster)."""
    bad = [it for it in items if it.status not in ("ok", "skipped")]
    if not bad:
        return 0
    return 2 if all(it.status == "locked" or (it.kinds and it.kinds[-1] == "input") for it in bad) else 1
