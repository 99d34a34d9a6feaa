"""`workbench batch` and the run history: failures stay isolated, time-outs are enforced, a dead kernel is
retried once, an interrupted or killed run never replaces `latest`, a second batch over the same set is
refused, and an unchanged set is skipped.

Tiny notebooks (MMR_NOTEBOOK_DIR) keep the runs short; each run still loads the demo and publishes.
"""
from __future__ import annotations

import json
import multiprocessing.util
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from conftest import demo_parameters_without_records, scratch_tmpdir
from jupyter_core.paths import jupyter_runtime_dir

from workbench import pipeline
from workbench.batch import exit_status, run_batch, summary
from workbench.history import last_good, list_runs, render_history
from workbench.pipeline import SetLock, SetLocked, recover_partials

REPO = Path(__file__).resolve().parents[1]

NOTEBOOKS = {
    "ok": "print('klaar')",
    "boom": "raise RuntimeError('kapot')",
    "die": "import os\nos._exit(1)  # the kernel dies",
    "sleep": ("import os, time\n"
              "if os.environ.get('MMR_TEST_PIDFILE'):\n"
              "    open(os.environ['MMR_TEST_PIDFILE'], 'w').write(str(os.getpid()))\n"
              "time.sleep(600)"),
    "pid": ("import os\n"  # the kernel's parent is the run process
            "if os.environ.get('MMR_TEST_PIDDIR'):\n"
            "    open(os.path.join(os.environ['MMR_TEST_PIDDIR'], str(os.getppid())), 'w').close()"),
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """A notebook folder with the tiny notebooks (via MMR_NOTEBOOK_DIR, also seen by the run processes)."""
    root = tmp_path_factory.mktemp("batch")
    nbdir = root / "notebooks"
    nbdir.mkdir()
    for name, src in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("parameter_file = None\noutput_dir = None")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(src)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, nbdir / f"{name}.ipynb")
    old = os.environ.get("MMR_NOTEBOOK_DIR")
    os.environ["MMR_NOTEBOOK_DIR"] = str(nbdir)
    saved = pipeline.NOTEBOOK_DIR
    pipeline.NOTEBOOK_DIR = nbdir
    yield root
    pipeline.NOTEBOOK_DIR = saved
    if old is None:
        os.environ.pop("MMR_NOTEBOOK_DIR", None)
    else:
        os.environ["MMR_NOTEBOOK_DIR"] = old


def param_file(folder: Path, set_name: str, notebooks: list[str], file_name: str | None = None, extra: str = "") -> Path:
    """The demo's parameter set under another name, with these notebooks and without the care records: what a batch
    promises does not depend on them."""
    text = demo_parameters_without_records().replace("name: demo", f"name: {set_name}", 1)
    path = folder / f"{file_name or set_name}.yaml"
    path.write_text(text + f"notebooks: [{', '.join(notebooks)}]\n" + extra, encoding="utf-8")
    return path


def manifests(set_dir: Path) -> list[dict]:
    return [json.loads((p / "manifest.json").read_text()) for p in sorted(set_dir.iterdir())
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]


