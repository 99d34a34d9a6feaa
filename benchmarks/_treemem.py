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


def _tree_sum(root: int, value_of) -> float:
    """The sum of ``value_of(pid, stat_fields)`` over the root process and all its descendants alive now
    (``stat_fields``: /proc/<pid>/stat after the command name; a process that ends meanwhile counts 0)."""
    children: dict[int, list[int]] = {}
    values: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            values[pid] = value_of(pid, fields)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += values.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def _rss_kb(pid: int, _fields) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_rss_kb(root: int) -> int:
    return _tree_sum(root, _rss_kb)


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
