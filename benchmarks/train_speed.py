"""Training speed on this machine: trained tokens per second, peak memory, model FLOPs utilisation and the
validation loss after training, of our trainer in fp32 (today's path), in the precision it now chooses (bf16 on a
CPU with native bf16), and of trl's defaults, on the same examples.

    .venv/bin/python benchmarks/train_speed.py [--run DIR] [--examples 48] [--val 24] [--model smollm2-135m]

The examples are the first `examples` of a run's train split (`--run`), or else of the public replication's data
(../shared, if present), or else canned ones; the next `val` are the validation examples. Each setting trains one
epoch in its own process (so that peak memory is its own) with the paper's LoRA on all attention and MLP
projections on the CPU, then reports its loss on the validation examples:

- ours fp32: `polypersona.train` as `polypersona train` ran it before (micro-batch chosen for the machine, no
  gradient checkpointing on a CPU, batches grouped by length, output layer and loss on the answer positions only);
- ours auto: the same with `train.precision: auto`, bf16 compute where the CPU has it natively (the adapter and the
  optimizer state stay fp32);
- trl defaults: trl's `SFTTrainer` on the same conversations as prompt/completion pairs, with everything trl
  sets by default (micro-batch 8, gradient checkpointing on, its fused output layer), bf16 off.

Tokens are real tokens (padding not counted). Model FLOPs count what LoRA training must compute: forward and
backward through the frozen weights (4 x parameters a token; the LoRA matrices are negligible) plus attention
(6 x layers x hidden x context a token), with the output layer counted at the answer positions only. Utilisation is
those FLOPs per second against a fp32 matrix-multiply peak measured in the same run. Timings vary by about 20 % on
shared machines.
"""
import argparse, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPLICATION = ROOT.parent / "shared" / "research" / "data" / "Polypersona_Replication" / "generated_data_2"


def records(run: str | None, n: int) -> list[dict]:
    from polypersona.core import read_jsonl
    from polypersona.testing import toy_records
    if run: return read_jsonl(Path(run) / "dataset" / "train.jsonl")[:n]
    if REPLICATION.is_dir():
        from polypersona.teacher import import_original
        return [r for r in import_original(REPLICATION)[3] if r["split"] == "train"][:n]
    return toy_records(n)


def matmul_peak() -> float:
    "fp32 GFLOP/s of a large matrix product on this machine (best of a few)."
    import torch
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048 ** 3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter(); fn(); return time.perf_counter() - t


def ours(model: str, recs: list[dict], val: list[dict], precision: str) -> dict:
    from datasets import Dataset
    from polypersona.core import load_config
    from polypersona.hardware import choose_setup, detect_hardware, model_shape
    from polypersona.train import load_for_training, make_trainer, model_config, training_examples
    from polypersona.models import load_tokenizer
    c = {**load_config("cpu")["train"], "epochs": 1, "precision": precision}
    tok = load_tokenizer(model)
    rows, _ = training_examples(tok, recs, c["max_length"])
    setup = choose_setup(detect_hardware(), model_shape(model_config(model)), c, max(len(r["input_ids"]) for r in rows))
    m, tok = load_for_training(model, setup)
    trainer = make_trainer(model, m, tok, rows, [], c, setup, tempfile.mkdtemp())
    trainer.args.save_strategy, trainer.args.disable_tqdm = "no", True
    seconds = _timed(trainer.train)
    val_loss = trainer.evaluate(Dataset.from_list(training_examples(tok, val, c["max_length"])[0]))["eval_loss"]
    return {"seconds": seconds, "rows": rows, "micro_batch": setup.micro_batch,
            "checkpointing": setup.gradient_checkpointing, "precision": setup.precision, "val_loss": val_loss}


