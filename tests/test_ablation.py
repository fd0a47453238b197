"The ablation grid: its points and their configs, the persona share, the shared base answers, the table and figure."
import hashlib, json, time
import pytest
from polypersona import ablation
from polypersona.ablation import ablation_points, has_grid, point_config, point_data, prepare_point, run_ablation
from polypersona.cli import main
from polypersona.core import PolyPersonaError, load_config, open_run, read_jsonl, record_stage, stages_done
from polypersona.generate import generate, output_path
from polypersona.testing import run_here, toy_records
from polypersona.train import write_dataset

SMALL = {"models": ["tiny-random"], "train.batch_size": 4, "train.learning_rate": 0.01, "generate.batch_size": 4,
         "generate.max_new_tokens": {"open": 12, "closed": 8}, "metrics.bootstrap": 200}


def toy_main(path, n=40):
    "A main run whose data stages are done: 40 toy answers of ten personas, 24 to train on, 8 to answer."
    rows = [r | {"persona_id": f"p{i // 4}"} | ({"split": "test"} if i % 5 == 3 else {})
            for i, r in enumerate(toy_records(n))]
    write_dataset(path, rows)
    for stage in ("personas", "plan", "dataset"): record_stage(path, stage, [], time.time())
    return path


def test_the_grid_of_the_ablation_profile():
    cfg = load_config("ablation")
    points = ablation_points(cfg)
    assert [p.name for p in points] == ["reference", "lora_rank-4", "lora_rank-64", "lora_targets-attention",
                                        "persona_share-0.5"]
    assert {p.factor for p in points} == {"reference", "lora_rank", "lora_targets", "persona_share"}
    assert points[2].overrides == {"train.lora.r": 64, "train.lora.alpha": 128}  # alpha stays twice the rank
    assert points[3].settings == {"lora_rank": 16, "lora_targets": "attention", "persona_share": 1.0}
    lora = point_config(cfg, points[3])["train"]["lora"]
    assert (lora["r"], lora["targets"]) == (16, ["q_proj", "k_proj", "v_proj", "o_proj"])
    assert point_config(cfg, points[0])["train"] == cfg["train"]  # the reference trains as the profile does
    assert not has_grid(point_config(cfg, points[4]))  # a point's run is a plain run
    assert not any(has_grid(load_config(p)) for p in ("cpu", "smoke", "paper", "colab-t4"))
    assert ablation_points(load_config("cpu")) == []
    # the tiny model's registry targets are attention only: its reference is "attention", the other set a point
    tiny = ablation_points(load_config("ablation", {"models": ["tiny-random"], "train.lora.alpha": 48}))
    assert [p.name for p in tiny][3] == "lora_targets-attention-mlp"
    assert tiny[1].overrides["train.lora.alpha"] == 12  # 4 x 48 / 16


@pytest.mark.parametrize("overrides, message", [
    ({"ablation.lora_rank": [0]}, "ablation.lora_rank has 0"),
    ({"ablation.lora_targets": ["mlp"]}, "ablation.lora_targets has 'mlp'"),
    ({"ablation.persona_share": [0]}, "ablation.persona_share has 0"),
    ({"models": ["smollm2-135m", "tiny-random"]}, "lists 2 under models"),
    ({"ablation.lora_rank": [16], "ablation.lora_targets": ["attention-mlp"], "ablation.persona_share": [1.0]},
     "holds only the profile's own settings")])
def test_a_grid_that_cannot_run_is_refused(overrides, message):
    with pytest.raises(PolyPersonaError, match=message): ablation_points(load_config("ablation", overrides))


def test_a_persona_share_keeps_whole_personas_and_the_val_and_test_splits(tmp_path):
    main_run = toy_main(tmp_path / "main")
    data = lambda sub, split: read_jsonl(sub / "dataset" / f"{split}.jsonl")
    train = data(main_run, "train")
    for seed in (42, 42, 7):
        sub = tmp_path / f"half-{seed}"
        point_data(main_run, sub, 0.5, seed)
        kept = {r["persona_id"] for r in data(sub, "train")}
        assert len(kept) == 5  # half of the ten personas, each with every training answer it gave
        assert data(sub, "train") == [r for r in train if r["persona_id"] in kept]
        for split in ("validation", "test"):
            same = (main_run / "dataset" / f"{split}.jsonl").read_bytes()
            assert (sub / "dataset" / f"{split}.jsonl").read_bytes() == same
        stats = json.loads((sub / "dataset" / "stats.json").read_text())
        files = b"".join((sub / "dataset" / f"{s}.jsonl").read_bytes() for s in ("train", "validation", "test"))
        assert stats["content_hash"] == hashlib.sha256(files).hexdigest() != "example"
        assert (stats["train_personas"], stats["splits"]["train"]) == (sorted(kept), len(data(sub, "train")))
    assert (tmp_path / "half-42" / "dataset" / "train.jsonl").read_bytes() != (
        tmp_path / "half-7" / "dataset" / "train.jsonl").read_bytes()  # another seed, other personas
    point_data(main_run, tmp_path / "all", 1.0, 42)
    for f in ("train.jsonl", "stats.json"):
        assert (tmp_path / "all" / "dataset" / f).read_bytes() == (main_run / "dataset" / f).read_bytes()


