"""Teacher speed on this machine: answers per second with the embedded model, one by one against batched, and
through a local OpenAI-compatible server at several concurrency levels.

    .venv/bin/python benchmarks/teacher_speed.py [--n 16] [--batch 16] [--no-server]

Each setting answers the same `n` (persona, question) pairs of the built-in bank, closed and open mixed as in the
paper's type mix, with the budgets of the default profile. Timings vary by about 30 % on shared machines.
"""
import argparse, os, platform, time
import torch
from polypersona.backends import LocalBackend, OpenAIBackend, Request, local_server
from polypersona.core import load_config
from polypersona.dialogue import load_bank, prompt_messages
from polypersona.models import load_model
from polypersona.personas import sample_personas


def requests(n: int, t: dict) -> list[Request]:
    bank, personas = load_bank(), sample_personas(n, seed=1)
    qs = [bank[(i * 7) % len(bank)] for i in range(n)]  # a spread over domains and types
    return [Request(prompt_messages(p, q), q.options, t["max_new_tokens"]["open" if q.type == "open" else "closed"], i, 2 if q.type == "open" else 1)
            for i, (p, q) in enumerate(zip(personas, qs))]


def timed(backend, reqs) -> float:
    start = time.perf_counter()
    backend.answer(reqs)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="pairs answered by each setting")
    ap.add_argument("--batch", type=int, default=16, help="batch size of the batched local run")
    ap.add_argument("--no-server", action="store_true", help="skip the server measurements")
    args = ap.parse_args()
    t = load_config("cpu")["teacher"]
    reqs = requests(args.n, t)
    print(f"# teacher speed, {args.n} answers a setting; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    loaded = load_model("smollm2-135m")
    rows = []
    for bs in (1, args.batch):
        backend = LocalBackend("smollm2-135m", batch_size=bs, loaded=loaded)
        backend.answer(reqs[:2])  # warm up
        rows.append((f"local, batch {bs}", timed(backend, reqs)))
    if not args.no_server:
        with local_server("smollm2-135m") as (url, name):
            for c in (1, 4, 8):
                rows.append((f"server, concurrency {c}", timed(OpenAIBackend(url, name, concurrency=c), reqs)))
    print(f"\n{'setting':<24}{'seconds':>9}{'answers/s':>11}{'s/answer':>10}")
    for name, s in rows: print(f"{name:<24}{s:>9.1f}{args.n / s:>11.2f}{s / args.n:>10.2f}")
    print(f"\nbatched / one by one: {rows[0][1] / rows[1][1]:.1f} times faster")


if __name__ == "__main__":
    main()
