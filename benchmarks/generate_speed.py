"""Generation speed on this machine: answers per second of the embedded model on today's path (fp32, every prompt
read whole, batch 16) against reading each persona's shared prompt start once, in fp32 and in bf16, and against
the cpu profile's settings now (the precision chosen for this CPU, persona start once, its batch size).

    .venv/bin/python benchmarks/generate_speed.py [--n 64]

The questions are `n` pairs of the built-in bank, eight a persona as in the cpu profile, closed and open mixed;
each setting answers all of them as stage 03 does (greedy closed answers with their option distribution, sampled
open ones) with the default budgets. bf16 is measured only where the CPU computes in it natively. Timings vary by
about 20 % on shared machines; the ratios of one run are steadier.
"""
import argparse, os, platform, sys, time
from pathlib import Path
import torch
from polypersona.core import load_config
from polypersona.generate import LocalAnswerer
from polypersona.models import choose_precision, cpu_bf16, load_model
sys.path.insert(0, str(Path(__file__).parent))
from _workload import test_records


def timed(loaded, recs, g: dict, prefix_cache: bool) -> float:
    answerer = LocalAnswerer(*loaded, "smollm2-135m", g, prefix_cache=prefix_cache)
    answerer.answer(recs[:2])  # warm up
    start = time.perf_counter()
    answerer.answer(recs)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="answers a setting")
    args = ap.parse_args()
    recs, g = test_records(args.n), load_config("cpu")["generate"]
    now = choose_precision(g["precision"])[0]
    print(f"# generation speed, {len(recs)} answers a setting ({len(recs) // 8} personas), SmolLM2-135M; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    settings = [(p, c, 16) for p in (("fp32", "bf16") if cpu_bf16() else ("fp32",)) for c in (False, True)] + \
               [(now, True, g["batch_size"])]
    rows, models = [], {}
    for precision, cache, batch in settings:
        loaded = models.setdefault(precision, load_model("smollm2-135m", precision=precision))
        name = f"{precision}, {'persona start once' if cache else 'each prompt whole'}, batch {batch}"
        rows.append((name, timed(loaded, recs, {**g, "batch_size": batch}, cache)))
    print(f"{'setting':<44}{'answers/s':>10}{'s/answer':>10}")
    for name, s in rows: print(f"{name:<44}{len(recs) / s:>10.2f}{s / len(recs):>10.2f}")
    print(f"now (the cpu profile: {rows[-1][0]}) / today's path ({rows[0][0]}): {rows[0][1] / rows[-1][1]:.2f} x")


if __name__ == "__main__":
    main()