@pytest.fixture(scope="module")
def tiny_ablation(tmp_path_factory):
    "A grid of the tiny model run in this process: the reference, rank 4 and half the personas."
    run = toy_main(tmp_path_factory.mktemp("ablation") / "run")
    cfg = open_run(run, "smoke", {**SMALL, "ablation.lora_rank": [4], "ablation.persona_share": [0.5]})
    return run, cfg, run_ablation(run, cfg, execute=run_here)


def test_the_base_answers_are_made_once_and_reused(tiny_ablation):
    run, cfg, steps = tiny_ablation
    assert steps["03_generate__tiny-random"] != "skipped"  # made in the main run
    made = output_path(run, "tiny-random", "base")
    for point in ("reference", "lora_rank-4", "persona_share-0.5"):
        sub = run / "ablation" / point
        assert output_path(sub, "tiny-random", "base").read_bytes() == made.read_bytes()
        counts = generate(sub, open_run(sub), "tiny-random", "base")  # the settings guard passes: nothing to do
        assert (counts["answered_now"], counts["answered"]) == (0, 8)
    assert "generate:tiny-random:tuned:test" not in stages_done(run)  # tuned answers live in the points' runs
    tuned = [output_path(run / "ablation" / p, "tiny-random", "tuned") for p in ("reference", "lora_rank-4")]
    assert tuned[0].read_bytes() != tuned[1].read_bytes()  # each point answers with its own adapter


def test_a_point_folder_made_with_other_settings_is_refused(tiny_ablation):
    run, cfg, _ = tiny_ablation
    points = ablation_points(cfg)
    assert prepare_point(run, cfg, points[1]) == run / "ablation" / "lora_rank-4"  # again: the same settings
    other = {**cfg, "train": {**cfg["train"], "epochs": 2}}
    with pytest.raises(PolyPersonaError, match="lora_rank-4 was made with other settings .train."):
        prepare_point(run, other, points[1])


def test_the_table_the_figure_and_the_command(tiny_ablation, tmp_path, capsys, monkeypatch):
    run, cfg, steps = tiny_ablation
    table = ablation.ablation_table(run)
    assert list(table["point"]) == ["reference", "lora_rank-4", "persona_share-0.5"]
    assert list(table["factor"]) == ["reference", "lora_rank", "persona_share"]
    half = len(read_jsonl(run / "ablation" / "persona_share-0.5" / "dataset" / "train.jsonl"))
    assert list(table["train_examples"]) == [24, 24, half] and half < 24  # half of the personas, each whole
    assert list(table["lora_rank"]) == [16, 4, 16]
    for m in ("survey_quality", "rougeL"):
        assert (table[f"{m}_lo"] <= table[f"{m}_diff"]).all() and (table[f"{m}_diff"] <= table[f"{m}_hi"]).all()
    scores = ["val_loss", "train_s", "rougeL", "bertscore_f1", "survey_quality", "closed_exact"]
    assert table[scores].notna().all().all()
    for f in ("tables/ablation.csv", "tables/ablation.md", "tables/ablation.tex", "figures/ablation.png",
              "figures/ablation.pdf"):
        assert (run / f).stat().st_size > 0
    assert "ablation" in stages_done(run)
    # the command: a profile with a grid runs the ablation (here in this process), resumed, and prints where it is
    monkeypatch.setattr(ablation, "run_ablation", lambda r, c, w: run_ablation(r, c, w, execute=run_here))
    assert main(["reproduce", "--profile", "smoke", "--run", str(run), "--figures", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert "0 notebooks executed, 12 already complete" in out
    assert "lora_rank-4: survey quality" in out and f"table: {run / 'tables' / 'ablation.md'}" in out
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["ablation.md", "ablation.pdf", "ablation.png"]
