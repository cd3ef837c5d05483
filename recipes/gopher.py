"""Gopher (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
Gopher", arXiv:2112.11446).

§2 and Table 1: GPT-2's architecture with RMSNorm instead of LayerNorm and Transformer-XL relative
position encodings instead of absolute ones; feed-forward width 4d; context 2048; SentencePiece
vocabulary of 32,000; 300B training tokens; Adam, warmup from 1e-7 over 1,500 steps, cosine decay
by 10×, gradient clipping at 1.0 (0.25 for 7.1B and 280B).

The Transformer-XL projection W_R (d × d per layer) is what brings 12·L·d² + V·d up to the
reported totals (280B: 258.2B + 21.5B); that reading is ours, and the counts agree within 2%.
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

PUBLISHED = "2021-12"  # orders `zoo list` historically
FAMILY = "gopher"
CITATION = "Rae et al. 2021, arXiv:2112.11446, Table 1"
CHOICES = (
    "activation, biases and tying are not published: GELU, biases (GPT-2's), tied embeddings",
    "Adam β/ε are not published: 0.9/0.95/1e-8 as GPT-3; no weight decay (plain Adam)",
    "relative-position biases u, v are per layer (Transformer-XL untie_r)",
)


def gopher(name, vocabulary_size, context, layers, width, heads, head_dim, intermediate_dim=None):
    return ModelConfig(
        name=name,
        vocabulary_size=vocabulary_size,
        num_layers=layers,
        hidden_dim=width,
        intermediate_dim=intermediate_dim or 4 * width,
        num_query_heads=heads,
        num_key_value_heads=heads,
        head_dim=head_dim,
        max_sequence_length=context,
        position="relative",
        normalization="rmsnorm",
        norm_bias=False,
        feedforward="gelu",
        attention_pattern=("dense",),
        block="serial",
        use_bias=True,
        tie_embeddings=True,
        init="gpt2",
    )


def training(learning_rate, batch_tokens, warmup_steps, clip_norm=1.0, training_tokens=None):
    return TrainingRecipe(
        optimizer=Optimizer.ADAM,
        learning_rate=learning_rate,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-8,
        weight_decay=0.0,
        schedule=Schedule.COSINE,
        warmup_steps=warmup_steps,
        final_learning_rate_fraction=0.1,
        clip_norm=clip_norm,
        batch_tokens=batch_tokens,
        training_tokens=training_tokens,
        tokenizer=Tokenizer.SENTENCEPIECE,
    )


def paper(name, layers, heads, head_dim, width, learning_rate, batch_tokens, clip, reported):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=gopher(name, 32_000, 2048, layers, width, heads, head_dim),
        training=training(learning_rate, batch_tokens, 1500, clip, 300 * 10**9),
        citation=f"{CITATION}, row {name.split('-')[1].upper()}",
        reported_params=reported,
        choices=CHOICES,
    )


M = 2**20

RECIPES = (
    Recipe(
        name="gopher-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gopher("gopher-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, 8),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="gopher-small",
        family=FAMILY,
        scale=Scale.SMALL,
        model=gopher("gopher-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 152, 4, 38),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    paper("gopher-44m", 8, 16, 32, 512, 6e-4, M // 4, 1.0, 44_000_000),
    paper("gopher-117m", 12, 12, 64, 768, 6e-4, M // 4, 1.0, 117_000_000),
    paper("gopher-417m", 12, 12, 128, 1536, 2e-4, M // 4, 1.0, 417_000_000),
    paper("gopher-1.4b", 24, 16, 128, 2048, 2e-4, M // 4, 1.0, 1_400_000_000),
    paper("gopher-7.1b", 32, 32, 128, 4096, 1.2e-4, 2 * M, 0.25, 7_100_000_000),
    # Batch 3M tokens, doubled to 6M midway (Chinchilla Table 4 caption); we record the start.
    paper("gopher-280b", 80, 128, 128, 16384, 4e-5, 3 * M, 0.25, 280_000_000_000),
)
