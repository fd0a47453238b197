"""Speed of stage 06 on this machine: seconds a request for the embedded model to score a survey item's options and
to sample a parsed answer, on today's path (fp32, every prompt read whole, batch 16) and now (the machine's
precision, each respondent's prompt start read once, the cpu profile's batch); and what a whole panel would take.

    .venv/bin/python benchmarks/human_speed.py [--respondents 32] [--survey anes96]

Each method answers every item of the survey for a seeded sample of respondents (batch size and budgets from the
cpu profile) after a warm-up, first without debiasing and then scored as the cpu profile debiases them; the
projection multiplies by the cpu profile's test respondents, for its two variants (base and tuned cost the same
once the adapter is merged). Timings vary by
about 20 % on shared machines.
"""
import argparse, os, platform, time
import torch
from polypersona.backends import LocalBackend
from polypersona.core import load_config
from polypersona.human import answer_panel, panel_questions
from polypersona.survey import import_survey, sample_survey, split_respondents
from polypersona.models import choose_precision, load_model


def seconds_a_request(backend, method: str, questions: list[dict], h: dict) -> tuple[float, list[dict]]:
    answer_panel(backend, method, questions[:2], h)  # warm up
    start = time.perf_counter()
    rows = answer_panel(backend, method, questions, h)
    return (time.perf_counter() - start) / len(questions), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--respondents", type=int, default=32, help="respondents to ask every item")
    ap.add_argument("--survey", default="anes96", help="a built-in survey or a mapping file")
    args = ap.parse_args()
    cfg = load_config("cpu")
    h, g = cfg["human"], cfg["generate"]
    survey = import_survey(args.survey)
    questions = panel_questions(sample_survey(survey, args.respondents, h["seed"]))
    now = choose_precision(g["precision"])[0]
    print(f"# stage 06 speed, {len(questions)} requests a method, SmolLM2-135M; "
          f"{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    per, today = {}, "today's path (fp32, each prompt whole, batch 16)"
    plain = {**h, "debias": "none"}  # the read itself; debiasing multiplies it (below)
    for label, precision, cache, batch in ((today, "fp32", False, 16),
                                           (f"now ({now}, respondent start once, batch {h['batch_size']})", now, True,
                                            h["batch_size"])):
        backend = LocalBackend("smollm2-135m", batch, h["temperature"], h["top_p"],
                               loaded=load_model(precision=precision), prefix_cache=cache)
        for method in ("scores", "generate"):
            per[label, method], rows = seconds_a_request(backend, method, questions, plain)
            extra = ("" if method == "scores"
                     else f", {sum(r['choice'] is not None for r in rows) / len(rows):.0%} name an option")
            print(f"{label:<52} {method:<9} {per[label, method]:.3f} s a request{extra}")
    per[label, "debiased"], _ = seconds_a_request(backend, "scores", questions, h)
    print(f"{label:<52} {'scores':<9} {per[label, 'debiased']:.3f} s a request, debiased by {h['debias']}")
    for method in ("scores", "generate"):
        print(f"{method}: today's path / now: {per[today, method] / per[label, method]:.2f} x")
    items, tested = len(survey.questions), len(split_respondents(survey, h["split"], h["seed"])["test"].personas)
    print(f"the cpu profile's main job ({tested} test respondents x {items} items, base and dialogue-tuned, "
          "debiased scores), now: "
          f"{2 * tested * items * per[label, 'debiased'] / 60:.1f} min")

if __name__ == "__main__":
    main()
