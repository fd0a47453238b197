"""What a QLoRA training step and a batched generation cost on this machine: tokens per second, peak memory and
model FLOPs utilisation (MFU) against a matrix-multiply peak measured in the same run.

    python benchmarks/gpu_check.py [--json gpu_check.json]    # on a CUDA GPU (H200, A100, T4, ...)
    python benchmarks/gpu_check.py --device cpu --layers 2 --batch 2 --seq 64 --prompts 4 --prompt-len 16 --new-tokens 8

First it times a square matrix product in the compute dtype (bf16; fp16 on a GPU without bf16; fp32 on a CPU): the
peak. Then for two models, one of TinyLlama-1.1B's shape with random weights (no download; `--layers` keeps that
many of its 22 layers) and the embedded SmolLM2-135M, it times:

- training as `polypersona train` sets it up (hardware.choose_setup, train.load_for_training, train.make_trainer):
  on CUDA the base in 4-bit NF4, LoRA r 16 on the registry's projections, bf16 compute, gradient checkpointing;
  `--steps` optimizer steps on `--batch` x `--seq` random token ids, the first one a warm-up. Without CUDA there is
  no 4-bit: LoRA trains on the full-precision base, and the output says so;
- generation as stage 03 loads models (compute dtype, no 4-bit): `--prompts` random prompts of `--prompt-len` tokens,
  `--new-tokens` each, greedy and fixed length, after a short warm-up.

MFU is model FLOPs a second over the peak: 6 x weights x tokens for training, 2 x weights x tokens read for
generation (see `measure`). Peak memory is torch.cuda.max_memory_allocated (on a CPU the process's peak RSS so
far). The Markdown it prints is for the README; `--json PATH` writes the same figures.
"""
import argparse, gc, importlib.metadata, importlib.util, json, os, platform, resource, sys, tempfile, time, warnings
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig, TrainerCallback
from transformers.utils.logging import disable_progress_bar
from polypersona.core import PolyPersonaError, fail, load_config
from polypersona.hardware import Hardware, choose_setup, detect_hardware, model_shape
from polypersona.models import PRECISIONS, choose_precision, cpu_bf16, load_model, load_tokenizer

TINYLLAMA = dict(num_hidden_layers=22, hidden_size=2048, intermediate_size=5632, num_attention_heads=32,
                 num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048, rms_norm_eps=1e-5)


def sync(device: str):
    if device == "cuda": torch.cuda.synchronize()


def reset_peak(device: str):
    gc.collect()  # the previous phase's model and trainer
    if device == "cuda": torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()


def peak_gb(device: str) -> float:
    if device == "cuda": return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def matmul_peak(device: str, dtype) -> float:
    "TFLOP/s of a square matrix product in `dtype` on `device`: the best of three timed loops after a warm-up."
    n, reps = (8192, 50) if device == "cuda" else (4096, 2)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b; sync(device)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps): a @ b
        sync(device); best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best / 1e12


def matmul_weights(config) -> int:
    "The weights each token multiplies by: all of them but the input embedding table (a lookup), unless it is tied."
    with torch.device("meta"): m = AutoModelForCausalLM.from_config(config)
    table = m.get_input_embeddings().weight
    return sum(p.numel() for p in m.parameters()) - (0 if table is m.get_output_embeddings().weight else table.numel())


def train_settings(args, config, hw: Hardware):
    "The train section and the setup `polypersona train` would use for a model of `config`, at this batch size."
    c = {**load_config("paper")["train"], "quantization": args.quantization, "batch_size": args.batch,
         "micro_batch": args.batch, "epochs": 1, "checkpoint_steps": 10 ** 9}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fall-back to full precision is said in the output
        setup = choose_setup(hw, model_shape(config), c, args.seq)
    if setup.quantize and importlib.util.find_spec("bitsandbytes") is None:
        fail("4-bit needs bitsandbytes, which is not installed; pip install bitsandbytes, or pass --quantization none")
    return c, setup


