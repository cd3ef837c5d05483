"""`ngram_baseline(data)`: a corpus's Kneser-Ney n-gram yardstick, built once and cached.

The order is chosen on the training split only, never on validation: a held-out slice is taken
from the training documents exactly as validation is taken from the corpus (every 10th training
document by name; the last tenth, at a line break, when there is one training document), models
of every order 1–8 are fitted on the rest, and the order with the lowest bits per byte on the
slice wins (a tie goes to the smaller order). That order is then refitted on the whole training
split and scored on validation. An order given by the caller skips the selection.

Results are JSON in `cache_dir("baselines", "ngram")`, named by the corpus fingerprint (which
covers every document's name and text, and so the split) and the settings, written atomically.
"""

import json
import time

from zoo.baselines import ngram
from zoo.baselines.unigram import unigram_bits_per_byte
from zoo.data.corpus import load_corpus, split_documents
from zoo.data_spec import DEFAULT_DATA, DataSpec
from zoo.errors import ZooError
from zoo.files import atomic_write_json, cache_dir

VERSION = 1  # of the estimator and this record; a change invalidates every cached result
METHOD = "interpolated modified Kneser-Ney (Chen & Goodman) over UTF-8 bytes"
MAX_TRAIN_BYTES = 100_000_000  # every n-gram is held in memory: ~60 bytes of RAM per byte


def ngram_baseline(data=DEFAULT_DATA, order=None):
    """The KN byte n-gram's validation bits per byte on corpus `data` (a `load_corpus` spec),
    as a dict: `bits_per_byte`, `order`, `selection`, `orders` (order -> bits per byte on the
    held-out slice of training; empty when `order` is given), `held_out`, `unigram_bits_per_byte`
    (the zoo's add-one unigram yardstick), `build_seconds`, `cached`, `data`,
    `corpus_fingerprint`, … Raises `ZooError` for pre-tokenized data or a bad order."""
    if order is not None:
        try:
            order = ngram.check_order(order)
        except ValueError as error:
            raise ZooError(str(error)) from None
    if not DataSpec.of(data).has_text:
        raise ZooError(
            f"the n-gram baseline needs a text corpus; {data!r} is pre-tokenized "
            "(token ids, no text)"
        )
    corpus = load_corpus(data)
    path = cache_dir("baselines", "ngram") / (
        f"{corpus.fingerprint}-order-{order or 'auto'}-v{VERSION}.json"
    )
    result = _read(path, corpus.fingerprint)
    if result is None:
        result = _build(corpus, order)
        atomic_write_json(path, result)
        cached = False
    else:
        cached = True
    return {
        **result,
        "orders": {int(k): v for k, v in result["orders"].items()},
        "cached": cached,
        "data": data,
    }


def ngram_yardstick(data):
    """{"name", "order", "bits_per_byte"} of `data`'s n-gram baseline, or None where there is
    none (pre-tokenized data, a corpus too large, an unwritable cache): for the summaries,
    tables and plots of trained models, which go on without it."""
    if not DataSpec.of(data).has_text:
        return None
    try:
        result = ngram_baseline(data)
    except (ZooError, OSError):  # OSError: the cache could not be written
        return None
    return {
        "name": result["name"],
        "order": result["order"],
        "bits_per_byte": result["bits_per_byte"],
    }


def _build(corpus, order):
    if corpus.train_bytes > MAX_TRAIN_BYTES:
        raise ZooError(
            f"the n-gram baseline holds every n-gram in memory; the training split of "
            f"{corpus.source!r} has {corpus.train_bytes:,} bytes (at most "
            f"{MAX_TRAIN_BYTES:,})"
        )
    started = time.perf_counter()
    train = [d.text for d in corpus.train]
    held_out, scores = None, {}
    if order is None:
        slice_ = split_documents("held-out", corpus.train)
        order, scores = ngram.choose_order(
            [d.text for d in slice_.train], [d.text for d in slice_.validation]
        )
        if order is None:
            raise ZooError(
                f"{corpus.source!r} is too small to choose an n-gram order on a "
                "held-out slice of its training text; give the order"
            )
        held_out = {
            "split": slice_.split,
            "documents": [d.name for d in slice_.validation][:50],
            "fit_bytes": slice_.train_bytes,
            "held_out_bytes": slice_.validation_bytes,
        }
    validation = [d.text for d in corpus.validation]
    bits = ngram.KneserNey(train, order).bits_per_byte(validation, [order])[order]
    return {
        "name": f"KN n-gram (order {order})",
        "method": METHOD,
        "bits_per_byte": bits,
        "order": order,
        "selection": "held-out slice of training" if scores else "given",
        "orders": scores,
        "held_out": held_out,
        "unigram_bits_per_byte": unigram_bits_per_byte(train, validation),
        "build_seconds": time.perf_counter() - started,
        "corpus_fingerprint": corpus.fingerprint,
        "split": corpus.split,
        "train_bytes": corpus.train_bytes,
        "validation_bytes": corpus.validation_bytes,
        "version": VERSION,
    }


def _read(path, fingerprint):
    """The cached result at `path`, or None (absent, unreadable or not this corpus's)."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(result, dict)
        or result.get("corpus_fingerprint") != fingerprint
        or result.get("version") != VERSION
        or "bits_per_byte" not in result
    ):
        return None
    return result


__all__ = ["ngram_baseline", "ngram_yardstick"]
