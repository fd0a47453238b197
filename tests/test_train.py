"Stage 02: LoRA training on the tiny model and the embedded one, resuming, the 4-bit path, and bad input."
import json, urllib.request
import pytest
import torch
from transformers import TrainerCallback
from polypersona.backends import OpenAIBackend, Request, local_server
from polypersona.core import load_config, open_run
from polypersona.testing import toy_records
from polypersona.hardware import Setup
from polypersona.train import (StepLog, encode_example, last_checkpoint, load_for_training, make_trainer,
                               train_model, training_examples, write_dataset)
from polypersona.models import cpu_bf16, load_adapter, load_tokenizer, load_trained, tiny_model
from conftest import cli_error, run_cli

FAST = {"train.epochs": 2, "train.batch_size": 4, "train.learning_rate": 0.01, "train.checkpoint_steps": 2}


def toy_run(path, n=20, **overrides):
    "A run with a data set of `n` canned conversations and fast training settings."
    write_dataset(path, toy_records(n))
    return open_run(path, "smoke", {**FAST, **overrides})


def adapter_weights(run, model="tiny-random"):
    from safetensors.torch import load_file
    return load_file(str(run / "models" / model / "adapter" / "adapter_model.safetensors"))


def test_train_save_reload_generate(tmp_path):
    manifest = train_model(tmp_path, toy_run(tmp_path), "tiny-random")
    assert manifest["val_loss"][-1]["val_loss"] < manifest["val_loss"][0]["val_loss"]
    assert manifest["data"] == {"train_examples": 16, "val_examples": 4, "too_long_left_out": 0,
                                "train_tokens": manifest["data"]["train_tokens"],
                                "answer_tokens": manifest["data"]["answer_tokens"]}
    assert manifest["tokens_trained"] == 2 * manifest["data"]["train_tokens"]
    assert {"hardware", "environment", "setup", "wall_s", "data_hash", "settings"} <= set(manifest)
    tuned, tok = load_trained(tmp_path, "tiny-random")
    unmerged, _ = load_trained(tmp_path, "tiny-random", merge=False)
    base, _ = tiny_model()
    prompt = tok(tok.apply_chat_template(toy_records(1)[0]["messages"][:1], tokenize=False, add_generation_prompt=True),
                 return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        logits = [m(**prompt).logits for m in (tuned, unmerged, base)]
    assert torch.allclose(logits[0], logits[1], atol=1e-4)  # merging changes nothing
    assert not torch.allclose(logits[0], logits[2], atol=1e-3)  # training did
    made = tuned.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert made.shape[1] > prompt["input_ids"].shape[1]


def test_label_mask_of_the_embedded_model(tmp_path):
    "On SmolLM2's own template, the loss covers exactly the answer and <|im_end|>; the prompt is generation's."
    tok = load_tokenizer("smollm2-135m")
    record = toy_records(1)[0]
    example = encode_example(tok, record["messages"])
    labelled = [t for t in example["labels"] if t != -100]
    assert tok.decode(labelled) == record["messages"][-1]["content"] + "<|im_end|>"
    start = example["labels"].index(labelled[0])
    prompt = tok.apply_chat_template(record["messages"][:1], tokenize=False, add_generation_prompt=True)
    assert example["input_ids"][:start] == tok(prompt, add_special_tokens=False)["input_ids"]
    lengths = [len(encode_example(tok, r["messages"])["input_ids"]) for r in toy_records(5)]
    kept, dropped = training_examples(tok, toy_records(5), max_length=min(lengths))  # longer ones are left out, not cut
    assert (len(kept), dropped) == (lengths.count(min(lengths)), 5 - lengths.count(min(lengths)))


class Interrupt(TrainerCallback):
    "Stop a run the way Ctrl-C would, at a given optimizer step."
    def __init__(self, step): self.step = step
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step: raise KeyboardInterrupt


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    "Without dropout (whose random masks a resumed run does not replay) it ends with the uninterrupted run's adapter."
    whole, cut, exact = tmp_path / "whole", tmp_path / "cut", {"train.lora.dropout": 0.0}
    train_model(whole, toy_run(whole, **exact), "tiny-random")
    with pytest.raises(KeyboardInterrupt):
        train_model(cut, toy_run(cut, **exact), "tiny-random", callbacks=[Interrupt(5)])
    assert last_checkpoint(cut / "models" / "tiny-random" / "checkpoints").name == "checkpoint-4"
    resumed = train_model(cut, open_run(cut), "tiny-random")
    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == 8
    steps = [int(r["step"]) for r in StepLog.rows(cut / "models" / "tiny-random" / "train_log.csv") if r["loss"]]
    assert steps == list(range(1, 9))  # each step once: step 5, trained twice, is logged once
    a, b = adapter_weights(whole), adapter_weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same batches in the same order: the same adapter
    assert "already trained" in run_cli("train", "--run", cut, "--model", "tiny-random").stdout


def test_a_half_written_checkpoint_is_not_resumed(tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-6").mkdir()  # a kill while it was being written: no marker
    assert last_checkpoint(tmp_path) is None
    (tmp_path / "last.json").write_text(json.dumps({"step": 4, "path": "checkpoint-4"}))
    assert last_checkpoint(tmp_path).name == "checkpoint-4"


def test_the_4bit_path_keeps_the_adapter_in_fp32(tmp_path):
    "QLoRA's code path on this CPU (bitsandbytes runs NF4 on a CPU too): trl casts the adapter to bf16, we put it back."
    pytest.importorskip("bitsandbytes",
                        reason="the 4-bit path needs bitsandbytes (the gpu extra; `make setup` installs it)")
    model, tok = tiny_model()
    model.save_pretrained(tmp_path / "tiny"); tok.save_pretrained(tmp_path / "tiny")
    setup = Setup("cpu", True, "fp32", "fp32", False, "sdpa", 4, 1, 1.0)
    quantized, tok = load_for_training(str(tmp_path / "tiny"), setup)
    assert "Linear4bit" in {type(m).__name__ for m in quantized.modules()}
    c = load_config("smoke", FAST)["train"]
    rows, _ = training_examples(tok, toy_records(8), 512)
    trainer = make_trainer(str(tmp_path / "tiny"), quantized, tok, rows, [], c, setup, tmp_path / "ckpt")
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.float32}
    trainer.train()
    assert trainer.state.global_step == 4


def test_cli_trains_the_embedded_model(tmp_path):
    run = tmp_path / "run"
    write_dataset(run, toy_records(10))
    done = run_cli("train", "--run", run, "--profile", "smoke", "--micro-batch", "4")
    assert done.returncode == 0, done.stderr
    assert "micro-batch 4: as train.micro_batch asks" in done.stdout and "validation loss" in done.stdout
    assert "Loading weights" not in done.stderr  # the libraries' progress bars stay off the terminal
    out = run / "models" / "smollm2-135m"
    saved = {p.name for p in (out / "adapter").iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "chat_template.jinja"} <= saved
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["setup"]["precision"] == "fp32" and manifest["setup"]["gradient_checkpointing"] is False
    assert any(d.startswith("precision fp32: ") for d in manifest["setup"]["decisions"])  # with its reason
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # found on the hub
    card = (out / "adapter" / "README.md").read_text()
    assert card.startswith("---\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n") and "library_name: peft" in card
    assert "More Information Needed" not in card and "| LoRA rank | 16 |" in card
    tuned, _ = load_adapter(out / "adapter")  # the hub id maps back to the embedded copy: no download
    assert tuned.config.num_hidden_layers == 30
    # the tuned model behind a real OpenAI-compatible server, listed under its own name, as a survey tool asks it
    with local_server("smollm2-135m", run_dir=run) as (url, name):
        listed = json.load(urllib.request.urlopen(url + "/models"))["data"]
        assert name == "smollm2-135m-tuned" and [m["id"] for m in listed] == [name]
        server = OpenAIBackend(url, name, "OPENAI_API_KEY", 1, 60, 1, 0.0, 1.0)
        assert server.one(Request(toy_records(1)[0]["messages"][:1], [])).text
    header = (out / "train_log.csv").read_text().splitlines()[0]
    assert header == "step,epoch,loss,learning_rate,grad_norm,tokens_per_s,eval_loss,time"
    assert "train:smollm2-135m" in json.loads((run / "manifest.json").read_text())["stages"]
    again = run_cli("train", "--run", run, "--epochs", "3")
    assert again.returncode == 2 and "start a new --run directory" in again.stderr


@pytest.mark.skipif(not cpu_bf16(), reason="needs a CPU with native bf16 (AVX-512 BF16 or AMX)")
def test_bf16_training_on_a_cpu_keeps_the_adapter_in_fp32(tmp_path):
    run = tmp_path / "run"
    write_dataset(run, toy_records(10))
    done = run_cli("train", "--run", run, "--profile", "smoke", "--precision", "bf16", "--epochs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    out = run / "models" / "smollm2-135m"
    assert json.loads((out / "manifest.json").read_text())["setup"]["precision"] == "bf16"
    from safetensors import safe_open
    with safe_open(out / "adapter" / "adapter_model.safetensors", "pt") as f:  # bf16 compute, an fp32 adapter
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float32"}


@pytest.mark.parametrize("args, message", [
    (["--model", "gpt-5"], "unknown model 'gpt-5'"),
    (["--learning-rate", "3"], "train.learning_rate is 3.0"),
    (["--lora-r", "0"], "train.lora.r is 0"),
    (["--quantization", "4bit"], "needs a CUDA GPU"),
    (["--micro-batch", "3"], "train.micro_batch is 3"),
])
def test_bad_training_input(tmp_path, capsys, args, message):
    write_dataset(tmp_path, toy_records(5))
    assert message in cli_error(capsys, "train", "--run", tmp_path, "--profile", "smoke", "--model", "tiny-random",
                                *args)


def test_no_train_split_and_another_base_model(tmp_path, capsys):
    write_dataset(tmp_path, [r | {"split": "validation"} for r in toy_records(3)])
    assert "needs a train split" in cli_error(capsys, "train", "--run", tmp_path, "--profile", "smoke",
                                              "--model", "tiny-random")
    write_dataset(tmp_path, toy_records(5))
    (tmp_path / "models" / "tiny-random").mkdir(parents=True)
    other = {"base": "/models/other", "settings": {}, "data_hash": ""}
    (tmp_path / "models" / "tiny-random" / "manifest.json").write_text(json.dumps(other))
    assert "trained on /models/other, not tiny-random" in cli_error(capsys, "train", "--run", tmp_path,
                                                                     "--model", "tiny-random")


def test_without_cuda_auto_falls_back_with_a_warning(tmp_path):
    cfg = toy_run(tmp_path, 10, **{"train.quantization": "auto", "train.epochs": 1})
    with pytest.warns(UserWarning, match="instead of 4-bit QLoRA"):
        manifest = train_model(tmp_path, cfg, "tiny-random")
    assert manifest["setup"]["quantize"] is False


def test_two_processes_share_the_batch(tmp_path):
    "Data-parallel training as on several GPUs, here two CPU processes under torchrun (gloo): one log, one adapter."
    import subprocess, sys
    from pathlib import Path
    write_dataset(tmp_path, toy_records(20))
    torchrun = Path(sys.executable).parent / "torchrun"
    cli = str(Path(sys.executable).parent / "polypersona")
    done = subprocess.run([str(torchrun), "--nproc_per_node", "2", cli, "--", "train", "--run", str(tmp_path),
                           "--profile", "smoke", "--model", "tiny-random", "--epochs", "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "effective batch 4 x 2 x 2 processes = 16" in done.stdout
    manifest = json.loads((tmp_path / "models" / "tiny-random" / "manifest.json").read_text())
    assert manifest["hardware"]["processes"] == 2 and manifest["steps"] == 2
    steps = [r["step"] for r in StepLog.rows(tmp_path / "models" / "tiny-random" / "train_log.csv") if r["loss"]]
    assert steps == ["1", "2"]  # written once, by the main process
