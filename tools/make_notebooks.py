"""Writes the analysis notebooks in notebooks/ (run once after editing the cell texts here).

The notebooks are committed; this script keeps their structure consistent (a tagged parameters cell,
Dutch narrative, calls into workbench only).
"""
import sys
from pathlib import Path

import nbformat as nbf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from workbench.params import OutcomeSettings, RiskSettings  # noqa: E402  (defaults stated in the text come from here)

ROBUST = "aan" if RiskSettings().robust else "uit"
FOLLOWUP_DAYS = OutcomeSettings().followup_days

HERE = Path(__file__).resolve().parents[1] / "notebooks"
PARAMS = '''parameter_file = "../parameters/demo.yaml"  # het parameterbestand (gemeente, jaar, bronnen)
output_dir = None  # map waarin kaarten worden bewaard; `workbench run` vult dit in'''
# In a run the figures come from what `workbench run` computed once (output_dir); opened by hand, from the sources.
LOAD = '''import workbench as wb

ds = wb.load_run(parameter_file, output_dir)
wb.report.header(ds)'''


def notebook(name, cells):
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = []
    for kind, text, *tags in cells:
        cell = nbf.v4.new_markdown_cell(text) if kind == "md" else nbf.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = list(tags)
        out.append(cell)
    nb.cells = out
    for i, c in enumerate(nb.cells):
        c["id"] = f"{name[:2]}-{i:02d}"
    nbf.write(nb, HERE / f"{name}.ipynb")


notebook("01_indicatoren", [
    ("md", "# Indicatoren per wijk en buurt\n\n"
           "De *Monitor Maatschappelijk Resultaat* ordent de cijfers in vijf clusters: **1. het kind zelf**, "
           "**2. de thuissituatie**, **3. kansen en mogelijkheden**, **4. interventies** (jeugdhulp, Wmo) en "
           "**5. maatschappelijk resultaat**. De eerste drie zijn de omstandigheden waarin kinderen opgroeien "
           "en volwassenen zich redden; het vierde cluster is de hulp die wordt ingezet; het vijfde het effect.\n\n"
           "Dit notebook zet elke wijk naast haar gemeente: **+** betekent een hogere waarde dan de gemeente, "
           "**−** een lagere, en alleen waar dat verschil groter is dan toeval (het 95%-betrouwbaarheidsinterval "
           "van de wijk sluit de gemeentewaarde uit). Cijfers over te weinig mensen zijn **onderdrukt** "
           "en staan als zodanig in tabel en kaart, nooit als nul."),
    ("code", PARAMS + '\nmap_indicators = ["sociaal_minimum", "eenoudergezinnen", "bijstand", "laag_opgeleid", "jeugdhulp", "wmo"]  # kaarten om te bewaren', "parameters"),
    ("code", LOAD),
    ("md", "## De wijken naast hun gemeente\n\n"
           "Per wijk de waarde van elke indicator, met **(+)** of **(−)** waar de wijk buiten toeval afwijkt van "
           "haar gemeente (de eerste rij per gemeente), en **(=)** waar het verschil binnen toeval valt: *geen verschil*. "
           "Zonder teken: niet te toetsen. Rood: ongunstiger, blauw: gunstiger — wat gunstig is "
           "hangt af van de indicator (een hoger inkomen is gunstig, meer huishoudens rond het sociaal minimum "
           "niet). Voor gemiddelden zoals inkomen en afstand bestaat geen toets; daar staat alleen de waarde."),
    ("code", "wb.report.style_comparison(wb.report.comparison_table(ds), ds)"),
    ("md", "## Kaarten\n\n"
           "Voor een aantal kernindicatoren twee kaarten: de **waarde** (in vijf even grote klassen, kwintielen) en "
           "de **vergelijking met de gemeente**. Beweeg met de muis over een wijk voor naam, waarde, "
           "betrouwbaarheidsinterval en status. Grijze gebieden zijn onderdrukt of hebben geen gegevens. "
           "De kaarten worden ook als losse HTML-bestanden bewaard; die openen zonder server in elke browser. "
           "Is voor een indicator geen enkel gebied te tonen (alles onderdrukt of niet geleverd), dan wordt er geen "
           "grijze kaart gemaakt; er staat dan in één zin waarom."),
    ("code", "wb.report.save_indicator_maps(ds, map_indicators, output_dir)\n"
             "wb.report.show_indicator_map(ds, \"sociaal_minimum\", mode=\"comparison\")"),
    ("code", "wb.report.show_indicator_map(ds, \"eenoudergezinnen\", mode=\"value\")"),
    ("md", "## Ontwikkeling in de tijd\n\n"
           "Hoe veranderden de kernindicatoren over de geladen jaren? CBS deelt wijken en buurten elk jaar opnieuw in: "
           "een verandering is alleen eerlijk voor een gebied dat in alle jaren met **dezelfde code en dezelfde grens** "
           "bestaat. Bij andere gebieden staat *niet vergelijkbaar*. Is er maar één jaar geladen, dan zegt het notebook "
           "dat, en is er geen trend. Cijfers uit de eigen zorgregistratie zijn er vaak maar over één jaar."),
    ("code", "wb.report.trend(ds, map_indicators)"),
    ("md", "## Buurten\n\nDezelfde vergelijking een niveau dieper. Buurten zijn klein: hier worden meer cijfers "
           "onderdrukt en zijn de intervallen breder, zodat minder verschillen als + of − tellen."),
    ("code", "wb.report.style_comparison(wb.report.comparison_table(ds, level=\"buurt\", clusters=(1, 2, 4)), ds)"),
    ("md", "## Zo lees je dit niet\n\n"
           "- Een **+** is een signaal, geen oordeel: het verhaal achter de cijfers (*tellen én vertellen*) komt van "
           "wijkteams, aanbieders en inwoners.\n"
           "- **Geen verschil** betekent niet dat er geen verschil is, maar dat het niet groter is dan toeval bij dit "
           "aantal inwoners.\n"
           "- Aandelen uit CBS-percentages (laag inkomen, sociaal minimum) zijn omgerekend naar aantallen; CBS rondt "
           "die af, dus de intervallen zijn een benadering."),
])

