"Stage 03: answers of the base and tuned models, locally and through a real local server; resuming and bad input."
import json
import psutil
import pytest
from polypersona.backends import local_server
from polypersona.core import PolyPersonaError, open_run, read_jsonl
from polypersona.generate import generate, output_path
from polypersona.testing import toy_records
from polypersona.train import train_model, write_dataset
from conftest import cli_error, run_cli

SMALL = {"generate.max_new_tokens": {"open": 12, "closed": 8}, "generate.batch_size": 2,
         "train.epochs": 1, "train.batch_size": 4, "train.learning_rate": 0.01}


def toy_run(path, n=30, **overrides):
    "A run whose validation records are its test split: 24 to train on, 6 to answer."
    write_dataset(path, [r | {"split": "test" if r["split"] == "validation" else "train"} for r in toy_records(n)])
    return open_run(path, "smoke", {**SMALL, **overrides})


def predictions(run, variant, model="tiny-random"):
    return {r["id"]: r for r in read_jsonl(output_path(run, model, variant))}


def test_base_and_tuned_answers_from_the_command_line(tmp_path):
    toy_run(tmp_path)
    assert run_cli("train", "--run", tmp_path, "--model", "tiny-random").returncode == 0
    for variant in ("base", "tuned"):
        done = run_cli("generate", "--run", tmp_path, "--model", "tiny-random", "--variant", variant)
        assert done.returncode == 0, done.stderr
        assert "6 answered now, 6 of 6 in all" in done.stdout
    base, tuned = predictions(tmp_path, "base"), predictions(tmp_path, "tuned")
    assert set(base) == set(tuned) == {r["id"] for r in read_jsonl(tmp_path / "dataset" / "test.jsonl")}
    row = tuned["r004"]
    assert {"id", "domain", "persona", "question", "reference", "prediction", "raw", "choice", "option_probs", "finish",
            "prompt_tokens", "new_tokens", "seconds", "variant"} <= set(row)
    assert any(base[i]["raw"] != tuned[i]["raw"] for i in base)  # the adapter changed the answers
    stages = json.loads((tmp_path / "manifest.json").read_text())["stages"]
    assert {"generate:tiny-random:base:test", "generate:tiny-random:tuned:test"} <= set(stages)
    again = run_cli("generate", "--run", tmp_path, "--model", "tiny-random", "--variant", "tuned")
    assert "0 answered now, 6 of 6" in again.stdout
    # the answers as a Stata file: a row per persona, closed answers coded and labelled with their options
    import pyreadstat
    done = run_cli("export", "--run", tmp_path, "--model", "tiny-random", "--format", "dta")
    assert done.returncode == 0, done.stderr
    data, meta = pyreadstat.read_dta(str(tmp_path / "export" / "tiny-random_tuned_test.dta"), apply_value_formats=True)
    assert sorted(data["persona_id"]) == sorted({r["persona_id"] for r in tuned.values()})
    for r in tuned.values():
        cell = data.loc[data["persona_id"] == r["persona_id"], r["question_id"]].iloc[0]
        if not r["options"]: assert cell == r["prediction"]  # an open answer, as text
        elif r["choice"]: assert cell == r["choice"]  # a closed one, its code shown as its option
        else: assert cell != cell  # no option could be read: missing (NaN)
    assert meta.column_names_to_labels[row["question_id"]] == row["question"]


def test_merged_and_unmerged_adapters_answer_alike(tmp_path):
    greedy = {"generate.open": "greedy"}
    answers = []
    for merge in (True, False):
        run = tmp_path / str(merge)
        cfg = toy_run(run, **greedy, **{"generate.merge": merge})
        train_model(run, cfg, "tiny-random")
        generate(run, cfg, "tiny-random", "tuned")
        answers.append({i: r["raw"] for i, r in predictions(run, "tuned").items()})
    assert answers[0] == answers[1]


def test_one_domain_at_a_time_fills_the_same_file(tmp_path):
    records = [r | {"split": "test" if r["split"] == "validation" else "train",
                    "domain": "finance" if i % 2 else "lifestyle"}
               for i, r in enumerate(toy_records(30))]
    write_dataset(tmp_path, records)
    cfg = open_run(tmp_path, "smoke", SMALL)
    first = generate(tmp_path, cfg, "tiny-random", "base", domain="finance")
    assert first["answered"] < first["of"]
    assert generate(tmp_path, cfg, "tiny-random", "base")["answered_now"] == first["of"] - first["answered"]


def test_bad_generation_input(tmp_path, capsys):
    toy_run(tmp_path)
    bad = lambda *a: cli_error(capsys, "generate", "--run", tmp_path, "--model", "tiny-random", *a)
    assert "no trained adapter" in bad("--variant", "tuned")
    assert "it has: lifestyle" in bad("--variant", "base", "--domain", "finance")
    assert "invalid choice" in bad("--variant", "fine")
    (tmp_path / "dataset" / "validation.jsonl").write_text("")
    assert "validation split of" in bad("--variant", "base", "--split", "validation")
    adapter = tmp_path / "models" / "tiny-random" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    (adapter.parent / "manifest.json").write_text(json.dumps({"base": "/models/other"}))
    assert "trained on /models/other, not tiny-random" in bad("--variant", "tuned")
    assert "holds no answers to export; run `polypersona generate" in cli_error(
        capsys, "export", "--run", tmp_path, "--model", "tiny-random", "--format", "sav")
    assert "invalid choice: 'xlsx'" in cli_error(capsys, "export", "--run", tmp_path, "--format", "xlsx")


def stop_server_at(monkeypatch, lines: int, port: int):
    "Kill the server on `port` (and wait for it to go) right after the answers file reaches `lines` lines."
    from polypersona import generate as stage
    append = stage.append_jsonl
    def append_then_kill(path, rows):
        append(path, rows)
        if len(read_jsonl(path)) < lines: return
        for p in psutil.process_iter(["cmdline"]):
            if "serve" in (p.info["cmdline"] or []) and str(port) in p.info["cmdline"]: p.kill(); p.wait()
    monkeypatch.setattr(stage, "append_jsonl", append_then_kill)


def test_server_path_and_a_server_that_goes_away(tmp_path, monkeypatch):
    "The embedded model behind a real OpenAI-compatible server (transformers serve) on 127.0.0.1."
    from polypersona.backends import _free_port
    port = _free_port()
    cfg = toy_run(tmp_path, **{"generate.backend": "openai", "generate.base_url": f"http://127.0.0.1:{port}/v1",
                               "generate.concurrency": 1, "generate.http_retries": 1, "generate.timeout_s": 60})
    out = output_path(tmp_path, "smollm2-135m", "base")
    with local_server("smollm2-135m", port) as (url, name):
        stop_server_at(monkeypatch, 4, port)
        with pytest.raises(PolyPersonaError, match="cannot reach the server"):
            generate(tmp_path, cfg, "smollm2-135m", "base", server_model=name)
    assert len(read_jsonl(out)) == 4  # the first chunk, written before the server went away, is kept
    monkeypatch.undo()
    with local_server("smollm2-135m", port) as (url, name):
        assert generate(tmp_path, cfg, "smollm2-135m", "base", server_model=name)["answered_now"] == 2
    rows = read_jsonl(out)
    assert len(rows) == 6 and all(r["prediction"] for r in rows)
    assert all(r["choice"] in r["options"] or r["choice"] is None for r in rows if r["options"])
