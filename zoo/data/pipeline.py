"""From a corpus spec to batches: encoding, packing, deterministic shuffling, and bits per byte.

Each document is encoded on its own; the end-of-text id goes between and after them:
`doc1 <eot> doc2 <eot> ... docN <eot>`. The stream is packed into windows of `seq_len + 1`
tokens that start every `seq_len` tokens, so neighbouring windows share one token and every
target is predicted exactly once per epoch. Window order is a permutation drawn afresh each
epoch from (seed, epoch) by `tf.random.experimental.index_shuffle`: batch `k` is a pure function
of (tokens, seed, k), which is what lets `--resume` continue with the very batches an
uninterrupted run would have seen.
"""

import json
import pathlib
import time

import numpy as np
import tensorflow as tf

from zoo.data.corpus import load_corpus
from zoo.data.token_data import TokenData
from zoo.data.token_shards import load_token_shards
from zoo.data.tokenizer import prepare_tokenizer, whole_number
from zoo.data_spec import DataKind, DataSpec
from zoo.errors import ZooError
from zoo.files import atomic_path, atomic_write_json, cache_dir

ENCODED = "encoded.json"
ENCODING_FORMAT = 1
ENCODE_BATCH = 64  # documents per keras-hub call: its Rust backend encodes a batch in parallel


def prepare_data(spec, kind, vocabulary_size, seq_len):
    """A corpus spec's (`TokenData`, `TokenizerAssets` or None for `tokens:` data)."""
    seq_len = whole_number("seq_len", seq_len)
    if seq_len < 1:
        raise ZooError(f"seq_len must be positive, got {seq_len}")
    spec = DataSpec.of(spec)
    if spec.kind is DataKind.TOKENS:
        vocabulary_size = whole_number("vocabulary_size", vocabulary_size)
        data, assets = load_token_shards(spec.location), None
        largest = max(int(data.train.max()), int(data.validation.max()))
        if largest >= vocabulary_size:
            raise ZooError(
                f"{spec}: token id {largest} does not fit a vocabulary of {vocabulary_size} "
                f"(set vocabulary_size to at least {largest + 1})"
            )
    else:
        corpus = load_corpus(spec.text)
        assets = prepare_tokenizer(corpus, kind, vocabulary_size)
        data = encode_corpus(corpus, assets)
    check_context(data, seq_len)
    return data, assets


def check_context(data, seq_len):
    """Raise `ZooError` unless each split holds at least one full window of `seq_len + 1`."""
    for split, tokens in (("training", data.train), ("validation", data.validation)):
        if len(tokens) < seq_len + 1:
            raise ZooError(
                f"corpus {data.source!r} is too small for a context of {seq_len}: its {split} "
                f"split has {len(tokens)} tokens, at least {seq_len + 1} are needed"
            )


def encode_corpus(corpus, assets):
    """Encode `corpus` with the keras-hub tokenizer of `assets`. The arrays are cached beside
    the assets when those are the cache entry trained on this corpus; assets elsewhere (a run
    directory) or from another corpus are encoded afresh, so nothing is written among them."""
    path = pathlib.Path(assets.path)
    cacheable = _is_cache_entry_of(assets, corpus)
    cached = _cached_encoding(path, assets) if cacheable else None
    if cached is None:
        tokenizer = assets.load()
        train = _encode(tokenizer, corpus.train, assets.end_of_text_id)
        validation = _encode(tokenizer, corpus.validation, assets.end_of_text_id)
        if cacheable:
            _save_encoding(path, assets, train, validation)
    else:
        train, validation = cached
    return TokenData(
        train, validation, corpus.validation_bytes, assets.end_of_text_id, corpus.source
    )


def _is_cache_entry_of(assets, corpus):
    try:
        fingerprint = assets.metadata.get("corpus_fingerprint")
    except (OSError, ValueError):
        return False
    in_cache = pathlib.Path(assets.path).resolve().parent == cache_dir("tokenizers").resolve()
    return in_cache and fingerprint == corpus.fingerprint


def _save_encoding(path, assets, train, validation):
    for name, array in (("train.npy", train), ("validation.npy", validation)):
        with atomic_path(path / name) as tmp, open(tmp, "wb") as file:
            np.save(file, array, allow_pickle=False)
    atomic_write_json(path / ENCODED, {  # last: its presence vouches for the arrays
        "format": ENCODING_FORMAT,
        "vocabulary_size": assets.vocabulary_size,
        "end_of_text_id": assets.end_of_text_id,
        "train_tokens": len(train),
        "validation_tokens": len(validation),
    })  # fmt: skip


