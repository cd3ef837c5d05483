"""Causal attention kernels in `keras.ops`: dense and locally banded, any number of kv heads.

Written by hand because `keras.ops.dot_product_attention` has no blockwise banded mode, and its
TensorFlow path repeats keys/values per query head (multi-query attention would lose its memory
saving). Positions that act on the scores (Transformer-XL, ALiBi) enter through one hook,
`score_bias` (see `zoo.layers.positions`), which every path accepts.

Einsum letters:
    b batch    t query position    s key position    k key/value head    g query heads per kv head
    h head feature    n tile index

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


# Whether dense causal training attention goes to `keras.ops.dot_product_attention` where a
# backend fuses it: None chooses by measurement (`fused_attention_available`), True takes the
# fused path wherever the backend has one (torch's `scaled_dot_product_attention` on any
# device), False never does. `zoo bench sizes` sets True in one worker, to time the fused
# kernel beside ours in the same run.
FUSED = None


def fused_attention_available():
    """Whether `keras.ops.dot_product_attention` takes dense causal training attention here:
    JAX or torch on a GPU (cuDNN / flash attention), by default.

    On a CPU our kernel below is faster: under `torch.compile`, torch's fused
    `scaled_dot_product_attention` trained the papers-shape GPT-2s at 0.83–0.97× of our kernel's
    tokens/s (140.7K against 169.7K at 2×32, 34.1K against 35.2K at 2×128; `zoo bench sizes
    --shapes papers`, one run, results/reference/bench-sizes-papers.json), and on TensorFlow
    and JAX ours is what XLA compiles best.
    """
    if FUSED is not None:
        return FUSED and _backend_fuses(anywhere=True)
    return _backend_fuses(anywhere=False)


def backend_fuses_attention():
    """Whether this backend has a fused `dot_product_attention` on any device (JAX, torch)."""
    return _backend_fuses(anywhere=True)


@functools.cache
def _backend_fuses(anywhere):
    backend = keras.backend.backend()
    if backend not in ("jax", "torch"):
        return False
    if backend == "torch":
        import torch

        return anywhere or torch.cuda.is_available()
    import jax

    # On a CPU, jax.nn.dot_product_attention is XLA's composition: no faster (see above), but
    # `zoo bench attention` times and measures it beside ours.
    return anywhere or jax.devices()[0].platform == "gpu"


def dense_causal_attention(query, key, value, score_bias=None, query_start=0, window=None):
    """Every query attends to itself and all earlier keys (or, with `window`, the most recent).

    query: (b, t, H, h) at positions query_start .. query_start + t - 1; key, value: (b, s, K, h)
    at positions 0 .. s - 1 (s = t in training; in decoding, the whole key/value cache, whose
    entries after the query are masked). `score_bias`: an optional `bias(distance, rows)` (see
    `zoo.layers.positions`), called here with distance (t, s) and rows (b, t, K, G, h). `window`:
    keys per query, the query included, for a banded layer's decoding step (training uses the
    banded kernel below). Returns (b, t, H, h).
    """
    training_shape = isinstance(query_start, int) and query_start == 0 and window is None
    if score_bias is None and training_shape and fused_attention_available():
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
    if score_bias is not None:
        scores = scores + score_bias(distance, lambda x: split_groups(x, kv))
    mask = distance >= 0  # (t, s)
    if window is not None:
        mask = mask & (distance < window)
    out = _softmax_weighted_sum(
        scores * scale, mask, value, "bkgts,bskh->btkgh", query.dtype
    )  # (b, t, K, G, h)
    return merge_groups(out)


def banded_causal_attention(query, key, value, window, score_bias=None):
    """Each query attends to the `window` most recent positions, itself included, tile by tile.

    The sequence is cut into tiles of `window` positions; each query tile meets only its own key
    tile and the one before it, so scores cost (padded t)·2·window instead of t². The band mask
    is applied inside that (window, 2·window) score tile. `score_bias` is as in
    `dense_causal_attention`, called with the tile's distance (w, 2w), the same for every tile,
    and rows (b, n, w, K, G, h).
    """
    b, t, heads, dim = ops.shape(query)
    kv = ops.shape(key)[2]
    tiles = -(-t // window)
    pad = tiles * window - t
    scale = 1.0 / math.sqrt(query.shape[-1])

    def tiled(x):  # (b, t, ...) -> (b, n, window, ...), zero padded at the end
        x = ops.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (len(x.shape) - 2))
        return ops.reshape(x, (b, tiles, window) + tuple(ops.shape(x)[2:]))

    def with_previous(x):  # (b, n, w, K, h) -> (b, n, 2w, K, h): previous tile, then own
        previous = ops.pad(x[:, :-1], [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0)])
        return ops.concatenate([previous, x], axis=2)

    def rows(x):  # (b, t, H, h) -> (b, n, w, K, G, h): laid out like the query tiles
        return ops.reshape(tiled(x), (b, tiles, window, kv, heads // kv, x.shape[-1]))

    q = rows(query)  # (b, n, w, K, G, h)
    k = with_previous(tiled(key))  # (b, n, 2w, K, h)
    v = with_previous(tiled(value))
    scores = ops.cast(ops.einsum("bntkgh,bnskh->bnkgts", q, k), "float32")  # (b,n,K,G,w,2w)

    # Query t of tile n sits at n·w + t; key s of its score tile at n·w - w + s.
    offset = ops.arange(window)[:, None] - ops.arange(2 * window)[None, :] + window  # i - j
    first_tile = ops.arange(tiles)[:, None, None] == 0
    key_before_start = (ops.arange(2 * window) < window)[None, None, :]
    mask = (offset >= 0) & (offset < window)  # (w, 2w)
    mask = mask[None] & ~(first_tile & key_before_start)  # (n, w, 2w)
    mask = mask[:, None, None]  # (n, 1, 1, w, 2w), broadcast over heads
    if score_bias is not None:
        scores = scores + score_bias(offset, rows)
    out = _softmax_weighted_sum(
        scores * scale, mask, v, "bnkgts,bnskh->bntkgh", query.dtype
    )  # (b, n, w, K, G, h)
    out = ops.reshape(out, (b, tiles * window, heads, dim))
    return out[:, :t]
