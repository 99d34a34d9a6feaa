from pathlib import Path

import pytest
import yaml

from workbench.catalog import CLUSTERS, load_catalog
from workbench.errors import CatalogError


def test_catalogue_validates_and_covers_every_cluster():
    cat = load_catalog()
    assert len(cat.indicators) >= 20
    for cluster in CLUSTERS:
        assert len(cat.in_cluster(cluster)) >= 2, f"cluster {cluster} heeft minder dan 2 indicatoren"
    for ind in cat:
        assert ind.label and ind.unit and ind.population
        assert ind.min_count >= 1
        assert cat.source_columns(ind.id), ind.id


def test_cluster_five_comes_from_the_records():
    cat = load_catalog()
    ids = {i.id for i in cat.in_cluster(5)}
    assert {"resultaat_behaald", "stabilisatie", "geen_terugkeer"} <= ids
    assert all(cat.uses_records(i) for i in ids)


def test_source_columns_name_cbs_stems():
    cols = load_catalog().source_columns("jeugdhulp")
    assert "JongerenMetJeugdzorgInNatura" in cols["odata"]
    assert "a_jz_tn" in cols["xlsx"]


def _broken(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((Path(__file__).parents[1] / "parameters" / "indicators.yaml").read_text())
    mutate(raw)
    p = tmp_path / "indicators.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return p


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r["indicators"][0].update(cluster=7), "cluster moet 1 t/m 5"),
    (lambda r: r["indicators"][0].update(direction="up"), "direction moet"),
    (lambda r: r["indicators"][0].pop("label"), "ontbrekende sleutel"),
    (lambda r: r["indicators"][0].update(numerator="bestaat_niet"), "'bestaat_niet' is geen variabele"),
    (lambda r: r["indicators"][0].update(colour="rood"), "onbekende sleutel"),
    (lambda r: r["indicators"].append(dict(r["indicators"][0])), "komt twee keer voor"),
])
def test_broken_catalogue_gives_one_clear_message(tmp_path, mutate, expected):
    path = _broken(tmp_path, mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert expected in msg
    assert str(path) in msg
