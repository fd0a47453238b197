"""Metrics speed on this machine: every metric of stage 04 for the paper's 3,568 answers.

    .venv/bin/python benchmarks/metrics_speed.py [--n 3568] [--against REV]

The answers are the public replication's data set (../shared, if present; else toy records repeated): each
record's reference is scored against the reference of the next record with the same question, lower-cased: a
stand-in prediction with the length and style of a real one, and a text of its own (BERTScore encodes each
distinct text once, so a prediction that equals some reference would cost nothing). Prints the seconds for all
metrics, models already loaded (the target is 30 s on 2 idle cores). With --against REV it also times stage 04 as
it was at git revision REV (e.g. 148eef4, the last one before BERTScore and fidelity shared one pass of the
MiniLM) on the same answers in the same run, and prints the ratio and the largest difference of any score.
"""
import argparse, os, platform, subprocess, time, types
from collections import defaultdict
from pathlib import Path
import numpy as np
import pandas as pd
from polypersona import metrics
from polypersona.core import load_config
from polypersona.testing import toy_records

ROOT = Path(__file__).resolve().parents[1]
REPLICATION = ROOT.parent / "shared" / "research" / "data" / "Polypersona_Replication" / "generated_data_2"


def rows(n: int) -> list[dict]:
    if REPLICATION.is_dir():
        from polypersona.teacher import import_original
        recs = import_original(REPLICATION)[3]
    else: recs = toy_records(200)
    recs = [recs[i % len(recs)] | {"id": f"{recs[i % len(recs)]['id']}-{i}"} for i in range(n)]
    by_q = defaultdict(list)
    for r in recs: by_q[r["question_id"]].append(r)
    out = []
    for group in by_q.values():
        for i, r in enumerate(group): out.append(r | {"prediction": group[(i + 1) % len(group)]["reference"].lower()})
    return out


def metrics_at(rev: str) -> types.ModuleType:
    "polypersona/metrics.py as it was at git revision `rev`, importable beside today's."
    src = subprocess.run(["git", "show", f"{rev}:polypersona/metrics.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    module = types.ModuleType(f"polypersona.metrics_{rev}")
    module.__package__ = "polypersona"  # its relative imports find today's core
    exec(compile(src, f"{rev}:polypersona/metrics.py", "exec"), module.__dict__)
    return module


def timed(module, data: list[dict], cfg: dict):
    "Seconds for every metric of `data` (after a warm-up that loads the models) and the per-answer scores."
    start = time.perf_counter()
    module.score_rows(data[:20], cfg)
    print(f"  {module.__name__}: loading the models (and 20 answers): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    df, summary, _, _ = module.score_rows(data, cfg)
    return time.perf_counter() - start, df, summary


def largest_differences(new, old) -> dict:
    "Per score column: the largest absolute difference between two per-answer tables, and in how many answers."
    out = {}
    for c in [c for c in old.columns if c in new.columns and pd.api.types.is_numeric_dtype(old[c])]:
        a, b = new[c].to_numpy(float), old[c].to_numpy(float)
        d = np.abs(a - b)
        d[np.isnan(a) & np.isnan(b)] = 0
        d = np.nan_to_num(d, nan=np.inf)  # NaN on one side only: infinitely different
        out[c] = (float(d.max(initial=0)), int((d > 0).sum()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3568, help="answers to score")
    ap.add_argument("--against", metavar="REV", help="also time stage 04 as it was at this git revision")
    args = ap.parse_args()
    data = rows(args.n)
    print(f"# metrics speed, {len(data)} answers; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    cfg = load_config("cpu")["metrics"]
    total, df, summary = timed(metrics, data, cfg)
    print(f"all metrics: {total:.1f} s ({len(data) / total:.0f} answers/s), models already loaded")
    o = summary["overall"]
    print(f"bleu {o['bleu']:.4f}, rougeL {o['rougeL']:.4f}, bertscore_f1 {o['bertscore_f1']:.4f}, "
          f"persona_top1 {o.get('persona_top1') or 0:.3f} (chance {o.get('persona_top1_chance') or 0:.3f})")
    if args.against:
        before, old_df, _ = timed(metrics_at(args.against), data, cfg)
        print(f"all metrics at {args.against}: {before:.1f} s; now {total:.1f} s, {before / total:.1f}x as fast")
        diff = largest_differences(df, old_df)
        changed = {c: d for c, d in diff.items() if d[0] > 0}
        print("largest differences: " + ", ".join(f"{c} {d:.1e} ({n} answers)" for c, (d, n) in changed.items())
              if changed else f"every score is the same as at {args.against} ({len(diff)} columns)")


if __name__ == "__main__":
    main()
