"""The local backend on a CUDA GPU: option scoring, reasons continued from the scoring cache, a persona's prompt start
read once, batched generation.

    python benchmarks/gpu_backend_check.py

Runs on the tiny random model (no download). In fp32 on the GPU it checks that batched, padded scoring agrees
with scoring each prompt alone, that continuing from the cache gives what a fresh greedy generation gives, and that
reading a group's shared prompt start once gives the answers of reading each prompt whole;
in the dtype `load_model` picks for the GPU (bf16 from compute capability 8.0, fp16 below) it times 64 answers.
"""
import time
import torch
from polypersona.backends import LocalBackend, Request, left_pad
from polypersona.models import tiny_model


def main():
    assert torch.cuda.is_available(), "needs a CUDA GPU"
    torch.backends.cuda.matmul.allow_tf32 = False  # exact fp32 for the agreement checks
    major, _ = torch.cuda.get_device_capability()
    dtype = torch.bfloat16 if major >= 8 else torch.float16
    model, tok = tiny_model(layers=4, hidden=256)
    model = model.to("cuda")
    print(f"# {torch.cuda.get_device_name()} (capability {major}), torch {torch.__version__}")
    b = LocalBackend("tiny-random", batch_size=16, temperature=0, choice="argmax", loaded=(model, tok))
    sys_ = {"role": "system", "content": "You answer surveys."}
    short = [sys_, {"role": "user", "content": "Do you recycle?"}]
    long = [sys_, {"role": "user", "content": "Do you recycle, and how often do you sort your waste at home, and why?"}]
    opts = ["Strongly agree", "Agree", "No"]
    both = b.option_probs([Request(short, opts), Request(long, opts)])
    alone = [b.option_probs([Request(m, opts)])[0] for m in (short, long)]
    err = max(abs(x - y) for p, q in zip(both, alone) for x, y in zip(p, q))
    print(f"batched vs single scoring, largest difference: {err:.2e}")
    reqs = [Request(m, opts, 8) for m in (short, long)]
    fast = b.answer(reqs)
    heads = [b.prompt_ids(r.messages) + tok(f.text.split(".")[0] + ".", add_special_tokens=False)["input_ids"]
             for r, f in zip(reqs, fast)]
    plain = b.generate_batch(*left_pad(heads, tok.pad_token_id, "cuda"), [8, 8], 0)
    same = [f.text == f"{f.text.split('.')[0]}. {p[0]}" for f, p in zip(fast, plain)]
    print(f"reason from the scoring cache equals a fresh greedy generation: {same}")
    grouped = [Request([sys_, {"role": "user", "content": f"About you: person {p}, aged {30 + p}.\n{q}"}], o, 8,
                       group=f"p{p}")
               for p in range(4) for q, o in (("Do you recycle?", opts), ("What do you like about your town?", []))]
    whole = LocalBackend("tiny-random", batch_size=16, temperature=0, choice="argmax", loaded=(model, tok),
                         prefix_cache=False)
    cached_err = max(abs(x - y) for p, q in zip(b.option_probs(grouped), whole.option_probs(grouped)) if p
                     for x, y in zip(p, q))
    same_cached = [r.text for r in b.answer(grouped)] == [r.text for r in whole.answer(grouped)]
    print(f"persona start read once vs each prompt whole: largest difference {cached_err:.2e}, "
          f"same greedy answers: {same_cached}")
    b.model = model.to(dtype)
    many = [Request(long if i % 2 else short, opts if i % 3 else [], 32, i, 2) for i in range(64)]
    b.answer(many[:16]); torch.cuda.synchronize()
    start = time.perf_counter(); b.answer(many); torch.cuda.synchronize()
    print(f"64 answers in {dtype} (mixed closed and open, 32-token budget): {time.perf_counter() - start:.2f} s")
    assert err < 1e-4 and all(same) and cached_err < 1e-4 and same_cached


if __name__ == "__main__":
    main()
