"""Runs: execute a parameter set's notebooks with papermill into outputs/<set>/<run-id>/, atomically.

A run is built in a hidden temporary folder and renamed when complete. A failure leaves only a
failure record (manifest.json with status "failed", the error, and the failing notebook for the
analyst) and never moves ``latest``.

One writer per set: a run holds ``outputs/<set>/.lock`` (an flock, so the kernel frees it when the
process dies; the file names pid, host and start for the message to whoever is refused). Beside its
``.<run-id>.partial`` folder a run keeps ``.<run-id>.running.json``; the next run of the set turns
the leftovers of a dead process into a failure record with status "interrupted". SIGTERM is handled
like Ctrl-C. A run whose parameters, inputs and notebooks equal those of the last good run is
skipped unless ``force``.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import paths
from .errors import WorkbenchError
from .io import write_json_atomic
from .params import ParameterSet, load_parameters

# papermill -> nbformat -> jsonschema imports the optional IRI checker rfc3987_syntax where it is installed (it comes
# with jupyter-events' jsonschema[format-nongpl]); importing it compiles a Lark grammar: 2.5 s of every run process.
# Nothing a run validates has an IRI format (nbformat checks no formats), so a run does without it.
sys.modules.setdefault("rfc3987_syntax", None)

NOTEBOOK_DIR: Path | None = None  # a test may point this at its own notebooks; else workbench.paths.notebook
LOCK_NAME = ".lock"
PACKAGES = ("mmr-workbench", "pandas", "geopandas", "shapely", "pyogrio", "folium", "statsmodels", "papermill",
            "numpy", "scipy", "voila", "ipywidgets")


class RunFailed(WorkbenchError):
    """A notebook failed; the failure record says which and why.

    ``kind``: "error" (the notebook raised: not worth retrying), "kernel" (the kernel died) or "timeout"
    (a cell ran too long); a batch retries the last two once. The CLI exits with 3 for those, 2 otherwise.
    """

    def __init__(self, message: str, *, where=None, hint=None, kind: str = "error", run_id: str | None = None):
        super().__init__(message, where=where, hint=hint)
        self.kind = kind
        self.run_id = run_id
        self.exit_code = 3 if kind in ("kernel", "timeout") else 2


class SetLocked(WorkbenchError):
    """Another live process is writing this parameter set."""


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


def notebook_path(name: str) -> Path:
    return NOTEBOOK_DIR / f"{name}.ipynb" if NOTEBOOK_DIR else paths.notebook(name)


PDF_PARAMETERS = ("aanbieder_pdf",)  # notebook parameters that print to PDF; False in a run without PDFs


def has_parameter(path: Path, name: str) -> bool:
    """Whether the notebook's parameters cell sets ``name`` (an own notebook need not have it)."""
    import re

    import nbformat

    nb = nbformat.read(path, as_version=4)
    return any("parameters" in c.get("metadata", {}).get("tags", []) and re.search(rf"(?m)^{name}\s*=", c.source)
               for c in nb.cells if c.cell_type == "code")


