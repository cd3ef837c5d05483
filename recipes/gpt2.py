"""GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners").

Architecture from the paper §2.3 and the released code (openai/gpt-2 `src/model.py`): learned
absolute positions, pre-LayerNorm with a final LayerNorm, GELU MLP of width 4d, biases everywhere,
tied input/output embeddings, residual projections initialised with std 0.02/sqrt(2·n_layer).
Vocabulary 50,257 byte-level BPE, context 1024.

Parameter counts: the paper's Table 2 prints 117M/345M/762M/1542M, which famously undercount the
released models; `reported_params` holds the exact counts of the released checkpoints
(124,439,808 for the smallest, as the released weights and llm.c report).
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

PUBLISHED = "2019-02"  # orders `zoo list` historically
FAMILY = "gpt2"
CITATION = "Radford et al. 2019, GPT-2 report, Table 2"
CHOICES = (
    "optimizer, learning rate, schedule and tokens are not published: GPT-3 App. B recipe "
    "(AdamW 0.9/0.95, wd 0.1, clip 1.0, cosine to 10%) at GPT-3's rate for the same shape",
    "reported_params are the released checkpoints' exact counts; the paper's table undercounts",
)


def gpt2(name, vocabulary_size, context, layers, width, heads, head_dim):
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
        attention_pattern=("dense",),
        block="serial",
        use_bias=True,
        tie_embeddings=True,
        init="gpt2",
        norm_epsilon=1e-5,
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


def paper(name, layers, width, heads, learning_rate, reported, row):
    return Recipe(
        name=name,
        family=FAMILY,
        scale=Scale.PAPER,
        model=gpt2(name, 50257, 1024, layers, width, heads, 64),
        # 512 sequences × 1024 tokens (§2.3); GPT-3's 375M warmup tokens at that batch.
        training=training(learning_rate, 524_288, 715),
        citation=f"{CITATION}, row {row}",
        reported_params=reported,
        choices=CHOICES,
    )


RECIPES = (
    Recipe(
        name="gpt2-nano",
        family=FAMILY,
        scale=Scale.NANO,
        model=gpt2("gpt2-nano", NANO_VOCABULARY, NANO_CONTEXT, 2, 32, 4, 8),
        training=training(
            SMALL_LEARNING_RATE, NANO_BATCH_TOKENS, 10, training_tokens=NANO_TRAINING_TOKENS
        ),
        citation=f"{CITATION} (test twin)",
        choices=(SCALED_CHOICE,),
    ),
    Recipe(
        name="gpt2-small",
        family=FAMILY,
        scale=Scale.SMALL,
        # 4 layers × 160 wide, 5 heads of 32: the keras-hub GPT-2 yardstick of the design notes.
        model=gpt2("gpt2-small", SMALL_VOCABULARY, SMALL_CONTEXT, 4, 160, 5, 32),
        training=training(
            SMALL_LEARNING_RATE, SMALL_BATCH_TOKENS, SMALL_WARMUP_STEPS,
            training_tokens=SMALL_TRAINING_TOKENS,
        ),
        citation=f"{CITATION} (CPU replica)",
        choices=(SCALED_CHOICE, "head_dim 32 instead of 64 at width 160"),
    ),
    paper("gpt2-124m", 12, 768, 12, 6e-4, 124_439_808, "117M"),
    paper("gpt2-355m", 24, 1024, 16, 3e-4, 354_823_168, "345M"),
    paper("gpt2-774m", 36, 1280, 20, 2.5e-4, 774_030_080, "762M"),
    paper("gpt2-1.5b", 48, 1600, 25, 2e-4, 1_557_611_200, "1542M"),
)