def workbench(*args, tmpdir: Path | None = None, **kw) -> subprocess.Popen:
    """``tmpdir``: the process's TMPDIR (for one that will be killed outright: what it leaves goes there)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.Popen([sys.executable, "-m", "workbench", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(predicate, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gewacht op {what}")


# --- fast: lock, recovery, history without notebooks -------------------------------------------------------

def test_lock_refuses_second_writer_and_takes_over_a_dead_one(tmp_path):
    set_dir = tmp_path / "demo"
    with SetLock(set_dir):
        info = json.loads((set_dir / ".lock").read_text())
        assert info["pid"] == os.getpid() and info["host"] == platform.node() and info["started"]
        with pytest.raises(SetLocked) as err:
            SetLock(set_dir).acquire()
        assert f"proces {os.getpid()}" in str(err.value) and "vanzelf overgenomen" in str(err.value)
    assert not (set_dir / ".lock").exists()
    # a lock file left by a process that died (its flock went with it) is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (set_dir / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": platform.node(), "started": "x"}))
    with SetLock(set_dir) as lock:
        assert lock.taken_over["pid"] == int(dead.stdout) and lock.taken_over["pid_alive"] is False


def test_recover_partials_of_a_dead_process(tmp_path):
    set_dir = tmp_path / "demo"
    set_dir.mkdir()
    (set_dir / "20240101T000000Z-aaaa").mkdir()
    good = {"name": "demo", "run_id": "20240101T000000Z-aaaa", "status": "ok", "started": "2024-01-01T00:00:00+00:00",
            "finished": "2024-01-01T00:01:00+00:00", "seconds": 60, "inputs": {"statistics": "ab" * 8}}
    (set_dir / "20240101T000000Z-aaaa" / "manifest.json").write_text(json.dumps(good))
    pipeline.point_latest(set_dir, "20240101T000000Z-aaaa")
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    run_id = "20240102T000000Z-bbbb"
    (set_dir / f".{run_id}.partial").mkdir()
    (set_dir / f".{run_id}.partial" / "01_indicatoren.ipynb").write_text("{}")
    (set_dir / f".{run_id}.running.json").write_text(json.dumps(
        {"name": "demo", "run_id": run_id, "status": "running", "pid": dead, "host": platform.node(),
         "started": "2024-01-02T00:00:00+00:00"}))
    assert recover_partials(set_dir) == [run_id]
    record = json.loads((set_dir / run_id / "manifest.json").read_text())
    assert record["status"] == "interrupted" and f"proces {dead}" in record["error"]
    assert not {"host", "pid", "command"} & set(record), "who ran it stays in the marker, not in the record"
    assert f"op {platform.node()}" not in json.dumps(record)
    assert (set_dir / run_id / "01_indicatoren.afgebroken.ipynb").exists()
    assert not list(set_dir.glob(".*partial")) and not list(set_dir.glob(".*.running.json"))
    assert os.readlink(set_dir / "latest") == "20240101T000000Z-aaaa"
    assert last_good(tmp_path, "demo")["run_id"] == "20240101T000000Z-aaaa"
    runs = list_runs(tmp_path, "demo")
    assert [r.status for r in runs] == ["ok", "interrupted"] and runs[0].is_latest
    text = render_history(tmp_path, "demo")
    assert "* 20240101T000000Z-aaaa" in text and "afgebroken" in text and "geslaagd" in text
    assert "statistics abababab" in text


def test_published_manifest_names_no_host_and_no_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv("MMR_PROJECT", str(tmp_path))
    outside = "/srv/data/jan/kwb-2023.xlsx"
    manifest = {"name": "x", "host": platform.node(), "pid": 12, "command": f"workbench run {tmp_path}/p.yaml",
                "parameters": {"path": str(tmp_path / "parameters" / "x.yaml"), "catalog": None,
                               "sources": {"statistics": outside, "geometry": "data/wijken.gpkg", "records": None},
                               "outcomes": {"matrix": str(tmp_path / "m.yaml"), "return_days": 365}},
                "input_paths": {"statistics": outside, "geometry": str(tmp_path / "data" / "wijken.gpkg")},
                "lock_taken_over": {"pid": 3, "host": "elders", "pid_alive": False}}
    public = pipeline.public_manifest(manifest)
    text = json.dumps(public)
    assert str(tmp_path) not in text and "/srv" not in text and "elders" not in text
    assert not {"host", "pid", "command"} & set(public)
    assert public["parameters"]["path"] == "parameters/x.yaml"
    assert public["parameters"]["sources"] == {"statistics": "kwb-2023.xlsx", "geometry": "data/wijken.gpkg",
                                               "records": None}
    assert public["input_paths"] == {"statistics": "kwb-2023.xlsx", "geometry": "data/wijken.gpkg"}
    assert public["parameters"]["outcomes"] == {"matrix": "m.yaml", "return_days": 365}
    assert public["lock_taken_over"] == {"pid_alive": False}
    assert manifest["host"] == platform.node(), "the running marker keeps what recovery needs"


def test_run_cli_skips_unchanged_set_and_force_is_offered(tmp_path, demo_params, capsys):
    """`workbench run` on a set whose last good run has the same parameters, inputs and notebooks: skipped."""
    from workbench.cli import main

    run_id = "20240101T000000Z-cafe"
    (tmp_path / "demo" / run_id).mkdir(parents=True)
    good = {"name": "demo", "run_id": run_id, "status": "ok", **pipeline.run_key(demo_params)}
    (tmp_path / "demo" / run_id / "manifest.json").write_text(json.dumps(good))
    pipeline.point_latest(tmp_path / "demo", run_id)
    assert main(["run", str(REPO / "parameters" / "demo.yaml"), "--outputs", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "overgeslagen" in out and "--force" in out and run_id in out
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [run_id, "latest"]  # nothing written
    # a failed run is not a last good run: nothing to compare with
    good["status"] = "failed"
    (tmp_path / "demo" / run_id / "manifest.json").write_text(json.dumps(good))
    assert pipeline.unchanged_since_last_good(demo_params, tmp_path) is None


def test_failure_kinds_decide_the_retry():
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    assert pipeline.failure_kind(DeadKernelError("Kernel died")) == "kernel"
    assert pipeline.failure_kind(CellTimeoutError("te lang")) == "timeout"
    assert pipeline.failure_kind(RuntimeError("kapot")) == "error"
    assert pipeline.failure_kind(KeyboardInterrupt()) == "interrupted"
    assert pipeline.RunFailed("x", kind="kernel").exit_code == 3 and pipeline.RunFailed("x").exit_code == 2


def test_input_paths_match_the_loaded_dataset(demo_params, demo_ds):
    from workbench.dataset import input_paths

    assert input_paths(demo_params) == demo_ds.inputs


# --- batches with tiny notebooks ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_batch(fake):
    """ok, boom (the notebook raises) and die (the kernel dies) side by side, two at a time."""
    folder, outputs = fake / "mixed", fake / "mixed-out"
    folder.mkdir()
    files = [param_file(folder, f"t-{n}", [n]) for n in ("ok", "boom", "die")]
    t0 = time.time()
    items = run_batch(files, outputs, jobs=2, timeout=300, progress=False, log=fake / "mixed.log")
    return {"items": {it.name: it for it in items}, "outputs": outputs, "files": files, "seconds": time.time() - t0,
            "log": fake / "mixed.log", "list": items}


@pytest.mark.slow
def test_failing_notebook_is_isolated(mixed_batch):
    items, outputs = mixed_batch["items"], mixed_batch["outputs"]
    assert items["t-ok"].status == "ok"
    assert (outputs / "t-ok" / "latest").resolve() == outputs / "t-ok" / items["t-ok"].run_id
    exports = json.loads((outputs / "t-ok" / "latest" / "manifest.json").read_text())["exports"]
    assert exports["pdf"] == 0 and any("PDF niet gevraagd" in n for n in exports["notes"])  # a batch: --pdf asks
    assert exports["wijkprofielen"]  # the HTML profiles are there all the same
    boom = items["t-boom"]
    assert boom.status == "failed" and boom.attempts == 1  # an ordinary notebook error is not retried
    assert "kapot" in boom.message
    assert not (outputs / "t-boom" / "latest").exists()
    [record] = manifests(outputs / "t-boom")
    assert record["status"] == "failed" and record["failure_kind"] == "error"
    assert exit_status(mixed_batch["list"]) == 1
    table = summary(mixed_batch["list"])
    assert "geslaagd" in table and "mislukt" in table and "melding" in table
    log = mixed_batch["log"].read_text()
    assert "batch gestart" in log and "t-boom: mislukt" in log
    for name in ("t-ok", "t-boom", "t-die"):
        assert not list((outputs / name).glob(".*partial")) and not (outputs / name / ".lock").exists()


@pytest.mark.slow
def test_dead_kernel_is_retried_once_then_failed(mixed_batch):
    die = mixed_batch["items"]["t-die"]
    assert die.status == "failed" and die.attempts == 2 and die.kinds == ["kernel"], vars(die)
    records = manifests(mixed_batch["outputs"] / "t-die")
    assert len(records) == 2 and {r["failure_kind"] for r in records} == {"kernel"}, \
        [(r["status"], r.get("failure_kind"), r.get("error")) for r in records]
    assert not (mixed_batch["outputs"] / "t-die" / "latest").exists()


@pytest.mark.slow
def test_unchanged_set_is_skipped(mixed_batch, fake):
    outputs, ok_file = mixed_batch["outputs"], mixed_batch["files"][0]
    before = sorted(p.name for p in (outputs / "t-ok").iterdir())
    t0 = time.time()
    [item] = run_batch([ok_file], outputs, jobs=1, progress=False)
    assert item.status == "skipped" and item.run_id == mixed_batch["items"]["t-ok"].run_id
    assert time.time() - t0 < 30  # decided without starting a run
    assert sorted(p.name for p in (outputs / "t-ok").iterdir()) == before
    assert exit_status([item]) == 0
    # a changed parameter (or input, or notebook) is a reason to run again
    changed = param_file(fake / "mixed", "t-ok", ["ok"], file_name="t-ok-changed",  # a key demo.yaml does not have
                         extra=f"catalog: {REPO / 'parameters' / 'indicators.yaml'}\n")
    from workbench.params import load_parameters

    assert pipeline.unchanged_since_last_good(load_parameters(ok_file), outputs) is not None
    assert pipeline.unchanged_since_last_good(load_parameters(changed), outputs) is None
    # `workbench run` says so too, and runs with --force
    res = pipeline.run(ok_file, outputs, progress=False)
    assert res.status == "skipped"


@pytest.mark.slow
def test_timeout_is_enforced_and_the_kernel_killed(fake, monkeypatch):
    """A run killed on its time-out leaves nothing behind either: its kernel's sockets and connection file were in
    the run's own temporary folder, which the batch removes."""
    folder = fake / "timeout"
    folder.mkdir()
    pidfile = folder / "kernel.pid"
    os.environ["MMR_TEST_PIDFILE"] = str(pidfile)
    multiprocessing.util.get_temp_dir()  # this process's own (the batch's fork server listens there): not the batch's
    runtime = Path(jupyter_runtime_dir())
    before = set(runtime.iterdir()) if runtime.exists() else set()
    with scratch_tmpdir() as scratch:
        monkeypatch.setenv("TMPDIR", str(scratch))
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        try:
            t0 = time.time()
            [item] = run_batch([param_file(folder, "t-sleep", ["sleep"])], fake / "timeout-out", timeout=20,
                               progress=False, retries=0)
        finally:
            os.environ.pop("MMR_TEST_PIDFILE", None)
        left = sorted(p.name for p in scratch.iterdir())
    assert left == []
    after = set(runtime.iterdir()) if runtime.exists() else set()
    assert sorted(p.name for p in after - before) == []  # nor in Jupyter's runtime folder
    assert time.time() - t0 < 20 + 30
    assert item.status == "failed" and "time-out" in item.message
    [record] = manifests(fake / "timeout-out" / "t-sleep")
    assert record["status"] == "failed" and record["failure_kind"] == "timeout"
    assert not list((fake / "timeout-out" / "t-sleep").glob(".*partial"))
    if pidfile.exists():  # the kernel had started: it must be gone too
        pid = int(pidfile.read_text())
        wait_for(lambda: not pipeline.pid_alive(pid) or _zombie(pid), 10, "het einde van de kernel")


