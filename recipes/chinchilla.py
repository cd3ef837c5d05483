"""Chinchilla (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
arXiv:2203.15556).

§4.1: the same architecture and training setup as Gopher, except AdamW instead of Adam, a
SentencePiece tokenizer without NFKC normalisation, and bfloat16 compute with a float32 master
copy. Table 4: 80 layers, 64 heads of 128, width 8,192, feed-forward 32,768, max learning rate
1e-4, batch 1.5M → 3M tokens, 1.4T training tokens — about 20 tokens per parameter, the
compute-optimal allocation the paper is known for.
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
from recipes.gopher import gopher
from zoo.recipe import Allocation, Optimizer, Recipe, Scale, Schedule, Tokenizer, TrainingRecipe

PUBLISHED = "2022-03"  # orders `zoo list` historically
FAMILY = "chinchilla"
CITATION = "Hoffmann et al. 2022, arXiv:2203.15556, Table 4, row Chinchilla 70B"
CHOICES = (
    "architecture as our Gopher presets (relative positions, RMSNorm, GELU, biases, tied)",
    "AdamW β/ε, weight decay, warmup and clipping are not published: 0.9/0.95/1e-8, weight decay "
    "0.1, Gopher's 1,500-step warmup and clip 1.0",
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
        # The paper's lesson: at a fixed budget, size the model for ~20 tokens per parameter.
        allocation=Allocation.COMPUTE_OPTIMAL,
    )


RECIPES = (
    Recipe(
        name="chinchilla-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gopher("chinchilla-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, 8),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="chinchilla-small",
        family=FAMILY,
        scale=Scale.SMALL,
        model=gopher("chinchilla-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 152, 4, 38),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="chinchilla-70b",
        family=FAMILY,
        scale=Scale.PAPER,
        model=gopher("chinchilla-70b", 32_000, 2048, 80, 8192, 64, 128, 32768),
        training=training(1e-4, int(1.5 * 2**20), 1500, 1_400 * 10**9),
        citation=CITATION,
        reported_params=70_000_000_000,
        choices=CHOICES,
    ),
)