class StepTimes(TrainerCallback):
    "The seconds of each optimizer step, the device synchronised at both ends."
    def __init__(self, device: str): self.device, self.seconds = device, []
    def on_step_begin(self, args, state, control, **kw): sync(self.device); self.start = time.perf_counter()
    def on_step_end(self, args, state, control, **kw):
        sync(self.device); self.seconds.append(time.perf_counter() - self.start)


def train(source: str, lora_name: str, c: dict, setup, args, vocab: int) -> tuple[int, float, float]:
    "Tokens, seconds and peak GB of the timed steps (all but the first) of LoRA training on model `source`."
    from transformers.trainer_callback import ProgressCallback
    from polypersona.train import load_for_training, make_trainer
    ids = torch.randint(0, vocab, (args.batch * args.steps, args.seq), generator=torch.Generator().manual_seed(0))
    rows = [{"input_ids": r, "labels": r} for r in ids.tolist()]
    model, tok = load_for_training(source, setup)
    times = StepTimes(setup.device)
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(lora_name, model, tok, rows, [], c, setup, out, callbacks=[times])
        trainer.remove_callback(ProgressCallback)
        trainer.args.save_strategy = "no"
        reset_peak(setup.device)
        trainer.train()
    return args.batch * args.seq * (args.steps - 1), sum(times.seconds[1:]), peak_gb(setup.device)


def generate(source: str, args, device: str, precision: str) -> tuple[int, float, float]:
    "Tokens generated, seconds and peak GB of one greedy batch of random prompts on model `source`."
    model, tok = load_model(source, device=device, precision=precision)
    ids = torch.randint(0, model.config.vocab_size, (args.prompts, args.prompt_len),
                        generator=torch.Generator().manual_seed(1)).to(device)
    greedy = lambda n: GenerationConfig(max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    run = lambda n: model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=greedy(n))
    run(2); reset_peak(device); sync(device)
    start = time.perf_counter()
    out = run(args.new_tokens); sync(device)
    seconds = time.perf_counter() - start
    assert out.shape[1] == args.prompt_len + args.new_tokens
    return args.prompts * args.new_tokens, seconds, peak_gb(device)


def row(model: str, phase: str, shape: str, tokens: int, seconds: float, gb: float, flops: float, peak: float) -> dict:
    return {"model": model, "phase": phase, "setup": shape, "tokens": tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1), "peak_gb": round(gb, 2),
            "tflops": round(flops / seconds / 1e12, 3), "mfu": round(flops / seconds / 1e12 / peak, 4)}


def machine(asked: str | None) -> tuple[str, Hardware]:
    "The device to measure on, and the hardware `choose_setup` sees there."
    device = asked or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available(): fail("--device cuda, but torch sees no CUDA GPU here")
    hw = detect_hardware()
    if device == "cpu" and hw.device == "cuda":  # a CPU check on a GPU machine
        import psutil
        hw = Hardware("cpu", platform.machine(), psutil.virtual_memory().available / 2**30, bf16=cpu_bf16())
    return device, hw


def random_folder(config, dtype, out: str) -> str:
    "A folder with a random-weight model of `config`, which the project's loaders read like a downloaded one."
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=dtype).save_pretrained(out)
    load_tokenizer("smollm2-135m").save_pretrained(out)  # the loaders want a tokenizer; the token ids are random
    return out


def measure(label: str, source: str, lora_name: str, config, c: dict, setup, args, precision: str, peak: float):
    "The training and the generation row of one model."
    weights = matmul_weights(config)
    tokens, seconds, gb = train(source, lora_name, c, setup, args, config.vocab_size)
    shape = (f"LoRA r{c['lora']['r']} on {'NF4' if setup.quantize else setup.precision} base, {setup.precision}, "
             f"checkpointing {'on' if setup.gradient_checkpointing else 'off'}, {args.batch} x {args.seq}")
    # training: 6 x weights x tokens, forward 2 and backward 4 FLOPs a weight and token: the frozen base gets no
    # weight gradients, but the gradient still flows back through every layer to the adapters below.
    # Not counted: attention's own products (a few % at these lengths), checkpointing's second forward.
    rows = [row(label, "train", shape, tokens, seconds, gb, 6 * weights * tokens, peak)]
    tokens, seconds, gb = generate(source, args, setup.device, precision)
    # generation: 2 x weights x every token the model reads, the prompts' and the new ones
    read = args.prompts * (args.prompt_len + args.new_tokens)
    shape = f"greedy, {precision}, {args.prompts} prompts x {args.prompt_len} + {args.new_tokens} new"
    return rows + [row(label, "generate", shape, tokens, seconds, gb, 2 * weights * read, peak)]


