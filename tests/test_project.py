"The project as a user meets it: notebooks that papermill can run, and a package that ships its data."
import ast, json, subprocess, sys, zipfile
import pytest
from conftest import ROOT

STAGE_NOTEBOOKS = sorted((ROOT / "nbs").glob("0*.ipynb"))


def tags(cell): return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("nb", STAGE_NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert sum("parameters" in tags(c) for c in cells) == 1


def test_wheel_ships_profiles_and_bank(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("polypersona-*.whl"))).namelist()
    for f in ("polypersona/configs/defaults.yaml", "polypersona/configs/cpu.yaml", "polypersona/data/questions.yaml",
              "polypersona/data/paper.yaml", "polypersona/data/anes96.yaml"):
        assert f in names


# the stages in the order they run, which is the order modules may import one another in
ORDER = ("core", "models", "backends", "personas", "questions", "plan", "teacher", "hardware", "train", "generate",
         "text_scores", "metrics", "report", "survey", "human", "batch", "ablation", "export", "cli")
PKG = ROOT / "polypersona"


def imported_stages(path) -> set[str]:
    "The polypersona modules that `path` imports, at its top or inside a function."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module: found.add(node.module.split(".")[0])
            elif node.level == 1: found.update(a.name for a in node.names if (PKG / f"{a.name}.py").exists())
            elif (node.module or "").startswith("polypersona."): found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("polypersona."))
    return found - {"__init__"}


def test_every_module_has_its_place():
    modules = {p.stem for p in PKG.glob("*.py")} - {"__init__", "_modidx"}
    assert modules == set(ORDER) | {"testing"}


@pytest.mark.parametrize("name", ORDER)
def test_no_module_imports_a_later_stage(name):
    later = imported_stages(PKG / f"{name}.py") - set(ORDER[:ORDER.index(name)])
    assert not later, f"{name} imports {sorted(later)}, which come after it (or are not stages)"


def test_importing_the_library_loads_no_trainer():
    modules = [f"polypersona.{m}" for m in ORDER if m != "train"]
    code = f"import sys; import {', '.join(modules)}; print(sorted(m for m in ('trl', 'peft') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip() == "[]"


def declared_distributions() -> set[str]:
    "The distributions settings.ini declares, as requirements or in any extra, by normalised name."
    import configparser, re
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    keys = [k for k in cfg["DEFAULT"] if k == "requirements" or k.startswith("extra_")]
    names = [re.split(r"[<>=!\[ ;]", req)[0] for k in keys for req in cfg["DEFAULT"][k].split()]
    return {re.sub(r"[-_.]+", "-", n).lower() for n in names}


def test_every_imported_package_is_declared():
    import importlib.metadata, re
    owners = importlib.metadata.packages_distributions()
    imported = set()
    for path in [*PKG.glob("*.py"), *(ROOT / "docs").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import): imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level: imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"polypersona", "__future__"}
    missing = {m: owners.get(m) for m in third_party
               if not {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(m, [m])} & declared_distributions()}
    assert not missing, f"imported but not declared in settings.ini: {missing}"