notebook("02_risicokaarten", [
    ("md", "# Risicokaarten: zorggebruik tegen de verwachting\n\n"
           "Een wijk met veel jeugdhulp is niet vanzelf een wijk waar iets misgaat: misschien wonen er veel gezinnen "
           "met een laag inkomen of eenoudergezinnen, en is veel hulp dan precies wat je verwacht. Dit notebook "
           "scheidt **hoog omdat het risico hoog is** van **hoog boven wat het risico verklaart**.\n\n"
           "Hoe: een telmodel (Poisson-regressie met de bevolking als blootstelling) schat op een referentieset van "
           "gebieden hoe het zorggebruik samenhangt met risicofactoren uit de clusters 1 tot en met 3. Daarmee krijgt elk "
           "gebied een **verwacht** aantal cliënten. De verhouding **waargenomen / verwacht** (W/V) met haar "
           "95%-interval zegt of een gebied **hoger dan verwacht**, **lager dan verwacht** of **niet te "
           "onderscheiden** is.\n\n"
           "**Wat 'verwacht' betekent, hangt af van de referentie** (`risk.reference`). Met `gemeente` of `region` "
           "vergelijk je een wijk met wijken uit dezelfde gemeente of regio. Met `nederland` is verwacht **wat wijken "
           "met dezelfde kenmerken elders in Nederland laten zien**: het model wordt geschat op de wijken (of buurten) "
           "van het hele land uit een aparte bron (`sources.reference`, standaard de landelijke cijfers die "
           "`workbench fetch --reference nederland` ophaalt). Met `peer` zijn dat de gemeenten die je zelf noemt, of "
           "gemeenten met dezelfde mate van stedelijkheid. Hieronder staat per model hoeveel gebieden en gemeenten de "
           "referentie telt. De referentiegebieden zelf worden nergens getoond: je ziet alleen je eigen gemeente(n).\n\n"
           "Zonder `youth_factors` of `wmo_factors` gebruikt het model **standaard risicofactoren** die elke "
           "KWB-jaargang sinds 2019 levert (gekozen op echte CBS-cijfers; zie `benchmarks/risk_defaults.py`). Ontbreekt "
           "er een in de gegevens, dan wordt die weggelaten en staat dat erbij."),
    ("code", PARAMS, "parameters"),
    ("code", LOAD),
    ("md", "## Jeugdhulp: het model\n\nDe coëfficiënten zeggen hoeveel het verwachte gebruik stijgt per eenheid "
           "van een risicofactor (bijvoorbeeld per procentpunt huishoudens rond het sociaal minimum), met een "
           "95%-interval. *Verklaarde deviantie* zegt hoeveel van de verschillen tussen gebieden de risicofactoren "
           "verklaren; *overdispersie* boven 1 betekent meer spreiding dan toeval alleen, en verbreedt de intervallen. "
           "Overdispersie en verklaarde deviantie worden geschat op de referentiegebieden waarvan het aantal "
           "gepubliceerd is: de verborgen (kleine) aantallen tellen daarin niet mee, zodat ze niet terug te rekenen "
           "zijn. Waarschuwingen in rood zeggen wanneer het model te weinig houvast geeft.\n\n"
           f"**Robuuste schatting** (`risk.robust`, standaard {ROBUST}): staat deze aan, dan wordt het model twee keer geschat. Gebieden die na "
           "de eerste schatting buiten de 99,8%-grenzen van de trechter vallen, tellen bij de tweede schatting niet "
           "mee, zodat een paar sterk afwijkende gebieden de verwachting van alle andere niet bepalen. Ze worden wel "
           "beoordeeld, met de tweede schatting. Het blauwe kader noemt welke gebieden buiten de referentie bleven; "
           "de cijfers van de eerste schatting worden niet getoond (ze hangen ook af van verborgen aantallen). "
           "Vallen er meer dan 10% buiten, dan blijft de eerste schatting staan: dan ontbreken eerder risicofactoren "
           "dan dat er een paar uitschieters zijn."),
    ("code", "wb.report.model_report(ds, \"jeugd\")"),
    ("md", "## Risicokaart jeugdhulp\n\nRood: meer jeugdhulp dan de risicofactoren doen verwachten, blauw: minder. "
           "Een **dikke rand** markeert gebieden waar het verschil buiten het 95%-interval valt."),
    ("code", "if wb.report.model_available(ds, \"jeugd\"):\n"
             "    kaart = wb.report.risk_map(ds, \"jeugd\")\n"
             "    wb.report.save(kaart, output_dir, \"risicokaart_jeugdhulp.html\")\n"
             "    display(kaart)\n"
             "    display(wb.report.risk_table(ds, \"jeugd\"))"),
    ("md", "### Trechterplot jeugdhulp\n\nElke stip is een wijk: links de kleine, rechts de grote. Hoe kleiner een "
           "wijk, hoe meer W/V door toeval schommelt; daarom wijden de grenzen naar links uit. Alleen stippen buiten "
           "de stippellijnen wijken meer af dan toeval. Als *gesmoothed* erbij staat, zijn kleine wijken met "
           "empirisch Bayes naar het gemiddelde getrokken, zodat een kleine wijk niet door toeval bovenaan staat."),
    ("code", "if wb.report.model_available(ds, \"jeugd\"):\n"
             "    display(wb.report.funnel(ds, \"jeugd\", output_dir))\n"
             "    if ds.params.risk.smoothing:\n"
             "        display(wb.report.funnel(ds, \"jeugd\", output_dir, smoothed=True))"),
    ("md", "## Wmo: het model"),
    ("code", "wb.report.model_report(ds, \"wmo\")"),
    ("md", "## Risicokaart en trechterplot Wmo"),
    ("code", "if wb.report.model_available(ds, \"wmo\"):\n"
             "    kaart = wb.report.risk_map(ds, \"wmo\")\n"
             "    wb.report.save(kaart, output_dir, \"risicokaart_wmo.html\")\n"
             "    display(kaart)\n"
             "    display(wb.report.risk_table(ds, \"wmo\"))\n"
             "    display(wb.report.funnel(ds, \"wmo\", output_dir))\n"
             "    if ds.params.risk.smoothing:\n"
             "        display(wb.report.funnel(ds, \"wmo\", output_dir, smoothed=True))"),
    ("md", "## Samengestelde risicoscore per cluster\n\n"
           "Los van het zorggebruik: hoe staan de wijken ervoor op de risicofactoren zelf? Per indicator krijgt elke "
           "wijk haar **percentiel** binnen de referentie (100 = het hoogste risico; bij inkomen telt juist een laag "
           "inkomen als risico). Per cluster is de score het gemiddelde van die percentielen; het totaal weegt de "
           "clusters met de gewichten uit het parameterbestand. *Drijvende indicatoren* zijn de drie die het meest "
           "bijdragen; *indicatoren ≥ P90* noemt elke indicator waarop de wijk bij de hoogste 10% hoort, zodat een "
           "gemiddelde een uitschieter niet verbergt. Wijken met te weinig inwoners krijgen geen score (*te klein*)."),
    ("code", "kaart = wb.report.composite_map(ds)\nwb.report.save(kaart, output_dir, \"risicoscore.html\")\ndisplay(kaart)\n"
             "wb.formatting.styled(wb.report.composite_table(ds), {'rang': 0}, default=1)"),
    ("md", "## Zo lees je dit niet\n\n"
           "- **Hoger dan verwacht** is geen oordeel over een wijkteam of aanbieder: het model kent alleen de "
           "risicofactoren die erin zitten. Wat ontbreekt (een instelling in de wijk, een actieve school, een "
           "nieuwbouwwijk) verklaart vaak het verschil.\n"
           "- Kleine gebieden krijgen brede intervallen en zijn daarom vaak *niet te onderscheiden*; gebieden onder "
           "de onthullingsdrempel worden niet getoond.\n"
           "- Verwacht is relatief aan de referentieset: een hele regio die meer zorg gebruikt dan het land, valt "
           "hier niet op, tenzij de referentie Nederland is (`risk.reference: nederland`).\n"
           "- Een risicoscore is een rangorde binnen de referentie, geen kans: 80 betekent 'hoger dan 80% van de "
           "wijken', niet '80% risico'."),
])

