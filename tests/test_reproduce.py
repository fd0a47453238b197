"The main job as a reviewer runs it: the smoke profile through papermill, killed and resumed; and what it refuses."
import json, os, re, shutil
import pytest
import yaml
from conftest import cli_error, kill_at, ok

SECRET = "sk-never-written-anywhere-0451"


# what an executed notebook should not show: progress bars, weight loading, library warnings
NOISE = re.compile(r"\d+/\d+ \[\d\d:\d\d|Loading weights|Warning:|kernels-community")


def executed_errors(nb) -> list[str]:
    "The error outputs of an executed notebook."
    cells = json.loads(nb.read_text())["cells"]
    return [o["ename"] for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def share_as_example_run(run):
    "Offer the finished smoke run to the notebooks as their shared example run (same profile and library) if none."
    from filelock import FileLock
    from polypersona.core import cache_dir, library_hash
    target = cache_dir() / "examples" / f"smoke-{library_hash()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.exists():
            shutil.copytree(run, target, ignore=shutil.ignore_patterns("notebooks", "tables", "figures", "*.lock"))


def test_smoke_profile_end_to_end_resumes_after_a_kill(tmp_path):
    run, env = tmp_path / "run", {**os.environ, "OPENAI_API_KEY": SECRET}
    answers = run / "generations" / "smollm2-135m" / "base.jsonl"
    # the batch, papermill and the kernel, mid-generation
    kill_at(answers, 1, "reproduce", "--profile", "smoke", "--run", run, env=env)
    made = {nb.name: nb.stat().st_mtime for nb in (run / "notebooks").glob("0[012]_*.ipynb")}
    assert len(made) == 3
    before = answers.read_text()

    out = ok("reproduce", "--profile", "smoke", "--run", run, env=env).stdout
    assert "3 already complete" in out  # personas, the data set and the adapter were not made again
    assert {nb.name: nb.stat().st_mtime for nb in (run / "notebooks").glob("0[012]_*.ipynb")} == made
    assert answers.read_text().startswith(before)  # the answers written before the kill were kept, not asked again
    executed = sorted(nb.name for nb in (run / "notebooks").glob("*.ipynb"))
    # smoke: generate.per_domain false, one notebook for all domains
    assert executed == sorted(["00_personas.ipynb", "01_dialogue_pipeline.ipynb", "02_qlora_train__smollm2-135m.ipynb",
                               "03_generate__smollm2-135m__all.ipynb", "04_metrics__smollm2-135m.ipynb",
                               "05_report.ipynb", "06_human_benchmark__smollm2-135m.ipynb"])
    assert all(not executed_errors(run / "notebooks" / nb) for nb in executed)
    assert not [(nb, n[0]) for nb in executed if (n := NOISE.search((run / "notebooks" / nb).read_text()))]
    for variant in ("base", "tuned"): assert f"smollm2-135m {variant}: bleu" in out
    for t in ("standard_metrics", "survey_metrics", "per_domain", "base_vs_tuned", "fidelity_diversity", "groups",
              "dataset_domains"):
        assert all((run / "tables" / f"{t}.{ext}").exists() for ext in ("csv", "md", "tex"))
    assert (run / "figures" / "per_domain_heatmap.pdf").exists()
    # stage 06: the smoke profile's variants, both methods
    human = (run / "tables" / "human_anes96_smollm2-135m_summary.md").read_text()
    assert all(f"smollm2-135m {v}, {m}" in human for v in ("base", "dialogue-tuned") for m in ("scores", "generate"))
    assert "scores debiased (reverse+calibrate)" in human and "uniform" in human and "demographic model" in human
    assert "TinyLlama 1.1B (paper)" in (run / "tables" / "standard_metrics.md").read_text()
    assert not [p for p in run.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]  # no file has the key

    share_as_example_run(run)

    report = ok("report", "--run", run).stdout  # stage 05 alone, from the command line
    assert "smollm2-135m tuned: bleu" in report and "human benchmark:" in report
    # ready for the hub: the data set loads as the hub would load it; the adapter's card has its base and its scores
    from datasets import load_dataset, load_from_disk
    hub, disk = load_dataset(str(run / "dataset")), load_from_disk(str(run / "dataset" / "hf"))
    assert {s: d["id"] for s, d in hub.items()} == {s: d["id"] for s, d in disk.items()}
    card = (run / "models" / "smollm2-135m" / "adapter" / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "| bertscore_f1 |" in card
    # the panel as survey data: an SPSS file with a row per persona and labelled answers
    import pyreadstat
    assert "codebook" in ok("export", "--run", run, "--format", "sav").stdout
    data, meta = pyreadstat.read_sav(str(run / "export" / "smollm2-135m_tuned_test.sav"), apply_value_formats=True)
    tuned = [json.loads(l) for l in (run / "generations" / "smollm2-135m" / "tuned.jsonl").read_text().splitlines()]
    assert len(data) == len({r["persona_id"] for r in tuned})
    closed = next(r for r in tuned if r["choice"])
    assert data.loc[data["persona_id"] == closed["persona_id"], closed["question_id"]].iloc[0] == closed["choice"]
    assert meta.variable_value_labels[closed["question_id"]][1] == closed["options"][0]

    again = ok("reproduce", "--profile", "smoke", "--run", run, "--figures", tmp_path / "figures").stdout
    assert "0 notebooks executed" in again
    manifest = json.loads((tmp_path / "figures" / "manifest.json").read_text())
    assert manifest["profile"] == "smoke" and manifest["environment"]["packages"]["torch"]
    assert (tmp_path / "figures" / "model_comparison.png").exists()
    assert (tmp_path / "figures" / "human_anes96_smollm2-135m_party_id.png").exists()
    published = sorted((tmp_path / "figures" / "notebooks").glob("*.ipynb"))
    assert [nb.name for nb in published] == executed  # with their outputs, for a reader on GitHub
    assert not [nb.name for nb in published if str(tmp_path) in nb.read_text()]  # and no path of this machine
    assert "personas" in (tmp_path / "figures" / "tables.md").read_text()
    timings = (tmp_path / "figures" / "timings.md").read_text()  # written from the run, for the README to point at
    assert all(f"| {nb[:-len('.ipynb')]} |" in timings for nb in executed) and "| train:smollm2-135m |" in timings


def profile_file(tmp_path, **keys):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(keys))
    return path


@pytest.mark.parametrize("keys, message", [
    ({"models": ["gpt-9"]}, "unknown model 'gpt-9'"),
    ({"plan": {"quotas": {"astrology": 10}}}, "astrology"),
    ({"train": {"quantization": "4bit"}}, "needs a CUDA GPU"),
])
def test_reproduce_refuses_a_profile_before_any_work(tmp_path, capsys, keys, message):
    pytest.importorskip("torch").cuda.is_available() and pytest.skip("this machine has a GPU")
    assert message in cli_error(capsys, "reproduce", "--profile", profile_file(tmp_path, **keys),
                                "--run", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_reproduce_refuses_bad_names_and_another_profiles_run(tmp_path, capsys):
    assert "unknown profile 'cpu2'" in cli_error(capsys, "reproduce", "--profile", "cpu2", "--run", tmp_path / "a")
    if not pytest.importorskip("torch").cuda.is_available():
        assert "needs a CUDA GPU" in cli_error(capsys, "reproduce", "--profile", "paper", "--run", tmp_path / "b")
    ok("personas", "--run", tmp_path / "c", "--profile", "smoke")
    assert "was made with profile 'smoke'" in cli_error(capsys, "reproduce", "--profile", "cpu",
                                                       "--run", tmp_path / "c")
    assert "--workers is 0" in cli_error(capsys, "reproduce", "--workers", "0", "--run", tmp_path / "d")


def test_batch_outside_a_clone_says_where_the_notebooks_should_be(tmp_path, monkeypatch):
    import polypersona
    from polypersona.batch import notebooks_dir
    from polypersona.core import PolyPersonaError
    monkeypatch.setattr(polypersona, "__file__", str(tmp_path / "site-packages" / "polypersona" / "__init__.py"))
    with pytest.raises(PolyPersonaError, match="runs from a clone of the repository"): notebooks_dir()
