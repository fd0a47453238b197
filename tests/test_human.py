"Stage 06: a user's own survey CSV and ANES 1996 through the `human` command, a real local server, and bad input."
import json
from pathlib import Path
import numpy as np
import pandas as pd
import yaml
from polypersona.backends import local_server
from polypersona.core import read_jsonl, read_manifest
from polypersona.survey import import_survey
from conftest import cli_error, ok

BASELINES = ("uniform", "persona-blind (training respondents' shares)", "demographic model (logistic regression)")


def user_survey(folder, rows: list[str]):
    "A panel CSV (id, age, sex, two attitude items) and its mapping, as a user would write them."
    (folder / "panel.csv").write_text("rid,age,sex,trust,news\n" + "\n".join(rows) + "\n")
    (folder / "panel.yaml").write_text(yaml.safe_dump(sort_keys=False, data={
        "source": "panel.csv", "id": "rid", "domain": "community",
        "persona": {"age": {"column": "age"}, "gender": {"column": "sex", "codes": {"f": "woman", "m": "man"}},
                    "description": "I am a {age}-year-old {gender}."},
        "groups": {"age_band": {"column": "age",
                                "bands": {"under 40": [0, 39], "40-59": [40, 59], "60 and over": [60, 120]}},
                   "sex": {"column": "sex", "codes": {"f": "women", "m": "men"}}},
        "items": [{"id": "trust", "column": "trust", "text": "How much do you trust your neighbours?", "ordered": True,
                   "options": {1: "Not at all", 2: "A little", 3: "Somewhat", 4: "A lot"}},
                  {"id": "news", "column": "news", "text": "Where do you get most of your news?", "ordered": False,
                   # in the user's order
                   "options": {"tv": "Television", "web": "The internet", "paper": "Newspapers"}}]}))
    return folder / "panel.yaml"


def people(n=36):
    "Respondents whose trust rises with age and whose news source moves from the web to television."
    return [f"r{i},{20 + 2 * i},{'fm'[i % 2]},{1 + min(3, i // 9)},"
            f"{['web', 'tv', 'paper'][min(2, i // 14)] if i % 7 else ''}" for i in range(n)]


def test_a_users_survey_csv_runs_through_the_same_path_and_resumes(tmp_path):
    mapping = user_survey(tmp_path, people())
    run = tmp_path / "run"
    # the smoke profile: groups of 2 or more
    out = ok("human", "--run", run, "--survey", mapping, "--model", "tiny-random", "--profile", "smoke").stdout
    assert "panel: 6 test respondents" in out and "tuned: left out" in out  # of the smoke profile's sample of 24
    for system in ("tiny-random base, scores", "tiny-random base, scores debiased (reverse+calibrate)",
                   "tiny-random base, generate", *BASELINES):
        assert f"| {system}" in out
    summary = pd.read_csv(run / "tables" / "human_panel_tiny-random_scores.csv").set_index("system")
    assert summary.loc["tiny-random base, scores", "answered"] == 1.0
    assert summary.loc[BASELINES[1], "representativeness_lo"] <= summary.loc[BASELINES[1], "representativeness_hi"]
    dists = pd.read_csv(run / "tables" / "human_panel_tiny-random_distributions.csv")
    assert set(dists["group"]) == {"age_band", "sex"} and set(dists["item"]) == {"trust", "news"}
    totals = dists.groupby(["item", "group", "value", "system"])["share"].sum(min_count=1)
    assert (totals.dropna().sub(1).abs() < 1e-6).all()  # a system with no parsed answer in a group has no shares there
    assert totals.xs("tiny-random base, scores", level="system").notna().all()
    scores = read_jsonl(run / "human" / "panel" / "tiny-random" / "base-scores.jsonl")
    asked = {r["persona_id"] for r in scores}
    csv = pd.read_csv(tmp_path / "panel.csv").assign(persona_id=lambda d: "panel-" + d["rid"])
    tested = csv[csv["persona_id"].isin(asked)]
    # empty cells are not asked
    assert len(asked) == 6 and len(scores) == tested["trust"].notna().sum() + tested["news"].notna().sum()
    women = dists.query("system == 'people' and item == 'trust' and group == 'sex' and value == 'women'")
    women = women.set_index("option")["share"]
    # the people's shares are the test respondents'
    assert women["A lot"] == (tested.query("sex == 'f'")["trust"] == 4).mean()
    # as given, and debiased
    assert all(len(r["given"]) == len(r["probs"]) and abs(sum(r["probs"]) - 1) < 1e-4 for r in scores)
    assert (run / "figures" / "human_panel_tiny-random_trust.png").exists()
    assert "human:tiny-random:panel" in read_manifest(run)["stages"]

    again = ok("human", "--run", run, "--survey", mapping, "--model", "tiny-random").stdout
    assert "batch" not in again  # nothing was asked again (no progress bar)
    assert len(read_jsonl(run / "human" / "panel" / "tiny-random" / "base-scores.jsonl")) == len(scores)

    log = run / "human" / "panel" / "tiny-random" / "base-scores.jsonl"  # as a kill leaves it: some rows and a torn one
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:5]) + lines[5][:15])
    assert "batch" in ok("human", "--run", run, "--survey", mapping, "--model", "tiny-random").stderr  # asked again
    rows = {(r["persona_id"], r["item"]): r["probs"] for r in read_jsonl(log)}
    assert len(rows) == len(read_jsonl(log)) == len(scores)  # each answer once: none lost, none twice
    # batches differ a little
    assert all(np.allclose(rows[r["persona_id"], r["item"]], r["probs"], atol=1e-4) for r in scores)
    pd.testing.assert_frame_equal(
        pd.read_csv(run / "tables" / "human_panel_tiny-random_scores.csv").set_index("system"), summary)