def _encode(tokenizer, documents, end_of_text_id):
    """`doc <eot>` for every document, as one int32 stream. Eager calls take keras-hub's Python
    path; never tokenize inside tf.data, whose graph path splits text differently."""
    pieces = []
    separator = np.array([end_of_text_id], np.int32)
    for start in range(0, len(documents), ENCODE_BATCH):
        batch = [d.text for d in documents[start : start + ENCODE_BATCH]]
        for ids in tokenizer.tokenize(batch):
            pieces += [np.asarray(ids, np.int32).reshape(-1), separator]
    return np.concatenate(pieces) if pieces else np.zeros([0], np.int32)


def _cached_encoding(path, assets):
    try:
        record = json.loads((path / ENCODED).read_text("utf-8"))
        expected = {"format": ENCODING_FORMAT, "vocabulary_size": assets.vocabulary_size}
        if any(record.get(key) != value for key, value in expected.items()):
            return None
        arrays = [np.load(path / n, allow_pickle=False) for n in ("train.npy", "validation.npy")]
    except (OSError, ValueError):
        return None
    counts = (record.get("train_tokens"), record.get("validation_tokens"))
    if tuple(len(a) for a in arrays) != counts or any(a.dtype != np.int32 for a in arrays):
        return None
    return tuple(arrays)


def window_count(tokens, seq_len):
    """Windows of `seq_len + 1` tokens starting every `seq_len`: each target used once."""
    return max(0, (len(tokens) - 1) // seq_len)


def train_dataset(tokens, seq_len, batch_size, seed, start_step=0):
    """An endless `tf.data.Dataset` of `(x, y)` int32 batches `(batch_size, seq_len)`, y = x
    shifted by one. Starting at `start_step` yields exactly the batches an uninterrupted run
    yields from that step on.

    Sample `p` (= step * batch_size + row) is window `index_shuffle(p % n, [seed, epoch])` of
    epoch `p // n`, so a batch may straddle two epochs but no window is dropped or repeated
    within one. The tokens live in the dataset as a constant: fine up to a few hundred million.
    """
    n_windows = window_count(tokens, seq_len)
    if n_windows < 1:
        raise ZooError(f"{len(tokens)} tokens hold no window of {seq_len + 1} tokens")
    stream = tf.constant(np.asarray(tokens, np.int32))
    offsets = tf.range(seq_len + 1, dtype=tf.int64)
    n = tf.constant(n_windows, tf.int64)
    seed = tf.constant(int(seed), tf.int64)

    def window(position):
        epoch = position // n
        index = tf.random.experimental.index_shuffle(
            position % n, seed=tf.stack([seed, epoch]), max_index=n - 1
        )
        return tf.gather(stream, index * seq_len + offsets)  # (seq_len + 1,)

    def split(windows):  # (batch, seq_len + 1)
        return windows[:, :-1], windows[:, 1:]

    dataset = tf.data.Dataset.counter(start=int(start_step) * batch_size, dtype=tf.int64)
    dataset = dataset.map(window, num_parallel_calls=PIPELINE_THREADS, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)  # static shapes for XLA
    return without_autotuning(dataset.map(split).prefetch(PREFETCH_BATCHES))


PIPELINE_THREADS = 2
PREFETCH_BATCHES = 2


def without_autotuning(dataset):
    """`dataset` with tf.data's autotuner off (fixed parallelism and prefetch instead).

    Why: on a 2-core machine the autotuner held every `fit` step of an XLA-compiled model to a
    multiple of 2.048 s with the cores half idle (keras-hub GPT-2 at width 256: 4.10 s per step
    with it, 2.34 s without); a few windows per step need no tuning.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def validation_windows(tokens, seq_len, max_windows=None):
    """All validation windows `(n, seq_len + 1)` in order, or `max_windows` evenly spaced ones
    (deterministic, covering the whole stream rather than its start)."""
    n_windows = window_count(tokens, seq_len)
    chosen = np.arange(n_windows)
    if max_windows is not None and max_windows < n_windows:
        spaced = np.linspace(0, n_windows - 1, max(1, max_windows)).round()
        chosen = np.unique(spaced.astype(np.int64))
    tokens = np.asarray(tokens, np.int32)
    return tokens[chosen[:, None] * seq_len + np.arange(seq_len + 1)]


def measure_pipeline(tokens, seq_len, batch_size, steps=200, warmup=10):
    """Tokens per second the input pipeline delivers on its own, after `warmup` batches."""
    iterator = iter(train_dataset(tokens, seq_len, batch_size, seed=0))
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * batch_size * seq_len / (time.perf_counter() - start)
