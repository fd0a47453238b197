"Stage 04 as a user runs it: a predictions file and a run's generations, against hand values and the replication."
import json, math
import pandas as pd
import pytest
from polypersona.core import load_config, open_run, write_jsonl
from polypersona.generate import generate
from polypersona.metrics import bootstrap_ci, metrics_dir
from polypersona.text_scores import paper_bleu, rouge
from polypersona.testing import toy_records
from polypersona.train import write_dataset
from conftest import cli_error, run_cli

AGREE5 = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]


def row(i, reference, prediction, **extra):
    return {"id": f"r{i}", "reference": reference, "prediction": prediction, **extra}


def test_hand_values_through_the_command_line(tmp_path):
    rows = [row(1, "I recycle every week at home.", "I recycle every week at home."),       # identical
            row(2, "Cats sleep all day long.", "Quarterly taxes frighten bankers."),         # disjoint
            row(3, "Agree. I love my town!", "Strongly disagree. I hate my awful town.",
                question_type="likert", options=AGREE5),
            row(4, "Neutral.", "=HYPERLINK(\"x\")")]                                        # a formula-looking answer
    write_jsonl(tmp_path / "p.jsonl", rows)
    done = run_cli("evaluate", "--predictions", tmp_path / "p.jsonl", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(tmp_path / "out" / "per_example.csv", keep_default_na=True)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    one, two, three = (df.iloc[i] for i in range(3))
    assert one["bleu"] == 1 and one["rouge1"] == one["rouge2"] == one["rougeL"] == 1 and one["bertscore_f1"] > 0.999
    assert one["length_similarity"] == one["sentence_similarity"] == one["sentiment_alignment"] == 1
    assert two["bleu"] == 0 and two["rouge1"] == 0 and two["bertscore_f1"] < one["bertscore_f1"]
    assert three["closed_exact"] == 0 and three["closed_within_one"] == 0 and three["sentiment_alignment"] < 0.3
    assert three["ref_choice"] == "Agree" and three["pred_choice"] == "Strongly disagree"
    assert df.iloc[3]["prediction"] == "'=HYPERLINK(\"x\")"  # a spreadsheet would run it as a formula
    overall = summary["overall"]
    assert {"bleu", "sacrebleu", "rouge1", "rouge2", "rougeL", "bertscore_f1"} <= set(overall)
    for m in ("bleu", "rouge1", "rougeL", "bertscore_f1", "structural_coherence", "sentiment_alignment"):
        assert math.isclose(overall[m], df[m].mean(), rel_tol=1e-5)  # traceable to the rows
    assert summary["settings"]["bertscore"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert summary["settings"]["sacrebleu_signature"].startswith("nrefs:1")


def test_one_pass_gives_the_separate_libraries_scores(monkeypatch):
    "BERTScore and persona fidelity from one pass of the MiniLM equal bert-score's and the sentence encoder's own."
    from polypersona import metrics, text_scores
    cards = ["I am a 61-year-old farmer in rural Iowa; I grow corn and raise cattle.",
             "I am a 24-year-old software developer in Seattle who loves video games.",
             "I am a 45-year-old nurse in Atlanta working night shifts at a hospital.",
             "I am a 70-year-old retired teacher in Maine who reads and gardens."]
    said = [("I check the cattle before breakfast.", "Cattle first, then the corn fields."),
            ("Mostly gaming after work.", "I play video games and write some code."),
            ("I sleep after my night shift.", "I sleep after my night shift."),  # the same text on both sides
            ("Reading in the garden.", ""),  # an empty answer
            ("Agree.", "Strongly agree."), ("I rarely travel.", "I rarely travel far from the farm."),
            ("Games, games, games.", "word " * 300),  # cut by the sentence encoder: scored the separate way
            ("I grade papers less now.", "Gardening and a good book, mostly.")]
    rows = [{"id": f"r{i}", "reference": ref, "prediction": pred, "question_id": f"q{i % 2}",
             "persona": {"id": f"p{i % 4}", "description": cards[i % 4]}} for i, (ref, pred) in enumerate(said)]
    cfg = load_config("cpu")["metrics"]
    matched, match = [], text_scores.greedy_match
    monkeypatch.setattr(text_scores, "greedy_match",
                        lambda enc, cands, refs, *a: matched.append(cands) or match(enc, cands, refs, *a))
    shared = metrics.per_example(rows, cfg)[0]
    assert len(matched) == 1 and len(matched[0]) == 6  # every row but the empty answer and the long one
    monkeypatch.setattr(metrics, "shares_pass", lambda *a: False)
    separate = metrics.per_example(rows, cfg)[0]
    for c in ("bertscore_p", "bertscore_r", "bertscore_f1"):
        assert list(shared[c]) == pytest.approx(list(separate[c]), abs=1e-4)
    assert list(shared["persona_rank"]) == list(separate["persona_rank"]) and set(shared["persona_rank"]) != {1}
    assert shared["bertscore_f1"][2] == pytest.approx(1, abs=1e-5) and shared["bertscore_f1"][3] == 0


def test_paper_bleu_is_nltk_sentence_bleu_with_method1():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    pairs = [("I save a little every month for emergencies", "I save some money every month"),
             ("No, I rarely travel abroad.", "no i rarely travel"), ("Yes.", "Yes, often."), ("a b c", "")]
    for ref, pred in pairs:
        expected = sentence_bleu([ref.lower().split()], pred.lower().split(),
                                 smoothing_function=SmoothingFunction().method1)
        assert paper_bleu(ref, pred) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_is_seeded_and_contains_the_mean():
    values = [0.1, 0.5, 0.3, 0.9, 0.7, float("nan")]
    mean, lo, hi = bootstrap_ci(values, 500, seed=3)
    assert lo <= mean <= hi and mean == pytest.approx(0.5)
    assert bootstrap_ci(values, 500, seed=3) == (mean, lo, hi) and bootstrap_ci(values, 500, seed=4) != (mean, lo, hi)


def test_replication_scores_match_their_rows(tmp_path, replication):
    "The replication's per-row BLEU and ROUGE, recomputed from its predictions, and its overall means."
    path = replication / "evaluation_results_2" / "test_predictions.jsonl"
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    for r in rows[:100]:
        assert paper_bleu(r["reference"], r["prediction"]) == pytest.approx(r["bleu"], abs=1e-9)
        ours = rouge(r["reference"], r["prediction"])
        keys = ("rouge1", "rouge2", "rougeL")
        assert [ours[k] for k in keys] == pytest.approx([r[k] for k in keys], abs=1e-9)
    done = run_cli("evaluate", "--predictions", path, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    overall = json.loads((tmp_path / "out" / "summary.json").read_text())["overall"]
    reported = pd.read_csv(replication / "evaluation_results_2" / "overall_metrics.csv").set_index("split").loc["test"]
    assert overall["answers"] == reported["n_examples"] == 358
    for m in ("bleu", "rouge1", "rouge2", "rougeL"): assert overall[m] == pytest.approx(reported[m], abs=1e-9)


def test_a_runs_generations(tmp_path):
    write_dataset(tmp_path, [r | {"split": "test" if r["split"] == "validation" else "train"} for r in toy_records(20)])
    cfg = open_run(tmp_path, "smoke", {"generate.max_new_tokens": {"open": 8, "closed": 6}, "generate.batch_size": 4})
    generate(tmp_path, cfg, "tiny-random", "base")
    done = run_cli("evaluate", "--run", tmp_path, "--model", "tiny-random", "--variant", "base")
    assert done.returncode == 0, done.stderr
    out = metrics_dir(tmp_path, "tiny-random", "base")
    assert out == tmp_path / "metrics" / "tiny-random" / "base"
    assert {p.name for p in out.iterdir()} == {"per_example.csv", "summary.json", "groups.csv", "divergence.csv"}
    df = pd.read_csv(out / "per_example.csv")
    assert len(df) == 4 and {"persona_rank", "stylistic_consistency", "self_bleu", "age_band"} <= set(df.columns)
    groups = pd.read_csv(out / "groups.csv")
    assert (groups["bleu_lo"] <= groups["bleu"] + 1e-12).all() and (groups["bleu"] <= groups["bleu_hi"] + 1e-12).all()
    assert "metrics:tiny-random:base:test" in json.loads((tmp_path / "manifest.json").read_text())["stages"]


def test_a_backbone_out_of_reach_falls_back_and_the_report_says_so(tmp_path):
    from polypersona.metrics import evaluate
    from polypersona.report import load_scores, metric_table, STANDARD
    write_dataset(tmp_path, [r | {"split": "test" if r["split"] == "validation" else "train"} for r in toy_records(20)])
    missing = str(tmp_path / "deberta-xlarge-mnli")  # as the paper profile's hub backbone is without the hub
    cfg = open_run(tmp_path, "smoke", {"generate.max_new_tokens": {"open": 8, "closed": 6},
                                       "metrics.bertscore_model": missing,
                                       "metrics.bertscore_fallback": "all-minilm-l6-v2"})
    generate(tmp_path, cfg, "tiny-random", "base")
    with pytest.warns(UserWarning, match="scoring BERTScore with 'all-minilm-l6-v2' instead"):
        evaluate(tmp_path, cfg, "tiny-random", "base")
    bertscore = json.loads((metrics_dir(tmp_path, "tiny-random", "base") / "summary.json").read_text())["settings"]
    assert bertscore["bertscore"] | {"hash": None} == {"model": "sentence-transformers/all-MiniLM-L6-v2", "layer": 6,
                                                       "rescaled": False, "hash": None, "asked": missing}
    table = metric_table(load_scores(tmp_path), STANDARD)
    assert table["bertscore_backbone"][0] == f"sentence-transformers/all-MiniLM-L6-v2 (fallback for {missing})"


def test_bad_evaluation_input(tmp_path, capsys):
    err = lambda *a: cli_error(capsys, "evaluate", *a)
    assert "either --run" in err()
    assert "needs --out" in err("--predictions", tmp_path / "p.jsonl")
    assert "does not exist" in err("--predictions", tmp_path / "missing.jsonl", "--out", tmp_path / "o")
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "reference": "x"}\n')
    assert "row 1: no text for prediction" in err("--predictions", tmp_path / "bad.jsonl", "--out", tmp_path / "o")
    (tmp_path / "broken.jsonl").write_text('{"id": \n')
    assert "line 1: not valid JSON" in err("--predictions", tmp_path / "broken.jsonl", "--out", tmp_path / "o")
    assert "is not a run directory" in err("--run", tmp_path / "typo")
    assert not (tmp_path / "typo").exists()  # a mistyped --run leaves nothing behind
    write_dataset(tmp_path / "run", toy_records(5))
    open_run(tmp_path / "run", "smoke")
    assert "run `polypersona generate" in err("--run", tmp_path / "run", "--model", "tiny-random", "--variant", "base")


BAD_PREDICTION_VALUES = [  # (a line's extra fields, the error's telling part): one line each, before any scoring
    ({"options": "Yes, No"}, "row 1: options is str 'Yes, No'; give a list of strings, or leave it out"),
    ({"options": ["Yes", 2]}, "row 1: options is list"),
    ({"domain": {"name": "health"}}, "row 1: domain is dict"),
    ({"persona": "a nurse"}, "row 1: persona is str 'a nurse'; give an object of the persona's fields"),
    ({"choice": 3}, "row 1: choice is int 3; give a string"),
]


@pytest.mark.parametrize("extra,expected", BAD_PREDICTION_VALUES)
def test_predictions_with_values_of_the_wrong_type(tmp_path, capsys, extra, expected):
    write_jsonl(tmp_path / "p.jsonl", [row(1, "Yes.", "No.", **extra)])
    assert expected in cli_error(capsys, "evaluate", "--predictions", tmp_path / "p.jsonl", "--out", tmp_path / "o")


def test_an_output_folder_that_cannot_be_one_is_refused_before_scoring(tmp_path, capsys):
    write_jsonl(tmp_path / "p.jsonl", [row(1, "Yes.", "No.")])
    (tmp_path / "taken").write_text("a file")
    err = cli_error(capsys, "evaluate", "--predictions", tmp_path / "p.jsonl", "--out", tmp_path / "taken")
    assert "--out" in err
    assert "is a file, not a folder" in err
    assert "needs --out" in cli_error(capsys, "evaluate", "--predictions", tmp_path / "p.jsonl", "--out", "")
