"""Generation speed on this machine: answers per second of the embedded model one by one and batched, and with a
LoRA adapter applied at every step against merged into the weights.

    .venv/bin/python benchmarks/generate_speed.py [--run DIR] [--n 32]

The questions are the first `n` test records of a run (`--run`), or else of the public replication's data
(../shared, if present), or else canned ones; each setting answers all of them with greedy decoding and the
default budgets (48 new tokens for closed questions, 80 for open ones). The adapter is the paper's LoRA on all
attention and MLP projections (freshly initialised: its cost does not depend on its values). Timings vary by
about 20 % on shared machines.
"""
import argparse, os, platform, time
from pathlib import Path
import torch
from peft import get_peft_model
from polypersona.core import load_config, read_jsonl
from polypersona.generate import LocalAnswerer
from polypersona.models import load_model
from polypersona.train import lora_config, prompt_ids, toy_records

REPLICATION = Path(__file__).resolve().parents[2] / "shared" / "research" / "data" / "Polypersona_Replication" / "generated_data_2"


def records(run, n):
    if run: return read_jsonl(Path(run) / "dataset" / "test.jsonl")[:n]
    if REPLICATION.is_dir():
        from polypersona.dialogue import import_original
        return [r for r in import_original(REPLICATION)[3] if r["split"] == "test"][:n]
    return toy_records(n)


def timed(model, tok, recs, batch: int) -> float:
    g = {**load_config("cpu")["generate"], "batch_size": batch, "open": "greedy", "option_probs": False}
    answerer = LocalAnswerer(model, tok, "smollm2-135m", g)
    answerer.answer(recs[:2])  # warm up
    start = time.perf_counter()
    answerer.answer(recs)
    return time.perf_counter() - start


def prompt_seconds(model, tok, recs, batch: int) -> float:
    "Seconds to read the prompts alone (one forward pass a batch, no answer): a floor that batching cannot lower on a CPU."
    prompts = sorted((tok.apply_chat_template(r["messages"][:-1], tokenize=False, add_generation_prompt=True) for r in recs), key=len)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            model(**enc)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a run directory whose test split to answer")
    ap.add_argument("--n", type=int, default=32, help="answers a setting")
    args = ap.parse_args()
    recs = records(args.run, args.n)
    print(f"# generation speed, {len(recs)} answers a setting, SmolLM2-135M greedy; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    model, tok = load_model("smollm2-135m")
    rows = [("one by one", timed(model, tok, recs, 1)), ("batch 16", timed(model, tok, recs, 16)), ("batch 32", timed(model, tok, recs, 32))]
    lora = get_peft_model(load_model("smollm2-135m")[0], lora_config("smollm2-135m", load_config("cpu")["train"])).eval()
    rows.append(("batch 16, adapter not merged", timed(lora, tok, recs, 16)))
    rows.append(("batch 16, adapter merged", timed(lora.merge_and_unload().eval(), tok, recs, 16)))
    print(f"{'setting':<32}{'answers/s':>10}{'s/answer':>10}")
    for name, s in rows: print(f"{name:<32}{len(recs) / s:>10.2f}{s / len(recs):>10.2f}")
    print(f"batched (16) / one by one: {rows[0][1] / rows[1][1]:.1f} x; (32): {rows[0][1] / rows[2][1]:.1f} x; "
          f"merged / not merged: {rows[3][1] / rows[4][1]:.2f} x")
    floor = prompt_seconds(model, tok, recs, 16)
    print(f"reading the prompts alone, batch 16: {floor / len(recs):.2f} s/answer "
          f"({sum(len(prompt_ids(tok, r['messages'][:-1])) for r in recs) / len(recs):.0f} prompt tokens an answer on average)")


if __name__ == "__main__":
    main()
