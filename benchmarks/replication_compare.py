"""Our pipeline against the public PolyPersona replication, on the replication's own data.

    .venv/bin/python benchmarks/replication_compare.py [--data DIR] [--out runs/replication]
        [--train 800] [--test 160] [--epochs 1] [--model smollm2-135m] [--page benchmarks/replication]

The replication trained TinyLlama-1.1B with LoRA on one-sentence answers written by Qwen2.5-7B
(`generated_data_2`, 2,854 / 356 / 358 rows, split at random over rows) and published its test predictions.
This script imports that data set with `polypersona`'s importer, trains the embedded SmolLM2-135M on it with our
trainer, answers the test questions with the untrained and the tuned model, and scores everything, the
replication's own predictions included, with our metrics (stage 04), with bootstrap 95 % intervals. It does so
on two splits of the same data:

- random: the replication's split as published. 180 of its 358 test (persona, question) prompts also occur in
  its training split, 100 of them with the very same answer, and every test persona answers in training.
- persona: the (persona, question) duplicates removed (the first row of each pair kept), then re-split so that no
  validation or test persona answers in training (`polypersona.plan.split_by_persona`, 80 / 10 / 10).

On two CPU cores the whole training split takes hours (about 2.2 s an example an epoch), so by default a seeded
sample of `--train` training rows and `--test` test rows is used (`--train 0 --test 0`: every row). Each split is
a polypersona run under `--out`; a killed benchmark resumes where it stopped. The tables, figures and
`results.json` go to `--page` (the results page's folder). `--data` defaults to the copy beside this repository
(../shared/research/data/Polypersona_Replication); elsewhere, clone the replication and point `--data` at it.
"""
import argparse, json, random, shutil, time
from pathlib import Path
import numpy as np
import pandas as pd
from polypersona.core import (environment, fail, open_run, read_jsonl, read_manifest, stages_done, write_json,
                              write_jsonl)
from polypersona.plan import split_by_persona
from polypersona.teacher import ORIGINAL_NAMES, build_import, import_original, read_original
from polypersona.generate import generate, output_path
from polypersona.metrics import bootstrap_ci, divergence_table, score_rows
from polypersona.text_scores import corpus_sacrebleu
from polypersona.train import model_key, train_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "research" / "data" / "Polypersona_Replication"
SEED, VAL_ROWS = 42, 48
STANDARD = {"bleu": "BLEU", "sacrebleu": "sacreBLEU", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L",
            "bertscore_f1": "BERTScore F1"}
SURVEY = {"structural_coherence": "structural coherence", "sentiment_alignment": "sentiment alignment",
          "stylistic_consistency": "stylistic consistency", "survey_quality": "survey quality",
          "persona_top1": "persona top-1", "words": "words"}


# ---- the two splits of the replication's data -------------------------------------------------------------

def prompt_key(r: dict) -> tuple:
    return (r["meta"]["persona_id"], r["question"])


def drop_duplicates(rows: list[dict]) -> list[dict]:
    "The rows without repeated (persona, question) prompts: the first row of each prompt is kept."
    seen, out = set(), []
    for r in rows:
        if prompt_key(r) not in seen: seen.add(prompt_key(r)); out.append(r)
    return out


def persona_split(rows: list[dict]) -> list[dict]:
    "The rows re-split 80 / 10 / 10 by persona: no validation or test persona answers in training."
    rows = [{**r, "persona_id": r["meta"]["persona_id"]} for r in rows]
    where = split_by_persona(random.Random(SEED), rows, {"train": 0.8, "validation": 0.1, "test": 0.1})
    return [{**r, "split": where[r["persona_id"]]} for r in rows]


def sample(rows: list[dict], sizes: dict) -> list[dict]:
    "A seeded sample of `sizes[split]` rows of each split (0: all of them), in the original order."
    keep = set()
    for split, n in sizes.items():
        ids = [r["id"] for r in rows if r["split"] == split]
        keep |= set(random.Random(SEED).sample(ids, n) if 0 < n < len(ids) else ids)
    return [r for r in rows if r["id"] in keep]


def write_source(rows: list[dict], folder: Path) -> Path:
    "The rows as an original-format data set (train.json, val.json, test.json, one JSON object a line)."
    for split, name in ORIGINAL_NAMES.items():
        write_jsonl(folder / f"{name}.json", [{k: v for k, v in r.items() if k not in ("split", "persona_id")}
                                               for r in rows if r["split"] == split])
    return folder


# ---- a split's run: import, train, answer -----------------------------------------------------------------

