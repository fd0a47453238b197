"The replication comparison benchmark end to end on tiny settings: its splits, its rescoring, its resume, its errors."
import json, subprocess, sys
import pytest
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "replication_compare.py"


def bench(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def compared(tmp_path_factory, request):
    "One tiny comparison (the in-memory model, 16 training and 8 test rows a split), run twice."
    from conftest import REPLICATION
    if not REPLICATION.is_dir(): pytest.skip(f"needs the replication data at {REPLICATION} "
                                             "(present in the project's CI, not in a user's clone)")
    tmp = tmp_path_factory.mktemp("compare")
    args = ("--data", REPLICATION, "--out", tmp / "runs", "--page", tmp / "page", "--model", "tiny-random",
            "--train", 16, "--test", 8, "--bootstrap", 50)
    first = bench(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    second = bench(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    return tmp, first, second


def rows(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_rescoring_agrees_with_the_published_scores(compared):
    "Our BLEU and ROUGE of the replication's 358 test predictions are its published ones (same definitions)."
    tmp, _, _ = compared
    table = json.loads((tmp / "page" / "results.json").read_text())["table"]
    published, rescored = table[0], table[1]
    assert published["answers"] == rescored["answers"] == 358 and "rescored" in rescored["system"]
    for m in ("bleu", "rouge1", "rouge2", "rougeL"):
        assert rescored[m] == pytest.approx(published[m], abs=1e-9)
        assert rescored[f"{m}_lo"] <= rescored[m] <= rescored[f"{m}_hi"]
    ours = [r for r in table if r["system"].startswith("tiny-random")]
    assert [(r["system"], r["split"], r["answers"]) for r in ours] == [
        ("tiny-random untrained", "random, sampled", 8), ("tiny-random tuned", "random, sampled", 8),
        ("tiny-random untrained", "persona, sampled", 8), ("tiny-random tuned", "persona, sampled", 8),
        ("tiny-random tuned, open answers greedy", "random, sampled", 8),
        ("tiny-random tuned, closed answers sample", "random, sampled", 8)]


def test_the_persona_split_has_no_shared_persona_or_repeated_prompt(compared):
    tmp, _, _ = compared
    data = tmp / "runs" / "persona" / "dataset"
    split = {s: rows(data / f"{s}.jsonl") for s in ("train", "validation", "test")}
    assert [len(split[s]) for s in split] == [16, 48, 8]
    held_out = {r["persona_id"] for r in split["test"] + split["validation"]}
    assert not {r["persona_id"] for r in split["train"]} & held_out
    prompts = [(r["persona_id"], r["question"]) for s in split.values() for r in s]
    assert len(prompts) == len(set(prompts))
    # the random split keeps the replication's own rows: its test rows are among the replication's 358
    from conftest import REPLICATION
    theirs = {r["id"] for r in rows(REPLICATION / "generated_data_2" / "test.json")}
    assert {r["id"] for r in rows(tmp / "runs" / "random" / "dataset" / "test.jsonl")} <= theirs


def test_a_second_run_resumes_and_writes_the_page(compared):
    tmp, first, second = compared
    def strict(constant): raise ValueError(f"results.json holds {constant}, which strict JSON readers reject")
    results = json.loads((tmp / "page" / "results.json").read_text(), parse_constant=strict)
    seen = results["seen_in_training"][0]
    assert all(isinstance(seen[k], float) for k in ("bleu", "bleu_lo", "bleu_hi"))  # numbers, not "0.04 (...)"
    seconds = results["seconds"]
    # no local paths
    assert not {"data", "out", "page"} & set(json.loads((tmp / "page" / "results.json").read_text())["args"])
    # the second run trains nothing again
    assert "already trained" in second.stdout and "nothing to do" not in first.stdout
    assert {"random: dataset", "persona: dataset", "scoring"} <= set(seconds) and \
        {"random-open-greedy", "random-closed-sample"} == {k.split(":")[0] for k in seconds if k.startswith("random-")}
    assert {p.name for p in (tmp / "page").iterdir()} >= {"tables.md", "results.json", "systems.png",
                                                          "seen_in_training.png"}
    page = (tmp / "page" / "tables.md").read_text()
    assert "--train 16 --test 8" in page and "| replication TinyLlama-1.1B, as published | random | 358 |" in page


def test_bad_data_folder(tmp_path):
    res = bench("--data", tmp_path, "--out", tmp_path / "runs", "--page", tmp_path / "page")
    assert res.returncode == 1 and "is not the replication's data folder" in res.stderr and \
        "Traceback" not in res.stderr
    res = bench("--train", -1, "--out", tmp_path / "runs", "--page", tmp_path / "page")
    assert res.returncode == 1 and "--train is -1; give 0 (all rows) or more" in res.stderr and \
        not (tmp_path / "runs").exists()
