"""Position schemes that act on attention scores: Transformer-XL's relative terms and ALiBi.

Both are *score biases*, the one hook the kernels in `attention_kernels` offer: a function

    bias(distance, rows) -> float32 terms broadcastable to the kernel's scores (..., K, G, i, j)

called by the dense, banded and cached paths alike, with
    distance  int32 (i, j): query position minus key position for each entry of the score tile
              the kernel forms, (t, s) in dense attention and (w, 2w) in a banded tile;
    rows      a function that lays out a per-query tensor (b, t, H, h) as the kernel lays out its
              queries, (..., i, K, G, h) (only biases that depend on the queries need it).
The terms are added to the raw scores q·k, before the 1/√h scale and the softmax (Transformer-XL
scales its position logits with the content logits); entries the mask removes are ignored. A
kernel given a bias never takes the fused `dot_product_attention` path, so a scheme of this kind
(ALiBi, T5's bucketed biases) is a bias function and one branch in `CausalSelfAttention`.

Einsum letters as in `attention_kernels`: t query row, k key/value head, g query heads per kv
head, h head feature, r relative distance.
"""

import math

import numpy as np
from keras import ops


def sinusoid(positions, dim):
    """Transformer-XL's relative encoding: [sin(p·ω), cos(p·ω)], ω_i = 10000^(-2i/dim)."""
    inverse_frequency = 1.0 / (10000.0 ** (ops.arange(0, dim, 2, dtype="float32") / dim))
    angles = ops.cast(positions, "float32")[:, None] * inverse_frequency[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)  # (p, dim)


def relative_score_bias(query_v, r):
    """Transformer-XL's position terms (q_i + v)·r_{i−j}, §3.3 terms (b) + (d).

    query_v: (b, t, H, h), the queries plus the global position bias v. r: (distances, H, h), W_R
    applied to the sinusoids of distances 0 .. distances − 1, enough for every distance the
    kernel's tile holds (t when dense, the window when banded, the cache length when decoding).
    """

    def bias(distance, rows):
        qv = rows(query_v)  # (..., t, K, G, h)
        kv, dim = qv.shape[-3], qv.shape[-1]
        r_grouped = ops.reshape(r, (ops.shape(r)[0], kv, -1, dim))  # (r, K, G, h)
        # (b[, n], K, G, t, r). The leading axes are spelled out: with "..." XLA rounds the
        # contraction differently (by an ulp), and the relative terms are kept bit for bit.
        lead = "bn"[: len(qv.shape) - 4]  # dense rows (b, t, K, G, h); banded (b, n, w, K, G, h)
        by_distance = ops.einsum(f"{lead}tkgh,rkgh->{lead}kgtr", qv, r_grouped)
        return gather_distances(ops.cast(by_distance, "float32"), distance)

    return bias


def gather_distances(by_distance, distance):
    """Pick score[..., i, j] = by_distance[..., i, i - j]; negative distances are masked later."""
    index = ops.clip(distance, 0, ops.shape(by_distance)[-1] - 1)
    index = ops.broadcast_to(index, ops.shape(by_distance)[:-1] + (ops.shape(index)[-1],))
    return ops.take_along_axis(by_distance, index, axis=-1)


def alibi_slopes(num_heads):
    """ALiBi's head slopes m_1 … m_H (Press et al. 2022, §3; the reference code's `get_slopes`).

    For H a power of two, the geometric sequence m_h = 2^(−8h/H); otherwise the slopes of the
    largest power of two below H, then every other slope of the next power of two up.
    """
    if math.log2(num_heads).is_integer():
        start = 2.0 ** (-8.0 / num_heads)
        return [start ** (h + 1) for h in range(num_heads)]
    closest = 2 ** math.floor(math.log2(num_heads))
    return alibi_slopes(closest) + alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def alibi_score_bias(num_query_heads, num_key_value_heads, head_dim):
    """ALiBi: −m_h·(i − j) on query head h's attention logits, no parameters.

    The penalty belongs on the logits softmax sees; the kernels scale scores and bias together
    by 1/√h, so the slopes carry a factor √h here.
    """
    groups = num_query_heads // num_key_value_heads
    slopes = np.asarray(alibi_slopes(num_query_heads), "float64") * math.sqrt(head_dim)
    slopes = slopes.astype("float32").reshape(num_key_value_heads, groups, 1, 1)  # (K, G, 1, 1)

    def bias(distance, rows):
        return -ops.convert_to_tensor(slopes) * ops.cast(distance, "float32")  # (K, G, i, j)

    return bias
