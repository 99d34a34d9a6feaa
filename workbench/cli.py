"""The `workbench` command."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import WorkbenchError


def _write_result(path: str | None, data: dict) -> None:
    """--result-file: how the run ended, for the batch that started this process (written atomically)."""
    if path:
        from .pipeline import write_json_atomic

        write_json_atomic(Path(path), data)


def _cmd_run(args) -> int:
    from .pipeline import RunFailed, run

    status = 0
    for param_file in args.parameters:
        try:
            result = run(param_file, args.outputs, progress=not args.quiet, force=args.force, timeout=args.timeout,
                         lock_held=args.lock_held, kernel_name=args.kernel)
        except RunFailed as exc:
            _write_result(args.result_file, {"status": "failed", "kind": exc.kind, "run_id": exc.run_id,
                                             "message": exc.message, "where": exc.where})
            raise
        except WorkbenchError as exc:
            _write_result(args.result_file, {"status": "failed", "kind": "error", "run_id": None,
                                             "message": exc.message, "where": exc.where})
            raise
        except KeyboardInterrupt:
            _write_result(args.result_file, {"status": "interrupted", "kind": "interrupted", "run_id": None,
                                             "message": "afgebroken"})
            raise
        _write_result(args.result_file, {"status": result.status, "run_id": result.run_id, "seconds": result.seconds,
                                         "path": str(result.path)})
        if result.status == "skipped":
            print(f"= {result.name}: ongewijzigd sinds run {result.run_id} (parameters, invoer en notebooks gelijk); "
                  "overgeslagen. Toch draaien: --force")
            continue
        sizes = result.manifest.get("sizes", {})
        print(f"✓ {result.name}: run {result.run_id} klaar in {result.seconds:.1f} s → {result.path}")
        for name in sorted(sizes):
            if name.endswith((".html", ".gpkg")):
                print(f"    {name:<40} {sizes[name] / 1024:8.0f} kB")
    return status


def _cmd_batch(args) -> int:
    import glob

    from .batch import exit_status, run_batch, summary
    from .errors import ParameterError

    files = []
    for pattern in args.parameters:  # a pattern the shell did not expand (cron, quotes) is expanded here
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise ParameterError("geen parameterbestanden gevonden", where=pattern,
                                 hint="controleer het patroon, bijv. parameters/*.yaml")
        files.extend(matches)
    t0 = time.time()
    try:
        items = run_batch(files, args.outputs, jobs=args.jobs, timeout=args.timeout or None, force=args.force,
                          progress=not args.quiet, log=args.log, cluster=args.cluster)
    except KeyboardInterrupt as exc:
        if getattr(exc, "items", None):
            print(summary(exc.items, time.time() - t0))
        raise
    print(summary(items, time.time() - t0))
    code = exit_status(items)
    if code:
        print("Niet alles is gelukt; zie de kolom melding en `workbench runs SET`.", file=sys.stderr)
    return code


def _cmd_runs(args) -> int:
    from .history import render_history

    print(render_history(args.outputs, args.set))
    return 0


def _cmd_demo(args) -> int:
    from .sources import demo

    folder = demo.ensure_demo(Path(args.folder) if args.folder else None, force=args.force)
    print(f"Demoregio (fictief) staat in {folder}")
    return 0


def _parse_columns(spec: str | None) -> dict[str, str]:
    """--columns: a YAML file {our_field: their_header} or 'client_id=ClientNr,start=Begindatum'."""
    from .errors import ParameterError

    if not spec:
        return {}
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        import yaml

        if not path.exists():
            raise ParameterError("kolomkoppeling niet gevonden", where=spec)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and isinstance(data.get("sources"), dict):
            data = data["sources"].get("record_columns", {}) or {}
        if not isinstance(data, dict):
            raise ParameterError("verwacht een blok {ons_veld: kolomkop_in_export}", where=spec)
        return {str(k): str(v) for k, v in data.items()}
    pairs = [p for p in spec.split(",") if p.strip()]
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise ParameterError(f"kolomkoppeling '{bad[0]}' heeft niet de vorm ons_veld=kolomkop", where="--columns",
                             hint="bijv. --columns client_id=ClientNr,start=Begindatum")
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def _cmd_validate(args) -> int:
    from .validation import load_products, validate_records

    columns, areas, gemeenten, products = {}, None, None, None
    if args.parameters:
        from .dataset import load_areas
        from .params import load_parameters
        from .validation import products_for

        params = load_parameters(args.parameters)
        columns = dict(params.sources.record_columns)
        all_areas, _ = load_areas(params)
        areas, gemeenten = all_areas[all_areas["gemeente_code"].isin(params.gemeente)], params.gemeente
        products = products_for(params)
    else:
        products = load_products()
    columns.update(_parse_columns(args.columns))
    report = validate_records(args.records, columns, areas=areas, gemeenten=gemeenten, products=products)
    print(report.render(max_rows=args.max_rows))
    if not args.parameters:
        print("\n(Zonder --parameters zijn buurtcodes alleen op hun vorm gecontroleerd, niet tegen de gebieden.)")
    if args.report:
        written = report.write(args.report)
        print(f"\nRapport geschreven: {written} (bevat rijnummers, geen persoonsgegevens; houd het lokaal)")
    # Exit code 2 on errors, as for every other input error of the CLI; warnings alone give 0.
    return 2 if report.errors else 0


def _cmd_serve(args) -> int:
    from .app.server import serve

    return serve(args.host, args.port, args.outputs, args.set)


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
    r.add_argument("--force", action="store_true",
                   help="ook draaien als parameters, invoer en notebooks sinds de laatste geslaagde run gelijk zijn")
    r.add_argument("--timeout", type=int, default=900, help="maximale duur van één notebookcel in seconden (standaard 900)")
    r.add_argument("--kernel", default="python3", help=argparse.SUPPRESS)
    r.add_argument("--lock-held", action="store_true", help=argparse.SUPPRESS)  # the batch holds the set's lock
    r.add_argument("--result-file", help=argparse.SUPPRESS)  # how the run ended, for the batch
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("batch", help="voer veel parametersets uit, een aantal tegelijk, met time-out en overzicht",
                       description="Voert elke parameterset uit in een eigen proces (papermill). Een set die sinds de "
                                   "laatste geslaagde run niet veranderde, wordt overgeslagen (tenzij --force). "
                                   "Een kernel die stopt of blijft hangen krijgt één nieuwe poging. Uitgang 0: alles "
                                   "gelukt of overgeslagen; 1: een of meer runs mislukt; 2: geweigerd (een andere "
                                   "batch schrijft dezelfde set) of foute invoer; 130: afgebroken. Met --cluster "
                                   "wordt elke set een taak op een Dask-cluster (docs/cluster/README.md).")
    b.add_argument("parameters", nargs="+", help="parameterbestanden of patronen, bijv. parameters/*.yaml")
    b.add_argument("--jobs", "-j", type=int, default=1,
                   help="hoeveel runs tegelijk (standaard 1; met --cluster local: het aantal workers)")
    b.add_argument("--cluster", metavar="local|tcp://HOST:8786",
                   help="elke set een taak op Dask: 'local' start een LocalCluster op deze computer, een adres "
                        "gebruikt een bestaande scheduler (projectmap en outputs op gedeelde opslag, zelfde "
                        "Python-omgeving; zie docs/cluster/README.md). Zonder: lokale processen.")
    b.add_argument("--timeout", type=float, default=3600,
                   help="maximale duur van één run in seconden, laden inbegrepen (standaard 3600; 0 = geen)")
    b.add_argument("--force", action="store_true", help="ook ongewijzigde sets opnieuw draaien")
    b.add_argument("--outputs", default="outputs", help="map voor de runs (standaard: outputs)")
    b.add_argument("--log", help="schrijf het verloop (met tijden) en het overzicht ook naar dit bestand (aanvullen)")
    b.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    b.set_defaults(func=_cmd_batch)

    h = sub.add_parser("runs", help="toon de geschiedenis van de runs (status, duur, vingerafdrukken van de invoer)")
    h.add_argument("set", nargs="?", help="alleen deze parameterset (standaard: alle)")
    h.add_argument("--outputs", default="outputs", help="map met de runs (standaard: outputs)")
    h.set_defaults(func=_cmd_runs)

    v = sub.add_parser("validate", help="controleer een zorgregistratie (CSV of Excel) en toon elk probleem per rij",
                       description="Controleert een export van de zorgregistratie. Uitgang 0: geen fouten "
                                   "(hooguit waarschuwingen); 2: fouten die een run laten stoppen.")
    v.add_argument("records", help="de export: .csv (; , tab) of .xlsx")
    v.add_argument("--parameters", "-p", help="parameterbestand: kolomkoppeling, gebieden en productlijst daaruit")
    v.add_argument("--columns", help="kolomkoppeling: YAML-bestand {ons_veld: kolomkop} of client_id=ClientNr,start=Begin")
    v.add_argument("--report", help="schrijf het rapport ook naar dit bestand (.csv of .md)")
    v.add_argument("--max-rows", type=int, default=20, help="hoeveel rijnummers per soort probleem (standaard 20)")
    v.set_defaults(func=_cmd_validate)

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

    s = sub.add_parser("serve", help="start de app voor belanghebbenden (Voila) op de laatste geslaagde run")
    s.add_argument("--host", default="127.0.0.1", help="adres (standaard 127.0.0.1: alleen deze computer)")
    s.add_argument("--port", type=int, default=8866, help="poort (standaard 8866)")
    s.add_argument("--outputs", default="outputs", help="map met de runs (standaard: outputs)")
    s.add_argument("--set", default="demo", help="parameterset die de app toont (standaard: demo)")
    s.set_defaults(func=_cmd_serve)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"Fout: {exc.render()}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("Afgebroken.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
