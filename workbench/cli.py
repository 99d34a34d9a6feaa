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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="MMR workbench: wijkrisicokaarten voor zorggebruik en zorgkosten.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="voer de notebooks van een of meer parametersets uit (papermill)")
    r.add_argument("parameters", nargs="+", help="parameterbestand(en), bijv. parameters/demo.yaml")
    r.add_argument("--outputs", default="outputs", help="map voor de runs (standaard: outputs)")
    r.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    r.set_defaults(func=_cmd_run)

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
