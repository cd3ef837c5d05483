"""Gopher (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
Gopher", arXiv:2112.11446).

§2 and Table 1: GPT-2's architecture with RMSNorm instead of LayerNorm and Transformer-XL relative
position encodings instead of absolute ones; feed-forward width 4d; context 2048; SentencePiece
vocabulary of 32,000; 300B training tokens; Adam, warmup from 1e-7 over 1,500 steps, cosine decay
by 10×, gradient clipping at 1.0 (0.25 for 7.1B and 280B).

The Transformer-XL projection W_R (d × d per layer) is what brings 12·L·d² + V·d up to the
reported totals (280B: 258.2B + 21.5B); that reading is ours, and the counts agree within 2%.
"""

from recipes._family import Family
from recipes._optimizers import ADAM_GOPHER, M
from recipes.gpt2 import gpt2

PUBLISHED = "2021-12"  # orders `zoo list` historically
CHOICES = (
    "activation, biases and tying are not published: GELU, biases (GPT-2's), tied embeddings",
    "Adam β/ε are not published: 0.9/0.95/1e-8 as GPT-3; no weight decay (plain Adam)",
    "relative-position biases u, v are per layer (Transformer-XL untie_r)",
)


def gopher(**shape):
    """GPT-2's architecture with RMSNorm and Transformer-XL relative positions (§2), at one shape
    (Chinchilla's too)."""
    return gpt2(**shape).replace(position="relative", normalization="rmsnorm", norm_bias=False)


GOPHER = Family(
    name="gopher",
    citation="Rae et al. 2021, arXiv:2112.11446, Table 1",
    choices=CHOICES,
    architecture=gopher,
    vocabulary_size=32_000,
    max_sequence_length=2048,
)

# Table 1's columns: layers, heads, key/value size, d_model, max LR, batch.
RECIPES = (
    *GOPHER.twins(
        ADAM_GOPHER,
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, head_dim=8),
        small=dict(num_layers=4, hidden_dim=152, num_query_heads=4, head_dim=38),
    ),
    GOPHER.paper(
        "gopher-44m",
        row="44M",
        num_layers=8,
        num_query_heads=16,
        head_dim=32,
        hidden_dim=512,
        training=ADAM_GOPHER,
        reported_params=44_000_000,
    ),
    GOPHER.paper(
        "gopher-117m",
        row="117M",
        num_layers=12,
        num_query_heads=12,
        head_dim=64,
        hidden_dim=768,
        training=ADAM_GOPHER,
        reported_params=117_000_000,
    ),
    GOPHER.paper(
        "gopher-417m",
        row="417M",
        num_layers=12,
        num_query_heads=12,
        head_dim=128,
        hidden_dim=1536,
        training=ADAM_GOPHER.replace(learning_rate=2e-4),
        reported_params=417_000_000,
    ),
    GOPHER.paper(
        "gopher-1.4b",
        row="1.4B",
        num_layers=24,
        num_query_heads=16,
        head_dim=128,
        hidden_dim=2048,
        training=ADAM_GOPHER.replace(learning_rate=2e-4),
        reported_params=1_400_000_000,
    ),
    GOPHER.paper(
        "gopher-7.1b",
        row="7.1B",
        num_layers=32,
        num_query_heads=32,
        head_dim=128,
        hidden_dim=4096,
        reported_params=7_100_000_000,
        training=ADAM_GOPHER.replace(learning_rate=1.2e-4, batch_tokens=2 * M, clip_norm=0.25),
    ),
    # Batch 3M tokens, doubled to 6M midway (Chinchilla Table 4 caption); we record the start.
    GOPHER.paper(
        "gopher-280b",
        row="280B",
        num_layers=80,
        num_query_heads=128,
        head_dim=128,
        hidden_dim=16384,
        reported_params=280_000_000_000,
        training=ADAM_GOPHER.replace(learning_rate=4e-5, batch_tokens=3 * M, clip_norm=0.25),
    ),
)