def trl_defaults(model: str, recs: list[dict], val: list[dict], precision: str) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from polypersona.core import load_config
    from polypersona.models import load_model
    from polypersona.train import lora_config, training_examples
    m, tok = load_model(model, precision="fp32")
    data = Dataset.from_list([{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in recs])
    args = SFTConfig(output_dir=tempfile.mkdtemp(), num_train_epochs=1, use_cpu=True, bf16=False, report_to="none",
                     save_strategy="no", disable_tqdm=True, learning_rate=2e-4)
    trainer = SFTTrainer(model=m.train(), args=args, train_dataset=data, processing_class=tok,
                         peft_config=lora_config(model, load_config("cpu")["train"]))
    rows, _ = training_examples(tok, recs, 10_000)
    seconds = _timed(trainer.train)
    val_loss = trainer.evaluate(Dataset.from_list([{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]}
                                                   for r in val]))["eval_loss"]
    return {"seconds": seconds, "rows": rows, "micro_batch": args.per_device_train_batch_size,
            "checkpointing": args.gradient_checkpointing, "precision": "fp32", "val_loss": val_loss}


def one(setting: str, model: str, run: str | None, n: int, n_val: int):
    "Train with one setting and print its figures as JSON (run in a child process)."
    import torch
    from polypersona.models import load_model
    from polypersona.train import model_config
    recs = records(run, n + n_val)
    kind, precision = setting.split(":")
    got = {"ours": ours, "trl": trl_defaults}[kind](model, recs[:n], recs[n:], precision)
    cfg = model_config(model)
    h, layers, vocab = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    params = sum(p.numel() for p in load_model(model)[0].parameters())
    body = params - vocab * h  # the output layer (tied or not) is counted where it runs
    tokens = sum(len(r["input_ids"]) for r in got["rows"])
    answers = sum(sum(t != -100 for t in r["labels"]) for r in got["rows"])
    # QK and AV, causal half, forward and backward
    attention = sum(6 * layers * h * len(r["input_ids"]) ** 2 for r in got["rows"])
    flops = 4 * body * tokens + 4 * vocab * h * answers + attention
    print(json.dumps({"setting": setting, "tokens": tokens, "seconds": got["seconds"], "gflops": flops / 1e9,
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "micro_batch": got["micro_batch"], "checkpointing": got["checkpointing"],
                      "threads": torch.get_num_threads(), "precision": got["precision"], "val_loss": got["val_loss"]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a run directory whose train split to use")
    ap.add_argument("--examples", type=int, default=48, help="training examples (one epoch of them)")
    ap.add_argument("--val", type=int, default=24, help="validation examples, scored after training")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one: return one(args.one, args.model, args.run, args.examples, args.val)
    peak = matmul_peak()
    print(f"# training speed, {args.examples} examples, {args.model}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; fp32 matmul peak {peak:.0f} GFLOP/s")
    results = {}
    for setting in ("ours:fp32", "ours:auto", "trl:fp32"):
        cmd = [sys.executable, __file__, "--one", setting, "--examples", str(args.examples), "--val", str(args.val),
               "--model", args.model] + (["--run", args.run] if args.run else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: sys.exit(out.stderr[-3000:])
        results[setting] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'setting':<14}{'compute':>8}{'micro':>6}{'ckpt':>6}{'tokens':>8}{'seconds':>9}{'tokens/s':>10}"
          f"{'peak GB':>9}{'MFU*':>7}{'val loss':>10}")
    for name, r in results.items():
        print(f"{name:<14}{r['precision']:>8}{r['micro_batch']:>6}{'on' if r['checkpointing'] else 'off':>6}"
              f"{r['tokens']:>8}{r['seconds']:>9.1f}{r['tokens'] / r['seconds']:>10.1f}{r['peak_rss_gb']:>9.2f}"
              f"{r['gflops'] / r['seconds'] / peak:>7.1%}{r['val_loss']:>10.4f}")
    speed = {k: r["tokens"] / r["seconds"] for k, r in results.items()}
    print(f"* against the fp32 matmul peak. ours auto / ours fp32 (today's path): "
          f"{speed['ours:auto'] / speed['ours:fp32']:.2f} x the tokens per second; "
          f"ours fp32 / trl defaults: {speed['ours:fp32'] / speed['trl:fp32']:.2f} x")


if __name__ == "__main__":
    main()
