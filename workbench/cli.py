"""The `workbench` command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import WorkbenchError


def _cmd_run(args) -> int:
    from .pipeline import run

    status = 0
    for param_file in args.parameters:
        result = run(param_file, args.outputs, progress=not args.quiet)
        sizes = result.manifest.get("sizes", {})
        print(f"✓ {result.name}: run {result.run_id} klaar in {result.seconds:.1f} s → {result.path}")
        for name in sorted(sizes):
            if name.endswith((".html", ".gpkg")):
                print(f"    {name:<40} {sizes[name] / 1024:8.0f} kB")
    return status


def _cmd_demo(args) -> int:
    from .sources import demo

    folder = demo.ensure_demo(Path(args.folder) if args.folder else None, force=args.force)
    print(f"Demoregio (fictief) staat in {folder}")
    return 0


def _cmd_fetch(args) -> int:
    """Download statistics and geometry into the cache; one message listing every manual step on failure."""
    import os

    from .errors import DataError
    from .params import GEMEENTE_CODE
    from .sources import cbs, net, pdok

    bad = [g for g in args.gemeente if not GEMEENTE_CODE.match(g)]
    if bad:
        raise DataError(f"{', '.join(bad)} is geen CBS-gemeentecode (vorm GM + 4 cijfers, bijv. GM0518)",
                        where="--gemeente")
    if args.cache:
        os.environ["MMR_CACHE"] = str(Path(args.cache).resolve())
    gemeenten = sorted(args.gemeente)
    cbs.table_id(args.year)  # an unknown year is an error before anything is tried
    done, manual, problems = [], [], []
    for label, module in (("statistiek", cbs), ("geometrie", pdok)):
        try:
            path = module.fetch(gemeenten, args.year, offline=args.offline, force=args.force)
            done.append(f"{label}: {path}")
        except net.OfflineMissing as exc:
            manual.append(exc.instructions)
        except net.Unreachable as exc:
            problems.append(f"{label}: {exc.where}: {exc.message}")
            manual.append(module.manual_instructions(gemeenten, args.year))
    for line in done:
        print(f"✓ {line}")
    if manual:
        why = "--offline: niet alles staat in de cache" if args.offline else "downloaden lukte niet (" + "; ".join(problems) + ")"
        raise DataError(f"{why}. Download met de hand en zet de bestanden in de cache ({net.cache_dir()}):\n  - "
                        + "\n  - ".join(manual), where="workbench fetch",
                        hint="daarna werkt `workbench fetch --offline` en `workbench run` met sources: cbs / pdok; "
                             "zie README, 'Met echte gegevens'")
    print(f"Cache: {net.cache_dir()} (andere map: --cache of omgevingsvariabele MMR_CACHE)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="MMR workbench: wijkrisicokaarten voor zorggebruik en zorgkosten.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="voer de notebooks van een of meer parametersets uit (papermill)")
    r.add_argument("parameters", nargs="+", help="parameterbestand(en), bijv. parameters/demo.yaml")
    r.add_argument("--outputs", default="outputs", help="map voor de runs (standaard: outputs)")
    r.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    r.set_defaults(func=_cmd_run)

    f = sub.add_parser("fetch", help="download CBS-statistiek en PDOK-geometrie van gemeente(n) en jaar naar de cache")
    f.add_argument("--gemeente", required=True, nargs="+", help="CBS-gemeentecode(s), bijv. GM0518")
    f.add_argument("--year", required=True, type=int, help="jaar van de Kerncijfers en de wijk- en buurtkaart")
    f.add_argument("--offline", action="store_true", help="niets downloaden; alleen controleren wat in de cache staat")
    f.add_argument("--cache", help="cachemap (standaard cache/ in de repository, of MMR_CACHE)")
    f.add_argument("--force", action="store_true", help="opnieuw downloaden, ook als het al in de cache staat")
    f.set_defaults(func=_cmd_fetch)

    d = sub.add_parser("demo", help="maak (opnieuw) de fictieve demoregio in geodata/demo")
    d.add_argument("--folder", help="andere map dan geodata/demo")
    d.add_argument("--force", action="store_true", help="ook opnieuw maken als hij er al is")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"Fout: {exc.render()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Afgebroken.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
