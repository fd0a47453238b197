"""The pull of the option order in a run's closed answers: the share choosing the first option listed and the yes
share of yes/no answers, for the teacher's references (each split) and each model variant's generations.

    .venv/bin/python benchmarks/closed_shares.py [--run runs/cpu]

Read from the files a run has made (no model is loaded). The settings beside each file say how its closed answers
were chosen (`teacher.debias` in the data card, `debias` in generations/<model>/<variant>.json).
"""
import argparse, json
from pathlib import Path
from polypersona.core import read_jsonl
from polypersona.questions import closed_shares


def line(label: str, rows: list[dict]) -> str:
    c = closed_shares(rows)
    return f"| {label} | {c['answers']} | {c['first_option']:.3f} | {c['yesno_answers']} | {c['yes']:.3f} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/cpu")
    run = Path(ap.parse_args().run)
    stats = json.loads((run / "dataset" / "stats.json").read_text())
    print(f"# closed answers of {run} (teacher debias: {stats['teacher_settings'].get('debias', 'none')})\n")
    print("| answers of | closed | first option | yes/no | yes |\n|---|---:|---:|---:|---:|")
    for split in ("train", "test"):
        print(line(f"teacher, {split} split", read_jsonl(run / "dataset" / f"{split}.jsonl")))
    for path in sorted((run / "generations").glob("*/*.jsonl")):
        debias = json.loads(path.with_suffix(".json").read_text()).get("debias", "none")
        print(line(f"{path.parent.name} {path.stem} (debias {debias})", read_jsonl(path)))


if __name__ == "__main__":
    main()