@pytest.mark.slow
def test_warm_runs_one_forked_process_per_set_and_nothing_stays(fake):
    """Locally each set runs in a process of its own, forked from the batch's fork server (which imported the package
    once); the fork server is stopped and waited for when the batch ends."""
    from multiprocessing import forkserver

    from workbench.warm import available

    folder = fake / "warm"
    (folder / "pids").mkdir(parents=True)
    os.environ["MMR_TEST_PIDDIR"] = str(folder / "pids")
    try:
        items = run_batch([param_file(folder, f"t-pid{i}", ["pid"]) for i in (1, 2)], fake / "warm-out", jobs=2,
                          timeout=300, progress=False)
    finally:
        os.environ.pop("MMR_TEST_PIDDIR", None)
    assert [it.status for it in items] == ["ok", "ok"]
    runs = {int(p.name) for p in (folder / "pids").iterdir()}
    assert len(runs) == 2 and os.getpid() not in runs
    assert all(not pipeline.pid_alive(pid) or _zombie(pid) for pid in runs)
    if platform.system() == "Linux":
        assert available() and forkserver._forkserver._forkserver_pid is None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# --- interruption and locking with real `workbench batch` processes -----------------------------------------

def _partial(set_dir: Path):
    return list(set_dir.glob(".*.partial")) if set_dir.exists() else []


