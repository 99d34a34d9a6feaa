"""The `workbench` command (help and messages in Dutch, argparse's own texts included)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import paths
from .errors import ParameterError, WorkbenchError

# argparse's own texts (gettext message ids, Python 3.10-3.13) in Dutch.
_DUTCH = {
    "usage: ": "gebruik: ",
    "positional arguments": "argumenten",
    "options": "opties",
    "optional arguments": "opties",
    "show this help message and exit": "toon deze hulp en stop",
    "show program's version number and exit": "toon het versienummer en stop",
    "%(prog)s: error: %(message)s\n": "%(prog)s: fout: %(message)s\n",
    "the following arguments are required: %s": "deze argumenten ontbreken: %s",
    "unrecognized arguments: %s": "onbekende argumenten: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "ongeldige keuze: %(value)r (kies uit %(choices)s)",
    "invalid %(type)s value: %(value)r": "ongeldige waarde (verwacht: %(type)s): %(value)r",
    "expected one argument": "verwacht één waarde",
    "expected at most one argument": "verwacht hooguit één waarde",
    "expected at least one argument": "verwacht ten minste één waarde",
    "expected %s argument": "verwacht %s waarde",
    "expected %s arguments": "verwacht %s waarden",
    "ambiguous option: %(option)s could match %(matches)s": "dubbelzinnige optie: %(option)s kan zijn: %(matches)s",
    "one of the arguments %s is required": "een van deze argumenten is verplicht: %s",
    "not allowed with argument %s": "niet samen met argument %s",
    "ignored explicit argument %r": "genegeerd: %r",
    "unexpected option string: %s": "onverwachte optie: %s",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s: %(message)s",
}


@contextmanager
def _in_dutch():
    """argparse translates its texts with gettext at the moment it uses them; answer in Dutch meanwhile."""
    old = argparse._, argparse.ngettext
    argparse._ = lambda s: _DUTCH.get(s, s)
    argparse.ngettext = lambda s, p, n: _DUTCH.get(s if n == 1 else p, s if n == 1 else p)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = old


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help, usage and errors are Dutch throughout."""

    def __init__(self, *args, **kwargs):
        with _in_dutch():
            super().__init__(*args, **kwargs)

    def parse_known_args(self, *args, **kwargs):
        with _in_dutch():
            return super().parse_known_args(*args, **kwargs)

    def parse_args(self, *args, **kwargs):
        with _in_dutch():
            return super().parse_args(*args, **kwargs)

    def error(self, message):
        with _in_dutch():
            super().error(message)

    def format_help(self):
        with _in_dutch():
            return super().format_help()

    def format_usage(self):
        with _in_dutch():
            return super().format_usage()


def _number(kind, name):
    def convert(text):
        return kind(text)

    convert.__name__ = name  # shown in argparse's message for a wrong value
    return convert


