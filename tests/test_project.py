"The project as a user meets it: notebooks that papermill can run, and a package that ships its data."
import json, subprocess, sys, zipfile
import pytest
from conftest import ROOT

STAGE_NOTEBOOKS = sorted((ROOT / "nbs").glob("0*.ipynb"))


def tags(cell): return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("nb", STAGE_NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert sum("parameters" in tags(c) for c in cells) == 1


def test_wheel_ships_profiles_and_bank(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("polypersona-*.whl"))).namelist()
    for f in ("polypersona/configs/defaults.yaml", "polypersona/configs/cpu.yaml", "polypersona/data/questions.yaml"):
        assert f in names