@pytest.fixture(scope="module")
def interrupted(fake):
    """A good run; then a changed run of the same set interrupted with SIGTERM mid-run, while a second batch
    tries the same set; then a batch killed outright (SIGKILL); then a normal batch after all of it."""
    folder, outputs = fake / "int", fake / "int-out"
    folder.mkdir()
    good_file = param_file(folder, "t-int", ["ok"], file_name="good")
    slow_file = param_file(folder, "t-int", ["ok", "sleep"], file_name="slow")
    set_dir = outputs / "t-int"
    obs = {"outputs": outputs, "set_dir": set_dir}
    [first] = run_batch([good_file], outputs, progress=False)
    assert first.status == "ok"
    obs["good_run"] = first.run_id

    batch = workbench("batch", slow_file, "--outputs", outputs, "--quiet", "--timeout", "600")
    wait_for(lambda: _partial(set_dir), 120, "een .partial-map")
    second = workbench("batch", good_file, "--outputs", outputs, "--quiet", "--force")
    obs["second_out"], obs["second_err"] = second.communicate(timeout=120)
    obs["second_rc"] = second.returncode
    obs["batch_pid"] = batch.pid
    time.sleep(1)
    batch.send_signal(signal.SIGTERM)
    obs["term_out"], obs["term_err"] = batch.communicate(timeout=120)
    obs["term_rc"] = batch.returncode
    obs["after_term_latest"] = os.readlink(set_dir / "latest")
    obs["after_term_partials"] = _partial(set_dir)
    obs["after_term_records"] = manifests(set_dir)

    # killed outright: batch and run process get SIGKILL; the next batch has to clean up (the batch's own scratch
    # folder, which nobody can remove after SIGKILL, goes into one the test removes)
    with scratch_tmpdir() as scratch:
        batch = workbench("batch", slow_file, "--outputs", outputs, "--quiet", "--timeout", "600", tmpdir=scratch)
        partial = wait_for(lambda: _partial(set_dir), 120, "een .partial-map")[0]
        run_id = partial.name[1:-len(".partial")]
        run_pid = json.loads((set_dir / f".{run_id}.running.json").read_text())["pid"]
        os.kill(run_pid, signal.SIGKILL)
        batch.kill()
        batch.communicate(timeout=60)
    obs["killed_run_id"] = run_id
    obs["after_kill_latest"] = os.readlink(set_dir / "latest")
    obs["after_kill_partial_left"] = partial.exists()
    nxt = workbench("batch", good_file, "--outputs", outputs, "--quiet", "--force")
    obs["next_out"], obs["next_err"] = nxt.communicate(timeout=300)
    obs["next_rc"] = nxt.returncode
    obs["records"] = {m["run_id"]: m for m in manifests(set_dir)}
    return obs