notebook("03_zorgkosten", [
    ("md", "# Zorgkosten per wijk\n\n"
           "Waar gaat het geld voor jeugdhulp en Wmo naartoe? De kosten komen uit de **eigen zorgregistratie** van de "
           "gemeente (toewijzingen en declaraties). Die bevat gegevens over personen en blijft op de computer van de "
           "analist: hier worden alleen **optellingen per wijk** getoond, en een cijfer over minder cliënten dan de "
           "onthullingsdrempel wordt onderdrukt.\n\n"
           "De kosten van een traject tellen naar rato van zijn dagen in het jaar. *Kosten per jeugdige* deelt de "
           "jeugdhulpkosten door alle jeugdigen van 0 tot 18 jaar in de wijk (niet alleen wie hulp krijgt); "
           "*kosten per inwoner* doet hetzelfde voor de Wmo."),
    ("code", PARAMS, "parameters"),
    ("code", LOAD + "\nheeft_registratie = wb.report.needs_records(ds)"),
    ("md", "## Kosten jeugdhulp per jeugdige"),
    ("code", "if heeft_registratie:\n"
             "    kaart = wb.report.cost_map(ds, \"cost_jeugd_per_youth\")\n"
             "    wb.report.save(kaart, output_dir, \"kostenkaart_jeugd_per_jeugdige.html\")\n"
             "    display(kaart)"),
    ("md", "## Kosten Wmo per inwoner"),
    ("code", "if heeft_registratie:\n"
             "    kaart = wb.report.cost_map(ds, \"cost_wmo_per_inhabitant\")\n"
             "    wb.report.save(kaart, output_dir, \"kostenkaart_wmo_per_inwoner.html\")\n"
             "    display(kaart)"),
    ("md", "## Overzicht per wijk\n\nCliënten, kosten en kosten per cliënt per domein. *Onderdrukt* staat waar "
           "minder cliënten zijn dan de drempel, of waar een cijfer anders via de totalen te herleiden zou zijn "
           "(aanvullende onderdrukking)."),
    ("code", "if heeft_registratie:\n    display(wb.report.cost_overview_table(ds))"),
    ("md", "## Naar productcategorie\n\nWelke soorten hulp drijven de kosten per wijk? Jeugdhulp met verblijf en "
           "beschermd wonen zijn duur per cliënt en tellen bij kleine aantallen zwaar mee."),
    ("code", "if heeft_registratie:\n    display(wb.report.product_table(ds))"),
    ("md", "## Kosten tegen de verwachting\n\nDe verwachte kosten zijn het verwachte gebruik volgens het "
           "risicomodel (notebook 02) maal de kosten per verwachte cliënt in de hele referentie. *Kosten / verwacht* "
           "boven 1: meer geld per eenheid risico dan gemiddeld. Wijken met te weinig cliënten zijn weggelaten."),
    ("code", "if heeft_registratie:\n"
             "    for domein in (\"jeugd\", \"wmo\"):\n"
             "        if wb.report.model_available(ds, domein):\n"
             "            display(wb.formatting.styled(wb.report.expected_cost_table(ds, domein), {'kosten / verwacht': 2},\n"
             "                units={'kosten': 'euro', 'verwachte kosten': 'euro', 'verschil': 'euro'}))"),
    ("md", "## Zo lees je dit niet\n\n"
           "- Hoge kosten per jeugdige kunnen komen door een paar dure verblijfstrajecten: kijk altijd naar de "
           "productcategorieën.\n"
           "- Kosten zeggen niets over resultaat; daarvoor is cluster 5 (maatschappelijk resultaat)."),
])

