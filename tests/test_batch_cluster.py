"""`workbench batch --cluster` (issue 16): every set a task on Dask, with the local batch's promises, and the
lease that keeps one writer per set across machines.

Tiny notebooks (the `fake` fixture of test_batch.py) keep the runs short; each run still loads the demo.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from test_batch import fake, manifests, param_file, wait_for, workbench  # noqa: F401 (fake is a fixture)
from workbench.batch import LEASE_NAME, Lease, exit_status, run_batch
from workbench.pipeline import LOCK_NAME, SetLocked

distributed = pytest.importorskip("distributed")

# A run that naps until its test opens the gate (a file `go` in the batch's outputs folder; the notebook's
# output_dir is outputs/<set>/.<run>.partial): the tests wait on conditions, not on a nap long enough under load.
NAP = ("import time\nfrom pathlib import Path\ngate = Path(output_dir).parents[1] / 'go'\n"
       "deadline = time.time() + 600\nwhile not gate.exists() and time.time() < deadline:\n    time.sleep(0.2)")


def _clean(set_dir: Path) -> None:
    """No half run, no lease, no lock left behind."""
    assert not list(set_dir.glob(".*.partial")), list(set_dir.iterdir())
    assert not (set_dir / LEASE_NAME).exists() and not (set_dir / LOCK_NAME).exists()
    assert not list(set_dir.glob(f"{LEASE_NAME}.*"))


# --- the lease, without Dask ----------------------------------------------------------------------------------

def test_lease_one_holder_expiry_and_dead_holder(tmp_path):
    a = Lease(tmp_path / "s", "batch A").acquire()
    with pytest.raises(SetLocked) as exc:
        Lease(tmp_path / "s", "batch B").acquire()
    assert "batch A" in exc.value.render()
    a.release()
    assert not (tmp_path / "s" / LEASE_NAME).exists()

    old = Lease(tmp_path / "s", "batch C", seconds=1).acquire()
    old.seconds = 1e9  # stop it from being renewed in time: simulates a holder that hangs or is cut off
    from workbench.batch import _KEEPER

    _KEEPER.discard(old)
    time.sleep(1.2)
    b = Lease(tmp_path / "s", "batch D").acquire()  # expired: taken over
    assert b.taken_over and b.taken_over["holder"] == "batch C"
    assert not old.renew() and old.lost  # the old holder learns it lost the set
    b.release()

    # a holder on this host whose process is gone: taken over at once, whatever the expiry says
    import json
    import platform

    (tmp_path / "s" / LEASE_NAME).write_text(json.dumps({"holder": "dode batch", "host": platform.node(),
                                                          "pid": 2 ** 22 + 7, "token": "x", "expires": time.time() + 999}))
    c = Lease(tmp_path / "s", "batch E").acquire()
    assert c.taken_over["holder"] == "dode batch"
    c.release()


def test_lease_race_has_one_winner(tmp_path):
    """Twelve contenders at once, twice (free, then expired): exactly one holds the set each time."""
    for round_ in range(2):
        if round_:
            import json

            (tmp_path / "s" / LEASE_NAME).write_text(json.dumps({"holder": "verlopen", "host": "elders", "pid": 1,
                                                                  "token": "old", "expires": time.time() - 1}))
        barrier, won, lost = threading.Barrier(12), [], []

        def contend(i):
            barrier.wait()
            try:
                won.append(Lease(tmp_path / "s", f"t{i}").acquire())
            except SetLocked:
                lost.append(i)

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(lost) == 11
        won[0].release()


# --- on a LocalCluster ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cluster_batch_ok_failed_then_skipped(fake):
    """`workbench batch --cluster local`: one set good, one failing (not retried, isolated); exit 1 and the
    Dutch summary; then the unchanged good set is skipped on the cluster."""
    folder, outputs = fake / "cl", fake / "cl-out"
    folder.mkdir()
    ok, boom = param_file(folder, "c-ok", ["ok"]), param_file(folder, "c-boom", ["boom"])
    proc = workbench("batch", ok, boom, "--cluster", "local", "--jobs", "2", "--outputs", outputs, "--quiet")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert "Batch: 2 parameterset(s)" in out and "geslaagd" in out and "mislukt" in out and "kapot" in out
    assert "Traceback" not in out + err
    [good] = manifests(outputs / "c-ok")
    assert good["status"] == "ok" and (outputs / "c-ok" / "latest").resolve().name == good["run_id"]
    [bad] = manifests(outputs / "c-boom")
    assert bad["status"] == "failed" and bad["failure_kind"] == "error"
    assert not (outputs / "c-boom" / "latest").exists()
    for name in ("c-ok", "c-boom"):
        _clean(outputs / name)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        items = run_batch([ok], outputs, cluster=lc.scheduler_address, progress=False)
    assert [it.status for it in items] == ["skipped"] and items[0].run_id == good["run_id"]
    assert exit_status(items) == 0 and len(manifests(outputs / "c-ok")) == 1


@pytest.fixture(scope="module")
def own_cluster(fake):
    """A LocalCluster this test owns (so it can kill a worker), used through its tcp:// address. Started after
    `fake`, so its workers see the tiny notebooks; with a notebook that naps long enough to be caught running."""
    import nbformat

    nbdir = Path(os.environ["MMR_NOTEBOOK_DIR"])
    nb = nbformat.read(nbdir / "ok.ipynb", as_version=4)
    nb.cells[-1].source = NAP
    nbformat.write(nb, nbdir / "nap.ipynb")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_killed_worker_leaves_no_half_run_or_stale_lock(fake, own_cluster):
    cluster, client = own_cluster
    folder, outputs = fake / "kill", fake / "kill-out"
    folder.mkdir()
    set_dir = outputs / "k-nap"
    result = {}
    runner = threading.Thread(target=lambda: result.update(items=run_batch(
        [param_file(folder, "k-nap", ["nap"])], outputs, cluster=cluster.scheduler_address, timeout=300,
        progress=False)))
    runner.start()
    wait_for(lambda: list(set_dir.glob(".*.partial")), 180, "een run in uitvoering")
    busy = wait_for(lambda: [w for w, keys in client.processing().items() if keys], 30, "de worker met de taak")
    pid = client.run(os.getpid, workers=busy)[busy[0]]
    os.kill(pid, signal.SIGKILL)  # the worker dies mid-run (its run still napping); its nanny starts a new one
    # Open the gate only once the killed attempt is on record (the orphaned run recorded itself as interrupted,
    # or the retry recovered its partial): it can then never finish after all.
    wait_for(lambda: [m for m in set_dir.glob("*/manifest.json")
                      if json.loads(m.read_text())["status"] == "interrupted"], 300, "de gestopte poging")
    (outputs / "go").touch()  # the retried run may finish
    runner.join(timeout=600)
    assert not runner.is_alive()
    [item] = result["items"]
    assert item.status == "ok", vars(item)  # run again on a live worker: the dead one's lease taken over
    records = manifests(set_dir)
    seen = [(r["status"], r.get("failure_kind"), r.get("error")) for r in records]
    assert [r["status"] for r in records].count("ok") == 1, seen
    assert all(r["status"] in ("ok", "interrupted") for r in records), seen  # the killed attempt: recorded, not half
    assert (set_dir / "latest").resolve().name == item.run_id
    _clean(set_dir)


@pytest.mark.slow
def test_two_batches_racing_for_one_set(fake, own_cluster):
    """Two batches on the cluster start at the same moment on the same set: one runs it, the other is refused
    (as a whole, or its task loses the lease); never two writers."""
    cluster, _ = own_cluster
    folder, outputs = fake / "race", fake / "race-out"
    folder.mkdir()
    files = [param_file(folder, "r-set", ["nap"], file_name=f"r{i}") for i in (1, 2)]
    barrier, results = threading.Barrier(2), {}

    def batch(i):
        barrier.wait()
        try:
            results[i] = run_batch([files[i]], outputs, cluster=cluster.scheduler_address, progress=False, force=True)
        except SetLocked as exc:
            results[i] = exc

    threads = [threading.Thread(target=batch, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    # The winner's run naps until the gate opens, so the loser meets it running, however slow the machine.
    wait_for(lambda: results, 400, "de eerste batch die klaar is (de verliezer)")
    (outputs / "go").touch()
    for t in threads:
        t.join(timeout=400)
    assert len(results) == 2, f"een batch bleef hangen: {results}"
    outcomes = sorted("refused" if isinstance(r, SetLocked) else r[0].status for r in results.values())
    assert outcomes in (["ok", "refused"], ["locked", "ok"]), outcomes
    locked = [r[0] for r in results.values() if not isinstance(r, SetLocked) and r[0].status == "locked"]
    if locked:
        assert "wordt al geschreven door batch" in locked[0].message and exit_status(locked) == 2
    assert [r["status"] for r in manifests(outputs / "r-set")] == ["ok"]
    _clean(outputs / "r-set")


def _warm_run_in_worker(log: str) -> tuple[int, int]:
    """In a worker: one forked run (`workbench --help`, warm) -> (its exit code, the fork server's pid)."""
    import tempfile
    from multiprocessing import forkserver

    from workbench.warm import WarmProcess, available

    assert available()
    with tempfile.TemporaryFile() as lock:
        proc = WarmProcess(["--help"], log, lock.fileno(), dict(os.environ))
        rc = proc.wait(120)
    return rc, forkserver._forkserver._forkserver_pid


def test_local_cluster_workers_fork_warm_runs(tmp_path):
    """`--cluster local` workers are not daemonic, so they fork their runs from a warm fork server (no new
    interpreter per set); closing the cluster stops that fork server too (nothing left running)."""
    from workbench.batch import _close, _connect

    client, lc = _connect("local", 1)
    try:
        rc, server = client.submit(_warm_run_in_worker, str(tmp_path / "run.log"), pure=False).result(timeout=180)
        assert rc == 0 and "gebruik: workbench" in (tmp_path / "run.log").read_text()
        assert os.path.exists(f"/proc/{server}")
    finally:
        _close(client, lc)
    wait_for(lambda: not os.path.exists(f"/proc/{server}"), 30, "de fork server van de worker gestopt")