@pytest.mark.slow
def test_second_concurrent_batch_is_refused(interrupted):
    assert interrupted["second_rc"] == 2
    err = interrupted["second_err"]
    assert "wordt al geschreven door een andere batch" in err and f"proces {interrupted['batch_pid']}" in err
    assert err.count("Fout:") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_sigterm_mid_run_leaves_latest_intact(interrupted):
    assert interrupted["term_rc"] == 130
    assert "afgebroken" in interrupted["term_out"]  # the summary
    assert interrupted["after_term_latest"] == interrupted["good_run"]
    assert not interrupted["after_term_partials"]
    statuses = {m["run_id"]: m["status"] for m in interrupted["after_term_records"]}
    assert statuses[interrupted["good_run"]] == "ok"
    assert list(statuses.values()).count("interrupted") == 1


@pytest.mark.slow
def test_killed_batch_is_recovered_by_the_next(interrupted):
    assert interrupted["after_kill_latest"] == interrupted["good_run"]
    assert interrupted["after_kill_partial_left"]  # nobody could clean up ...
    assert interrupted["next_rc"] == 0, interrupted["next_err"]  # ... and no manual clean-up was needed
    killed = interrupted["records"][interrupted["killed_run_id"]]
    assert killed["status"] == "interrupted" and "stopte midden in de run" in killed["error"]
    set_dir = interrupted["set_dir"]
    assert not _partial(set_dir) and not list(set_dir.glob(".*.running.json"))
    newest = os.readlink(set_dir / "latest")
    assert newest != interrupted["good_run"] and interrupted["records"][newest]["status"] == "ok"
    # the history lists all of it
    out = workbench("runs", "t-int", "--outputs", interrupted["outputs"]).communicate(timeout=60)[0]
    assert out.count("afgebroken") >= 2 and f"* {newest}" in out