def run_split(name: str, rows: list[dict], args) -> tuple[Path, dict]:
    "The run of one split under --out: the data imported, the model trained, base and tuned answers to its test rows."
    run = Path(args.out) / name
    wanted = {"train": args.train, "validation": VAL_ROWS, "test": args.test, "epochs": args.epochs,
              "model": args.model}
    made = run / "benchmark.json"
    if made.exists() and json.loads(made.read_text()) != wanted:
        fail(f"{run} was made with {json.loads(made.read_text())}, not {wanted}; give another --out")
    run.mkdir(parents=True, exist_ok=True)
    made.write_text(json.dumps(wanted) + "\n")
    sizes = {"train": args.train, "validation": VAL_ROWS, "test": args.test}
    source = write_source(sample(rows, sizes), run / "source")
    cfg = open_run(run, args.profile, {"teacher.backend": "import", "teacher.import_path": str(source),
                                       "train.epochs": args.epochs})
    if "dataset" not in stages_done(run): build_import(run, cfg)
    train_model(run, cfg, args.model)
    for variant in ("base", "tuned"): generate(run, cfg, args.model, variant)
    return run, cfg


def other_decodings(run: Path, cfg: dict, args) -> dict:
    "The tuned model's answers to the same test rows with open, then closed, questions decoded the other way."
    twins = {}
    for kind in ("open", "closed"):
        other = "greedy" if cfg["generate"][kind] == "sample" else "sample"
        twin = twins[f"{kind} answers {other}"] = run.parent / f"{run.name}-{kind}-{other}"
        if not twin.exists():  # the same data and adapter; only the answers are made again
            part = twin.with_name(twin.name + ".part")  # a copy cut short is made again, never used
            shutil.rmtree(part, ignore_errors=True)
            shutil.copytree(run, part, ignore=shutil.ignore_patterns("generations", "metrics"))
            part.rename(twin)
        generate(twin, open_run(twin, None, {f"generate.{kind}": other}), args.model, "tuned")
    return twins


def stage_times(runs: list[Path], twins: list[Path]) -> dict:
    "Each stage's wall time in seconds, as the runs' manifests recorded it (so a resumed benchmark keeps them)."
    times = {}
    for run in runs:
        for stage, s in read_manifest(run)["stages"].items():
            # the import records all three at once
            if stage not in ("personas", "plan"): times[f"{run.name}: {stage}"] = s["wall_s"]
    for twin in twins:  # the rest of a twin's manifest is its original's
        times.update({f"{twin.name}: {k}": s["wall_s"] for k, s in read_manifest(twin)["stages"].items()
                      if k.startswith("generate") and ":tuned:" in k})
    return {k: round(v, 1) for k, v in times.items()}


# ---- scores -----------------------------------------------------------------------------------------------

def scored(rows: list[dict], cfg: dict) -> pd.DataFrame:
    "Per-answer scores of rows (id, reference, prediction, persona, question fields)."
    df = score_rows(rows, cfg["metrics"])[0]
    df["words"] = [len(p.split()) for p in df["prediction"]]
    return df


def closed_answers(frames: dict) -> pd.DataFrame:
    "Per system and closed question type: agreement with the reference's option, and how far the option shares are."
    rows = []
    for system, df in frames.items():
        div = divergence_table(df)  # empty when no answer names an option
        div = div[div["group"] == "all"].set_index("question_type") if len(div) else pd.DataFrame()
        of = lambda col, qtype: div[col].get(qtype) if col in div else None
        for qtype, g in df[df["ref_choice"].notna()].groupby("question_type"):
            first = g["options"].iloc[0][0]  # yes, strongly disagree, ...
            rows.append({"system": system, "question_type": qtype, "answers": len(g), "exact": g["closed_exact"].mean(),
                         "within_one": g["closed_within_one"].mean(), "js_divergence": of("js_divergence", qtype),
                         "wasserstein": of("wasserstein", qtype),
                         f"share '{first}' (answers / references)":
                             f"{(g['pred_choice'] == first).mean():.2f} / {(g['ref_choice'] == first).mean():.2f}"})
    return pd.DataFrame(rows)


def replication_rows(data: Path, test_records: list[dict]) -> list[dict]:
    "The replication's test predictions, joined by id to our records of the same rows (persona, question, options)."
    preds = {r["id"]: r for r in read_jsonl(data / "evaluation_results_2" / "test_predictions.jsonl",
                                            "replication predictions")}
    return [{**r, "prediction": preds[r["id"]]["prediction"]} for r in test_records]


