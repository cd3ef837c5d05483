"""GPT-3 (Brown et al. 2020, "Language Models are Few-Shot Learners", arXiv:2005.14165).

§2.1: "the same model and architecture as GPT-2 … with the exception that we use alternating dense
and locally banded sparse attention patterns in the layers of the transformer, similar to the
Sparse Transformer". Table 2.1 gives the shapes, batch sizes and learning rates; App. B the
optimizer (Adam β 0.9/0.95, ε 1e-8, weight decay 0.1, clip 1.0, cosine to 10% over 260B tokens,
warmup over 375M tokens). Context 2048, 300B training tokens.
"""

from recipes._scaled import (
    NANO_BATCH_TOKENS,
    NANO_TRAINING_TOKENS,
    NANO_CONTEXT,
    NANO_VOCABULARY,
    SCALED_CHOICE,
    SMALL_BATCH_TOKENS,
    SMALL_CONTEXT,
    SMALL_LEARNING_RATE,
    SMALL_VOCABULARY,
    SMALL_TRAINING_TOKENS,
    SMALL_WARMUP_STEPS,
)
from zoo.config import ModelConfig
from zoo.recipe import Optimizer, Recipe, Scale, Schedule, Tokenizer, TrainingRecipe

PUBLISHED = "2020-05"  # orders `zoo list` historically
FAMILY = "gpt3"
CITATION = "Brown et al. 2020, arXiv:2005.14165, Table 2.1"
CHOICES = (
    "band width is not published: context/8 (256 at 2048, as GPT-Neo)",
    "which layers are banded is not published: even layers dense, odd layers banded (GPT-Neo)",
    "Adam with weight decay 0.1 is implemented as decoupled decay (AdamW)",
)


def gpt3(name, vocabulary_size, context, layers, width, heads, head_dim):
    return ModelConfig(
        name=name,
        vocabulary_size=vocabulary_size,
        num_layers=layers,
        hidden_dim=width,
        intermediate_dim=4 * width,
        num_query_heads=heads,
        num_key_value_heads=heads,
        head_dim=head_dim,
        max_sequence_length=context,
        position="learned",
        normalization="layernorm",
        norm_bias=True,
        feedforward="gelu",
        attention_pattern=("dense", "local"),
        local_window=context // 8,
        block="serial",
        use_bias=True,
        tie_embeddings=True,
        init="gpt2",
    )


def training(learning_rate, batch_tokens, warmup_steps, training_tokens=None):
    return TrainingRecipe(
        optimizer=Optimizer.ADAMW,
        learning_rate=learning_rate,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-8,
        weight_decay=0.1,
        schedule=Schedule.COSINE,
        warmup_steps=warmup_steps,
        final_learning_rate_fraction=0.1,
        clip_norm=1.0,
        batch_tokens=batch_tokens,
        training_tokens=training_tokens,
        tokenizer=Tokenizer.BYTE_BPE,
    )


def paper(name, layers, width, heads, head_dim, batch_tokens, learning_rate, reported, row):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=gpt3(name, 50257, 2048, layers, width, heads, head_dim),
        # Warmup: 375M tokens (App. B) in steps of this row's batch.
        training=training(learning_rate, batch_tokens, round(375e6 / batch_tokens), 300 * 10**9),
        citation=f"{CITATION}, row {row}",
        reported_params=reported,
        choices=CHOICES,
    )


M = 2**20  # Table 2.1's batch sizes are in units of 2^20 tokens ("0.5M" = 2^19)

RECIPES = (
    Recipe(
        name="gpt3-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gpt3("gpt3-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, 8),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="gpt3-small",
        family=FAMILY,
        scale=Scale.SMALL,
        model=gpt3("gpt3-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 160, 5, 32),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    paper("gpt3-125m", 12, 768, 12, 64, M // 2, 6.0e-4, 125_000_000, "Small"),
    paper("gpt3-350m", 24, 1024, 16, 64, M // 2, 3.0e-4, 350_000_000, "Medium"),
    paper("gpt3-760m", 24, 1536, 16, 96, M // 2, 2.5e-4, 760_000_000, "Large"),
    # Printed as 24 heads × 128 = 3072 ≠ 2048: we keep d = 2048 and head_dim 128 (16 heads).
    paper("gpt3-1.3b", 24, 2048, 16, 128, M, 2.0e-4, 1_300_000_000, "XL"),
    paper("gpt3-2.7b", 32, 2560, 32, 80, M, 1.6e-4, 2_700_000_000, "2.7B"),
    paper("gpt3-6.7b", 32, 4096, 32, 128, 2 * M, 1.2e-4, 6_700_000_000, "6.7B"),
    # Printed d_model 5140 is not divisible by 40 heads: 5120 = 40 × 128.
    paper("gpt3-13b", 40, 5120, 40, 128, 2 * M, 1.0e-4, 13_000_000_000, "13B"),
    paper("gpt3-175b", 96, 12288, 96, 128, int(3.2 * M), 0.6e-4, 175_000_000_000, "175B"),
)
