"""Metrics speed on this machine: every metric of stage 04 for the paper's 3,568 answers.

    .venv/bin/python benchmarks/metrics_speed.py [--n 3568]

The answers are the public replication's data set (../shared, if present; else toy records repeated): each
record's reference is scored against the reference of the next record with the same question, lower-cased: a
stand-in prediction with the length and style of a real one, and a text of its own (BERTScore encodes each
distinct text once, so a prediction that equals some reference would cost nothing). Prints the seconds for each part and in all (the target is
under a minute on a 2-core CPU).
"""
import argparse, os, platform, tempfile, time
from collections import defaultdict
from pathlib import Path
from polypersona.core import load_config, write_jsonl
from polypersona.metrics import score_file
from polypersona.train import toy_records

REPLICATION = Path(__file__).resolve().parents[2] / "shared" / "research" / "data" / "Polypersona_Replication" / "generated_data_2"


def rows(n: int) -> list[dict]:
    if REPLICATION.is_dir():
        from polypersona.dialogue import import_original
        recs = import_original(REPLICATION)[3]
    else: recs = toy_records(200)
    recs = [recs[i % len(recs)] | {"id": f"{recs[i % len(recs)]['id']}-{i}"} for i in range(n)]
    by_q = defaultdict(list)
    for r in recs: by_q[r["question_id"]].append(r)
    out = []
    for group in by_q.values():
        for i, r in enumerate(group): out.append(r | {"prediction": group[(i + 1) % len(group)]["reference"].lower()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3568, help="answers to score")
    args = ap.parse_args()
    data = rows(args.n)
    print(f"# metrics speed, {len(data)} answers; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    cfg = load_config("cpu")
    with tempfile.TemporaryDirectory() as d:
        write_jsonl(Path(d) / "p.jsonl", data)
        write_jsonl(Path(d) / "few.jsonl", data[:20])
        start = time.perf_counter()
        score_file(Path(d) / "few.jsonl", Path(d) / "warm", cfg)  # loads the BERTScore and sentence models once
        print(f"loading the models (and 20 answers): {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        summary = score_file(Path(d) / "p.jsonl", Path(d) / "out", cfg)
        total = time.perf_counter() - start
    o = summary["overall"]
    print(f"all metrics: {total:.1f} s ({len(data) / total:.0f} answers/s), models already loaded")
    print(f"bleu {o['bleu']:.4f}, rougeL {o['rougeL']:.4f}, bertscore_f1 {o['bertscore_f1']:.4f}, "
          f"persona_top1 {o.get('persona_top1') or 0:.3f} (chance {o.get('persona_top1_chance') or 0:.3f})")


if __name__ == "__main__":
    main()
