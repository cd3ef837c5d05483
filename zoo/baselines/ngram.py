"""Interpolated modified Kneser-Ney over the bytes of UTF-8 text: the n-gram yardstick.

Written here with numpy: nltk's KN estimator is orders of magnitude too slow for 5 MB of bytes,
and kenlm's pip package ships a scorer but no estimator.

The model (Chen & Goodman 1999, "An empirical study of smoothing techniques", §3, interpolated
modified Kneser-Ney). For order k and a context h of k-1 bytes,

    P(w | h) = (max(c(hw) - D(c(hw)), 0) + γ(h) · P'(w | h⁻)) / c(h·)
    γ(h) = D1·N1(h·) + D2·N2(h·) + D3+·N3+(h·)

where h⁻ drops h's oldest byte and N_i(h·) counts the bytes w with c(hw) = i (3 or more for
N3+). A context never seen uses P' alone. The top level counts occurrences; every lower level
counts continuations, c'(hw) = the number of distinct bytes seen before hw, so a lower level
predicts how readily a byte follows *new* contexts. The lowest level (one byte, empty context)
interpolates with the uniform distribution over all 256 byte values, so every probability is
positive and every conditional distribution sums to one. Each level has its own discounts from
its count-of-counts n_i: Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
D3+ = 3 - 4Y n4/n3 (with a fallback for tiny corpora, `discounts`).

Documents are separate: each starts with `order - 1` copies of the boundary byte 0xFF, which
valid UTF-8 never contains, so no context crosses a document boundary and a document's first
bytes are predicted from "start of document". The boundary is context only, never predicted.

An n-gram of up to 8 bytes is one uint64 key, the predicted byte in the low 8 bits and older
bytes above it, so a context is `key >> 8`, the lower-order n-gram is `key & mask`, and counting
is `np.unique` over the keys.
"""

import math

import numpy as np

MAX_ORDER = 8  # 8 bytes fill a uint64 key
VOCABULARY = 256  # byte values predicted; the boundary byte is one of them, never seen as a target
BOUNDARY = 0xFF  # never occurs in UTF-8 text
FALLBACK_DISCOUNT = 0.75  # where a level's count-of-counts cannot estimate its discounts


def encode(texts, pad=MAX_ORDER - 1):
    """The documents as one uint8 array, each preceded by `pad` boundary bytes."""
    parts = []
    for text in texts:
        parts.append(np.full(pad, BOUNDARY, dtype=np.uint8))
        parts.append(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


def ngram_keys(stream, max_order):
    """Yield (n, keys) for n = 1..max_order: the n-gram ending at each real (non-boundary) byte
    of `stream` (from `encode`), as uint64 keys."""
    real = stream != BOUNDARY
    full = np.zeros(len(stream), dtype=np.uint64)  # (positions,)
    for n in range(1, max_order + 1):
        shift = np.uint64(8 * (n - 1))
        full[n - 1 :] |= stream[: max(len(stream) - n + 1, 0)].astype(np.uint64) << shift
        yield n, full[real]


class Level:
    """One level of the model: sorted n-gram keys with their (raw or continuation) counts, and
    per context (`key >> 8`) the total count and the discounted mass γ given to the level below."""

    def __init__(self, keys, counts):
        self.keys, self.counts = keys, counts.astype(np.int64)  # sorted unique, (ngrams,)
        self.discounts = discounts(self.counts)
        self.contexts, starts = np.unique(keys >> np.uint64(8), return_index=True)  # sorted
        self.totals = _sums(self.counts, starts)  # c(h·), (contexts,)
        self.backoff = _sums(self.discount(self.counts), starts)  # γ(h), (contexts,)

    def discount(self, counts):
        d1, d2, d3 = self.discounts
        return np.select([counts == 0, counts == 1, counts == 2], [0.0, d1, d2], d3)

    def probabilities(self, keys, lower):
        """P(w | h) for the n-grams `keys` (hw), given P'(w | h⁻) = `lower` for each."""
        if not len(self.keys):
            return lower
        count = _lookup(self.keys, self.counts, keys)
        context = keys >> np.uint64(8)
        where = np.searchsorted(self.contexts, context).clip(0, len(self.contexts) - 1)
        seen = self.contexts[where] == context
        total = np.where(seen, self.totals[where], 1)
        kept = np.maximum(count - self.discount(count), 0.0)
        return np.where(seen, (kept + self.backoff[where] * lower) / total, lower)


def _sums(values, starts):
    return np.add.reduceat(values, starts) if len(values) else values[:0]


def discounts(counts):
    """(D1, D2, D3+) from the count-of-counts of `counts` (Chen & Goodman's estimates). Where
    those are undefined or out of range (tiny corpora), the plain KN discount n1/(n1 + 2 n2),
    or 0.75 without singletons and doubletons, is used for all three."""
    n = [int(np.count_nonzero(counts == i)) for i in (1, 2, 3, 4)]
    plain = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] else FALLBACK_DISCOUNT
    plain = plain if 0 < plain < 1 else FALLBACK_DISCOUNT
    if min(n) == 0:
        return plain, plain, plain
    y = n[0] / (n[0] + 2 * n[1])
    estimated = (1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2])
    if not all(0 < d <= i for i, d in enumerate(estimated, start=1)):
        return plain, plain, plain
    return estimated


