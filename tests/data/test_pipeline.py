"""Packing, deterministic shuffling and resume, validation windows, bits per byte, and
`prepare_data`'s checks."""

import math

import numpy as np
import pytest

from zoo.data import bits_per_byte, measure_pipeline, prepare_data, train_dataset
from zoo.data import validation_windows
from zoo.data.pipeline import window_count
from zoo.data.token_data import TokenData
from zoo.errors import ZooError

SEQ, BATCH = 8, 4
TOKENS = np.arange(1000, 1000 + 8 * 25 + 1, dtype=np.int32)  # 25 windows; value - 1000 = position


def batches(dataset, n):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]


def test_batches_are_packed_windows_with_targets_shifted_by_one():
    x, y = batches(train_dataset(TOKENS, SEQ, BATCH, seed=0), 1)[0]
    assert x.shape == y.shape == (BATCH, SEQ) and x.dtype == y.dtype == np.int32
    assert np.array_equal(x[:, 1:], y[:, :-1]) and np.array_equal(y, x + 1)
    assert np.all((x[:, 0] - 1000) % SEQ == 0)  # windows start every seq_len tokens
    spec = train_dataset(TOKENS, SEQ, BATCH, seed=0).element_spec
    assert spec[0].shape == (BATCH, SEQ)  # static, as XLA wants


def test_every_window_once_per_epoch_across_epochs():
    n = window_count(TOKENS, SEQ)  # 25: batches of 4 straddle epochs
    x = np.concatenate([x for x, _ in batches(train_dataset(TOKENS, SEQ, BATCH, seed=3), 25)])
    starts = (x[:, 0] - 1000) // SEQ
    epochs = starts.reshape(-1, n)  # 100 samples = 4 epochs
    for epoch in epochs:
        assert sorted(epoch) == list(range(n))
    assert not all(np.array_equal(epochs[0], e) for e in epochs[1:])  # reshuffled each epoch


def test_same_seed_same_batches_different_seed_different_order():
    a = batches(train_dataset(TOKENS, SEQ, BATCH, seed=7), 10)
    b = batches(train_dataset(TOKENS, SEQ, BATCH, seed=7), 10)
    c = batches(train_dataset(TOKENS, SEQ, BATCH, seed=8), 10)
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b))
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(a, c))


@pytest.mark.parametrize("start_step", [1, 6, 13])
def test_resume_yields_the_uninterrupted_batches(start_step):
    whole = batches(train_dataset(TOKENS, SEQ, BATCH, seed=11), start_step + 8)
    resumed = batches(train_dataset(TOKENS, SEQ, BATCH, seed=11, start_step=start_step), 8)
    for (x, y), (rx, ry) in zip(whole[start_step:], resumed):
        assert np.array_equal(x, rx) and np.array_equal(y, ry)


def test_validation_windows_all_or_evenly_spaced():
    every = validation_windows(TOKENS, SEQ)
    assert every.shape == (25, SEQ + 1)
    assert np.array_equal(every[:, 0] - 1000, np.arange(25) * SEQ)
    some = validation_windows(TOKENS, SEQ, max_windows=5)
    assert np.array_equal(some[:, 0] - 1000, np.array([0, 6, 12, 18, 24]) * SEQ)
    assert np.array_equal(validation_windows(TOKENS, SEQ, max_windows=99), every)


def test_bits_per_byte_by_hand():
    # 2.0 nats/token over 300 tokens = 600 nats = 600 / ln 2 = 865.617 bits, over 400 bytes.
    assert bits_per_byte(2.0, 300, 400) == pytest.approx(865.6170245 / 400)
    data = TokenData(TOKENS, np.zeros(300, np.int32), 400, 0, "test")
    assert data.bits_per_byte(2.0) == pytest.approx(2.0 * 300 / 400 / math.log(2))
    assert TokenData(TOKENS, TOKENS, None, None, "tokens:x").bits_per_byte(2.0) is None


def test_measure_pipeline_runs():
    assert measure_pipeline(TOKENS, SEQ, BATCH, steps=5, warmup=1) > 0


def test_prepare_data_from_text(text_corpus_dir):
    data, assets = prepare_data(str(text_corpus_dir), "sentencepiece", 512, 64)
    assert assets.vocabulary_size <= 512 and data.end_of_text_id == 2
    assert data.validation_bytes > 0 and len(data.train) > len(data.validation) > 65
    assert data.describe()["train_tokens"] == len(data.train)


def test_corpus_too_small_for_the_context(text_corpus_dir):
    with pytest.raises(ZooError) as error:
        prepare_data(str(text_corpus_dir), "byte_bpe", 512, 5000)
    message = str(error.value)
    assert "too small for a context of 5000" in message and "5001 are needed" in message
    assert "training split has" in message and "\n" not in message
    with pytest.raises(ZooError, match=r"validation split has \d+ tokens, at least 1001"):
        prepare_data(str(text_corpus_dir), "byte_bpe", 512, 1000)


def test_prepare_data_from_tokens(tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(2000) % 300)
    data, assets = prepare_data(f"tokens:{tmp_path / 'ids.npy'}", "byte_bpe", 300, 64)
    assert assets is None and data.validation_bytes is None and len(data.validation) == 200
    with pytest.raises(ZooError, match="token id 299 does not fit a vocabulary of 256"):
        prepare_data(f"tokens:{tmp_path / 'ids.npy'}", "byte_bpe", 256, 64)
    with pytest.raises(ZooError, match="validation split has 200 tokens, at least 257"):
        prepare_data(f"tokens:{tmp_path / 'ids.npy'}", "byte_bpe", 300, 256)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["byte_bpe", "sentencepiece"])
def test_shakespeare_round_trips_and_compresses(kind):
    from zoo.data import load_corpus

    data, assets = prepare_data("shakespeare", kind, 4096, 256)
    assert data.validation_bytes == 620_853 and assets.vocabulary_size == 4096
    assert data.validation_bytes / len(data.validation) > 2.8  # bytes per token
    end = np.flatnonzero(data.validation == assets.end_of_text_id)[0]
    first = load_corpus("shakespeare").validation[0].text
    assert assets.load().detokenize(data.validation[:end]) == first
