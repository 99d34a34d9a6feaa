"""Monotone hiding in the privacy audit: what it would save and what it would hide (issue 16, session 17).

    python benchmarks/monotone_hiding.py                 # the demo and the 34 national sets of national_batch.py
    python benchmarks/monotone_hiding.py --sets 8 --no-demo

The audit's rounds (``Findings.audit``) let the outcome cube's and the stapeling's plans choose their secondary
suppression afresh each round, with the cells the audit asked for added. A round may then publish a count that the
round before had hidden, and the LP attack must solve that count's whole block again (``relations.changed_relations``).
Monotone hiding keeps every count that was hidden in a round hidden in the later rounds: no block is dirty again,
but the plans may hide more. Three variants, each set in its own process, the variants one after the other per set:

- ``fresh``: the code as it is (secondary suppression chosen afresh every round);
- ``lp``: the plans' secondary cells kept hidden from the first LP round on (the screens stay free);
- ``all``: kept hidden from the first round on.

Reported per set and in total: the audit's CPU seconds (the sum of its rounds' CPU, as the manifest counts them),
the rounds, the unprotected counts at the end (must be 0), and per variant the outcome counts of both plans that
are published (not suppressed). The variants are wrappers around ``Findings.extra_cells`` in this script only.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VARIANTS = ("fresh", "lp", "all")


def measure(param_file: str, variant: str) -> dict:
    """Findings.compute_all of one parameter set with this variant; the audit's figures and the plans' counts."""
    from workbench import relations
    from workbench.dataset import load_dataset
    from workbench.findings import Findings
    from workbench.params import load_parameters

    state = {"lp": False}
    attack_layers, extra_cells = relations.attack_layers, Findings.extra_cells

    def recording_attack(*args, **kwargs):
        state["lp"] = kwargs.get("lp", True)
        return attack_layers(*args, **kwargs)

    def monotone_extra_cells(self, system, bad):
        found = extra_cells(self, system, bad)
        kinds = ("plan", "outcomes", "stapeling", "products")
        asks_more = any(cells - self._extra[k] for k, cells in zip(kinds, found))
        keep = variant == "all" or (variant == "lp" and state["lp"])
        memo = self._memo.get("outcomes")
        if not (asks_more and keep and memo and memo[0]):
            return found
        found = list(found)
        for i, name in ((1, "resultaten"), (2, "stapeling")):  # this round's secondary cells, hidden from now on
            plan = memo[1].plans.get(name)
            if plan is not None:
                c = plan.cells[plan.cells["kind"] == "aanvullend"]
                found[i] = found[i] | {(int(k), str(v)) for k, v in zip(c["key"], c["variable"])}
        return tuple(found)

    relations.attack_layers = recording_attack
    if variant != "fresh":
        Findings.extra_cells = monotone_extra_cells
    ds = load_dataset(load_parameters(param_file))
    findings = ds.findings.compute_all()
    audit = findings.audit_result
    plans = findings.outcomes.plans if findings.has_outcomes else {}
    return {"audit_cpu": round(sum(audit["cpu_seconden_per_ronde"]), 2), "rounds": len(audit["rondes"]),
            "unprotected": audit["onbeschermd"],
            "cells": sum(len(p.cells) for p in plans.values()),
            "published": sum(int((~p.cells["suppressed"]).sum()) for p in plans.values()),
            "secondary": sum(p.summary()["aanvullend"] for p in plans.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=34, help="national sample sets (national_batch.make_sets)")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("VARIANT", "PARAMS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[1], args.one[0])))
        return
    sys.path.insert(0, str(HERE))
    from national_batch import make_sets

    with tempfile.TemporaryDirectory() as tmp:
        files = [] if args.no_demo else [REPO / "parameters" / "demo.yaml"]
        if args.sets:
            files += make_sets(Path(tmp), args.sets, None)[0]
        totals = {v: {"audit_cpu": 0.0, "published": 0, "secondary": 0, "unprotected": 0} for v in VARIANTS}
        print("set | " + " | ".join(f"{v}: audit CPU, rounds, published" for v in VARIANTS), flush=True)
        for f in files:
            row = {}
            for v in VARIANTS:
                out = subprocess.run([sys.executable, __file__, "--one", v, str(f)], cwd=REPO, check=True,
                                     capture_output=True, text=True).stdout
                row[v] = json.loads(out.strip().splitlines()[-1])
                for k in totals[v]:
                    totals[v][k] += row[v][k]
            print(f"{Path(f).stem} | " + " | ".join(f"{r['audit_cpu']} s, {r['rounds']}, {r['published']}"
                                                     for r in row.values()), flush=True)
        base = totals["fresh"]
        for v, t in totals.items():
            print(f"{v}: audit CPU {t['audit_cpu']:.1f} s ({t['audit_cpu'] / base['audit_cpu'] - 1:+.0%}), "
                  f"published outcome counts {t['published']} ({t['published'] / base['published'] - 1:+.1%}), "
                  f"secondary {t['secondary']}, unprotected at the end {t['unprotected']}")


if __name__ == "__main__":
    main()