def test_a_batch_asks_for_no_pdf_unless_told_and_the_notebook_shows_what_it_ran_with(tmp_path, demo_params):
    from workbench.batch import RunOptions

    assert RunOptions().args() == ["--geen-pdf"] and RunOptions("k", pdf=True).args() == ["--kernel", "k"]
    assert pipeline.has_parameter(REPO / "notebooks" / "05_resultaten.ipynb", "aanbieder_pdf")
    assert not pipeline.has_parameter(REPO / "notebooks" / "01_indicatoren.ipynb", "aanbieder_pdf")
    # the executed notebook's parameters cell keeps aanbieder_pdf = False beside the rewritten paths
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("parameter_file = '/tmp/x/.run.partial/p.yaml'\naanbieder_pdf = False")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"parameters": {"parameter_file": "/tmp/x/p.yaml", "output_dir": "/tmp/x/.partial",
                                               "aanbieder_pdf": False}}
    path = tmp_path / "05_resultaten.ipynb"
    nbformat.write(nb, path)
    pipeline.publishable_notebook(path, demo_params)
    source = nbformat.read(path, as_version=4).cells[0].source
    assert "aanbieder_pdf = False" in source and "output_dir = '.'" in source and ".partial" not in source


@pytest.mark.slow
def test_a_failed_run_leaves_no_partial_folder_while_exports_are_slow(fake, monkeypatch):
    """The notebook fails while the exports beside it still write wijkprofielen (slow here: 1 s a page, 20 wijken,
    longer than the run waits for them): they stop before their next page, and the partial folder is removed."""
    from workbench import wijkprofiel

    real = wijkprofiel.render
    monkeypatch.setattr(wijkprofiel, "render", lambda *a, **k: (time.sleep(1), real(*a, **k))[1])
    folder = fake / "slow-exports"
    folder.mkdir()
    outputs = fake / "slow-exports-out"
    with pytest.raises(pipeline.RunFailed):
        pipeline.run(param_file(folder, "t-slow", ["boom"]), outputs, progress=False, force=True, pdf=False)
    left = list((outputs / "t-slow").iterdir())
    assert not [p for p in left if p.name.endswith(".partial")], left
    time.sleep(3)  # nothing writes on into a folder of the failed run afterwards
    assert not [p for p in (outputs / "t-slow").iterdir() if p.name.endswith(".partial")]
