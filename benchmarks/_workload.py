"""The requests the speed benchmarks answer: a few personas, each asked several questions of the built-in bank
(about eight a persona, as in the paper and the cpu profile), closed and open mixed as in the bank."""
from polypersona.backends import Request
from polypersona.questions import load_bank, prompt_messages
from polypersona.personas import sample_personas


def persona_questions(n: int, per_persona: int = 8, seed: int = 1) -> list[tuple]:
    "`n` (persona, question) pairs: `per_persona` questions each for n / per_persona personas, spread over the bank."
    bank, personas = load_bank(), sample_personas(-(-n // per_persona), seed=seed)
    return [(personas[i // per_persona], bank[(i * 7) % len(bank)]) for i in range(n)]


def teacher_requests(n: int, t: dict) -> list[Request]:
    "The teacher's requests for `n` pairs, with the budgets of the teacher settings `t`, grouped by persona."
    return [Request(prompt_messages(p, q), q.options, t["max_new_tokens"]["open" if q.type == "open" else "closed"], i,
                    2 if q.type == "open" else 1, group=p.id) for i, (p, q) in enumerate(persona_questions(n))]


def test_records(n: int) -> list[dict]:
    "Data-set records (as generation reads them) for `n` pairs, with a placeholder reference answer."
    return [{"id": f"r{i:04d}", "persona_id": p.id, "question_type": q.type, "options": q.options,
             "messages": prompt_messages(p, q) + [{"role": "assistant", "content": "-"}]}
            for i, (p, q) in enumerate(persona_questions(n))]
