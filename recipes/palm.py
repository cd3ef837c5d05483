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

from recipes._scaled import (
    NANO_BATCH_TOKENS,
    NANO_TRAINING_TOKENS,
    NANO_CONTEXT,
    NANO_VOCABULARY,
    SCALED_CHOICE,
    SMALL_BATCH_TOKENS,
    SMALL_CONTEXT,
    SMALL_VOCABULARY,
    SMALL_TRAINING_TOKENS,
    SMALL_WARMUP_STEPS,
)
from zoo.config import ModelConfig
from zoo.recipe import Optimizer, Recipe, Scale, Schedule, Tokenizer, TrainingRecipe

PUBLISHED = "2022-04"  # orders `zoo list` historically
FAMILY = "palm"
CITATION = "Chowdhery et al. 2022, arXiv:2204.02311, Table 1"
CHOICES = (
    "a final LayerNorm (bias-free) before the tied logits is not stated in §2: we keep one",
    "weight decay is dynamic (lr²): recorded as its value at the peak rate, 1e-4",
    "Adafactor ε is not published: Keras's defaults",
)


def palm(name, vocabulary_size, context, layers, width, heads, head_dim):
    return ModelConfig(
        name=name,
        vocabulary_size=vocabulary_size,
        num_layers=layers,
        hidden_dim=width,
        intermediate_dim=4 * width,
        num_query_heads=heads,
        num_key_value_heads=1,
        head_dim=head_dim,
        max_sequence_length=context,
        position="rotary",
        normalization="layernorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=("dense",),
        block="parallel",
        use_bias=False,
        tie_embeddings=True,
        init="fan_in",
        z_loss_weight=1e-4,
    )


def training(batch_tokens, constant_steps, training_tokens=None):
    return TrainingRecipe(
        optimizer=Optimizer.ADAFACTOR,
        learning_rate=1e-2,  # Adafactor scales updates by each parameter's RMS, so 1e-2 is sane
        beta_1=0.9,
        beta_2=None,
        beta_2_decay=-0.8,
        epsilon=1e-30,
        weight_decay=1e-4,
        schedule=Schedule.INVERSE_SQRT,
        warmup_steps=constant_steps,
        final_learning_rate_fraction=0.0,
        clip_norm=1.0,
        batch_tokens=batch_tokens,
        training_tokens=training_tokens,
        tokenizer=Tokenizer.SENTENCEPIECE,
    )


def paper(name, layers, heads, width, batch_sequences, reported):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=palm(name, 256_000, 2048, layers, width, heads, 256),
        # Initial batch of the paper's schedule (it doubles during training).
        training=training(batch_sequences * 2048, 10_000, 780 * 10**9),
        citation=f"{CITATION}, row PaLM {name.split('-')[1].upper()}",
        reported_params=reported,
        choices=CHOICES,
    )


RECIPES = (
    Recipe(
        name="palm-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=palm("palm-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, 8),
        training=training(NANO_BATCH_TOKENS, 10, NANO_TRAINING_TOKENS),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    Recipe(
        name="palm-small",
        family=FAMILY,
        scale=Scale.SMALL,
        # 4 heads of 36 = d, as in PaLM 8B and 62B where heads × 256 = d.
        model=palm("palm-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 144, 4, 36),
        training=training(SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS, SMALL_TRAINING_TOKENS),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE,) + CHOICES,
    ),
    paper("palm-8b", 32, 16, 4096, 256, 8_630_000_000),
    paper("palm-62b", 64, 32, 8192, 512, 62_500_000_000),
    paper("palm-540b", 118, 48, 18432, 512, 540_350_000_000),
)