def publishable_notebook(path: Path, params: ParameterSet) -> None:
    """Replace the local paths papermill put into an executed notebook (the injected parameters cell shows the
    hidden .partial folder, its metadata the installation folder) by what a reader can use: the parameter
    file relative to the project folder, and "." for the run folder the notebook lies in."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    shown = {"parameter_file": paths.shown(params.path) if params.path else None, "output_dir": "."}
    given = (nb.metadata.get("papermill") or {}).get("parameters") or {}
    shown.update({k: v for k, v in given.items() if k not in shown})  # e.g. aanbieder_pdf = False in a batch
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = "# Parameters (ingevuld door workbench run)\n" + "\n".join(
                f"{k} = {v!r}" for k, v in shown.items())
    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["parameters"] = shown
        meta["input_path"] = paths.shown(meta.get("input_path") or path.name)
        meta["output_path"] = path.name
    nbformat.write(nb, path)


# Who ran it (host, pid, command line) is for the lock and the running marker only: a published manifest names
# no machine, and its paths are relative to the project folder (or a bare file name outside it).
PRIVATE_KEYS = ("host", "pid", "command")


def public_manifest(manifest: dict) -> dict:
    """``manifest`` as written to ``<run-id>/manifest.json``: no host name or command line, no absolute paths."""
    out = {k: v for k, v in manifest.items() if k not in PRIVATE_KEYS}

    def rel(value):
        return paths.shown(value) if isinstance(value, str) and os.path.isabs(value) else value

    if isinstance(out.get("parameters"), dict):
        params = dict(out["parameters"])
        params["path"] = rel(params.get("path"))
        params["catalog"] = rel(params.get("catalog"))
        for key in ("sources", "outcomes"):
            if isinstance(params.get(key), dict):
                params[key] = {k: rel(v) for k, v in params[key].items()}
        out["parameters"] = params
    if isinstance(out.get("input_paths"), dict):
        out["input_paths"] = {k: rel(v) for k, v in out["input_paths"].items()}
    if isinstance(out.get("lock_taken_over"), dict):
        out["lock_taken_over"] = {k: v for k, v in out["lock_taken_over"].items() if k not in PRIVATE_KEYS}
    return out


def point_latest(set_dir: Path, run_id: str) -> None:
    """Move the ``latest`` symlink atomically (create beside it, then rename over it)."""
    tmp = set_dir / f".latest.{secrets.token_hex(3)}"
    os.symlink(run_id, tmp)
    os.replace(tmp, set_dir / "latest")


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm


def run(param_file: str | Path, outputs: str | Path = "outputs", *, progress: bool = True,
        kernel_name: str = "python3", timeout: int | None = 900, force: bool = False,
        lock_held: bool = False, pdf: bool = True) -> RunResult:
    """Validate, load, run every notebook of the parameter set, publish, and commit the run.

    Skipped (status "skipped", nothing written) when parameters, inputs and notebooks are unchanged since
    the last good run, unless ``force``. ``lock_held``: the caller (a batch) already holds the set's lock.
    ``pdf``: print the wijkprofielen to PDF too (where Chromium is); a batch asks for that only with --pdf.
    """
    with terminate_as_interrupt():
        return _run(param_file, outputs, progress=progress, kernel_name=kernel_name, timeout=timeout,
                    force=force, lock_held=lock_held, pdf=pdf)


def check_parameters(param_file) -> ParameterSet:
    """The parameter file and the small inputs it names (product list, result matrix), all checked before a
    run starts: a wrong file there (outcomes.matrix: /etc/passwd) is refused now, not inside a notebook."""
    from .errors import ParameterError

    params = load_parameters(param_file)
    where = f"{params.path}: " if params.path else ""
    problems = []
    if params.sources.products:
        from .validation import load_products

        problems += _load_problem("sources.products", lambda: load_products(params.resolve(params.sources.products)))
    if params.outcomes.matrix:
        from .outcomes import load_matrix

        problems += _load_problem("outcomes.matrix", lambda: load_matrix(params.resolve(params.outcomes.matrix)))
    if problems:
        raise ParameterError("invoerbestand onbruikbaar:\n  - " + "\n  - ".join(where + p for p in problems),
                             hint="controleer het genoemde bestand (voorbeelden: parameters/producten.yaml, "
                                  "parameters/resultatenmatrix.yaml)")
    return params


def _load_problem(key: str, load) -> list[str]:
    from .errors import WorkbenchError, short_text

    try:
        load()
    except WorkbenchError as exc:
        return [f"{key}: {short_text(exc.render(), 600)}"]
    return []


def _run(param_file, outputs, *, progress, kernel_name, timeout, force, lock_held, pdf=True) -> RunResult:
    import papermill as pm

    from .dataset import load_dataset

    started = time.time()
    params: ParameterSet = check_parameters(param_file)
    outputs = paths.in_project(outputs).resolve()
    set_dir = outputs / params.name
    if not force:
        last = unchanged_since_last_good(params, outputs)
        if last is not None:
            return RunResult(params.name, last["run_id"], "skipped", set_dir / last["run_id"],
                             round(time.time() - started, 2), last)
    ds = load_dataset(params)  # bad input stops here, before anything is written under outputs/
    with (nullcontext() if lock_held else SetLock(set_dir)) as lock:
        recovered = recover_partials(set_dir)
        return _execute(pm, params, ds, set_dir, started, progress, kernel_name, timeout, recovered,
                        getattr(lock, "taken_over", None), pdf)


def _execute(pm, params, ds, set_dir, started, progress, kernel_name, timeout, recovered, taken_over,
             pdf=True) -> RunResult:
    from .publish import write_publish

    run_id = new_run_id()
    tmp = set_dir / f".{run_id}.partial"
    manifest = {
        "name": params.name, "run_id": run_id, "status": "running",
        "started": datetime.now(timezone.utc).isoformat(), "parameters": params.to_dict(),
        "parameter_fingerprint": params.fingerprint(), "inputs": ds.input_fingerprints(),
        "notebook_fingerprint": notebook_fingerprint(params),
        "input_paths": {k: str(v) for k, v in ds.inputs.items()}, "versions": package_versions(),
        "fictional": ds.fictional, "notes": ds.notes, "partial_gemeenten": ds.partial_gemeenten,
        "timings": {}, "host": platform.node(),
        "pid": os.getpid(), "command": " ".join(sys.argv),
    }
    if recovered:
        manifest["recovered"] = recovered
    if taken_over:
        manifest["lock_taken_over"] = taken_over
    # The marker lives beside the partial folder, not in it: the privacy audit scans every file of the run.
    write_json_atomic(_running_file(set_dir, run_id), manifest)
    tmp.mkdir(parents=True)
    tqdm = _progress(progress)
    # the findings (with the privacy audit: often a third of a run), each notebook, then the exports
    bar = tqdm(total=len(params.notebooks) + 2, desc=params.name, unit="stap") if tqdm else None
    current = None
    from .kernels import SHARED_ENGINE, RunKernel

    kernel = RunKernel(kernel_name)
    beside = browser = None
    try:
        # Compute once: the findings every notebook shows and publish.gpkg holds, stored for the notebooks.
        current = "bevindingen"
        t0 = time.time()
        from .findings import STORE

        browser = _pdf_browser(pdf)  # one Chromium for both kinds of PDF, starting meanwhile too
        if params.notebooks:  # the kernel starts and imports the package on the other core meanwhile
            kernel.start(str(paths.project_dir()), env=browser.env() if browser else None)

        ds.findings.compute_all(progress=bar.set_postfix_str if bar else None).save(tmp / STORE)
        manifest["timings"]["bevindingen"] = round(time.time() - t0, 2)
        manifest["bevindingen"] = {"bestand": STORE, "fits": ds.findings.fits}
        current = "publish.gpkg"
        if bar:
            bar.set_postfix_str("publish.gpkg")
        t0 = time.time()
        manifest["publish"] = write_publish(ds, tmp / "publish.gpkg", run_id)
        manifest["timings"]["publish"] = round(time.time() - t0, 2)
        if bar:
            bar.update(1)
        # Exports and the attacker's interval audit read publish.gpkg only, so they run in a thread beside the
        # notebooks: this process only waits on the kernel meanwhile, and a run has two cores to use.
        shown = {**manifest, "run_id": run_id}
        beside = _Beside(manifest, lambda stop: _exports_and_attack(tmp, shown, pdf, ds, params, browser, stop))
        # One kernel for all notebooks: each starts with an empty namespace (workbench.kernels), but the
        # kernel start and `import workbench` with its libraries are paid once per run, not per notebook.
        with kernel as km:
            for nb in params.notebooks:
                current = nb
                if bar:
                    bar.set_postfix_str(nb)
                t0 = time.time()
                asked = {} if pdf else {k: False for k in PDF_PARAMETERS if has_parameter(notebook_path(nb), k)}
                pm.execute_notebook(
                    str(notebook_path(nb)), str(tmp / f"{nb}.ipynb"),
                    parameters={"parameter_file": str(params.path), "output_dir": str(tmp), **asked},
                    kernel_name=kernel_name, progress_bar=False, cwd=str(paths.project_dir()),
                    execution_timeout=timeout, report_mode=False, engine_name=SHARED_ENGINE, km=km,
                )
                publishable_notebook(tmp / f"{nb}.ipynb", params)
                manifest["timings"][nb] = round(time.time() - t0, 2)
                if bar:
                    bar.update(1)
        current = "tabellen.xlsx en wijkprofielen"
        if bar:
            bar.set_postfix_str("tabellen, wijkprofielen, intervalaudit")
        exports, (interval_leaks, attack) = beside.result()
        manifest["exports"] = exports
        if browser:
            browser.close()
        if bar:
            bar.update(1)
        # Last gate: nothing in the run folder may carry a record identifier or a count under the threshold.
        current = "privacycontrole"
        t0 = time.time()
        from .audit import DisclosureError, audit_publication

        leaks = audit_publication(tmp, ds.records, params.privacy, ds.catalog)
        manifest["timings"]["privacycontrole"] = round(time.time() - t0, 2)
        strict = params.privacy.interval_audit == "strict"
        if leaks:
            raise DisclosureError("privacycontrole vond sporen van de zorgregistratie in de uitvoer: "
                                  + "; ".join(map(str, leaks[:5])))
        if strict and interval_leaks:
            first = interval_leaks[0]
            raise DisclosureError(
                f"de intervalaudit kan {len(interval_leaks)} onderdrukt(e) aantal(len) te nauw herleiden, dus deze run "
                f"wordt niet gepubliceerd (privacy.interval_audit: strict); eerste: tabel {first.where}, "
                f"{first.what[:300]}")
        attack["onbeschermde_cellen"] = [str(x) for x in interval_leaks[:50]]
        manifest["privacy"] = {"audit": "geen sporen van de registratie gevonden", "min_count": params.privacy.min_count,
                               "round_to": params.privacy.round_to,
                               "allow_below_threshold": params.privacy.allow_below_threshold, "intervalaudit": attack}
    except BaseException as exc:
        if bar:
            bar.close()
        kernel.close()
        if beside is not None:
            beside.stop()
        if browser:
            browser.close()
        kind = failure_kind(exc)
        _record_failure(set_dir, tmp, run_id, manifest, current, exc, started, kind)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        hint = {"kernel": "de kernel stopte onverwacht (geheugen vol of een crash); probeer het opnieuw",
                "timeout": "een cel duurde langer dan de time-out; verhoog --timeout of maak de invoer kleiner"}
        from .audit import DisclosureError

        if isinstance(exc, DisclosureError):  # a refusal, not a crash: the reason itself, and what to change
            raise RunFailed(f"run {run_id} geweigerd in {current}: {str(exc)[:500]}",
                            where=str(set_dir / run_id / "manifest.json"), hint=exc.hint, kind=kind,
                            run_id=run_id) from None
        raise RunFailed(f"run {run_id} mislukt in {current}: {_short(exc)}",
                        where=str(set_dir / run_id / "manifest.json"),
                        hint=hint.get(kind, "open het mislukte notebook in die map om de fout te zien"),
                        kind=kind, run_id=run_id) from None
    if bar:
        bar.close()
    manifest["outputs"] = sorted(p.name for p in tmp.iterdir())
    manifest["sizes"] = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    manifest["status"] = "ok"
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    manifest["seconds"] = round(time.time() - started, 2)
    write_json_atomic(tmp / "manifest.json", public_manifest(manifest))
    final = set_dir / run_id
    os.replace(tmp, final)
    point_latest(set_dir, run_id)
    _running_file(set_dir, run_id).unlink(missing_ok=True)
    return RunResult(params.name, run_id, "ok", final, manifest["seconds"], manifest)


def _pdf_browser(pdf: bool):
    """The run's headless Chromium (provider_sheet.Browser), started now without waiting, when the run prints
    PDFs: the kernel (provider sheets, through MMR_PDF_BROWSER) and the exports (wijkprofielen) both print
    there, so Chromium starts once per run and while the findings are computed, not when a PDF is due."""
    if not pdf:
        return None
    from .provider_sheet import Browser, find_chromium

    chromium = find_chromium()
    try:
        return Browser(chromium) if chromium else None
    except OSError:  # cannot be started: each kind starts its own, or reports why not
        return None


def _exports_and_attack(tmp: Path, manifest: dict, pdf: bool, ds, params: ParameterSet, browser=None,
                        should_stop=lambda: False):
    """tabellen.xlsx and the wijkprofielen, then the attacker's interval audit: no suppressed count may be
    narrowed down from publish.gpkg. Both read publish.gpkg only. Returns (exports, (leaks, attack), timings);
    None when ``should_stop`` said so (the run failed)."""
    from .audit import interval_audit
    from .wijkprofiel import write_exports

    t0 = time.time()
    exports = write_exports(tmp, manifest, pdf=pdf, browser=browser, should_stop=should_stop)
    if exports is None:
        return None
    if not pdf:
        exports["notes"].append("Wijkprofielen alleen als HTML: PDF niet gevraagd "
                                "(workbench batch zonder --pdf, of workbench run --geen-pdf).")
    t1 = time.time()
    audit = interval_audit(tmp / "publish.gpkg", ds.catalog, params.privacy, known=ds.findings.audit_result)
    return exports, audit, {"exports": round(t1 - t0, 2), "intervalaudit": round(time.time() - t1, 2)}


class _Beside:
    """Work in a thread beside the notebooks; ``result()`` waits for it and raises what it raised (named by
    its step), and puts its timings in the manifest. ``stop()`` on failure: wait briefly, never raise."""

    def __init__(self, manifest: dict, work):
        self.manifest, self.out, self.exc = manifest, None, None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(work,), name="mmr-exports", daemon=True)
        self.thread.start()

    def _run(self, work) -> None:
        try:
            self.out = work(self.stopping.is_set)
        except BaseException as exc:  # noqa: BLE001 - handed to the run in result()
            self.exc = exc

    def result(self):
        self.thread.join()
        if self.exc is not None:
            raise self.exc
        exports, audit, timings = self.out
        self.manifest["timings"].update(timings)
        return exports, audit

    def stop(self) -> None:
        # Its files go with the partial folder, so it stops writing (before its next page) before that folder is
        # removed: a slow export still writing left a half partial folder behind. The wait is shorter than a
        # batch's grace after SIGTERM (GRACE_SECONDS), so the failure record is written before the batch would
        # kill this process; a daemon never blocks exit.
        self.stopping.set()
        self.thread.join(timeout=10)


def _short(exc: BaseException) -> str:
    name = getattr(exc, "ename", None) or type(exc).__name__
    value = getattr(exc, "evalue", None) or str(exc)
    text = f"{name}: {value}".strip()[:500]
    if isinstance(exc, OSError) or "[Errno 28]" in text or "No space left" in text:
        from .errors import describe_os_error

        errno_ = getattr(exc, "errno", None) or (28 if ("[Errno 28]" in text or "No space left" in text) else None)
        if errno_:
            text = f"{describe_os_error(OSError(errno_, ''))[0]}: {text}"
    return text


def failure_kind(exc: BaseException) -> str:
    """interrupted (Ctrl-C, SIGTERM) · kernel (the kernel died) · timeout (a cell ran too long) · error."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    try:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
    except ImportError:  # pragma: no cover - nbclient comes with papermill
        CellTimeoutError = DeadKernelError = ()  # noqa: N806
    if isinstance(exc, DeadKernelError):
        return "kernel"
    if isinstance(exc, (CellTimeoutError, TimeoutError)):
        return "timeout"
    return "error"


