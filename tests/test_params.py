import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import ParameterError
from workbench.params import load_parameters

REPO = Path(__file__).resolve().parents[1]


def test_demo_parameters_load():
    p = load_parameters(REPO / "parameters" / "demo.yaml")
    assert p.name == "demo" and p.gemeente == ("GM9901", "GM9902", "GM9903") and p.is_demo


BROKEN = {
    "unknown key": ("name: x\ngemeente: GM9901\nyear: 2023\ncolour: red\n", "colour: onbekende sleutel"),
    "missing file": ("name: x\ngemeente: GM9901\nyear: 2023\nsources:\n  statistics: data/bestaat_niet.csv\n",
                     "sources.statistics: bestand 'data/bestaat_niet.csv' bestaat niet"),
    "wrong type": ("name: x\ngemeente: GM9901\nyear: 'twintig'\n", "year: verwacht een jaartal"),
    "bad code": ("name: x\ngemeente: 0518\nyear: 2023\n", "gemeente"),
    "not yaml": ("name: [x\n", "geen geldige YAML"),
    "robust not a boolean": ("name: x\ngemeente: GM9901\nyear: 2023\nrisk:\n  robust: 'ja'\n",
                             "risk.robust: 'ja' moet true of false zijn"),
}


def test_risk_robust_defaults_off_and_can_be_switched_on():
    from workbench.params import parse_parameters

    base = {"name": "x", "gemeente": "GM9901", "year": 2023}
    assert parse_parameters(base).risk.robust is False
    assert parse_parameters({**base, "risk": {"robust": True}}).risk.robust is True


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_parameter_file_names_file_and_key(tmp_path, case):
    text, expected = BROKEN[case]
    path = tmp_path / "kapot.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError) as err:
        load_parameters(path)
    msg = str(err.value)
    assert expected in msg
    assert "kapot.yaml" in msg


@pytest.mark.parametrize("case", ["unknown key", "missing file", "wrong type"])
def test_cli_run_on_broken_file_writes_nothing(tmp_path, case):
    text, expected = BROKEN[case]
    path = tmp_path / "kapot.yaml"
    path.write_text(text)
    outputs = tmp_path / "outputs"
    proc = subprocess.run([sys.executable, "-m", "workbench", "run", str(path), "--outputs", str(outputs)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("Fout:") == 1
    assert not outputs.exists()
