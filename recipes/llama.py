"""LLaMA (Touvron et al. 2023, "LLaMA: Open and Efficient Foundation Language Models",
arXiv:2302.13971).

§2.2: pre-normalisation with RMSNorm, SwiGLU with width ⅔·4d (rounded up to a multiple of 256 in
the released code), rotary positions; no biases, untied output layer (meta-llama `llama/model.py`).
§2.3: AdamW β 0.9/0.95, weight decay 0.1, clipping 1.0, 2,000 warmup steps, cosine to 10%.
Table 2: shapes, learning rates, 4M-token batches and 1.0T/1.4T tokens. Vocabulary 32,000
SentencePiece BPE with split digits and byte fallback; context 2048.
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_LLAMA
from zoo.config import ModelConfig, swiglu_intermediate_dim

PUBLISHED = "2023-02"  # orders `zoo list` historically
CHOICES = (
    "AdamW ε is not published: 1e-5 (LLaMA 2); initialisation N(0, 0.02); dropout 0",
    "RMSNorm ε 1e-6 (the released configuration's)",
)


def llama(*, hidden_dim, num_query_heads, multiple_of=256, **fields):
    """LLaMA's architecture at one shape. The feed-forward width and head size follow the
    released code unless `fields` state them; `fields` may also change any other field
    (Mistral's grouped-query, banded attention)."""
    return ModelConfig(**{
        "hidden_dim": hidden_dim,
        "intermediate_dim": swiglu_intermediate_dim(hidden_dim, multiple_of),
        "num_query_heads": num_query_heads,
        "num_key_value_heads": num_query_heads,
        "head_dim": hidden_dim // num_query_heads,
        "position": "rotary",
        "normalization": "rmsnorm",
        "norm_bias": False,
        "feedforward": "swiglu",
        "attention_pattern": ("dense",),
        "residual": "serial",
        "use_bias": False,
        "tie_embeddings": False,
        "init": "normal",
        "scale_logits": False,
        "norm_epsilon": 1e-6,
        **fields,
    })  # fmt: skip


LLAMA = Family(
    name="llama",
    citation="Touvron et al. 2023, arXiv:2302.13971, Table 2",
    choices=CHOICES,
    architecture=llama,
    vocabulary_size=32_000,
    max_sequence_length=2048,
)

RECIPES = (
    # SwiGLU widths rounded to multiples of 16 and 32: 256 would dwarf these widths.
    *LLAMA.twins(
        ADAMW_LLAMA,
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, multiple_of=16),
        small=dict(num_layers=4, hidden_dim=160, num_query_heads=4, multiple_of=32),
    ),
    # 6,738,415,616: the released checkpoint's exact count (the paper prints 6.7B).
    LLAMA.paper(
        "llama-7b",
        row="6.7B",
        hidden_dim=4096,
        num_query_heads=32,
        num_layers=32,
        training=ADAMW_LLAMA,
        reported_params=6_738_415_616,
    ),
    LLAMA.paper(
        "llama-13b",
        row="13.0B",
        hidden_dim=5120,
        num_query_heads=40,
        num_layers=40,
        training=ADAMW_LLAMA,
        reported_params=13_000_000_000,
    ),
    LLAMA.paper(
        "llama-33b",
        row="32.5B",
        hidden_dim=6656,
        num_query_heads=52,
        num_layers=60,
        training=ADAMW_LLAMA.replace(learning_rate=1.5e-4, training_tokens=1_400 * 10**9),
        reported_params=32_500_000_000,
    ),
    LLAMA.paper(
        "llama-65b",
        row="65.2B",
        hidden_dim=8192,
        num_query_heads=64,
        num_layers=80,
        training=ADAMW_LLAMA.replace(learning_rate=1.5e-4, training_tokens=1_400 * 10**9),
        reported_params=65_200_000_000,
    ),
)