# The Voila app (workbench serve): one layout from workbench.app; no narrative cells, Voila hides the code.
notebook("app", [
    ("code", "outputs = None  # map met de runs; None: $MMR_OUTPUTS (gezet door `workbench serve`) of outputs/\n"
             "parameter_set = None  # None: $MMR_SET of demo", "parameters"),
    ("code", "from workbench.app import launch\n\nlaunch(outputs, parameter_set)"),
])

notebook("04_verdeelmodel", [
    ("md", "# Verdeelmodel: het budget naar verwachte behoefte\n\n"
           "Een verdeelmodel voor schaarse middelen: hoeveel van het budget gaat naar elke wijk als je verdeelt naar wat "
           "de **risicofactoren** van de wijk doen verwachten, en niet naar wat er toevallig al gebruikt wordt? Zo krijgt "
           "een wijk met veel risico maar (nog) weinig hulp haar deel, en wordt een wijk niet beloond voor hoog gebruik "
           "dat het risico niet verklaart.\n\n"
           "Het model en de gewichten staan hieronder in woorden. Naast de gekozen weging staat een **wat-als**: een "
           "tweede weging uit het parameterbestand (`budget.alternative`), zodat het effect van een keuze zichtbaar is."),
    ("code", PARAMS, "parameters"),
    ("code", LOAD),
    ("md", "## Model, gewichten en verdeling"),
    ("code", "wb.report.allocation_page(ds, output_dir)"),
    ("md", "## Zo lees je dit niet\n\n"
           "- De verdeling volgt het risicomodel: waar dat model slecht past (zie notebook 02), is de verdeling even "
           "onzeker.\n"
           "- Verwachte behoefte is geen recht op zorg; het is een maat om middelen eerlijk te spreiden.\n"
           "- Bedragen tellen precies op tot het budget (hele centen, grootste overschotten)."),
])