def _record_failure(set_dir: Path, tmp: Path, run_id: str, manifest: dict, current, exc, started,
                    kind: str = "error") -> None:
    """Keep only a failure record: the manifest and, for the analyst, the notebook that failed."""
    record = set_dir / run_id
    record.mkdir(parents=True, exist_ok=True)
    failed_nb = tmp / f"{current}.ipynb"
    if current and failed_nb.exists():
        shutil.move(str(failed_nb), record / f"{current}.mislukt.ipynb")
    shutil.rmtree(tmp, ignore_errors=True)
    manifest.update(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", failed_step=current,
                    failure_kind=kind, error=_short(exc),
                    traceback=traceback.format_exception_only(type(exc), exc)[-1].strip(),
                    finished=datetime.now(timezone.utc).isoformat(), seconds=round(time.time() - started, 2))
    if isinstance(exc, KeyboardInterrupt) and not str(exc):
        manifest["error"] = "afgebroken (Ctrl-C of SIGTERM)"
    write_json_atomic(record / "manifest.json", public_manifest(manifest))
    _running_file(set_dir, run_id).unlink(missing_ok=True)


# --- skip when unchanged -------------------------------------------------------------------------------------

def notebook_fingerprint(params: ParameterSet) -> str:
    """The notebooks a run executes and the indicator catalogue: a change there is a reason to run again."""
    h = hashlib.sha256()
    files = [notebook_path(nb) for nb in params.notebooks]
    files.append(params.resolve(params.catalog) if params.catalog else paths.catalog_file())
    for f in files:
        h.update(f.name.encode())
        try:
            h.update(Path(f).read_bytes())
        except OSError:
            h.update(b"<ontbreekt>")
    return h.hexdigest()[:16]


