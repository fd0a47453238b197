"""Teacher speed on this machine: answers per second with the embedded model on today's path (fp32, every prompt
read whole, batch 16) against reading each persona's shared prompt start once, in fp32 and in bf16, and against
the cpu profile's settings now (the precision chosen for this CPU, persona start once, its batch size); optionally
through a local OpenAI-compatible server at several concurrency levels.

    .venv/bin/python benchmarks/teacher_speed.py [--n 64] [--server]

Each setting answers the same `n` (persona, question) pairs of the built-in bank, eight a persona as in the cpu
profile, closed and open mixed, with the budgets of the cpu profile. Timings vary by about 30 % on shared
machines; the ratios of one run are steadier.
"""
import argparse, os, platform, sys, time
from pathlib import Path
import torch
from polypersona.backends import LocalBackend, OpenAIBackend, local_server
from polypersona.core import load_config
from polypersona.models import choose_precision, cpu_bf16, load_model
sys.path.insert(0, str(Path(__file__).parent))
from _workload import teacher_requests


def timed(backend, reqs) -> float:
    start = time.perf_counter()
    backend.answer(reqs)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="pairs answered by each setting")
    ap.add_argument("--server", action="store_true", help="also measure a local server (transformers serve)")
    args = ap.parse_args()
    t = load_config("cpu")["teacher"]
    reqs = teacher_requests(args.n, t)
    print(f"# teacher speed, {args.n} answers a setting ({args.n // 8} personas), SmolLM2-135M; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    now = choose_precision(t["precision"])[0]
    settings = [(p, c, 16) for p in (("fp32", "bf16") if cpu_bf16() else ("fp32",)) for c in (False, True)] + \
               [(now, True, t["batch_size"])]
    rows, models = [], {}
    for precision, cache, batch in settings:
        backend = LocalBackend("smollm2-135m", batch_size=batch, prefix_cache=cache,
                               loaded=models.setdefault(precision, load_model("smollm2-135m", precision=precision)))
        backend.answer(reqs[:2])  # warm up
        rows.append((f"local {precision}, {'persona start once' if cache else 'each prompt whole'}, batch {batch}",
                     timed(backend, reqs)))
    local = len(rows)
    if args.server:
        with local_server("smollm2-135m") as (url, name):
            for c in (1, 4, 8):
                rows.append((f"server, concurrency {c}", timed(OpenAIBackend(url, name, concurrency=c), reqs)))
    print(f"\n{'setting':<48}{'seconds':>9}{'answers/s':>11}{'s/answer':>10}")
    for name, s in rows: print(f"{name:<48}{s:>9.1f}{args.n / s:>11.2f}{s / args.n:>10.2f}")
    print(f"\nnow (the cpu profile: {rows[local - 1][0]}) / today's path ({rows[0][0]}): "
          f"{rows[0][1] / rows[local - 1][1]:.2f} x")


if __name__ == "__main__":
    main()