notebook("05_resultaten", [
    ("md", "# Resultaten van resultaatgericht inkopen\n\n"
           "Gemeenten die zorg inkopen op resultaat (resultaatgebieden, interventieniveaus, een resultatenplan per "
           "inwoner) zeggen zelf dat het **monitoren van resultaten** de zwakke plek is: evaluaties ontbreken, "
           "herindicaties komen als verrassing, stabilisatie kon niet eens als resultaat worden vastgelegd en het gesprek "
           "met aanbieders mist gedeelde cijfers. Dit notebook maakt die cijfers uit de **eigen zorgregistratie** "
           "(cluster 5, maatschappelijk resultaat).\n\n"
           "- **Bereikt** = *behaald* of *stabilisatie*. Stabilisatie (behouden, verslechtering voorkomen) is een "
           "resultaat op zich en telt **nooit** als niet behaald.\n"
           "- Aandelen zijn van de trajecten die in het jaar zijn **beëindigd** en waarvan een resultaat is vastgelegd; "
           "het aandeel *zonder resultaat* staat ernaast.\n"
           "- Elk aandeel heeft een 95%-interval (Wilson). Cijfers over minder trajecten dan de onthullingsdrempel, "
           "of cijfers waaruit zo'n klein aantal te herleiden is, staan er als **onderdrukt** — nooit als nul."),
    ("code", PARAMS + "\naanbieder_pdf = True  # ook PDF-versies van de aanbiedersbladen (als Chromium er is)", "parameters"),
    ("code", LOAD + "\nheeft_registratie = wb.report.needs_records(ds)\n"
             "if heeft_registratie:\n    res = ds.findings.outcomes\n"
             "    for note in res.notes:\n        print('Let op:', note)"),
    ("md", "## De resultatenmatrix\n\nDe resultaatgebieden, of stabilisatie er het beoogde resultaat mag zijn, en de "
           "tarieven per interventieniveau (niveau 6 = crisis: kort van opzet). De matrix staat in een eigen bestand "
           "(`outcomes.matrix` in het parameterbestand), zodat de werkgroep hem kan aanpassen zonder code."),
    ("code", "if heeft_registratie:\n    display(wb.report.result_matrix(ds))"),
    ("md", "## Per resultaatgebied\n\nDe regio als geheel: hoeveel trajecten eindigden, met welk resultaat, hoe lang ze "
           "duurden tegen de geplande duur, hoe vaak cliënt of huishouden binnen 12 maanden terugkwam, en wat een traject "
           "en een bereikt resultaat kostte. *Terugkeer* wordt gemeten over de laatste periode die een heel jaar gevolgd is."),
    ("code", "if heeft_registratie:\n    print(wb.report.return_period_text(res))\n"
             "    display(wb.report.outcome_view(wb.outcomes.published_outcomes(res, 'regio')))\n"
             "    display(wb.report.outcome_view(wb.outcomes.published_outcomes(res, 'resultaatgebied'), res.matrix))"),
    ("md", "## Per interventieniveau\n\nHoe zwaarder het niveau, hoe minder vaak een resultaat *behaald* wordt en hoe vaker "
           "stabilisatie het resultaat is. Daarom kun je aanbieders niet zonder meer op hun ruwe aandelen vergelijken."),
    ("code", "if heeft_registratie:\n    display(wb.report.outcome_view(wb.outcomes.published_outcomes(res, 'resultaatgebied × niveau'), res.matrix))"),
    ("md", "## Aanbieders, gecorrigeerd voor hun mix\n\n"
           "Een aanbieder met veel lichte trajecten haalt vanzelf vaker een resultaat. Daarom krijgt elk traject de "
           "**verwachte** kans op een bereikt resultaat: het regiogemiddelde van zijn eigen resultaatgebied en "
           "interventieniveau (*indirecte standaardisatie*). Het verschil tussen het eigen aandeel en dat verwachte "
           "aandeel, met een 95%-interval, geeft het **oordeel**: + of − alleen als het interval de nul uitsluit. "
           "Het *ruwe* oordeel (eigen aandeel tegen het regiogemiddelde) staat ernaast om te laten zien wat de "
           "correctie doet. Let op: bij veel vergelijkingen tegelijk valt af en toe een + of − door toeval, en een grote "
           "aanbieder die achterblijft trekt het regiogemiddelde omlaag, zodat anderen in hetzelfde gebied iets gunstiger "
           "uitvallen."),
    ("code", "if heeft_registratie:\n    display(wb.report.comparison_view(wb.outcomes.published_comparison(res)))"),
    ("code", "if heeft_registratie:\n    display(wb.report.comparison_view(wb.outcomes.published_comparison(res, by_area=True), res.matrix))"),
    ("md", "## Per wijk\n\nHet aandeel bereikte resultaten per wijk van de cliënt (de kaart) en de tabel per resultaatgebied "
           "en wijk. Kleine wijken vallen vaak onder de drempel."),
    ("code", "if heeft_registratie:\n    kaart = wb.report.results_map(ds, 'share_bereikt')\n"
             "    wb.report.save(kaart, output_dir, 'resultatenkaart_bereikt.html')\n    display(kaart)"),
    ("code", "if heeft_registratie:\n    display(wb.report.outcome_view(wb.outcomes.published_outcomes(res, 'wijk')))"),
    ("md", "## Per resultaatgebied en wijk\n\nDe fijnste uitsplitsing die gepubliceerd wordt: de tabel voor wie wil "
           "doorzoeken. Hier is het meeste onderdrukt. Ook cijfers boven de drempel kunnen *onderdrukt* zijn: anders "
           "zou een verborgen cijfer terug te rekenen zijn uit een totaal min de getoonde delen (bijvoorbeeld een "
           "resultaatgebied min zijn andere wijken). Alle cijfers in dit notebook zijn die van `publish.gpkg` (laag "
           "`resultaten`), na die controle."),
    ("code", "if heeft_registratie:\n    d = wb.outcomes.published_outcomes(res, 'resultaatgebied × wijk')\n"
             "    print(f\"{d['trajecten'].notna().sum()} van {len(d)} combinaties met een gepubliceerd aantal trajecten\")\n"
             "    display(wb.report.outcome_view(d[d['trajecten'].notna()], res.matrix))"),
    ("md", "## Het gezin: stapeling\n\nResultaten horen net zo goed bij een gezin als bij één kind (*één gezin, één plan*). "
           "Een huishouden heeft **stapeling** als het op een dag twee of meer trajecten tegelijk heeft, of jeugdhulp en "
           "Wmo tegelijk. *Meerdere aanbieders* telt de aanbieders binnen het jaar. Per wijk: hoeveel huishoudens in zorg, "
           "welk deel met stapeling, hun kosten per huishouden in het jaar, en het aandeel bereikte resultaten van "
           "huishoudens met en zonder stapeling."),
    ("code", "if heeft_registratie:\n    display(wb.report.stapeling_view(res.stapeling_region))\n"
             "    display(wb.report.stapeling_view(res.stapeling))"),
    ("code", "if heeft_registratie:\n    kaart = wb.report.results_map(ds, 'share_stapeling')\n"
             "    wb.report.save(kaart, output_dir, 'stapelingskaart.html')\n    display(kaart)"),
    ("md", "## Signalen voor de werkgroep resultatenmatrix\n\n"
           "Afwijkingen die steeds terugkomen, geteld per resultaatgebied (aantallen onder de drempel onderdrukt). "
           "Zo zijn ze gedefinieerd:\n\n"
           "- **Herindicatie in hetzelfde resultaatgebied**: een traject eindigde in het jaar en dezelfde cliënt begon "
           f"binnen `followup_days` (standaard {FOLLOWUP_DAYS}) dagen opnieuw in hetzelfde resultaatgebied.\n"
           "- **Opschaling naar niveau 6 (crisis) en terug**: een traject op niveau 6 direct na een lager niveau in "
           "hetzelfde gebied (*opschaling*), en een traject op niveau 6 gevolgd door een lager niveau (*terug*). Niveau 6 "
           "hoort kort te zijn; veel trajecten op 6 zonder *terug* is een signaal.\n"
           "- **Beëindigd zonder (eind)evaluatie**: geen evaluatie of geen resultaat vastgelegd.\n"
           "- **Resultaat behaald, maar de zorg loopt door**: resultaat *behaald* en toch binnen `followup_days` dagen "
           "een nieuw traject in hetzelfde gebied.\n"
           "- **Ingeschaald op tarief in plaats van op resultaat**: een actief traject zonder resultaatgebied, met een "
           "code die niet in de matrix staat, op een niveau waarvoor de matrix geen tarief kent, of op het crisisniveau "
           "met een geplande duur langer dan de matrix toestaat (het crisistarief als tariefband gebruikt, zoals bij het "
           "omkatten naar niveau 6 terwijl niveau 4 paste)."),
    ("code", "if heeft_registratie:\n    wb.report.signal_tables(ds)"),
    ("md", "## Aanbiedersbladen\n\nVoor elke aanbieder een los blad (HTML, en PDF als Chromium beschikbaar is) voor het "
           "periodieke gesprek: de resultaten per resultaatgebied tegen de regio, gecorrigeerd voor de mix, met volumes, "
           "duur, terugkeer en kosten. Alleen optellingen, met dezelfde onthullingsregels. Ze staan in de map "
           "`aanbieders/` van de run."),
    ("code", "if heeft_registratie:\n    display(wb.report.provider_sheets(ds, output_dir, pdf=aanbieder_pdf))"),
    ("md", "## Zo lees je dit niet\n\n"
           "- Een − is een vraag, geen oordeel: bespreek het verhaal erachter met de aanbieder en de toegang "
           "(*tellen én vertellen*). De correctie kent alleen resultaatgebied en niveau, niet alles wat een cliënt zwaarder maakt.\n"
           "- *Geen verschil* betekent: niet groter dan toeval bij dit aantal trajecten.\n"
           "- Een hoog aandeel *zonder resultaat* maakt alle andere aandelen onzekerder: ontbrekende evaluaties zijn zelf een signaal."),
])
print("notebooks written to", HERE)
