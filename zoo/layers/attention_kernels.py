"""Causal attention kernels in `keras.ops`: dense and locally banded, any number of kv heads.

Written by hand because `keras.ops.dot_product_attention` has neither a blockwise banded mode nor
Transformer-XL's relative logits, and its TensorFlow path repeats keys/values per query head
(multi-query attention would lose its memory saving).

Einsum letters:
    b batch    t query position    s key position    k key/value head    g query heads per kv head
    h head feature    n block index    r relative distance

Scores and softmax are computed in float32 whatever the compute dtype.
"""

import functools
import math

import keras
from keras import ops

_NEG_INF = -1e9  # large but finite: a fully masked (padding) row must not produce NaN


def split_groups(query, num_key_value_heads):
    """(b, t, H, h) -> (b, t, K, H/K, h): the query heads that share one key/value head."""
    b, t, heads, dim = ops.shape(query)
    return ops.reshape(query, (b, t, num_key_value_heads, heads // num_key_value_heads, dim))


def merge_groups(x):
    """(b, t, K, G, h) -> (b, t, K·G, h)."""
    b, t, kv, g, dim = ops.shape(x)
    return ops.reshape(x, (b, t, kv * g, dim))


def _softmax_weighted_sum(scores, mask, value, equation, dtype):
    scores = ops.where(mask, scores, _NEG_INF)
    if len(scores.shape) > 5:
        # TensorFlow's eager softmax (oneDNN, on CPUs with AVX-512) takes at most 5 axes; the
        # banded kernel's scores have 6. Softmax over the last axis does not care how the
        # others are grouped, and under XLA the reshape is free.
        shape = ops.shape(scores)
        weights = ops.reshape(ops.softmax(ops.reshape(scores, (-1, shape[-1])), axis=-1), shape)
    else:
        weights = ops.softmax(scores, axis=-1)
    return ops.einsum(equation, ops.cast(weights, dtype), value)


@functools.cache
def fused_attention_available():
    """Whether `keras.ops.dot_product_attention` can use flash attention here: JAX on a GPU.

    Elsewhere (CPU, TensorFlow) our kernel below is what XLA compiles best, and is measured.
    """
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.devices()[0].platform == "gpu"


def dense_causal_attention(query, key, value, relative=None, query_start=0, window=None):
    """Every query attends to itself and all earlier keys (or, with `window`, the most recent).

    query: (b, t, H, h) at positions query_start .. query_start + t - 1; key, value: (b, s, K, h)
    at positions 0 .. s - 1 (s = t in training; in decoding, the whole key/value cache, whose
    entries after the query are masked). `relative`: optional pair `(query_v, r)` for
    Transformer-XL's position logits, query_v = query + v of shape (b, t, H, h) and r of shape
    (s, H, h) holding the projected encoding of distances 0..s-1. `window`: keys per query, the
    query included, for a banded layer's decoding step (training uses the blockwise kernel below).
    Returns (b, t, H, h).
    """
    training_shape = isinstance(query_start, int) and query_start == 0 and window is None
    if relative is None and training_shape and fused_attention_available():
        # cuDNN flash attention through Keras: same math, without materialising (t, s) scores.
        return ops.dot_product_attention(query, key, value, is_causal=True)
    kv = ops.shape(key)[2]
    t, s = ops.shape(query)[1], ops.shape(key)[1]
    scale = 1.0 / math.sqrt(query.shape[-1])
    q = split_groups(query, kv)  # (b, t, K, G, h)
    scores = ops.einsum("btkgh,bskh->bkgts", q, key)  # (b, K, G, t, s)
    scores = ops.cast(scores, "float32")
    query_position = ops.arange(t) + ops.cast(query_start, "int32")
    distance = query_position[:, None] - ops.arange(s)[None, :]  # (t, s): i - j
    if relative is not None:
        query_v, r = relative
        r = ops.reshape(r, (s, kv, -1, r.shape[-1]))  # (r, K, G, h)
        by_distance = ops.einsum("btkgh,rkgh->bkgtr", split_groups(query_v, kv), r)
        scores = scores + _gather_distances(ops.cast(by_distance, "float32"), distance)
    mask = distance >= 0  # (t, s)
    if window is not None:
        mask = mask & (distance < window)
    out = _softmax_weighted_sum(
        scores * scale, mask, value, "bkgts,bskh->btkgh", query.dtype
    )  # (b, t, K, G, h)
    return merge_groups(out)


def banded_causal_attention(query, key, value, window, relative=None):
    """Each query attends to the `window` most recent positions, itself included, blockwise.

    The sequence is cut into blocks of `window` positions; each query block meets only its own key
    block and the one before it, so scores cost (padded t)·2·window instead of t². The band mask
    is applied inside that (window, 2·window) tile. `relative` is as in
    `dense_causal_attention`, with r covering distances 0..window-1 (all a band can see).
    """
    b, t, heads, dim = ops.shape(query)
    kv = ops.shape(key)[2]
    blocks = -(-t // window)
    pad = blocks * window - t
    scale = 1.0 / math.sqrt(query.shape[-1])

    def blocked(x):  # (b, t, ...) -> (b, n, window, ...), zero padded at the end
        x = ops.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (len(x.shape) - 2))
        return ops.reshape(x, (b, blocks, window) + tuple(ops.shape(x)[2:]))

    def with_previous(x):  # (b, n, w, K, h) -> (b, n, 2w, K, h): previous block, then own
        previous = ops.pad(x[:, :-1], [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0)])
        return ops.concatenate([previous, x], axis=2)

    q = ops.reshape(blocked(query), (b, blocks, window, kv, heads // kv, dim))  # (b,n,w,K,G,h)
    k = with_previous(blocked(key))  # (b, n, 2w, K, h)
    v = with_previous(blocked(value))
    scores = ops.cast(ops.einsum("bntkgh,bnskh->bnkgts", q, k), "float32")  # (b,n,K,G,w,2w)

    # Query t of block n sits at n·w + t; key s of its tile at n·w - w + s.
    offset = ops.arange(window)[:, None] - ops.arange(2 * window)[None, :] + window  # i - j
    first_block = ops.arange(blocks)[:, None, None] == 0
    key_before_start = (ops.arange(2 * window) < window)[None, None, :]
    mask = (offset >= 0) & (offset < window)  # (w, 2w)
    mask = mask[None] & ~(first_block & key_before_start)  # (n, w, 2w)
    mask = mask[:, None, None]  # (n, 1, 1, w, 2w), broadcast over heads
    if relative is not None:
        query_v, r = relative
        qv = ops.reshape(blocked(query_v), (b, blocks, window, kv, heads // kv, dim))
        r = ops.reshape(r, (window, kv, -1, dim))  # (r, K, G, h)
        by_distance = ops.cast(ops.einsum("bntkgh,rkgh->bnkgtr", qv, r), "float32")
        scores = scores + _gather_distances(by_distance, offset)
    out = _softmax_weighted_sum(
        scores * scale, mask, v, "bnkgts,bnskh->bntkgh", query.dtype
    )  # (b, n, w, K, G, h)
    out = ops.reshape(out, (b, blocks * window, heads, dim))
    return out[:, :t]


def _gather_distances(by_distance, distance):
    """Pick score[..., i, j] = by_distance[..., i, i - j]; negative distances are masked later."""
    index = ops.clip(distance, 0, ops.shape(by_distance)[-1] - 1)
    index = ops.broadcast_to(index, ops.shape(by_distance)[:-1] + (ops.shape(index)[-1],))
    return ops.take_along_axis(by_distance, index, axis=-1)


def sinusoid(positions, dim):
    """Transformer-XL's relative encoding: [sin(p·ω), cos(p·ω)], ω_i = 10000^(-2i/dim)."""
    inverse_frequency = 1.0 / (10000.0 ** (ops.arange(0, dim, 2, dtype="float32") / dim))
    angles = ops.cast(positions, "float32")[:, None] * inverse_frequency[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)  # (p, dim)
