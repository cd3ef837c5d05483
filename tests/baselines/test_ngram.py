"""The Kneser-Ney byte n-gram: proper distributions, closed-form probabilities on hand-counted
texts, order selection on training text only, and the cache keyed by corpus fingerprint."""

import collections
import json

import numpy as np
import pytest

from zoo.baselines import MAX_ORDER, KneserNey, ngram_baseline, unigram_bits_per_byte
from zoo.baselines.ngram import BOUNDARY, Level, discounts
from zoo.errors import ZooError

VERSE = (
    "Shall I compare thee to a summer's day? Thou art more lovely and more temperate: "
    "rough winds do shake the darling buds of May, and summer's lease hath all too short "
    "a date. Café, naïve — ünïcödé bytes too.\n"
)


def bigram(a, b):
    return np.uint64(a << 8 | b)


@pytest.fixture(scope="module")
def verse_model():
    return KneserNey([VERSE * 3, VERSE[::-1], "thee thou thy\n"])


@pytest.mark.parametrize("order", range(1, MAX_ORDER + 1))
@pytest.mark.parametrize(
    "context",
    [
        "",
        "t",
        "summer's",
        "compare thee to a ",
        "Caf",
        "qzqzqzqz",
        "\x00\x01",
        "日本語",
        "thee thou thy\nShall",
    ],
)
def test_every_distribution_sums_to_one_and_is_positive(verse_model, order, context):
    p = verse_model.distribution(context, order)
    assert p.shape == (256,)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert p.min() > 0


def test_seen_contexts_predict_what_followed(verse_model):
    assert chr(verse_model.distribution("compare the", 8).argmax()) == "e"
    assert verse_model.distribution("compare th", 6)[ord("e")] > 0.5


def test_two_documents_hand_counted():
    """'abab': bigrams Pa:1, ab:2, ba:1 (P the boundary); continuation counts a:2 (Pa, ba),
    b:1 (ab). Count-of-counts too few for Chen & Goodman: plain D = n1/(n1+2 n2) per level,
    1/2 for the bigrams and 1/3 for the unigram continuations."""
    model = KneserNey(["abab"], max_order=2)
    assert model.raw[2].discounts == (0.5, 0.5, 0.5)
    assert model.continuation[1].discounts == pytest.approx((1 / 3,) * 3)
    gamma = 1 / 3 * 2  # D · (bytes with a continuation count)
    p1 = np.full(256, gamma / 256 / 3)
    p1[ord("a")] += (2 - 1 / 3) / 3
    p1[ord("b")] += (1 - 1 / 3) / 3
    expected = {
        "a": {
            "b": (2 - 0.5 + 0.5 * p1[ord("b")]) / 2,
            "a": 0.5 * p1[ord("a")] / 2,
            "z": 0.5 * p1[ord("z")] / 2,
        },
        "b": {"a": 1 - 0.5 + 0.5 * p1[ord("a")], "b": 0.5 * p1[ord("b")]},
        "": {"a": 1 - 0.5 + 0.5 * p1[ord("a")], "b": 0.5 * p1[ord("b")]},  # after the boundary
        "z": {"a": p1[ord("a")], "b": p1[ord("b")], "c": p1[ord("c")]},  # unseen: P1 alone
    }
    for context, following in expected.items():
        p = model.distribution(context, 2)
        for byte, value in following.items():
            assert p[ord(byte)] == pytest.approx(value, rel=1e-12), (context, byte)


def test_modified_discounts_from_count_of_counts():
    """n1..n4 = 4, 2, 1, 1: Y = 1/2, D1 = 1 - 2Y·2/4, D2 = 2 - 3Y·1/2, D3+ = 3 - 4Y·1/1."""
    counts = np.array([1, 1, 1, 1, 2, 2, 3, 4])
    assert discounts(counts) == pytest.approx((0.5, 1.25, 1.0))
    x = ord("x")
    level = Level(np.array([bigram(x, b) for b in b"abcdefgh"], dtype=np.uint64), counts)
    gamma = 0.5 * 4 + 1.25 * 2 + 1.0 * 2  # 6.5 of the 15 counts go to the level below
    lower = np.linspace(0.001, 0.002, 4)
    queries = np.array([bigram(x, b) for b in b"aehz"], dtype=np.uint64)
    expected = [
        (1 - 0.5 + gamma * lower[0]) / 15,
        (2 - 1.25 + gamma * lower[1]) / 15,
        (4 - 1.0 + gamma * lower[2]) / 15,
        gamma * lower[3] / 15,
    ]
    np.testing.assert_allclose(level.probabilities(queries, lower), expected, rtol=1e-12)


