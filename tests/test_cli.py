"End to end through the installed command: outputs, determinism, resumable runs and one-line user errors."
import json, os
import pytest
from conftest import run_cli


def ok(*args):
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    return res


def user_error(*args) -> str:
    "Run a command that must fail as a user error; return its single stderr line."
    res = run_cli(*args)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


def jsonl(path): return [json.loads(l) for l in path.read_text().splitlines()]


def test_personas_and_plan(tmp_path):
    run = tmp_path / "run"
    ok("personas", "--run", run, "--profile", "smoke")
    out = ok("plan", "--run", run).stdout
    personas, plan = jsonl(run / "personas.jsonl"), jsonl(run / "plan.jsonl")
    assert len(personas) == 12 and len(plan) == 60 and "60 answers from 12 personas" in out
    assert {"persona_id", "question_id", "domain", "question_type", "split"} <= set(plan[0])
    assert {r["persona_id"] for r in plan} <= {p["id"] for p in personas}
    stats = json.loads((run / "plan_stats.json").read_text())
    assert stats["answers"] == 60 and stats["heldout_personas_in_train"] == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"personas", "plan"} and "python" in manifest["environment"]


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        ok("personas", "--run", tmp_path / name, "--seed", "3")
        ok("plan", "--run", tmp_path / name)
    for f in ("personas.jsonl", "plan.jsonl", "questions.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    ok("personas", "--run", tmp_path / "c", "--seed", "4")
    assert (tmp_path / "c" / "personas.jsonl").read_bytes() != (tmp_path / "a" / "personas.jsonl").read_bytes()


def test_default_profile_is_cpu_and_paper_split_is_available(tmp_path):
    ok("personas", "--run", tmp_path / "cpu")
    assert len(jsonl(tmp_path / "cpu" / "personas.jsonl")) == 68
    ok("personas", "--run", tmp_path / "paper", "--profile", "paper")
    ok("plan", "--run", tmp_path / "paper", "--split", "random")
    splits = [r["split"] for r in jsonl(tmp_path / "paper" / "plan.jsonl")]
    assert (splits.count("train"), splits.count("validation"), splits.count("test")) == (2854, 356, 358)


def test_rerun_and_config_guard(tmp_path):
    run = tmp_path / "run"
    ok("personas", "--run", run, "--profile", "smoke")
    before = (run / "personas.jsonl").read_bytes()
    ok("personas", "--run", run)  # a rerun reads config.yaml back and writes the same bytes
    assert (run / "personas.jsonl").read_bytes() == before
    assert "start a new --run" in user_error("personas", "--run", run, "--n", "13")
    assert "made with profile 'smoke'" in user_error("plan", "--run", run, "--profile", "cpu")


def test_from_file(tmp_path):
    panel = tmp_path / "panel.csv"
    panel.write_text("id,age,gender,occupation,values,description\n" +
                     "".join(f"r{i},{20 + i},female,teacher,family;learning,I teach.\n" for i in range(12)))
    ok("personas", "--run", tmp_path / "run", "--from", panel, "--profile", "smoke")
    personas = jsonl(tmp_path / "run" / "personas.jsonl")
    assert [p["id"] for p in personas][:2] == ["r0", "r1"] and personas[0]["values"] == ["family", "learning"]
    ok("plan", "--run", tmp_path / "run")
    hub = tmp_path / "hub.jsonl"
    hub.write_text("".join(json.dumps({"persona": f"A {j} from Ohio who loves {k}"}) + "\n"
                           for j in ("nurse", "chef", "pilot", "farmer")
                           for k in ("jazz", "chess", "hiking", "tea", "art")))
    ok("personas", "--run", tmp_path / "hub", "--from", hub, "--n", "12", "--profile", "smoke")
    taken = jsonl(tmp_path / "hub" / "personas.jsonl")
    assert len(taken) == 12 and {p["occupation"] for p in taken} <= {"nurse", "chef", "pilot", "farmer"}
    assert all(p["source"] == "personahub" and p["region"] == "Ohio" for p in taken)
    ok("plan", "--run", tmp_path / "hub")
    assert "has 20 personas" in user_error("personas", "--run", tmp_path / "hub2", "--from", hub, "--n", "30")


BAD_PERSONA_FILES = {  # file name, content, what the error line must say
    "dup.csv": ("id,age\nr1,30\nr1,40\n", "dup.csv, row 2: persona id 'r1' was already used in row 1"),
    "noid.csv": ("id,age\n,30\n", "noid.csv, row 1: field 'id' is missing"),
    "age.csv": ("id,age\nr1,thirty\n", "age.csv, row 1: field 'age' is 'thirty'"),
    "list.jsonl": ('{"id": "r1", "traits": 3}\n', "list.jsonl, row 1: field 'traits' should be a list"),
    "typo.csv": ("id,ocupation\nr1,nurse\n", "unknown field 'ocupation'"),
    "empty.csv": ("", "empty.csv is empty"),
    "broken.jsonl": ('{"id": "r1"\n', "broken.jsonl, line 1: not valid JSON"),
    "squared.csv": ("id,age\nr1,\u00b2\n", "squared.csv, row 1: field 'age' is '\u00b2'; give a whole number of years"),
    "object.jsonl": ('{"id": "r1", "occupation": {"title": "nurse"}}\n',
                     "object.jsonl, row 1: field 'occupation' should be text"),
    "huge.csv": ("id,description\nr1,\"" + "x" * 200_000 + "\"\n",
                 "huge.csv is not a readable CSV file (field larger than field limit"),
    "deep.jsonl": ("[" * 100_000 + "]" * 100_000 + "\n", "deep.jsonl, line 1: nested too deeply to read"),
    "deep.json": ("[" * 100_000 + "]" * 100_000 + "\n", "deep.json is nested too deeply to read"),
}


def test_a_line_separator_inside_a_text_persona_stays_inside_it(tmp_path):
    (tmp_path / "p.txt").write_text("A nurse from Leeds\u2028who likes hiking.\nA retired teacher in his 60s.\n")
    ok("personas", "--run", tmp_path / "run", "--from", tmp_path / "p.txt")
    assert len((tmp_path / "run" / "personas.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("n,expected", [("0", "personas.n is 0; ask for between 1 and 100,000"),
                                        ("100000001", "personas.n is 100000001; ask for between 1 and 100,000"),
                                        ("forty", "argument --n: invalid int value: 'forty'")])
def test_implausible_numbers_of_personas(tmp_path, n, expected):
    assert expected in user_error("personas", "--run", tmp_path / "run", "--n", n)


@pytest.mark.parametrize("name", BAD_PERSONA_FILES)
def test_bad_persona_files(tmp_path, name):
    content, expected = BAD_PERSONA_FILES[name]
    (tmp_path / name).write_text(content)
    assert expected in user_error("personas", "--run", tmp_path / "run", "--from", tmp_path / name)


def test_undecodable_and_missing_files(tmp_path):
    (tmp_path / "latin.csv").write_bytes("id,occupation\nr1,caf\xe9 owner\n".encode("latin-1"))
    assert "latin.csv is not UTF-8" in user_error("personas", "--run", tmp_path / "a", "--from", tmp_path / "latin.csv")
    assert "does not exist" in user_error("personas", "--run", tmp_path / "b", "--from", tmp_path / "nope.csv")


BAD_BANKS = {
    "domain.yaml": ("- {id: q1, domain: sports, type: open, text: 'Why?'}\n",
                    "item 1 (q1): domain 'sports' is unknown"),
    "type.yaml": ("- {id: q1, domain: finance, type: ranking, text: 'Why?'}\n", "question type 'ranking' is unknown"),
    "missing.yaml": ("- {id: q1, domain: finance, type: open, text: 'Why?'}\n",
                     "no question for domain 'demographics', which has a quota"),
    "deep.json": ("[" * 100_000 + "]" * 100_000 + "\n", "is nested too deeply to read; flatten it"),
}


@pytest.mark.parametrize("name", BAD_BANKS)
def test_bad_banks(tmp_path, name):
    content, expected = BAD_BANKS[name]
    (tmp_path / name).write_text(content)
    ok("personas", "--run", tmp_path / "run", "--profile", "smoke")
    assert expected in user_error("plan", "--run", tmp_path / "run", "--bank", tmp_path / name)


def test_too_few_personas_says_how_many(tmp_path):
    ok("personas", "--run", tmp_path / "run", "--n", "40", "--profile", "paper")
    line = user_error("plan", "--run", tmp_path / "run")
    assert "3568 answers need at least" in line and "personas" in line and "there are 40" in line


def test_usage_errors(tmp_path):
    assert "--run" in user_error("personas")
    assert "invalid choice: 'domain'" in user_error("plan", "--run", tmp_path, "--split", "domain")
    assert "unknown profile 'gpu'" in user_error("personas", "--run", tmp_path / "x", "--profile", "gpu")
    assert "personas.jsonl does not exist" in user_error("plan", "--run", tmp_path / "empty")
    assert "invalid int value" in user_error("personas", "--run", tmp_path / "y", "--n", "many")


def saved_tiny(folder, config_extra=None, pickles=False):
    "A tiny model saved as a user's folder would be: safetensors, or pickles; `config_extra` merged into its config."
    import torch
    from polypersona.models import tiny_model
    model, tok = tiny_model()
    if pickles: model.config.save_pretrained(folder); torch.save(model.state_dict(), folder / "pytorch_model.bin")
    else: model.save_pretrained(folder)
    tok.save_pretrained(folder)
    if config_extra:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **config_extra}))
    return folder