def row_sacrebleu(df: pd.DataFrame, n: int) -> tuple[float, float, float]:
    "Corpus sacreBLEU of the rows and a bootstrap interval over rows."
    refs, preds = list(df["reference"]), list(df["prediction"])
    rng = np.random.default_rng(SEED)
    draws = [corpus_sacrebleu([refs[i] for i in idx], [preds[i] for i in idx])[0]
             for idx in rng.integers(0, len(refs), size=(n, len(refs)))]
    return corpus_sacrebleu(refs, preds)[0], float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def system_row(system: str, split: str, df: pd.DataFrame, n: int) -> dict:
    "One table row: each metric's mean and its 95 % interval over the answers."
    row = {"system": system, "split": split, "answers": len(df), "personas": int(df["persona_id"].nunique())}
    for m in {**STANDARD, **SURVEY}:
        row[m], row[f"{m}_lo"], row[f"{m}_hi"] = (row_sacrebleu(df, n // 5) if m == "sacrebleu"
                                                  else bootstrap_ci(df[m], n, SEED))
    row["persona_top1_chance"] = 1 / row["personas"]
    return row


def published(data: Path) -> dict:
    "The replication's own test scores (its code: NLTK BLEU, rouge-score, BERTScore with bert-base-uncased)."
    p = pd.read_csv(data / "evaluation_results_2" / "overall_metrics.csv").set_index("split").loc["test"]
    return {"system": "replication TinyLlama-1.1B, as published", "split": "random", "answers": int(p["n_examples"]),
            **{m: float(p[m]) for m in ("bleu", "rouge1", "rouge2", "rougeL", "bertscore_f1")}}


def paired(a: pd.DataFrame, b: pd.DataFrame, metrics, n: int) -> pd.DataFrame:
    "b minus a on the same answers (matched by id), with a paired bootstrap 95 % interval."
    m = a[["id", *metrics]].merge(b[["id", *metrics]], on="id", suffixes=("_a", "_b"))
    rows = []
    for k in metrics:
        diff, lo, hi = bootstrap_ci(m[f"{k}_b"] - m[f"{k}_a"], n, SEED)
        rows.append({"metric": k, "answers": len(m), "a": m[f"{k}_a"].mean(), "b": m[f"{k}_b"].mean(),
                     "difference": diff, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def by(frames: dict, column: str, metrics=("bleu", "rougeL", "bertscore_f1"), n: int = 0) -> pd.DataFrame:
    "Each system's mean of `metrics` by `column` (domain, question type, seen in training); with intervals if `n`."
    rows = []
    for name, df in frames.items():
        for value, g in df.groupby(column):
            row = {"system": name, column: value, "answers": len(g)}
            for m in metrics:
                mean, lo, hi = bootstrap_ci(g[m], max(n, 1), SEED)
                row |= {m: mean, f"{m}_lo": lo, f"{m}_hi": hi} if n else {m: mean}
            rows.append(row)
    return pd.DataFrame(rows)


def with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    "`df` for the page: each metric that has an interval as one cell, `mean (lo–hi)`."
    out = df.drop(columns=[c for c in df if c.endswith(("_lo", "_hi"))])
    for m in [c for c in out if f"{c}_lo" in df]:
        out[m] = [f"{v:.3f} ({lo:.3f}–{hi:.3f})" for v, lo, hi in zip(df[m], df[f"{m}_lo"], df[f"{m}_hi"])]
    return out


# ---- the page ---------------------------------------------------------------------------------------------

def cell(row: dict, m: str) -> str:
    if pd.isna(row.get(m)): return "–"
    v = f"{row[m]:.1f}" if m == "words" else f"{row[m]:.3f}"
    return v if pd.isna(row.get(f"{m}_lo")) else \
        f"{v} ({row[f'{m}_lo']:.3f}–{row[f'{m}_hi']:.3f})" if m != "words" else \
        f"{v} ({row[f'{m}_lo']:.1f}–{row[f'{m}_hi']:.1f})"


def markdown(rows: list[dict], columns: dict) -> str:
    head = ["system", "split", "answers", "personas", *columns.values()]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|" + "---:|" * len(columns)]
    lines += ["| " + " | ".join([r["system"], r["split"], str(r["answers"]), str(r.get("personas", "–")),
                                 *(cell(r, m) for m in columns)]) + " |"
              for r in rows]
    return "\n".join(lines)


def figures(rows: list[dict], seen: pd.DataFrame, page: Path) -> list[str]:
    "A bar chart of the systems' main metrics with their intervals, and of the seen / unseen prompts."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from polypersona.report import save_figure
    shown = [r for r in rows if "rougeL_lo" in r]  # the published row has no answers to draw intervals from
    metrics = ["bleu", "rouge1", "rougeL", "bertscore_f1", "survey_quality"]
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(shown)
    for i, r in enumerate(shown):
        x = np.arange(len(metrics)) + i * width
        y = [r[m] for m in metrics]
        err = [[r[m] - r[f"{m}_lo"] for m in metrics], [r[f"{m}_hi"] - r[m] for m in metrics]]
        ax.bar(x, y, width, yerr=err, capsize=2, label=f"{r['system']}: {r['split']} split, {r['answers']} answers")
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - width / 2, [{**STANDARD, **SURVEY}[m] for m in metrics])
    ax.set_ylabel("mean over test answers (95 % interval)"); ax.legend(fontsize=7, loc="upper left"); ax.set_ylim(0, 1)
    save_figure(fig, "systems", page)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)
    for ax, m in zip(axes, ("bleu", "rougeL")):
        wide = seen.pivot(index="system", columns="prompt_in_train", values=m)
        wide.loc[list(dict.fromkeys(seen["system"]))[::-1]].plot.barh(ax=ax)
        ax.set_title(STANDARD[m]); ax.set_ylabel("")
        ax.legend(title="test prompt also in training", fontsize=7)
    save_figure(fig, "seen_in_training", page)
    return ["systems.png", "seen_in_training.png"]


def write_page(page: Path, rows, diff, decoding, closed, seen, domains, types, times, args, env) -> Path:
    show = lambda df: df.to_markdown(index=False, floatfmt=".3f")
    text = ["# Replication comparison: generated tables", "",
            f"Made by `python benchmarks/replication_compare.py --train {args.train} --test {args.test} "
            f"--epochs {args.epochs} --model {args.model}` on {env['cpus']} CPU cores ({env['platform']}, "
            f"torch {env['packages'].get('torch')}), {sum(times.values()) / 60:.1f} minutes in all.", "",
            "BERTScore is ours (all-MiniLM-L6-v2, layer 6, per answer); the published row's is the replication's "
            "(bert-base-uncased, the mean of each chunk of 16 given to every row of it), so those two differ by "
            "definition.", "",
            "## Standard metrics", "", markdown(rows, STANDARD), "",
            "## Survey metrics and persona fidelity", "",
            markdown([r for r in rows if "structural_coherence" in r], SURVEY), "",
            "Persona top-1: how often the answer is closer (MiniLM) to its own persona's card than to every other test "
            "persona's; chance is 1 / personas.", "",
            "## Ours tuned minus the replication, same answers (random split)", "", show(diff), "",
            f"## The tuned model's answers decoded otherwise than the `{args.profile}` profile does, "
            "same answers (random split)", "",
            show(decoding), "", "Each row: the other decoding minus the profile's, with a paired 95 % interval. "
            "Self-BLEU is the answers' similarity to other personas' answers to the same question "
            "(lower: more diverse).", "",
            "## Closed answers: the option read from each answer against the reference's (random split, sampled rows)",
            "",
            show(closed), "", "Jensen-Shannon divergence (base 2) and Wasserstein distance (ordered scales, over the "
            "span) of the answers' option shares from the references' over all answers of the type; 0 is the same "
            "distribution.", "",
            "## By whether the test prompt (persona, question) also occurs in the replication's training split", "",
            show(with_intervals(seen)), "",
            "## By domain", "", show(domains), "", "## By question type", "", show(types), "",
            "## Time (seconds)", "", "\n".join(f"- {k}: {v}" for k, v in times.items()), ""]
    return (page / "tables.md").write_text("\n".join(text)) or page / "tables.md"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA),
                    help="the replication's data folder (with generated_data_2 and evaluation_results_2)")
    ap.add_argument("--out", default="runs/replication", help="where the two runs go")
    ap.add_argument("--page", default=str(REPO / "benchmarks" / "replication"),
                    help="where the tables, figures and results.json go")
    ap.add_argument("--train", type=int, default=800, help="training rows sampled from each split (0: all)")
    ap.add_argument("--test", type=int, default=160, help="test rows sampled from each split (0: all)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--profile", default="cpu", help="the polypersona profile whose settings the runs use")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)
    data, page = Path(args.data), Path(args.page)
    for key in ("train", "test", "epochs", "bootstrap"):
        if getattr(args, key) < (0 if key in ("train", "test") else 1):
            fail(f"--{key} is {getattr(args, key)}; "
                 f"give {'0 (all rows) or more' if key in ('train', 'test') else '1 or more'}")
    if not (data / "generated_data_2").is_dir() or not (data / "evaluation_results_2").is_dir():
        fail(f"{data} is not the replication's data folder (it needs generated_data_2/ and evaluation_results_2/); "
             "clone huikangjiang06/Polypersona_Replication and pass --data")
    page.mkdir(parents=True, exist_ok=True)
    rows = read_original(data / "generated_data_2")
    runs = {"random": run_split("random", rows, args),
            "persona": run_split("persona", persona_split(drop_duplicates(rows)), args)}
    cfg, n, label = runs["random"][1], args.bootstrap, model_key(args.model)
    twins = other_decodings(runs["random"][0], cfg, args)

    start = time.time()
    # the replication's 358 test rows as our importer makes them, to score its predictions on every one
    every_test = [r for r in import_original(data / "generated_data_2")[3] if r["split"] == "test"]
    replication = scored(replication_rows(data, every_test), cfg)
    sampled = {r["id"] for r in read_jsonl(runs["random"][0] / "dataset" / "test.jsonl")}
    rep_sample = replication[replication["id"].isin(sampled)]
    table = [published(data), system_row("replication TinyLlama-1.1B, rescored by us", "random", replication, n)]
    if len(rep_sample) < len(replication):
        table.append(system_row("replication TinyLlama-1.1B, rescored by us", "random, sampled", rep_sample, n))
    ours = {}
    for split, (run, _) in runs.items():
        for variant, title in (("base", "untrained"), ("tuned", "tuned")):
            ours[split, variant] = scored(read_jsonl(output_path(run, args.model, variant)), cfg)
            table.append(system_row(f"{label} {title}", split + (", sampled" if args.test else ""),
                                    ours[split, variant], n))
    decoded = {how: scored(read_jsonl(output_path(twin, args.model, "tuned")), cfg) for how, twin in twins.items()}
    for how, df in decoded.items():
        table.append(system_row(f"{label} tuned, {how}", "random" + (", sampled" if args.test else ""), df, n))
    tuned = ours["random", "tuned"]
    diff = paired(rep_sample, tuned, ("bleu", "rouge1", "rougeL", "bertscore_f1", "survey_quality", "words"), n)
    diff = diff.rename(columns={"a": "replication", "b": f"{label} tuned"})
    decoding = pd.concat([paired(tuned, df, ("bleu", "rougeL", "bertscore_f1", "closed_exact", "survey_quality",
                                             "self_bleu", "words"), n)
                          .rename(columns={"a": "profile's decoding", "b": "other"}).assign(other=how)
                          for how, df in decoded.items()])
    closed = closed_answers({"replication": rep_sample, f"{label} tuned": tuned,
                             **{f"{label} tuned, {h}": d for h, d in decoded.items()}})
    seen_frames = {"replication, all 358": replication, "replication, sampled": rep_sample,
                   f"{label} untrained": ours["random", "base"], f"{label} tuned": tuned}
    train_prompts = {prompt_key(r) for r in rows if r["split"] == "train"}
    in_train = {r["id"]: (r["persona_id"], r["question"]) in train_prompts for r in every_test}
    seen = by({k: df.assign(prompt_in_train=df["id"].map(in_train)) for k, df in seen_frames.items()},
              "prompt_in_train", n=n)
    compared = {"replication": rep_sample, f"{label} tuned": tuned,
                f"{label} tuned, persona split": ours["persona", "tuned"]}
    domains, types = by(compared, "domain"), by(compared, "question_type")
    times = {**stage_times([run for run, _ in runs.values()], list(twins.values())),
             "scoring": round(time.time() - start, 1)}
    env = environment()
    shown = figures(table, seen, page)
    write_page(page, table, diff, decoding, closed, seen, domains, types, times, args, env)
    # paths of this machine stay out
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "out", "page")}
    results = {"args": settings, "environment": env, "seconds": times, "table": table,
               "difference": diff.to_dict("records"), "decoding": decoding.to_dict("records"),
               "closed": closed.to_dict("records"), "seen_in_training": seen.to_dict("records"),
               "domains": domains.to_dict("records"), "types": types.to_dict("records"), "figures": shown}
    write_json(page / "results.json", results, indent=1, default=float)  # strict JSON: numbers, and null for NaN
    print(markdown(table, STANDARD)); print()
    print(markdown([r for r in table if "structural_coherence" in r], SURVEY))
    print(f"\ntables, figures and results.json in {page}")


if __name__ == "__main__":
    from polypersona.core import PolyPersonaError
    try: main()
    except PolyPersonaError as e: raise SystemExit(f"replication_compare: error: {e}")