def check(args) -> dict:
    "Every figure of the check, for `markdown` and the JSON file."
    from polypersona.train import model_config
    device, hw = machine(args.device)
    layers = "" if args.layers == 22 else f", {args.layers} of 22 layers"
    models = [(f"TinyLlama-1.1B shape{layers}, random", "tinyllama-1.1b",
               LlamaConfig(**{**TINYLLAMA, "num_hidden_layers": args.layers})),
              ("SmolLM2-135M, embedded", "smollm2-135m", model_config("smollm2-135m"))]
    settings = [train_settings(args, config, hw) for _, _, config in models]  # fails before any work is done
    precision = choose_precision("auto", "cuda")[0] if device == "cuda" else "fp32"
    dtype = getattr(torch, PRECISIONS[precision])
    peak = matmul_peak(device, dtype)
    why = "4-bit needs a CUDA GPU" if device == "cpu" else "--quantization none"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for (label, name, config), (c, setup) in zip(models, settings):
            source = random_folder(config, dtype, tmp) if name == "tinyllama-1.1b" else name
            rows += measure(label, source, name, config, c, setup, args, precision, peak)
    return {"device": torch.cuda.get_device_name() if device == "cuda" else
            f"CPU {platform.machine()}, {os.cpu_count()} cores",
            "versions": {p: importlib.metadata.version(p) if importlib.util.find_spec(p) else "absent"
                         for p in ("torch", "transformers", "peft", "bitsandbytes")},
            "peak_dtype": precision, "peak_tflops": round(peak, 2), "rows": rows,
            "notes": sorted({f"training is plain LoRA on the {s.precision} base, not QLoRA: {why}"
                             for _, s in settings if not s.quantize})}


def markdown(r: dict) -> str:
    v = r["versions"]
    lines = [f"{r['device']}; torch {v['torch']}, transformers {v['transformers']}, peft {v['peft']}, bitsandbytes "
             f"{v['bitsandbytes']}; measured {r['peak_dtype']} matmul peak {r['peak_tflops']:.2f} TFLOP/s", ""]
    lines += [f"Note: {n}." for n in r["notes"]] + [""] * bool(r["notes"])
    lines += ["| model | phase | setup | tokens/s | peak GB | TFLOP/s | MFU |", "|---|---|---|--:|--:|--:|--:|"]
    lines += [f"| {x['model']} | {x['phase']} | {x['setup']} | {x['tokens_per_s']:,.0f} | {x['peak_gb']:.2f} | "
              f"{x['tflops']:.2f} | {x['mfu']:.1%} |" for x in r["rows"]]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda if torch sees a GPU, else cpu")
    ap.add_argument("--quantization", choices=("auto", "4bit", "none"), default="auto",
                    help="as train.quantization: auto is 4-bit with CUDA and full precision without")
    ap.add_argument("--layers", type=int, default=22, help="layers of the TinyLlama-shaped model (22 is its own)")
    ap.add_argument("--batch", type=int, default=8, help="training sequences a step")
    ap.add_argument("--seq", type=int, default=512, help="tokens a training sequence")
    ap.add_argument("--steps", type=int, default=3, help="training steps, the first a warm-up (2 or more)")
    ap.add_argument("--prompts", type=int, default=32, help="prompts generated together")
    ap.add_argument("--prompt-len", type=int, default=128, help="tokens a prompt")
    ap.add_argument("--new-tokens", type=int, default=128, help="tokens generated a prompt")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    disable_progress_bar()  # the weight loading and saving bars
    if args.steps < 2: ap.error("--steps must be 2 or more: the first step is a warm-up")
    try: result = check(args)
    except PolyPersonaError as e: sys.exit(f"gpu_check: {e}")
    print(markdown(result))
    if args.json: Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
