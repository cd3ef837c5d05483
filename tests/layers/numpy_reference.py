"""Independent NumPy (float64) references for the shared layers.

Written from the papers' formulas, never from `zoo.layers`, so a test comparing the two checks the
layer rather than restating it.
"""

import math

import numpy as np


def softmax(x, axis=-1):
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def causal_attention(q, k, v, window=None, relative=None, slopes=None):
    """Causal grouped attention, one head and one query row at a time.

    q: (b, t, H, h); k, v: (b, t, K, h); query head n reads kv head n // (H / K).
    Key j is visible to query i iff 0 <= i - j (< window when a window is given).
    relative: optional (query_v, r) with query_v (b, t, H, h) and r (distances, H, h); adds
    query_v[i] · r[i - j] to score[i, j] (Transformer-XL terms (b) + (d) once u is in q).
    slopes: optional (H,) ALiBi slopes; adds -slopes[n]·(i - j) to head n's logits, after the
    1/sqrt(h) scaling (Press et al. 2022, eq. in §3: softmax(q_i Kᵀ + m·[-(i-1), …, -1, 0])).
    """
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    b, t, heads, dim = q.shape
    group = heads // k.shape[2]
    out = np.zeros((b, t, heads, v.shape[-1]))
    for n in range(heads):
        kv = n // group
        for i in range(t):
            allowed = [j for j in range(t) if 0 <= i - j and (window is None or i - j < window)]
            scores = np.einsum("bh,bjh->bj", q[:, i, n], k[:, allowed, kv])
            if relative is not None:
                query_v, r = (np.asarray(a, np.float64) for a in relative)
                r_rows = r[[i - j for j in allowed], n]  # (j, h)
                scores = scores + np.einsum("bh,jh->bj", query_v[:, i, n], r_rows)
            logits = scores / math.sqrt(dim)
            if slopes is not None:
                logits = logits - slopes[n] * np.array([i - j for j in allowed], np.float64)
            weights = softmax(logits)
            out[:, i, n] = np.einsum("bj,bjh->bh", weights, v[:, allowed, kv])
    return out


def alibi_slopes(heads):
    """ALiBi's slopes as the paper states them: for H a power of two, the geometric sequence
    starting at 2^(-8/H) with ratio 2^(-8/H); otherwise the 2^⌊log2 H⌋ slopes of that power,
    then the odd-numbered ones (1st, 3rd, …) of the next power up, to H in all."""
    if heads & (heads - 1) == 0:
        return 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)
    below = 1 << (heads.bit_length() - 1)
    return np.concatenate([alibi_slopes(below), alibi_slopes(2 * below)[::2][: heads - below]])


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope(x, max_wavelength=10000.0, positions=None):
    """Rotate-half RoPE (GPT-NeoX / HF LLaMA): x (b, t, heads, dim)."""
    x = np.asarray(x, np.float64)
    t, dim = x.shape[1], x.shape[-1]
    if positions is None:
        positions = np.arange(t)
    inv_freq = 1.0 / max_wavelength ** (np.arange(0, dim, 2) / dim)  # (dim/2,)
    angles = np.asarray(positions, np.float64)[:, None] * inv_freq[None, :]  # (t, dim/2)
    angles = np.concatenate([angles, angles], axis=-1)[None, :, None, :]  # (1, t, 1, dim)
    return x * np.cos(angles) + rotate_half(x) * np.sin(angles)


def relative_sinusoid(distances, hidden_dim):
    """Transformer-XL R[d] = [sin(d·ω), cos(d·ω)], ω_i = 10000^(-2i/hidden_dim)."""
    omega = 10000.0 ** (-2.0 * np.arange(hidden_dim // 2) / hidden_dim)
    angles = np.arange(distances, dtype=np.float64)[:, None] * omega[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)  # (distances, hidden_dim)


def layer_norm(x, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps) * gamma
    return out if beta is None else out + beta


def rms_norm(x, scale, eps):
    x = np.asarray(x, np.float64)
    return x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps) * scale


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def leaky_relu(x, slope=0.01):
    return np.where(x > 0, x, slope * x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
