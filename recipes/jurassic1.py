"""Jurassic-1 (Lieber et al. 2021, AI21 Labs white paper "Jurassic-1: Technical Details and
Evaluation").

Published: J1-Large 7.5B and J1-Jumbo 178B parameters, 76 layers for Jumbo (fewer and wider than
GPT-3 175B's 96, following Levine et al.'s depth-to-width analysis), context 2048, a 256K
SentencePiece vocabulary with multi-word items, 300B training tokens (Chinchilla Table 1).
Everything else is unpublished; we take GPT-2/GPT-3's dense architecture ("the modifications
proposed by GPT-2") and GPT-3's 175B training recipe, sized to match the reported counts.
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
from recipes.gpt2 import gpt2
from zoo.recipe import Optimizer, Recipe, Scale, Schedule, Tokenizer, TrainingRecipe

PUBLISHED = "2021-08"  # orders `zoo list` historically
FAMILY = "jurassic1"
CITATION = "Lieber et al. 2021, Jurassic-1 white paper; AI21 model docs"
CHOICES = (
    "width, heads and head_dim are not published: head_dim 128 with widths that reproduce the "
    "reported counts (Large 32 × 4096, Jumbo 76 × 13,824)",
    "positions, norm, activation, biases and tying are not published: GPT-2's (learned, "
    "pre-LayerNorm, GELU, biases, tied), dense attention",
    "the training recipe is not published: GPT-3 175B's (App. B)",
    "vocabulary 256,000 (\"256K items\")",
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
        tokenizer=Tokenizer.SENTENCEPIECE,
    )


def paper(name, layers, width, reported, row):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=gpt2(name, 256_000, 2048, layers, width, width // 128, 128),
        training=training(0.6e-4, 3_200_000, 117, 300 * 10**9),
        citation=f"{CITATION}, {row}",
        reported_params=reported,
        choices=CHOICES,
    )


RECIPES = (
    Recipe(
        name="jurassic1-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gpt2("jurassic1-nano", NANO_VOCABULARY, NANO_CONTEXT, 1, 48, 4, 12),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="jurassic1-small",
        family=FAMILY,
        scale=Scale.SMALL,
        # Shallower and wider than the GPT-3 twin (3 × 192 vs 4 × 160), as Jumbo is vs GPT-3.
        model=gpt2("jurassic1-small", SMALL_VOCABULARY, SMALL_CONTEXT, 3, 192, 6, 32),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    paper("jurassic1-7.5b", 32, 4096, 7_500_000_000, "J1-Large"),
    paper("jurassic1-178b", 76, 13824, 178_000_000_000, "J1-Jumbo"),
)
