"""Every family's `-small` preset trains with its defaults, spike guard on, and no step skipped.

Each runs as `zoo train NAME` does with nothing given (the default corpus, the recipe's budget
of 300 steps of 16 × 256 tokens and its schedule: a 30-step warmup, then cosine decay), and
stops after the commit at step `STOP_AT`: through the warmup and four warmups past it, where
the spike guard's first rule locked `gpt2-small`, `gpt3-small` and `mt-nlg-small` out (steps
26-90). Half the budget, so that the nine runs fit CI's time; the whole budgets are measured by
`scripts/small_presets_table.py` (results/reference/small-presets-defaults.json), and
`.ci/run` trains `palm-small` to its end as the README's quick start.
"""

import pytest

import zoo
from tests.helpers import FAMILIES, Interrupt

STOP_AT = 150


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_the_small_preset_trains_with_its_defaults(family, cache, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(cache))  # the corpus and tokenizers, once per module
    out = tmp_path / f"{family}-small"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C once past the commit at STOP_AT
        zoo.train(f"{family}-small", out=str(out), reporter=Interrupt(STOP_AT + 1))
    record = zoo.RunRecord(out)
    config = record.config()
    assert config["run"]["spike_guard"] and config["budget"]["steps"] == 300
    rows = record.metrics()
    assert [r["step"] for r in rows] == list(range(30, STOP_AT + 1, 30))
    assert [r["skipped_steps"] for r in rows] == [0] * len(rows), rows
    assert record.state()["spike_guard_restarts"] == 0
    bits = [r["validation_bits_per_byte"] for r in rows]
    unigram = config["data"]["unigram_bits_per_byte"]
    # Learning throughout, and well under the unigram baseline (4.81 bits/byte) by step 150.
    assert bits[-1] < bits[0] and bits[-1] < unigram - 1.5, (bits, unigram)
