"""The local backend on a CUDA GPU: option scoring, reasons continued from the scoring cache, batched generation.

    python benchmarks/gpu_backend_check.py

Runs on the tiny random model (no download). In fp32 on the GPU it checks that batched, padded scoring agrees
with scoring each prompt alone and that continuing from the cache gives what a fresh greedy generation gives;
in the dtype `load_model` picks for the GPU (bf16 from compute capability 8.0, fp16 below) it times 64 answers.
"""
import time
import torch
from polypersona.backends import LocalBackend, Request
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
    plain = b.generate([b.prompt_text(r.messages) + f.text.split(".")[0] + "." for r, f in zip(reqs, fast)], [8, 8], [0, 0])
    same = [f.text == f"{f.text.split('.')[0]}. {p[0]}" for f, p in zip(fast, plain)]
    print(f"reason from the scoring cache equals a fresh greedy generation: {same}")
    b.model = model.to(dtype)
    many = [Request(long if i % 2 else short, opts if i % 3 else [], 32, i, 2) for i in range(64)]
    b.answer(many[:16]); torch.cuda.synchronize()
    start = time.perf_counter(); b.answer(many); torch.cuda.synchronize()
    print(f"64 answers in {dtype} (mixed closed and open, 32-token budget): {time.perf_counter() - start:.2f} s")
    assert err < 1e-4 and all(same)


if __name__ == "__main__":
    main()
