"""Generation speed on this machine: answers per second of the embedded model on today's path (fp32, every prompt
read whole) against reading each persona's shared prompt start once, in fp32 and in bf16.

    .venv/bin/python benchmarks/generate_speed.py [--n 64] [--batch 16]

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
from polypersona.models import cpu_bf16, load_model
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
    ap.add_argument("--batch", type=int, default=16, help="prompts a batch")
    args = ap.parse_args()
    recs, g = test_records(args.n), {**load_config("cpu")["generate"], "batch_size": args.batch}
    print(f"# generation speed, {len(recs)} answers a setting ({len(recs) // 8} personas), SmolLM2-135M, batch {args.batch}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    rows = []
    for precision in ("fp32", "bf16") if cpu_bf16() else ("fp32",):
        loaded = load_model("smollm2-135m", precision=precision)
        for cache in (False, True):
            rows.append((f"{precision}, {'persona start once' if cache else 'each prompt whole'}", timed(loaded, recs, g, cache)))
    print(f"{'setting':<34}{'answers/s':>10}{'s/answer':>10}")
    for name, s in rows: print(f"{name:<34}{len(recs) / s:>10.2f}{s / len(recs):>10.2f}")
    print(f"now ({rows[-1][0]}) / today's path ({rows[0][0]}): {rows[0][1] / rows[-1][1]:.2f} x")


if __name__ == "__main__":
    main()
