"""Whether two runs made the same results: their personas, plan, data set (by content hash), adapters, the human
benchmark's answers and the report's tables, file by file. For checking that a change to the code leaves the
results as they were, e.g.
    python benchmarks/compare_runs.py runs/cpu runs/cpu-check"""
import argparse, hashlib, json
from pathlib import Path


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def outputs(run: Path) -> dict[str, str | None]:
    "Each compared output of `run` by its path in the run, with a digest (None where the run lacks it)."
    names = ["personas.jsonl", "plan.jsonl", "questions.json"]
    names += [str(p.relative_to(run)) for p in sorted(run.glob("models/*/adapter/adapter_model.safetensors"))]
    names += [str(p.relative_to(run)) for p in sorted(run.glob("human/*/*/*.jsonl"))]  # stage 06's answers
    names += [str(p.relative_to(run)) for p in sorted(run.glob("tables/*.csv"))]
    found = {n: digest(run / n) for n in names}
    stats = run / "dataset" / "stats.json"
    found["dataset content hash"] = json.loads(stats.read_text())["content_hash"] if stats.is_file() else None
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="a run directory")
    ap.add_argument("b", type=Path, help="another run directory")
    args = ap.parse_args()
    a, b = outputs(args.a), outputs(args.b)
    same = 0
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name): same += 1
        elif b.get(name) is None: print(f"only in {args.a}: {name}")
        elif a.get(name) is None: print(f"only in {args.b}: {name}")
        else: print(f"differs: {name}")
    print(f"{same} of {len(set(a) | set(b))} outputs the same")


if __name__ == "__main__": main()