def test_order_one_is_the_interpolated_unigram():
    """c(w) over the bytes, D(c) from their count-of-counts, the rest spread uniformly."""
    text = "abcd" + "ee" + "ff" + "ggg" + "hhhh" + "ii" * 3  # n1..n4 = 4, 2, 1, 1
    counts = collections.Counter(text.encode())
    d = {1: 0.5, 2: 1.25}
    total = sum(counts.values())
    gamma = sum(d.get(c, 1.0) for c in counts.values())
    direct = np.full(256, gamma / 256 / total)
    for byte, c in counts.items():
        direct[byte] += (c - d.get(c, 1.0)) / total
    model = KneserNey([text], max_order=1)
    assert model.raw[1].discounts == pytest.approx((0.5, 1.25, 1.0))
    np.testing.assert_allclose(model.distribution("hh", 1), direct, rtol=1e-12)
    held_out = "abba cafe\n"
    bits = -np.mean([np.log2(direct[b]) for b in held_out.encode()])
    assert model.bits_per_byte([held_out], [1])[1] == pytest.approx(bits, rel=1e-12)


def test_higher_orders_beat_the_unigram_on_repetitive_text():
    model = KneserNey(["the cat sat on the mat. " * 40, "the mat sat on the cat. " * 40])
    scores = model.bits_per_byte(["the cat sat on the mat. the mat sat on the cat. " * 5])
    assert scores[1] > 3 and scores[5] < 0.5 * scores[1]
    assert all(scores[k] < scores[1] for k in range(2, MAX_ORDER + 1))


def test_contexts_do_not_cross_documents():
    """'b' ends the first document, so nothing is ever seen after it: P(c | b) falls back as
    for an unseen context; in one document 'abcd' it is learned."""
    apart, joined = KneserNey(["ab", "cd"], max_order=2), KneserNey(["abcd"], max_order=2)
    assert apart.distribution("b", 2)[ord("c")] == apart.distribution("q", 2)[ord("c")]
    assert joined.distribution("b", 2)[ord("c")] > 2 * apart.distribution("b", 2)[ord("c")]
    keys = set(apart.raw[2].keys.tolist())
    assert int(bigram(ord("b"), ord("c"))) not in keys
    assert int(bigram(BOUNDARY, ord("c"))) in keys  # 'c' starts a document


def _works(root, words, validation_words=None):
    """Twelve works; validation (every 10th by name) holds out work_00 and work_10."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        pool = validation_words if validation_words and i % 10 == 0 else words
        lines = [" ".join(rng.choice(pool, size=8)) for _ in range(60)]
        (root / f"work_{i:02d}.txt").write_text("\n".join(lines) + "\n")
    return str(root)


WORDS = "the king queen lord lady speak hath thou thee thy night day love death".split()


def test_order_is_chosen_without_reading_validation(isolated, tmp_path):
    one = ngram_baseline(_works(tmp_path / "one", WORDS))
    other = ngram_baseline(_works(tmp_path / "other", WORDS, ["zebra", "quux", "xylophone"]))
    assert one["corpus_fingerprint"] != other["corpus_fingerprint"]
    assert other["orders"] == one["orders"] and other["order"] == one["order"]
    assert other["bits_per_byte"] > one["bits_per_byte"] + 0.5  # validation did change
    assert sorted(one["orders"]) == list(range(1, MAX_ORDER + 1))
    assert one["order"] == min(one["orders"], key=one["orders"].get)
    assert "work_00.txt" not in one["held_out"]["documents"]
    assert one["held_out"]["documents"] == ["work_01.txt"]  # every 10th training work


def test_cache_returns_the_same_result_keyed_by_fingerprint(isolated, tmp_path):
    data = _works(tmp_path / "works", WORDS)
    first = ngram_baseline(data)
    again = ngram_baseline(data)
    assert not first["cached"] and again["cached"]
    assert {**again, "cached": False} == first
    files = list((tmp_path / "cache" / "baselines" / "ngram").glob("*.json"))
    assert [f.name.split("-")[0] for f in files] == [first["corpus_fingerprint"]]
    assert json.loads(files[0].read_text())["bits_per_byte"] == first["bits_per_byte"]
    given = ngram_baseline(data, order=first["order"])  # other settings: another entry
    assert not given["cached"] and given["orders"] == {}
    assert given["bits_per_byte"] == first["bits_per_byte"]
    files[0].write_text("{not json")  # a damaged entry is rebuilt, not trusted
    rebuilt = ngram_baseline(data)
    assert not rebuilt["cached"] and rebuilt["bits_per_byte"] == first["bits_per_byte"]
    works = sorted((tmp_path / "works").iterdir())
    train = [p.read_text() for p in works if p.stem not in ("work_00", "work_10")]
    validation = [p.read_text() for p in works if p.stem in ("work_00", "work_10")]
    assert first["unigram_bits_per_byte"] == unigram_bits_per_byte(train, validation)


@pytest.mark.parametrize("order", [0, 9, -1, 2.5, True])
def test_bad_orders_and_token_data_are_user_errors(isolated, order):
    with pytest.raises(ZooError, match="from 1 to 8"):
        ngram_baseline("shakespeare", order=order)
    with pytest.raises(ZooError, match="needs a text corpus"):
        ngram_baseline("tokens:/nowhere/train.bin")
