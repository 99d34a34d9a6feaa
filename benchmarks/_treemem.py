"""Peak memory of a whole process tree (a batch, its run processes and their kernels), sampled from /proc.

No extra dependency: every ``interval`` seconds the resident set size (VmRSS) of the root process and
all its descendants is summed; the peak of that sum is reported. Short-lived peaks between two samples
can be missed, so the figure is a slight underestimate.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time


def snapshot() -> tuple[dict[int, list[int]], dict[int, list[bytes]]]:
    """One pass over /proc: parent pid -> child pids, and pid -> its /proc/<pid>/stat fields after the command name.
    One snapshot serves every tree a sample sums (``_tree_sum``, ``children_of``)."""
    children: dict[int, list[int]] = {}
    fields: dict[int, list[bytes]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields[pid] = fh.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[pid][1]), []).append(pid)
        except (OSError, ValueError, IndexError):
            fields.pop(pid, None)
    return children, fields


def children_of(pid: int, snap=None) -> list[int]:
    """The direct children of a process, alive now (or at ``snap``, a ``snapshot()``)."""
    return (snap or snapshot())[0].get(pid, [])


def _tree_sum(root: int, value_of, snap=None) -> float:
    """The sum of ``value_of(pid, stat_fields)`` over the root process and all its descendants alive now (or at
    ``snap``); a process that ends meanwhile counts 0. Only the tree's own processes are read."""
    children, fields = snap or snapshot()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            total += value_of(pid, fields[pid])
        except (KeyError, OSError, ValueError, IndexError):
            continue
    return total


def rss_kb(pid: int) -> int:
    """Resident set size (VmRSS, kB) of a process; 0 when it has none (a zombie)."""
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_rss_kb(root: int, snap=None) -> int:
    return _tree_sum(root, lambda pid, _fields: rss_kb(pid), snap)


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) so far of a process and its descendants alive now."""
    tick = os.sysconf("SC_CLK_TCK")
    return _tree_sum(root, lambda _pid, fields: (int(fields[11]) + int(fields[12])) / tick)


def run_measured(cmd: list[str], interval: float = 0.25, **popen) -> tuple[int, float, float]:
    """Run ``cmd``; return (exit code, wall seconds, peak MB of the whole process tree)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    rc = proc.wait()
    done.set()
    thread.join()
    return rc, time.perf_counter() - t0, peak[0] / 1024