def test_training_on_the_people_never_sees_a_test_respondent(tmp_path):
    "The survey-tuned variant: an adapter trained on the training respondents' answers, asked the test respondents'."
    mapping, run = user_survey(tmp_path, people(48)), tmp_path / "run"
    out = ok("human", "--run", run, "--survey", mapping, "--model", "tiny-random", "--profile", "smoke",
             "--variants", "base,survey", "--debias", "none").stdout
    assert "| tiny-random survey-tuned, scores" in out and "debiased" not in out
    trained = run / "human" / "panel" / "trained"
    taught = {r["persona_id"] for r in read_jsonl(trained / "dataset" / "train.jsonl")}
    watched = {r["persona_id"] for r in read_jsonl(trained / "dataset" / "validation.jsonl")}
    asked = {r["persona_id"] for r in read_jsonl(run / "human" / "panel" / "tiny-random" / "survey-scores.jsonl")}
    assert taught and watched and asked and not (taught & asked) and not (watched & asked) and not (taught & watched)
    example = read_jsonl(trained / "dataset" / "train.jsonl")[0]
    assert example["messages"][-1]["content"] in ("Not at all", "A little", "Somewhat", "A lot",
                                                  "Television", "The internet", "Newspapers")
    stage = read_manifest(run)["stages"]["human-train:tiny-random:panel"]
    assert stage["respondents"]["train"] == len(taught) and stage["val_loss"]
    assert (trained / "models" / "tiny-random" / "adapter" / "adapter_model.safetensors").exists()


def test_anes_from_the_command_line_with_a_sample(tmp_path):
    out = ok("human", "--run", tmp_path / "run", "--model", "tiny-random", "--respondents", "40", "--profile", "smoke",
             "--variants", "base,tuned,survey").stdout
    assert "anes96: 11 test respondents" in out
    assert "| uniform" in out and "| demographic model" in out and "| tiny-random survey-tuned, scores" in out
    by_group = pd.read_csv(tmp_path / "run" / "tables" / "human_anes96_tiny-random_by_group.csv")
    assert {"age_band", "education", "income_band", "party"} <= set(by_group.columns)
    cells = pd.read_csv(tmp_path / "run" / "tables" / "human_anes96_tiny-random_distributions.csv")
    assert cells.query("item == 'party_id' and group == 'party'").empty  # party is not a group for the party item