MODEL_FOLDERS = [  # (how the folder is made, the line's telling part); refused before anything loads or runs
    (dict(config_extra={"auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilModel"}}),
     "asks to run its own code ('auto_map' in config.json)"),
    (dict(pickles=True), "holds its weights only as pickle files, which can run code when loaded"),
]


@pytest.mark.parametrize("made,expected", MODEL_FOLDERS)
def test_model_folders_are_data_not_code(tmp_path, made, expected):
    folder = saved_tiny(tmp_path / "model", **made)
    (folder / "modeling_evil.py").write_text("open('PWNED', 'w').write('x')\n")
    for args in (["serve", "--model", folder],
                 ["human", "--run", tmp_path / "run", "--model", folder, "--profile", "smoke"]):
        assert expected in user_error(*args)
    assert not list(tmp_path.rglob("PWNED")) and not (folder.parent / "PWNED").exists()


def test_report_and_evaluate_need_a_run_that_exists(tmp_path):
    "A mistyped --run is an error, not a new empty run."
    for command in ("report", "evaluate"):
        assert "is not a run directory (it has no config.yaml)" in user_error(command, "--run", tmp_path / "typo")
    assert not (tmp_path / "typo").exists()


def test_one_writer_per_run(tmp_path):
    "A second command on a run that another is writing stops at once, in one line; the next start clears a torn write."
    from polypersona.core import run_lock
    run = tmp_path / "run"
    ok("personas", "--run", run, "--profile", "smoke")
    torn = run / ".plan.jsonl.abc123.tmp"
    torn.write_text('{"half": ')
    with run_lock(run):  # this process writes the run for as long as the other command lives
        refused = run_cli("plan", "--run", run)
    assert refused.returncode == 2 and "another polypersona command is writing" in refused.stderr
    ok("plan", "--run", run)
    assert not torn.exists() and (run / "plan.jsonl").exists()


def test_library_warnings_stay_off_the_error_line(tiny_build):
    "The trainer imports trl, peft and bitsandbytes, which warn on a CPU; the user sees only the error (one line)."
    before = (tiny_build / "config.yaml").read_bytes()
    line = user_error("train", "--run", tiny_build, "--model", "tiny-random", "--epochs", "0")
    assert "train.epochs is 0; it should be 1 or more" in line
    assert (tiny_build / "config.yaml").read_bytes() == before  # refused input leaves the run's settings as they were


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; permissions cannot be tested as root")
def test_an_unreadable_file_is_one_line(tmp_path):
    (tmp_path / "p.csv").write_text("id,age\nr1,30\n")
    (tmp_path / "p.csv").chmod(0)
    line = user_error("personas", "--run", tmp_path / "run", "--from", tmp_path / "p.csv")
    assert "p.csv cannot be read (Permission denied); check its permissions" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes any folder; permissions cannot be tested as root")
def test_a_run_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "locked").mkdir(mode=0o500)
    line = user_error("personas", "--run", tmp_path / "locked" / "run", "--profile", "smoke")
    assert "is not writable by this user" in line
