"The sampling plan's guarantees over many seeds and sizes: exact quotas, no pair twice, disjoint splits, determinism."
from collections import Counter, defaultdict
import pytest
from polypersona.core import load_config
from polypersona.plan import PlanSettings, make_plan, scale_quotas
from polypersona.questions import PAPER_TYPE_MIX, load_bank
from polypersona.personas import sample_personas

BANK = load_bank()
QUOTAS = load_config("paper")["plan"]["quotas"]
IDS = [p.id for p in sample_personas(433)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("total,n", [(None, 433), (360, 44), (60, 12), (1000, 120)])
def test_plan_guarantees(seed, total, n):
    quotas = scale_quotas(QUOTAS, total)
    plan = make_plan(IDS[:n], BANK, quotas, PlanSettings(seed=seed))
    assert Counter(r["domain"] for r in plan) == quotas                          # exact quotas
    assert len({(r["persona_id"], r["question_id"]) for r in plan}) == len(plan)  # no pair twice
    assert {r["persona_id"] for r in plan} == set(IDS[:n])                       # every persona answers
    split_of = defaultdict(set)
    for r in plan: split_of[r["persona_id"]].add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())                           # persona-disjoint
    assert {r["split"] for r in plan} == {"train", "validation", "test"}
    domains = defaultdict(set)
    for r in plan: domains[r["persona_id"]].add(r["domain"])
    assert sum(len(d) == 1 for d in domains.values()) == round(n * 0.714)
    assert make_plan(IDS[:n], BANK, quotas, PlanSettings(seed=seed)) == plan     # deterministic


def test_paper_plan_mix_and_split_sizes():
    plan = make_plan(IDS, BANK, QUOTAS)
    types = Counter(r["question_type"] for r in plan)
    for t, share in PAPER_TYPE_MIX.items(): assert abs(types[t] / len(plan) - share) < 0.02, (t, types[t])
    splits = Counter(r["split"] for r in plan)
    for s, share in {"train": 0.8, "validation": 0.1, "test": 0.1}.items():
        assert abs(splits[s] / len(plan) - share) < 0.01
    random = Counter(r["split"] for r in make_plan(IDS, BANK, QUOTAS, PlanSettings(split="random")))
    assert random == {"train": 2854, "validation": 356, "test": 358}


def test_seed_changes_plan():
    assert make_plan(IDS, BANK, QUOTAS, PlanSettings(seed=1)) != make_plan(IDS, BANK, QUOTAS, PlanSettings(seed=2))


def test_replication_bank_imports_and_plans(replication):
    bank = load_bank(replication / "questionbank.json", domains=list(QUOTAS))
    assert len(bank) == 100
    assert Counter(q.type for q in bank) == {"likert": 30, "open": 30, "yesno": 20, "agreement": 20}
    assert all(q.options for q in bank if q.type != "open")
    plan = make_plan(IDS, bank, QUOTAS)
    assert Counter(r["domain"] for r in plan) == QUOTAS
