"""PaLM (Chowdhery et al. 2022, "PaLM: Scaling Language Modeling with Pathways",
arXiv:2204.02311).

§2: SwiGLU feed-forward (width 4d), parallel attention and feed-forward from one LayerNorm,
multi-query attention (one key/value head), rotary positions, no biases in dense kernels or
LayerNorms, shared input/output embeddings, a 256k SentencePiece vocabulary; head size 256 for
every model (Table 1). §5: Adafactor without factorisation (β1 0.9, β2 = 1 - k^-0.8), learning
rate 1e-2 for 10,000 steps then ∝ 1/sqrt(k), clipping at 1.0, z-loss 1e-4·log²Z, weight decay
lr², fan-in initialisation with N(0, 1) embeddings and logits scaled by 1/sqrt(d). Context 2048,
780B tokens.
"""

from recipes._family import Family
from recipes._optimizers import ADAFACTOR_PALM
from zoo.config import ModelConfig

PUBLISHED = "2022-04"  # orders `zoo list` historically
CHOICES = (
    "a final LayerNorm (bias-free) before the tied logits is not stated in §2: we keep one",
    "weight decay is dynamic (lr²): recorded as its value at the peak rate, 1e-4",
    "Adafactor ε is not published: Keras's defaults",
)


def palm(*, num_layers, hidden_dim, num_query_heads, head_dim=256, **fields):
    """PaLM's architecture at one shape; `fields`: name, vocabulary and context."""
    return ModelConfig(
        num_layers=num_layers,
        hidden_dim=hidden_dim,
        intermediate_dim=4 * hidden_dim,
        num_query_heads=num_query_heads,
        num_key_value_heads=1,
        head_dim=head_dim,
        position="rotary",
        normalization="layernorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=("dense",),
        residual="parallel",
        use_bias=False,
        tie_embeddings=True,
        init="fan_in",
        scale_logits=True,  # PaLM §5: its shared embedding is N(0, 1)
        z_loss_weight=1e-4,
        **fields,
    )


PALM = Family(
    name="palm",
    citation="Chowdhery et al. 2022, arXiv:2204.02311, Table 1",
    choices=CHOICES,
    architecture=palm,
    vocabulary_size=256_000,
    max_sequence_length=2048,
)

# Batches are the first of the paper's schedule (it doubles during training), in sequences.
RECIPES = (
    # 4 heads of 36 = d in the small twin, as in PaLM 8B and 62B where heads × 256 = d.
    *PALM.twins(
        ADAFACTOR_PALM,
        learning_rate=ADAFACTOR_PALM.learning_rate,
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, head_dim=8),
        small=dict(num_layers=4, hidden_dim=144, num_query_heads=4, head_dim=36),
    ),
    PALM.paper(
        "palm-8b",
        row="PaLM 8B",
        num_layers=32,
        num_query_heads=16,
        hidden_dim=4096,
        training=ADAFACTOR_PALM.replace(batch_tokens=256 * 2048),
        reported_params=8_630_000_000,
    ),
    PALM.paper(
        "palm-62b",
        row="PaLM 62B",
        num_layers=64,
        num_query_heads=32,
        hidden_dim=8192,
        training=ADAFACTOR_PALM.replace(batch_tokens=512 * 2048),
        reported_params=62_500_000_000,
    ),
    PALM.paper(
        "palm-540b",
        row="PaLM 540B",
        num_layers=118,
        num_query_heads=48,
        hidden_dim=18432,
        training=ADAFACTOR_PALM.replace(batch_tokens=512 * 2048),
        reported_params=540_350_000_000,
    ),
)
