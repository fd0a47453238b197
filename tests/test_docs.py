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


def readme_table(figures=ROOT / "figures" / "tables") -> str:
    "The README's results table as the committed tables give it: our runs, tuned minus base, two of the paper's rows."
    import csv
    read = lambda name: {r["model"]: r for r in csv.DictReader((figures / f"{name}.csv").open())}
    standard, survey = read("standard_metrics"), read("survey_metrics")
    diffs = {r["metric"]: r for r in csv.DictReader((figures / "base_vs_tuned.csv").open())}
    columns = {"bleu": "BLEU", "sacrebleu": "sacreBLEU", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L",
               "bertscore_f1": "BERTScore F1", "structural_coherence": "structural coherence",
               "survey_quality": "survey quality"}
    number = lambda v: f"{float(v):.3f}" if v not in ("", None) else ""
    signed = lambda v: f"{float(v):+.3f}"
    def row(name, model):
        cells = {**standard.get(model, {}), **survey.get(model, {})}
        return f"| {name} | " + " | ".join(number(cells.get(m)) for m in columns) + " |"
    difference = "| tuned minus base (95 % interval) | " + " | ".join(
        f"{signed(d['difference'])} ({signed(d['ci_lo'])} to {signed(d['ci_hi'])})" if (d := diffs.get(m)) else ""
        for m in columns) + " |"
    return "\n".join(["| model | " + " | ".join(columns.values()) + " |", "|---|" + "---:|" * len(columns),
                      row("smollm2-135m, base", "smollm2-135m (base)"),
                      row("smollm2-135m, tuned (LoRA, 1 epoch, CPU)", "smollm2-135m (tuned)"), difference,
                      row("TinyLlama 1.1B (paper)", "TinyLlama 1.1B (paper)"), row("Phi-2 (paper)", "Phi-2 (paper)")])


def test_the_readme_numbers_are_the_committed_results():
    "The README's results table is the one the committed tables give, cell for cell: no number retyped by hand."
    expected = readme_table()
    assert expected in (ROOT / "README.md").read_text(), f"the README's table should read:\n{expected}"
