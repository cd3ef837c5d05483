"""LLaMA (Touvron et al. 2023, "LLaMA: Open and Efficient Foundation Language Models",
arXiv:2302.13971).

§2.2: pre-normalisation with RMSNorm, SwiGLU with width ⅔·4d (rounded up to a multiple of 256 in
the released code), rotary positions; no biases, untied output layer (meta-llama `llama/model.py`).
§2.3: AdamW β 0.9/0.95, weight decay 0.1, clipping 1.0, 2,000 warmup steps, cosine to 10%.
Table 2: shapes, learning rates, 4M-token batches and 1.0T/1.4T tokens. Vocabulary 32,000
SentencePiece BPE with split digits and byte fallback; context 2048.
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
from zoo.config import ModelConfig, swiglu_intermediate_dim
from zoo.recipe import Optimizer, Recipe, Scale, Schedule, Tokenizer, TrainingRecipe

PUBLISHED = "2023-02"  # orders `zoo list` historically
FAMILY = "llama"
CITATION = "Touvron et al. 2023, arXiv:2302.13971, Table 2"
CHOICES = (
    "AdamW ε is not published: 1e-5 (LLaMA 2); initialisation N(0, 0.02); dropout 0",
    "RMSNorm ε 1e-6 (the released configuration's)",
)


def llama(name, vocabulary_size, context, layers, width, heads, multiple_of=256):
    return ModelConfig(
        name=name,
        vocabulary_size=vocabulary_size,
        num_layers=layers,
        hidden_dim=width,
        intermediate_dim=swiglu_intermediate_dim(width, multiple_of),
        num_query_heads=heads,
        num_key_value_heads=heads,
        head_dim=width // heads,
        max_sequence_length=context,
        position="rotary",
        normalization="rmsnorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=("dense",),
        block="serial",
        use_bias=False,
        tie_embeddings=False,
        init="normal",
        norm_epsilon=1e-6,
    )


def training(learning_rate, batch_tokens, warmup_steps, training_tokens=None):
    return TrainingRecipe(
        optimizer=Optimizer.ADAMW,
        learning_rate=learning_rate,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-5,
        weight_decay=0.1,
        schedule=Schedule.COSINE,
        warmup_steps=warmup_steps,
        final_learning_rate_fraction=0.1,
        clip_norm=1.0,
        batch_tokens=batch_tokens,
        training_tokens=training_tokens,
        tokenizer=Tokenizer.SENTENCEPIECE,
    )


def paper(name, layers, width, heads, learning_rate, tokens, reported, row):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=llama(name, 32_000, 2048, layers, width, heads),
        training=training(learning_rate, 4 * 2**20, 2000, tokens),
        citation=f"{CITATION}, row {row}",
        reported_params=reported,
        choices=CHOICES,
    )


T = 10**12

RECIPES = (
    Recipe(
        name="llama-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=llama("llama-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, multiple_of=16),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="llama-small",
        family=FAMILY,
        scale=Scale.SMALL,
        # SwiGLU width rounded to a multiple of 32, not 256, which would be 20% of d here.
        model=llama("llama-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 160, 4, multiple_of=32),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    # 6,738,415,616: the released checkpoint's exact count (the paper prints 6.7B).
    paper("llama-7b", 32, 4096, 32, 3.0e-4, 1 * T, 6_738_415_616, "6.7B"),
    paper("llama-13b", 40, 5120, 40, 3.0e-4, 1 * T, 13_000_000_000, "13.0B"),
    paper("llama-33b", 60, 6656, 52, 1.5e-4, 1.4 * T, 32_500_000_000, "32.5B"),
    paper("llama-65b", 80, 8192, 64, 1.5e-4, 1.4 * T, 65_200_000_000, "65.2B"),
)
