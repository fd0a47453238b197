"The documentation site: notebooks rendered to HTML with an index, offline."
import json, re, subprocess, sys
from conftest import ROOT


def test_site_renders_stage_and_executed_notebooks(tmp_path):
    nbs, ran = tmp_path / "nbs", tmp_path / "ran"
    nbs.mkdir(); ran.mkdir()
    for name in ("00_personas.ipynb", "10_core.ipynb"): (nbs / name).write_bytes((ROOT / "nbs" / name).read_bytes())
    executed = json.loads((ROOT / "nbs" / "00_personas.ipynb").read_text())
    executed["cells"].append({"cell_type": "code", "metadata": {}, "source": "print(68)", "execution_count": 1,
                              "outputs": [{"output_type": "stream", "name": "stdout", "text": "68 personas\n"}]})
    (ran / "00_personas.ipynb").write_text(json.dumps(executed))
    code = ("import sys; sys.path.insert(0, 'docs'); from pathlib import Path; from build_site import build; "
            f"build(Path({str(tmp_path / 'site')!r}), Path({str(nbs)!r}), Path({str(ran)!r}))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "href='00_personas.html'>Personas</a>" in index and "href='run/00_personas.html'" in index
    assert "68 personas" in (tmp_path / "site" / "run" / "00_personas.html").read_text()


def test_every_link_of_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [(page.name, target) for page in pages
              for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text())
              if not target.startswith(("http:", "https:", "mailto:")) and not (page.parent / target).exists()]
    assert not broken, broken
