"""The full bad-input set (issue 15): every generated variant of the real files, the demo records and the demo
parameter file, through the loaders the CLI calls, plus a few end-to-end `workbench run` checks.

    python benchmarks/bad_input.py [--families odata_csv records ...] [--timeout 30] [--no-cli] [--json FILE]

Per family: variants, refused with a clean Dutch message, reported (loaded with a note), documented
acceptances, and the failures: tracebacks, hangs (no answer within --timeout s), silent acceptances, false
refusals, wrong values. Exit code 1 when anything failed. The variants are in tests/badinput.py; the normal
test suite runs a sample of them (tests/test_bad_input.py).
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import badinput as B  # noqa: E402

FAILURES = ("traceback", "hang", "silent acceptance", "false refusal", "wrong value", "unclear message")


def cli_checks(tmp: Path, timeout: int) -> list[tuple[str, bool, str]]:
    """`workbench run` end to end: exit code 2, one message starting with 'Fout:', no traceback, no outputs/."""
    demo = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8").replace(
        "matrix: parameters/resultatenmatrix.yaml", f"matrix: {REPO / 'parameters' / 'resultatenmatrix.yaml'}")
    bomb = "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9 if p else ['"lol"'] * 9) + "]\n"
                   for p, c in zip(["", *"abcdefgh"], "abcdefghi")) + "name: *i\n"
    cases = {
        "records: /dev/zero": demo.replace("records: demo", "records: /dev/zero"),
        "NaN budget weights": demo.replace("weights: {jeugd: 0.6, wmo: 0.4}", "weights: {jeugd: .nan, wmo: 0.4}"),
        "huge return_days": demo + "  return_days: 100000000000000000000\n",
        "300-character name": demo.replace("name: demo", "name: " + "x" * 300),
        "min_count: 3": demo.replace("min_count: 10", "min_count: 3"),
        "notebooks: [app]": demo + "notebooks: [app]\n",
        "alias bomb": bomb,
        "duplicate key": demo + "name: demo2\n",
    }
    out = []
    for label, text in cases.items():
        folder = Path(tempfile.mkdtemp(dir=tmp))
        path = folder / "set.yaml"
        path.write_text(text, encoding="utf-8")
        outputs = folder / "outputs"
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "workbench", "run", str(path), "--outputs", str(outputs)],
                                  capture_output=True, text=True, cwd=REPO, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            out.append((label, False, f"hang (> {timeout} s)"))
            continue
        ok = (proc.returncode == 2 and proc.stderr.startswith("Fout:") and "Traceback" not in proc.stderr
              and not (outputs.exists() and any(outputs.rglob("*"))))
        out.append((label, ok, f"exit {proc.returncode}, {time.perf_counter() - t0:.1f} s: "
                               f"{proc.stderr.strip().splitlines()[0][:110] if proc.stderr.strip() else ''}"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="*", help=f"subset of {', '.join(B.FAMILIES)}")
    ap.add_argument("--timeout", type=int, default=30, help="seconds per variant before it counts as a hang")
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end `workbench run` checks")
    ap.add_argument("--json", help="write every outcome to this file")
    args = ap.parse_args()
    if not B.REALDATA.exists():
        print(f"echte data niet aanwezig in {B.REALDATA}: alleen de demo-registratie en parameters")
    t_all = time.perf_counter()
    variants = B.all_variants(families=args.families)
    per_family: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    times: dict[str, list[float]] = collections.defaultdict(list)
    failures, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, v in enumerate(variants):
            o = B.run_variant(v, Path(tmp) / str(i), timeout=args.timeout)
            fam = v.id.split("/")[0]
            verdict = o.verdict
            kind = verdict if verdict != "ok" else {"refused": "refused", "accepted": "reported" if o.notes else "accepted",
                                                    "wrong": "wrong value"}[o.status]
            if verdict == "ok" and o.status == "accepted" and v.expect == "accept":
                kind = "accepted (documented)"
            per_family[fam][kind] += 1
            times[fam].append(o.seconds)
            rows.append({"id": v.id, "expect": v.expect, "status": o.status, "verdict": verdict,
                         "message": o.message[:500], "notes": o.notes[:3], "seconds": round(o.seconds, 3), "why": v.why})
            if verdict != "ok":
                failures.append(f"{verdict:18} {v.id} [{v.expect}] {o.message[:300]!r} {o.notes[:2]}")
        cli = [] if args.no_cli else cli_checks(Path(tmp), timeout=max(60, args.timeout * 4))
    cols = ["refused", "reported", "accepted (documented)", *FAILURES]
    print(f"{'familie':<12}{'varianten':>10}" + "".join(f"{c[:14]:>16}" for c in cols) + f"{'mediaan s':>11}")
    total = collections.Counter()
    for fam, c in per_family.items():
        n = sum(c.values())
        total.update(c)
        print(f"{fam:<12}{n:>10}" + "".join(f"{c[k]:>16}" for k in cols) + f"{statistics.median(times[fam]):>11.2f}")
    print(f"{'totaal':<12}{sum(total.values()):>10}" + "".join(f"{total[k]:>16}" for k in cols))
    if failures:
        print("\nFouten:")
        print("\n".join(failures))
    if cli:
        print("\n`workbench run` van begin tot eind (exit 2, 'Fout:', geen traceback, niets onder outputs/):")
        for label, ok, detail in cli:
            print(f"  {'ok ' if ok else 'FOUT'} {label:<22} {detail}")
    print(f"\n{len(variants)} varianten in {time.perf_counter() - t_all:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if failures or not all(ok for _, ok, _ in cli) else 0


if __name__ == "__main__":
    sys.exit(main())