def _lookup(keys, values, queries):
    """values[i] where keys[i] == query, else 0 (keys sorted)."""
    if not len(keys):
        return np.zeros(len(queries), dtype=np.int64)
    where = np.searchsorted(keys, queries).clip(0, len(keys) - 1)
    return np.where(keys[where] == queries, values[where], 0)


class KneserNey:
    """Interpolated modified Kneser-Ney byte n-gram models of every order up to `max_order`,
    fitted together on `texts` (an iterable of str documents): they share their count tables."""

    def __init__(self, texts, max_order=MAX_ORDER):
        check_order(max_order)
        self.max_order = max_order
        self.raw, self.continuation = {}, {}  # order -> Level
        unique = {}
        for n, keys in ngram_keys(encode(texts), max_order):
            unique[n], counts = np.unique(keys, return_counts=True)
            self.raw[n] = Level(unique[n], counts)
        for n in range(1, max_order):
            # c'(w) for an n-gram w: the distinct (n+1)-grams that end in it.
            suffixes = unique[n + 1] & np.uint64((1 << (8 * n)) - 1)
            self.continuation[n] = Level(*np.unique(suffixes, return_counts=True))

    def _orders(self, keys, orders):
        """{order: P(byte | context)} for each of `orders`, from the n-gram keys by length."""
        lower = np.full(len(keys[1]), 1 / VOCABULARY)  # P' below the lowest level: uniform
        out = {}
        for n in range(1, max(orders) + 1):
            if n in orders:
                out[n] = self.raw[n].probabilities(keys[n], lower)
            if n < max(orders):
                lower = self.continuation[n].probabilities(keys[n], lower)
        return out

    def bits_per_byte(self, texts, orders=None):
        """{order: mean -log2 P over the bytes of `texts`} (None for each when they have no
        bytes); every order up to `max_order` unless `orders` names some."""
        orders = sorted(orders or range(1, self.max_order + 1))
        for order in orders:
            check_order(order, self.max_order)
        keys = dict(ngram_keys(encode(texts), max(orders)))
        if not len(keys[1]):
            return {order: None for order in orders}
        return {
            order: float(-np.log2(p).sum() / len(p))
            for order, p in self._orders(keys, orders).items()
        }

    def distribution(self, context, order):
        """P(w | context) for all 256 byte values w, shape (256,). `context` is bytes (or str);
        one shorter than order - 1 bytes is read as the start of a document."""
        check_order(order, self.max_order)
        if isinstance(context, str):
            context = context.encode("utf-8")
        history = bytes([BOUNDARY] * (order - 1)) + bytes(context)
        following = np.arange(VOCABULARY, dtype=np.uint64)
        keys, key = {}, following.copy()
        for n in range(1, order + 1):
            if n > 1:
                key = key | (np.uint64(history[-(n - 1)]) << np.uint64(8 * (n - 1)))
            keys[n] = key
        return self._orders(keys, [order])[order]


def check_order(order, max_order=MAX_ORDER):
    """`order` as an int in 1..max_order, or `ValueError` (the caller words the user's error)."""
    if (
        isinstance(order, bool)
        or not isinstance(order, (int, np.integer))
        or not 1 <= order <= max_order
    ):
        raise ValueError(f"order must be an integer from 1 to {max_order}; received {order!r}")
    return int(order)


def choose_order(fit_texts, held_out_texts, max_order=MAX_ORDER):
    """(the order with the lowest bits per byte on `held_out_texts`, {order: bits per byte})
    for models fitted on `fit_texts`; a tie goes to the smaller order."""
    scores = KneserNey(fit_texts, max_order).bits_per_byte(held_out_texts)
    finite = {k: v for k, v in scores.items() if v is not None and math.isfinite(v)}
    if not finite:
        return None, scores
    return min(finite, key=lambda k: (finite[k], k)), scores


__all__ = ["MAX_ORDER", "KneserNey", "choose_order", "discounts", "encode", "ngram_keys"]
