"""Megatron-Turing NLG 530B (Smith et al. 2022, arXiv:2201.11990).

105 layers, width 20,480, 128 heads, context 2048, GPT-2's BPE vocabulary, 270B training tokens;
Adam β 0.9/0.95, ε 1e-8, weight decay 0.1, clip 1.0, peak 5e-5 with 1B-token linear warmup and
cosine decay to 10%, batch 1920 × 2048. (These hyper-parameters reach us through secondary
sources; NVIDIA's Megatron-LM sc21 script `run_table_1.sh` confirms the shape.)
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

PUBLISHED = "2021-10"  # orders `zoo list` historically
FAMILY = "mt-nlg"
CITATION = "Smith et al. 2022, arXiv:2201.11990, model configuration (530B)"
CHOICES = (
    "positions, norm, activation, biases and tying are not published: Megatron's GPT defaults "
    "(learned positions, pre-LayerNorm, GELU, biases, tied), dense attention",
    "initialisation N(0, 4e-3) as reported; residual projections scaled as GPT-2",
    "Adam with weight decay 0.1 is implemented as decoupled decay (AdamW)",
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


RECIPES = (
    Recipe(
        name="mt-nlg-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gpt2("mt-nlg-nano", NANO_VOCABULARY, NANO_CONTEXT, 3, 24, 4, 6),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="mt-nlg-small",
        family=FAMILY,
        scale=Scale.SMALL,
        # Deeper and narrower than the GPT-3 twin (5 × 144), as 105 × 20,480 is vs 96 × 12,288.
        model=gpt2("mt-nlg-small", SMALL_VOCABULARY, SMALL_CONTEXT, 5, 144, 4, 36),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="mt-nlg-530b",
        family=FAMILY,
        scale=Scale.PAPER,
        model=gpt2("mt-nlg-530b", 50257, 2048, 105, 20480, 128, 160).replace(init_std=4e-3),
        # 1B warmup tokens at 1920 × 2048 tokens per step.
        training=training(5.0e-5, 1920 * 2048, round(1e9 / (1920 * 2048)), 270 * 10**9),
        citation=CITATION,
        reported_params=530_000_000_000,
        choices=CHOICES,
    ),
)