def test_the_panel_through_a_real_local_server(tmp_path):
    "Generation through transformers serve on 127.0.0.1, the path of any OpenAI-compatible server."
    mapping = user_survey(tmp_path, people(12))
    run = tmp_path / "run"
    with local_server("smollm2-135m", log_path=tmp_path / "server.log") as (url, name):
        out = ok("human", "--run", run, "--survey", mapping, "--backend", "openai", "--base-url", url,
                 "--server-model", name, "--respondents", "12", "--profile", "smoke").stdout  # groups of 2 and more
    assert "(server), generate" in out and "scores: left out" in out
    rows = read_jsonl(next((run / "human" / "panel").glob("*/server-generate.jsonl")))
    assert len(rows) >= 3 and all(r["text"] for r in rows)  # the test respondents' answers
    options = {"trust": ["Not at all", "A little", "Somewhat", "A lot"],
               "news": ["Television", "The internet", "Newspapers"]}
    assert all(r["choice"] is None or options[r["item"]][r["choice"]].lower() in r["text"].lower() for r in rows)
    assert any(r["choice"] is not None for r in rows)
    settings = json.loads(next((run / "human" / "panel").glob("*/server-generate.json")).read_text())
    assert settings["base_url"] == url and "key" not in json.dumps(settings).lower()


def test_bad_survey_input(tmp_path, capsys):
    run = tmp_path / "run"
    assert "neither a built-in survey" in cli_error(capsys, "human", "--run", run, "--survey", tmp_path / "none.yaml",
                                                    "--model", "tiny-random")
    bad = user_survey(tmp_path, ["r1,30,f,7,tv"])
    assert "row 1, column 'trust': code 7 is not among item 'trust'" in cli_error(
        capsys, "human", "--run", tmp_path / "r2", "--survey", bad, "--model", "tiny-random")
    assert "human.split leaves no" in cli_error(capsys, "human", "--run", tmp_path / "r6", "--survey",
                                                user_survey(tmp_path, people(1)), "--model", "tiny-random")
    assert "no group of the 10 respondents asked has human.min_group (10)" in cli_error(
        capsys, "human", "--run", tmp_path / "r7", "--survey", user_survey(tmp_path, people()),
        "--model", "tiny-random")
    assert not (tmp_path / "r6" / "human").exists()  # found before anything was asked
    assert "human.respondents is 0" in cli_error(capsys, "human", "--run", tmp_path / "r3", "--respondents", "0",
                                                 "--model", "tiny-random")
    assert "invalid choice: 'grpc'" in cli_error(capsys, "human", "--run", tmp_path / "r4", "--backend", "grpc")
    assert "human.debias is 'shuffle'; use one of none, reverse" in cli_error(
        capsys, "human", "--run", tmp_path / "r8", "--debias", "shuffle", "--model", "tiny-random")
    assert "human.variants has 'lora'; give a list of base, tuned, survey" in cli_error(
        capsys, "human", "--run", tmp_path / "r9", "--variants", "base,lora", "--model", "tiny-random")
    one = edited(user_survey(tmp_path, people()), lambda m: m["items"][0].update(options={1: "Not at all"}))
    assert "item 'trust' needs at least two options" in cli_error(
        capsys, "human", "--run", tmp_path / "r10", "--survey", one, "--model", "tiny-random")
    assert "human.base_url is not set" in cli_error(
        capsys, "human", "--run", tmp_path / "r5", "--backend", "openai", "--model", "tiny-random")


def edited(mapping, change) -> str:
    "The mapping file after `change(m)`, as a user's edit would leave it."
    m = yaml.safe_load(mapping.read_text())
    change(m)
    mapping.write_text(yaml.safe_dump(m, sort_keys=False))
    return str(mapping)


def test_bad_mappings_and_data(tmp_path, capsys):
    def error(mapping, run="r"):
        return cli_error(capsys, "human", "--run", tmp_path / run, "--survey", mapping, "--model", "tiny-random")
    mapping = user_survey(tmp_path, people())
    band = edited(mapping, lambda m: m["groups"]["age_band"]["bands"].update({"under 40": [39, 0]}))
    assert "groups.age_band: band 'under 40' is [39, 0]; write it as [low, high]" in error(band)
    typo = edited(user_survey(tmp_path, people()), lambda m: m["persona"].update(description="I am {agee} years old."))
    assert "persona.description names {agee}, which is not a persona field" in error(typo)
    codes = edited(user_survey(tmp_path, people()), lambda m: m["persona"]["gender"].update(codes=["f", "m"]))
    assert "persona.gender: 'codes' should map each code" in error(codes)
    (tmp_path / "broken.yaml").write_text("source: panel.csv\nitems:\n  - {id: a, text: Why not?, column: q}\n")
    assert ("broken.yaml is not valid YAML: expected ',' or '}', but got '?' (line 3, column 26); quote text"
            in error(tmp_path / "broken.yaml"))
    assert "'items' is empty" in error(edited(user_survey(tmp_path, people()), lambda m: m.update(items=[])))
    assert "'rid' has 'r1' more than once" in error(user_survey(tmp_path, ["r1,30,f,2,tv", "r1,31,m,3,web"]))
    for age in ("forty", "\u00b2"):
        assert f"column 'age': age '{age}' is not a number of years" in error(
            user_survey(tmp_path, [f"rx,{age},f,2,tv"] + people()))
    latin1 = user_survey(tmp_path, people())
    (tmp_path / "panel.csv").write_bytes("rid,age,sex,trust,news\nr1,30,f,2,t\xe9l\xe9\n".encode("latin-1"))
    assert "panel.csv is not a readable CSV file" in error(latin1)


