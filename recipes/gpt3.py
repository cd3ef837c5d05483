"""GPT-3 (Brown et al. 2020, "Language Models are Few-Shot Learners", arXiv:2005.14165).

§2.1: "the same model and architecture as GPT-2 … with the exception that we use alternating dense
and locally banded sparse attention patterns in the layers of the transformer, similar to the
Sparse Transformer". Table 2.1 gives the shapes, batch sizes and learning rates; App. B the
optimizer (Adam β 0.9/0.95, ε 1e-8, weight decay 0.1, clip 1.0, cosine to 10% over 260B tokens,
warmup over 375M tokens). Context 2048, 300B training tokens.
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_GPT3, M
from recipes.gpt2 import gpt2

PUBLISHED = "2020-05"  # orders `zoo list` historically
CHOICES = (
    "band width is not published: context/8 (256 at 2048, as GPT-Neo)",
    "which layers are banded is not published: even layers dense, odd layers banded (GPT-Neo)",
    "Adam with weight decay 0.1 is implemented as decoupled decay (AdamW)",
)


def gpt3(*, max_sequence_length, **shape):
    """GPT-2's architecture with dense and banded layers alternating (§2.1)."""
    return gpt2(max_sequence_length=max_sequence_length, **shape).replace(
        attention_pattern=("dense", "local"), local_window=max_sequence_length // 8
    )


GPT3 = Family(
    name="gpt3",
    citation="Brown et al. 2020, arXiv:2005.14165, Table 2.1",
    choices=CHOICES,
    architecture=gpt3,
    vocabulary_size=50257,
    max_sequence_length=2048,
)


def paper(name, *, batch_tokens, learning_rate, **row):
    """A Table 2.1 row; App. B's warmup of 375M tokens is counted in steps of the row's batch."""
    training = ADAMW_GPT3.replace(
        learning_rate=learning_rate,
        batch_tokens=batch_tokens,
        warmup_steps=round(375e6 / batch_tokens),
    )
    return GPT3.paper(name, training=training, **row)


# Table 2.1's batch sizes are in units of 2^20 tokens ("0.5M" = 2^19).
RECIPES = (
    *GPT3.twins(
        ADAMW_GPT3,
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, head_dim=8),
        small=dict(num_layers=4, hidden_dim=160, num_query_heads=5, head_dim=32),
    ),
    paper(
        "gpt3-125m",
        row="Small",
        num_layers=12,
        hidden_dim=768,
        num_query_heads=12,
        head_dim=64,
        batch_tokens=M // 2,
        learning_rate=6.0e-4,
        reported_params=125_000_000,
    ),
    paper(
        "gpt3-350m",
        row="Medium",
        num_layers=24,
        hidden_dim=1024,
        num_query_heads=16,
        head_dim=64,
        batch_tokens=M // 2,
        learning_rate=3.0e-4,
        reported_params=350_000_000,
    ),
    paper(
        "gpt3-760m",
        row="Large",
        num_layers=24,
        hidden_dim=1536,
        num_query_heads=16,
        head_dim=96,
        batch_tokens=M // 2,
        learning_rate=2.5e-4,
        reported_params=760_000_000,
    ),
    # Printed as 24 heads × 128 = 3072 ≠ 2048: we keep d = 2048 and head_dim 128 (16 heads).
    paper(
        "gpt3-1.3b",
        row="XL",
        num_layers=24,
        hidden_dim=2048,
        num_query_heads=16,
        head_dim=128,
        batch_tokens=M,
        learning_rate=2.0e-4,
        reported_params=1_300_000_000,
    ),
    paper(
        "gpt3-2.7b",
        row="2.7B",
        num_layers=32,
        hidden_dim=2560,
        num_query_heads=32,
        head_dim=80,
        batch_tokens=M,
        learning_rate=1.6e-4,
        reported_params=2_700_000_000,
    ),
    paper(
        "gpt3-6.7b",
        row="6.7B",
        num_layers=32,
        hidden_dim=4096,
        num_query_heads=32,
        head_dim=128,
        batch_tokens=2 * M,
        learning_rate=1.2e-4,
        reported_params=6_700_000_000,
    ),
    # Printed d_model 5140 is not divisible by 40 heads: 5120 = 40 × 128.
    paper(
        "gpt3-13b",
        row="13B",
        num_layers=40,
        hidden_dim=5120,
        num_query_heads=40,
        head_dim=128,
        batch_tokens=2 * M,
        learning_rate=1.0e-4,
        reported_params=13_000_000_000,
    ),
    paper(
        "gpt3-175b",
        row="175B",
        num_layers=96,
        hidden_dim=12288,
        num_query_heads=96,
        head_dim=128,
        batch_tokens=int(3.2 * M),
        learning_rate=0.6e-4,
        reported_params=175_000_000_000,
    ),
)