def run_key(params: ParameterSet) -> dict:
    """What decides whether a run would differ from the last good one (computed without loading the data)."""
    from .dataset import fingerprint_file, input_paths

    return {"parameter_fingerprint": params.fingerprint(),
            "inputs": {k: fingerprint_file(p) for k, p in input_paths(params).items() if Path(p).exists()},
            "notebook_fingerprint": notebook_fingerprint(params)}


def unchanged_since_last_good(params: ParameterSet, outputs: str | Path) -> dict | None:
    """The manifest of the last good run when parameters, inputs and notebooks are unchanged since; else None."""
    from .history import last_good

    last = last_good(outputs, params.name)
    if last is None:
        return None
    key = run_key(params)
    return last if all(last.get(k) == v for k, v in key.items()) else None


# --- SIGTERM like Ctrl-C ---------------------------------------------------------------------------------------

@contextmanager
def terminate_as_interrupt():
    """SIGTERM raises KeyboardInterrupt (once; a second SIGTERM during clean-up is ignored), so that the
    failure path records the run as interrupted. Only in the main thread; the previous handler returns after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt("afgebroken door SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- one writer per set ----------------------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _lock_info(fd: int) -> dict | None:
    try:
        raw = os.pread(fd, 65536, 0)
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (OSError, ValueError):
        return None


class SetLock:
    """``outputs/<set>/.lock``: an exclusive flock (freed by the kernel when its holder dies, so the lock of a
    dead process is simply taken over) on a file that names pid, host and start for the refusal message."""

    def __init__(self, set_dir: str | Path, purpose: str = "run"):
        self.set_dir = Path(set_dir)
        self.path = self.set_dir / LOCK_NAME
        self.purpose = purpose
        self.fd: int | None = None
        self.taken_over: dict | None = None

    def acquire(self) -> SetLock:
        self.set_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                info = _lock_info(fd) or {}
                os.close(fd)
                raise SetLocked(
                    f"parameterset '{self.set_dir.name}' wordt al geschreven door een andere {info.get('purpose', 'run')}"
                    f" (proces {info.get('pid', '?')} op {info.get('host', '?')}, gestart {info.get('started', '?')})",
                    where=str(self.path),
                    hint="wacht tot die klaar is, of stop dat proces; de vergrendeling van een gestopt proces "
                         "wordt vanzelf overgenomen (niets met de hand opruimen)") from None
            try:  # the holder before us may have removed the file after we opened it: lock the one at the path
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _lock_info(fd)
        if previous and not (previous.get("pid") == os.getpid() and previous.get("host") == platform.node()):
            previous["pid_alive"] = previous.get("host") == platform.node() and pid_alive(int(previous.get("pid", 0)))
            self.taken_over = previous
        info = {"pid": os.getpid(), "host": platform.node(), "started": datetime.now(timezone.utc).isoformat(),
                "purpose": self.purpose, "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode("utf-8"), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # still holding the flock: nobody can hold this inode now
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> SetLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# --- recovery of runs of dead processes ---------------------------------------------------------------------

def _running_file(set_dir: Path, run_id: str) -> Path:
    return set_dir / f".{run_id}.running.json"


def _alive_elsewhere(info: dict) -> bool:
    """Whether the run a ``.running.json`` describes is a live process on this host, other than this one."""
    pid = int(info.get("pid") or 0)
    return pid > 0 and pid != os.getpid() and info.get("host") == platform.node() and pid_alive(pid)


def live_run(set_dir: Path) -> bool:
    """Whether a run of this set is still alive on this host (a ``.running.json`` naming a live process)."""
    for marker in Path(set_dir).glob(".*.running.json"):
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _alive_elsewhere(info):
            return True
    return False


def recover_partials(set_dir: str | Path, *, status: str = "interrupted", reason: str | None = None,
                     failure_kind_: str | None = None) -> list[str]:
    """Turn the leftovers of dead runs in ``set_dir`` into failure records; call while holding the set's lock.

    A ``.<run-id>.partial`` folder (and its ``.running.json``) of a process that no longer runs becomes
    ``<run-id>/manifest.json`` with ``status`` ("interrupted" unless a batch knows better, e.g. a time-out);
    the partial is removed. A run that was complete but died before moving ``latest`` gets ``latest`` back.
    Returns the run ids recovered.
    """
    set_dir = Path(set_dir)
    if not set_dir.is_dir():
        return []
    run_ids = {p.name[1:-len(".partial")] for p in set_dir.glob(".*.partial") if p.is_dir()}
    run_ids |= {p.name[1:-len(".running.json")] for p in set_dir.glob(".*.running.json")}
    recovered = []
    for run_id in sorted(run_ids):
        partial = set_dir / f".{run_id}.partial"
        marker = _running_file(set_dir, run_id)
        try:
            manifest = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {"name": set_dir.name, "run_id": run_id}
        pid = manifest.get("pid")
        if _alive_elsewhere(manifest):
            continue  # a live writer without the lock (should not happen): leave its work alone
        final = set_dir / run_id
        if not partial.exists() and (final / "manifest.json").exists():
            marker.unlink(missing_ok=True)  # completed; it died between the rename and moving `latest`
            _repair_latest(set_dir)
            continue
        final.mkdir(exist_ok=True)
        last_nb = sorted(partial.glob("*.ipynb"), key=lambda p: p.stat().st_mtime) if partial.exists() else []
        if last_nb:
            shutil.move(str(last_nb[-1]), final / f"{last_nb[-1].stem}.afgebroken.ipynb")
        who = f"proces {pid}" if pid else "een proces"
        manifest.update(
            status=status, failure_kind=failure_kind_ or status,
            failed_step=last_nb[-1].stem if last_nb else manifest.get("failed_step"),
            error=reason or f"{who} stopte midden in de run (gedood of uitgevallen); opgeruimd door de volgende run",
            recovered_at=datetime.now(timezone.utc).isoformat(), recovered_by=f"proces {os.getpid()}")
        if manifest.get("started"):
            try:
                t0 = datetime.fromisoformat(manifest["started"])
                manifest["seconds"] = round((datetime.now(timezone.utc) - t0).total_seconds(), 2)
            except ValueError:
                pass
        manifest.setdefault("finished", manifest["recovered_at"])
        write_json_atomic(final / "manifest.json", public_manifest(manifest))
        shutil.rmtree(partial, ignore_errors=True)
        marker.unlink(missing_ok=True)
        recovered.append(run_id)
    return recovered


def _repair_latest(set_dir: Path) -> None:
    """Point ``latest`` at the newest good run when it points at an older one (or nowhere)."""
    from .history import list_runs

    good = [r for r in list_runs(set_dir.parent, set_dir.name) if r.status == "ok"]
    if not good:
        return
    newest = max(good, key=lambda r: r.finished or "")
    link = set_dir / "latest"
    current = os.readlink(link) if link.is_symlink() else None
    if current != newest.run_id:
        point_latest(set_dir, newest.run_id)