_INT, _FLOAT = _number(int, "geheel getal"), _number(float, "getal")


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
                         lock_held=args.lock_held, kernel_name=args.kernel, pdf=not args.geen_pdf)
        except RunFailed as exc:
            _write_result(args.result_file, {"status": "failed", "kind": exc.kind, "run_id": exc.run_id,
                                             "message": exc.message, "where": exc.where})
            raise
        except WorkbenchError as exc:  # refused before anything ran: bad parameters or input data
            _write_result(args.result_file, {"status": "failed", "kind": "input", "run_id": None,
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
        from .formatting import number
        print(f"✓ {result.name}: run {result.run_id} klaar in {number(result.seconds, 1)} s → {result.path}")
        for name in sorted(sizes):
            if name.endswith((".html", ".gpkg")):
                print(f"    {name:<40} {sizes[name] / 1024:8.0f} kB")
    return status


def _cmd_batch(args) -> int:
    import glob

    from .batch import exit_status, run_batch, summary

    files = []
    for pattern in args.parameters:  # a pattern the shell did not expand (cron, quotes) is expanded here
        matches = sorted(glob.glob(str(paths.in_project(pattern)))) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise ParameterError("geen parameterbestanden gevonden", where=pattern,
                                 hint="controleer het patroon, bijv. parameters/*.yaml")
        files.extend(matches)
    t0 = time.time()
    try:
        items = run_batch(files, args.outputs, jobs=args.jobs, timeout=args.timeout or None, force=args.force,
                          progress=not args.quiet, log=args.log, cluster=args.cluster, pdf=args.pdf)
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

    folder = demo.ensure_demo(paths.in_project(args.folder) if args.folder else None, force=args.force)
    print(f"Demoregio (fictief) staat in {folder}")
    return 0


INIT_README = """# MMR workbench: werkmap

Een werkmap (projectmap) van de MMR workbench. Alle opdrachten werken vanuit deze map (of geef de map op
met `workbench --project MAP ...` of de omgevingsvariabele `MMR_PROJECT`).

```bash
workbench run parameters/demo.yaml     # de fictieve demoregio: notebooks, kaarten, tabellen.xlsx, wijkprofielen
workbench serve                        # de app op http://localhost:8866/ (laatste geslaagde run)
workbench batch 'parameters/*.yaml'    # alle parametersets, met overzicht
workbench runs                         # de geschiedenis van de runs
```

| map | inhoud |
|---|---|
| `parameters/` | de parametersets (gemeente, jaar, bronnen); `voorbeelden/` toont echte gemeenten |
| `verhalen/` | het verhaal achter de cijfers: `<gemeentecode>.yaml`, per wijkcode een `verhaal` |
| `notebooks/` | (optioneel) eigen notebooks; een notebook met dezelfde naam gaat voor dat van de workbench |
| `outputs/` | de runs: `outputs/<set>/<run-id>/`, `latest` wijst naar de laatste geslaagde |
| `cache/` | gedownloade CBS- en PDOK-bestanden (`workbench fetch`) |

Paden in een parameterbestand zijn relatief aan de map van dat bestand. Wat deze map niet heeft (de
notebooks, de indicatorcatalogus, de productlijst, de resultatenmatrix) komt uit het geïnstalleerde pakket;
een eigen `parameters/indicators.yaml`, `parameters/producten.yaml` of `notebooks/` gaat daarvoor.

Eigen gemeente: kopieer een voorbeeld uit `parameters/voorbeelden/` naar `parameters/` en pas naam, gemeente,
jaar en bronnen aan. Met `statistics: cbs` en `geometry: pdok` haalt `workbench fetch --gemeente GM0518
--year 2023` de open data op; eigen bestanden zet je in `data/` (in het parameterbestand: `../data/...`).

Publiceer alleen wat in `outputs/` staat: de zorgregistratie en de cache blijven op deze computer.
"""

INIT_GITIGNORE = "outputs/\ncache/\ngeodata/\n"


def _cmd_init(args) -> int:
    """A new project folder: the demo parameter set, examples for real gemeenten, verhalen/, a Dutch README."""
    target = paths.in_project(args.map)
    if target.exists() and not target.is_dir():
        raise ParameterError("bestaat al en is geen map", where=str(target), hint="kies een andere naam")
    examples = sorted(paths.package_file("parameters", "examples").glob("*.yaml"))
    files = {Path("README.md"): INIT_README, Path(".gitignore"): INIT_GITIGNORE,
             Path("parameters", "demo.yaml"): paths.package_file("parameters", "demo.yaml").read_text(encoding="utf-8"),
             **{Path("parameters", "voorbeelden", e.name): e.read_text(encoding="utf-8") for e in examples}}
    existing = [str(target / f) for f in files if (target / f).exists()]
    if existing:
        raise ParameterError(f"de map bevat al {', '.join(existing)}; er is niets geschreven", where=str(target),
                             hint="kies een nieuwe of lege map")
    for rel, text in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
    for folder in ("verhalen", "outputs"):
        (target / folder).mkdir(exist_ok=True)
    print(f"Werkmap gemaakt: {target}")
    print(f"  cd {target}\n  workbench run parameters/demo.yaml\n  workbench serve")
    return 0


def _parse_columns(spec: str | None) -> dict[str, str]:
    """--columns: a YAML file {our_field: their_header} or 'client_id=ClientNr,start=Begindatum'."""
    if not spec:
        return {}
    path = paths.in_project(spec)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        from .reading import read_yaml

        if not path.exists():
            raise ParameterError("kolomkoppeling niet gevonden", where=spec)
        data = read_yaml(path, what="kolomkoppeling") or {}
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
    from .errors import DataError
    from .params import GEMEENTE_CODE
    from .sources import cbs, net, pdok

    if not args.gemeente and not args.reference:
        raise DataError("noem de gemeente(n) of de referentie", where="workbench fetch",
                        hint="bijv. workbench fetch --gemeente GM0518 --year 2023, of --reference nederland --year 2023")
    bad = [g for g in args.gemeente if not GEMEENTE_CODE.match(g)]
    if bad:
        raise DataError(f"{', '.join(bad)} is geen CBS-gemeentecode (vorm GM + 4 cijfers, bijv. GM0518)",
                        where="--gemeente")
    if args.cache:
        os.environ[paths.ENV_CACHE] = str(Path(args.cache).resolve())
    gemeenten = sorted(args.gemeente)
    cbs.table_id(args.year)  # an unknown year is an error before anything is tried
    done, manual, problems = [], [], []
    jobs = [(label, lambda m=module: m.fetch(gemeenten, args.year, offline=args.offline, force=args.force),
             lambda m=module: m.manual_instructions(gemeenten, args.year))
            for label, module in (("statistiek", cbs), ("geometrie", pdok))] if gemeenten else []
    if args.reference:  # the national KWB rows for the risk model's reference (risk.reference: nederland)
        jobs.append(("referentie (heel Nederland)",
                     lambda: cbs.fetch_reference(args.year, offline=args.offline, force=args.force),
                     lambda: cbs.reference_instructions(args.year)))
    for label, get, instructions in jobs:
        try:
            path = get()
            done.append(f"{label}: {path}")
        except net.OfflineMissing as exc:
            manual.append(exc.instructions)
        except net.Unreachable as exc:
            problems.append(f"{label}: {exc.where}: {exc.message}")
            manual.append(instructions())
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


PROJECT_HELP = ("projectmap met parameters/, outputs/, cache/ (standaard: de huidige map, of MMR_PROJECT); "
                "paden op de opdrachtregel zijn relatief aan deze map")
PATH_ARGS = ("outputs", "log", "records", "report", "cache", "folder")  # resolved in the project folder


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="workbench", description="MMR workbench: wijkrisicokaarten voor zorggebruik en zorgkosten.",
                epilog="Hulp bij een opdracht: workbench OPDRACHT --help")
    p.add_argument("--project", metavar="MAP", help=PROJECT_HELP)
    common = _Parser(add_help=False)  # --project may also follow the command
    common.add_argument("--project", metavar="MAP", default=argparse.SUPPRESS, help=PROJECT_HELP)
    sub = p.add_subparsers(dest="command", required=True, title="opdrachten", metavar="OPDRACHT")

    def command(name, **kw):
        return sub.add_parser(name, parents=[common], **kw)

    i = command("init", help="maak een nieuwe werkmap met voorbeeldparameters en een korte README",
                description="Maakt MAP met parameters/demo.yaml, voorbeelden voor echte gemeenten, verhalen/ en "
                            "een korte README. Schrijft niets als een van die bestanden al bestaat.")
    i.add_argument("map", metavar="MAP", help="de nieuwe werkmap, bijv. mijn-regio")
    i.set_defaults(func=_cmd_init)

    r = command("run", help="voer de notebooks van een of meer parametersets uit (papermill)")
    r.add_argument("parameters", metavar="PARAMETERBESTAND", nargs="+", help="parameterbestand(en), bijv. parameters/demo.yaml")
    r.add_argument("--outputs", metavar="MAP", default="outputs", help="map voor de runs (standaard: outputs)")
    r.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    r.add_argument("--force", action="store_true",
                   help="ook draaien als parameters, invoer en notebooks sinds de laatste geslaagde run gelijk zijn")
    r.add_argument("--timeout", metavar="SECONDEN", type=_INT, default=900,
                   help="maximale duur van één notebookcel in seconden (standaard 900)")
    r.add_argument("--geen-pdf", action="store_true",
                   help="wijkprofielen alleen als HTML, zonder PDF (scheelt het starten van Chromium)")
    r.add_argument("--kernel", default="python3", help=argparse.SUPPRESS)
    r.add_argument("--lock-held", action="store_true", help=argparse.SUPPRESS)  # the batch holds the set's lock
    r.add_argument("--result-file", help=argparse.SUPPRESS)  # how the run ended, for the batch
    r.set_defaults(func=_cmd_run)

    b = command("batch", help="voer veel parametersets uit, een aantal tegelijk, met time-out en overzicht",
                description="Voert elke parameterset uit in een eigen proces (papermill). Een set die sinds de "
                            "laatste geslaagde run niet veranderde, wordt overgeslagen (tenzij --force). "
                            "Een kernel die stopt of blijft hangen krijgt één nieuwe poging. Uitgang 0: alles "
                            "gelukt of overgeslagen; 1: een of meer runs mislukt; 2: geweigerd (een andere "
                            "batch schrijft dezelfde set) of foute invoer; 130: afgebroken. Met --cluster "
                            "wordt elke set een taak op een Dask-cluster (docs/cluster/README.md).")
    b.add_argument("parameters", metavar="PARAMETERBESTAND", nargs="+", help="parameterbestanden of patronen, bijv. parameters/*.yaml")
    b.add_argument("--jobs", "-j", metavar="N", type=_INT, default=1,
                   help="hoeveel runs tegelijk (standaard 1; met --cluster local: het aantal workers)")
    b.add_argument("--cluster", metavar="local|tcp://HOST:8786",
                   help="elke set een taak op Dask: 'local' start een LocalCluster op deze computer, een adres "
                        "gebruikt een bestaande scheduler (projectmap en outputs op gedeelde opslag, zelfde "
                        "Python-omgeving; zie docs/cluster/README.md). Zonder: lokale processen.")
    b.add_argument("--timeout", metavar="SECONDEN", type=_FLOAT, default=3600,
                   help="maximale duur van één run in seconden, laden inbegrepen (standaard 3600; 0 = geen)")
    b.add_argument("--force", action="store_true", help="ook ongewijzigde sets opnieuw draaien")
    b.add_argument("--outputs", metavar="MAP", default="outputs", help="map voor de runs (standaard: outputs)")
    b.add_argument("--log", metavar="BESTAND", help="schrijf het verloop (met tijden) en het overzicht ook naar dit bestand (aanvullen)")
    b.add_argument("--quiet", action="store_true", help="geen voortgangsbalk")
    b.add_argument("--pdf", action="store_true",
                   help="ook de wijkprofielen als PDF (Chromium; enkele seconden per set); standaard alleen HTML")
    b.set_defaults(func=_cmd_batch)

    h = command("runs", help="toon de geschiedenis van de runs (status, duur, vingerafdrukken van de invoer)")
    h.add_argument("set", metavar="SET", nargs="?", help="alleen deze parameterset (standaard: alle)")
    h.add_argument("--outputs", metavar="MAP", default="outputs", help="map met de runs (standaard: outputs)")
    h.set_defaults(func=_cmd_runs)

    v = command("validate", help="controleer een zorgregistratie (CSV of Excel) en toon elk probleem per rij",
                description="Controleert een export van de zorgregistratie. Uitgang 0: geen fouten "
                            "(hooguit waarschuwingen); 2: fouten die een run laten stoppen.")
    v.add_argument("records", metavar="EXPORT", help="de export: .csv (; , tab) of .xlsx")
    v.add_argument("--parameters", "-p", metavar="PARAMETERBESTAND", help="parameterbestand: kolomkoppeling, gebieden en productlijst daaruit")
    v.add_argument("--columns", metavar="KOPPELING", help="kolomkoppeling: YAML-bestand {ons_veld: kolomkop} of client_id=ClientNr,start=Begin")
    v.add_argument("--report", metavar="BESTAND", help="schrijf het rapport ook naar dit bestand (.csv of .md)")
    v.add_argument("--max-rows", metavar="N", type=_INT, default=20, help="hoeveel rijnummers per soort probleem (standaard 20)")
    v.set_defaults(func=_cmd_validate)

    f = command("fetch", help="download CBS-statistiek en PDOK-geometrie van gemeente(n) en jaar naar de cache")
    f.add_argument("--gemeente", metavar="GEMEENTE", nargs="+", default=[], help="CBS-gemeentecode(s), bijv. GM0518")
    f.add_argument("--reference", choices=["nederland"],
                   help="ook de landelijke referentie van het risicomodel: alle wijken en buurten van dat jaar")
    f.add_argument("--year", metavar="JAAR", required=True, type=_INT, help="jaar van de Kerncijfers en de wijk- en buurtkaart")
    f.add_argument("--offline", action="store_true", help="niets downloaden; alleen controleren wat in de cache staat")
    f.add_argument("--cache", metavar="MAP", help="cachemap (standaard cache/ in de projectmap, of MMR_CACHE)")
    f.add_argument("--force", action="store_true", help="opnieuw downloaden, ook als het al in de cache staat")
    f.set_defaults(func=_cmd_fetch)

    d = command("demo", help="maak (opnieuw) de fictieve demoregio in geodata/demo van de projectmap",
                description="Zonder --force: meldt waar de demoregio staat (het pakket brengt hem mee) en maakt hem "
                            "alleen als die kopie niet bij deze versie past.")
    d.add_argument("--folder", metavar="MAP", help="andere map dan geodata/demo")
    d.add_argument("--force", action="store_true", help="ook opnieuw maken als hij er al is")
    d.set_defaults(func=_cmd_demo)

    s = command("serve", help="start de app voor belanghebbenden (Voila) op de laatste geslaagde run")
    s.add_argument("--host", metavar="ADRES", default="127.0.0.1", help="adres (standaard 127.0.0.1: alleen deze computer)")
    s.add_argument("--port", metavar="POORT", type=_INT, default=8866, help="poort (standaard 8866)")
    s.add_argument("--outputs", metavar="MAP", default="outputs", help="map met de runs (standaard: outputs)")
    s.add_argument("--set", metavar="SET", default="demo", help="parameterset die de app toont (standaard: demo)")
    s.set_defaults(func=_cmd_serve)
    return p


def _use_project(args) -> None:
    """--project: every later path (here, in the run processes and kernels) is resolved in that folder."""
    project = getattr(args, "project", None)
    if project:
        folder = Path(project).expanduser()
        if not folder.is_dir():
            raise ParameterError("projectmap bestaat niet", where=str(folder),
                                 hint="maak hem met `workbench init MAP`, of controleer het pad")
        os.environ[paths.ENV_PROJECT] = os.path.abspath(folder)
    for name in PATH_ARGS:
        if getattr(args, name, None):
            setattr(args, name, str(paths.in_project(getattr(args, name))))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _use_project(args)
        return args.func(args)
    except WorkbenchError as exc:
        print(f"Fout: {exc.render()}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # disk full, read-only outputs/, no permission: say what happened, no traceback
        from .errors import os_error

        print(f"Fout: {os_error(exc).render()}", file=sys.stderr)
        return 2
    except MemoryError:
        print("Fout: het geheugen is op (invoer te groot?)\n  Oplossing: beperk de invoer tot de gemeenten van de "
              "parameterset of gebruik een machine met meer geheugen", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Afgebroken.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
