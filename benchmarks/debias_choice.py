"""Which debiasing method answers like the people: every method of `polypersona.questions.DEBIAS` on the validation
respondents of a survey (ANES 1996 by default), with the embedded model (or a run's dialogue-tuned adapter), scored.

    .venv/bin/python benchmarks/debias_choice.py [--run runs/cpu] [--respondents N]

The respondents are split as stage 06 splits them (the cpu profile's `human.split` and seed); only the validation
part is asked, so the choice never sees the test respondents the tables report. Each respondent's items are read
in the given order, its reverse and every rotation once; each method's distribution is made from those reads (the
content-free prior, an empty card, is read the same way once per item). Printed per method: representativeness
on the validation respondents (with the persona-blind and demographic baselines fitted on the training part), the
share of the first option on the 7-point items (with the people's), and Clinton's share of the vote item. The
method with the highest representativeness is the one to make the default of `teacher.debias`,
`generate.debias` and `human.debias`.
"""
import argparse, time
import pandas as pd
from polypersona.backends import LocalBackend
from polypersona.core import load_config
from polypersona.questions import DEBIAS, NO_PERSONA, _shown
from polypersona.human import BASELINES, PEOPLE, baselines, compare, panel_questions
from polypersona.survey import import_survey, sample_survey, split_respondents
from polypersona.models import load_model, load_trained


def reads(backend, asks: list, orders: str) -> dict:
    "For each ask: (the given order's distribution, the mean over `orders`)."
    return dict(zip(range(len(asks)), _shown(backend, asks, orders)))


def calibrated(mean: list[float], prior: list[float]) -> list[float]:
    ratio = [m / max(f, 1e-12) for m, f in zip(mean, prior)]
    return [r / sum(ratio) for r in ratio]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None,
                    help="a run directory: use its dialogue-tuned adapter instead of the base model")
    ap.add_argument("--respondents", type=int, default=None, help="a sample of the survey first (default: all)")
    ap.add_argument("--survey", default="anes96")
    args = ap.parse_args()
    cfg = load_config("cpu")
    h, g = cfg["human"], cfg["generate"]
    parts = split_respondents(sample_survey(import_survey(args.survey), args.respondents, h["seed"]),
                              h["split"], h["seed"])
    val = parts["validation"]
    loaded = (load_trained(args.run, "smollm2-135m", True, precision=g["precision"]) if args.run
              else load_model("smollm2-135m", precision=g["precision"]))
    backend = LocalBackend("smollm2-135m", h["batch_size"], loaded=loaded)
    todo = panel_questions(val)
    asks = [(t["persona"], t["question"]) for t in todo]
    started = time.time()
    rev, cyc = _shown(backend, asks, "reverse"), _shown(backend, asks, "cyclic")
    questions = list({q.id: q for _, q in asks}.values())
    prior = {name: {q.id: mean for q, (_, mean) in zip(questions,
                                                        _shown(backend, [(NO_PERSONA, q) for q in questions], name))}
             for name in ("none", "reverse", "cyclic")}
    made = {"none": [given for given, _ in rev], "reverse": [m for _, m in rev], "cyclic": [m for _, m in cyc]}
    for name in ("none", "reverse", "cyclic"):
        made[f"{name}+calibrate" if name != "none" else "calibrate"] = [calibrated(p, prior[name][q.id])
                                                                        for p, (_, q) in zip(made[name], asks)]
    seconds = time.time() - started
    systems = {m: pd.DataFrame([{"persona_id": t["persona_id"], "item": t["item"], "probs": p}
                                for t, p in zip(todo, made[m])]) for m in DEBIAS}
    res = compare(val, {**systems, **baselines(parts["train"], val)}, cfg["metrics"]["bootstrap"], h["seed"],
                  h["min_group"])
    first = res["first_option"].set_index("system")
    seven = [q.id for q in val.questions if len(q.options) == 7]
    table = res["summary"].set_index("system")[["representativeness", "representativeness_lo",
                                                 "representativeness_hi", "group_mean_r"]]
    table["first option, 7-point items"] = first.loc[table.index, seven].mean(1)
    if "vote" in first.columns: table["vote: Clinton"] = first.loc[table.index, "vote"]
    print(f"# debiasing methods on {len(val.personas)} validation respondents of {val.name} ({len(todo)} items asked), "
          f"{'the adapter of ' + args.run if args.run else 'the base model'}; reads took {seconds:.0f} s\n")
    print(table.round(3).to_markdown())
    print(f"\npeople: first option on 7-point items {first.loc[PEOPLE, seven].mean():.3f}" +
          (f", vote: Clinton {first.loc[PEOPLE, 'vote']:.3f}" if "vote" in first.columns else ""))
    best = table.loc[list(DEBIAS), "representativeness"].idxmax()
    print(f"highest representativeness: {best}; baselines: " +
          ", ".join(f"{b} {table.loc[b, 'representativeness']:.3f}" for b in BASELINES))


if __name__ == "__main__":
    main()
