"Every registry model's chat template round-trips through the training encoder; a hub one that cannot is refused."
import pytest
from polypersona.core import PolyPersonaError
from polypersona.models import REGISTRY, chat_ids, load_tokenizer, tiny_model
from polypersona.train import encode_example

# each format's start and end tokens, the other special tokens of its tokenizer, and the tokens it holds whole
# without being special (facts of the hub tokenizers; the hub models' own tokenizers are not here offline)
FORMATS = {
    "tinyllama-1.1b": ("<s>", "</s>", [], []),  # Zephyr: its role markers are plain text
    "phi-2": ("<|endoftext|>", "<|endoftext|>", [], []),
    "qwen2-1.5b": ("<|im_start|>", "<|im_end|>", ["<|endoftext|>"], []),  # ChatML (Qwen has no start token)
    "deepseek-r1-distill-qwen-1.5b": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", [],
                                      ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]),
    "qwen1.5-moe-a2.7b": ("<|im_start|>", "<|im_end|>", ["<|endoftext|>"], []),
    "mistral-7b": ("<s>", "</s>", [], []),  # v0.2: [INST] and [/INST] are plain text
    "llama-2-7b": ("<s>", "</s>", [], []),
    "llama-3.1-8b": ("<|begin_of_text|>", "<|eot_id|>", ["<|start_header_id|>", "<|end_header_id|>"], []),
    "tiny-random": ("<|im_start|>", "<|im_end|>", [], []),
}
ANSWER = "Yes. I think that my work matters, and I like my community."
CONVERSATION = [{"role": "system", "content": "You are a survey respondent. Answer as the person described."},
                {"role": "user", "content": "Do you like your work?"},
                {"role": "assistant", "content": ANSWER}]


def format_tokenizer(name: str):
    "A tokenizer in model `name`'s format: the tiny model's, taught the format's tokens, with the registry template."
    if name == "smollm2-135m": return load_tokenizer(name)  # the embedded model's own tokenizer and template
    bos, eos, specials, whole = FORMATS[name]
    tok = tiny_model()[1]
    tok.add_special_tokens({"bos_token": bos, "eos_token": eos})
    tok.add_tokens(specials, special_tokens=True)
    tok.add_tokens(whole)
    tok.chat_template = REGISTRY[name].chat_template
    return tok


@pytest.mark.parametrize("name", list(REGISTRY))
def test_template_round_trips_through_the_encoder(name):
    tok = format_tokenizer(name)
    example = encode_example(tok, CONVERSATION)
    labels, ids = example["labels"], example["input_ids"]
    start = labels.count(-100)
    assert labels[:start] == [-100] * start and -100 not in labels[start:]  # the prompt, then the answer only
    answer = labels[start:]
    assert answer == ids[start:] and answer[-1] == tok.eos_token_id and answer.count(tok.eos_token_id) == 1
    text = tok.decode(answer)
    assert text.endswith(tok.eos_token) and text[:-len(tok.eos_token)].strip() == ANSWER
    assert ids[:start] == chat_ids(tok, CONVERSATION[:-1])  # what generation feeds the model
    prompt = tok.apply_chat_template(CONVERSATION[:-1], tokenize=False, add_generation_prompt=True)
    assert tok.decode(ids[:start]) == prompt
    assert ANSWER not in prompt and "You are a survey respondent." in prompt  # the system turn is not dropped


def test_deepseek_answers_without_reasoning():
    tok = format_tokenizer("deepseek-r1-distill-qwen-1.5b")
    prompt = tok.apply_chat_template(CONVERSATION[:-1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<｜Assistant｜><think>\n\n</think>\n\n")  # the think block is closed: answer at once


# DeepSeek-R1-Distill's hub template, as far as this conversation goes: a think block opened in the generation
# prompt only, the reasoning cut from earlier answers
HUB_DEEPSEEK = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}"
                "{% elif m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}"
                "{% else %}{{ '<｜Assistant｜>' + m['content'].split('</think>')[-1] }}"
                "{{ '<｜end▁of▁sentence｜>' }}{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}")


def test_the_hub_deepseek_template_is_refused():
    tok = format_tokenizer("deepseek-r1-distill-qwen-1.5b")
    tok.chat_template = HUB_DEEPSEEK
    with pytest.raises(PolyPersonaError, match="generation prompt is a prefix of the conversation"):
        encode_example(tok, CONVERSATION)