def test_a_changed_mapping_is_not_mixed_with_earlier_answers(tmp_path, capsys):
    mapping, run = user_survey(tmp_path, people(12)), tmp_path / "run"
    ok("human", "--run", run, "--survey", mapping, "--model", "tiny-random", "--profile", "smoke")
    reworded = edited(mapping, lambda m: m["items"][0].update(text="Do you trust the people next door?"))
    assert "other settings: mapping_sha256 was" in cli_error(capsys, "human", "--run", run, "--survey", reworded,
                                                             "--model", "tiny-random")


def test_the_documented_mapping_example_imports(tmp_path):
    "The mapping shown in docs/human-benchmark.md is valid as written, for a CSV with its columns."
    readme = (Path(__file__).parents[1] / "docs" / "human-benchmark.md").read_text()
    example = readme.split("A mapping for your own survey")[1].split("```yaml\n")[1].split("```")[0]
    (tmp_path / "survey.yaml").write_text(example)
    (tmp_path / "panel.csv").write_text("rid,age,sex,q1\nr1,34,f,3\nr2,61,m,1\n")
    s = import_survey(str(tmp_path / "survey.yaml"))
    assert [p.description for p in s.personas] == ["I am a 34-year-old woman.", "I am a 61-year-old man."]
    assert s.questions[0].options == ["Not at all", "A little", "A lot"] and list(s.answers["option"]) == [2, 0]


NAMES_AND_SOURCES = [  # (change to the mapping, the line's telling part); each must be refused before anything loads
    (lambda m, out: m.update(name="../escape"),
     "the survey's name (the mapping's name:, or its file name) is '../escape'; give a plain name"),
    (lambda m, out: m.update(name="a/b"), "is 'a/b'; give a plain name"),
    (lambda m, out: m.update(name=""), "is ''; give a plain name"),
    (lambda m, out: m.update(source="../outside/panel.csv"),
     "source '../outside/panel.csv' lies outside the mapping's folder"),
    (lambda m, out: m.update(source=str(out / "panel.csv")),
     "lies outside the mapping's folder; put the CSV beside the mapping, or pass --source-anywhere"),
]


def test_names_and_sources_stay_where_they_belong(tmp_path, capsys):
    inside, outside = tmp_path / "mine", tmp_path / "outside"
    inside.mkdir(); outside.mkdir()
    user_survey(outside, people())  # a CSV elsewhere, which a mapping may read only when the user says so
    for change, expected in NAMES_AND_SOURCES:
        mapping = edited(user_survey(inside, people()), lambda m: change(m, outside))
        err = cli_error(capsys, "human", "--run", tmp_path / "r", "--survey", mapping, "--model", "tiny-random")
        assert expected in err and err.count("\n") == 1, err
    mapping = edited(user_survey(inside, people()), lambda m: m.update(source="../outside/panel.csv"))
    assert len(import_survey(mapping, anywhere=True).personas) == 36  # --source-anywhere: the user trusts it


RUN_DIRS = [  # (how to make the bad --run, the line's telling part)
    (lambda d: "", "--run is empty"),
    (lambda d: (d / "f").write_text("x") and d / "f", "is a file, not a folder"),
    (lambda d: (d / "loop").symlink_to(d / "loop") or d / "loop", "symlink loop"),
]


def test_bad_run_directories(tmp_path, capsys):
    for make, expected in RUN_DIRS:
        run = make(tmp_path)
        for command in (["personas", "--profile", "smoke"], ["human", "--model", "tiny-random"]):
            err = cli_error(capsys, command[0], "--run", run, *command[1:])
            assert expected in err and err.count("\n") == 1, err
