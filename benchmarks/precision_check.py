"""What bf16 changes in the embedded model's answers, beside what it saves: the same requests answered in fp32 and
in bf16 (where the CPU computes in bf16 natively), with a persona's prompt start read once as the stages do.

    .venv/bin/python benchmarks/precision_check.py [--n 64]

It prints, for `n` pairs of the built-in bank (eight a persona, closed and open mixed): the share of greedy
answers that are word for word the same, the largest and the mean difference of the closed questions' option
probabilities, how often the most likely option is the same, and the seconds each precision took. What bf16
changes in training (the validation loss after the same epoch) is printed by `benchmarks/train_speed.py`.
"""
import argparse, os, platform, sys, time
from pathlib import Path
import numpy as np
import torch
from polypersona.backends import LocalBackend
from polypersona.core import load_config
from polypersona.models import cpu_bf16, load_model
sys.path.insert(0, str(Path(__file__).parent))
from _workload import teacher_requests


def answers(precision: str, reqs) -> tuple[list, list, float]:
    "Greedy texts and option probabilities of `reqs` in `precision`, and the seconds they took."
    backend = LocalBackend("smollm2-135m", batch_size=16, temperature=0, choice="argmax",
                           loaded=load_model(precision=precision))
    start = time.perf_counter()
    texts = [text for text, _, _ in backend.generate(reqs)]
    probs = backend.option_probs(reqs)
    return texts, probs, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="pairs answered in each precision")
    args = ap.parse_args()
    if not cpu_bf16(): sys.exit("this CPU has no native bf16 (AVX-512 BF16 or AMX): polypersona computes in fp32 here, "
                                "nothing to compare")
    reqs = teacher_requests(args.n, load_config("cpu")["teacher"])
    print(f"# fp32 against bf16, {args.n} answers ({args.n // 8} personas), SmolLM2-135M, greedy; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    (t32, p32, s32), (t16, p16, s16) = answers("fp32", reqs), answers("bf16", reqs)
    closed = [(np.array(a), np.array(b)) for a, b in zip(p32, p16) if a is not None]
    diff = np.concatenate([np.abs(a - b) for a, b in closed])
    print(f"greedy answers word for word the same: {sum(a == b for a, b in zip(t32, t16))} of {len(reqs)} "
          f"({np.mean([a == b for a, b in zip(t32, t16)]):.0%}); same first sentence: "
          f"{np.mean([a.split('.')[0] == b.split('.')[0] for a, b in zip(t32, t16)]):.0%}")
    print(f"option probabilities ({len(closed)} closed questions): largest difference {diff.max():.3f}, "
          f"mean {diff.mean():.4f}; "
          f"most likely option the same: {np.mean([a.argmax() == b.argmax() for a, b in closed]):.0%}")
    print(f"seconds: fp32 {s32:.1f}, bf16 {s16:.1f} ({s32 / s16:.2f} x)")


if __name__ == "__main__":
    main()
