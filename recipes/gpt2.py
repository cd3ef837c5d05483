"""GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners").

Architecture from the paper §2.3 and the released code (openai/gpt-2 `src/model.py`): learned
absolute positions, pre-LayerNorm with a final LayerNorm, GELU MLP of width 4d, biases everywhere,
tied input/output embeddings, residual projections initialised with std 0.02/sqrt(2·n_layer).
Vocabulary 50,257 byte-level BPE, context 1024.

Parameter counts: the paper's Table 2 prints 117M/345M/762M/1542M, which famously undercount the
released models; `reported_params` holds the exact counts of the released checkpoints
(124,439,808 for the smallest, as the released weights and llm.c report).
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_GPT3
from zoo.config import ModelConfig

PUBLISHED = "2019-02"  # orders `zoo list` historically
CHOICES = (
    "optimizer, learning rate, schedule and tokens are not published: GPT-3 App. B recipe "
    "(AdamW 0.9/0.95, wd 0.1, clip 1.0, cosine to 10%) at GPT-3's rate for the same shape",
    "reported_params are the released checkpoints' exact counts; the paper's table undercounts",
)


def gpt2(*, num_layers, hidden_dim, num_query_heads, head_dim, **fields):
    """GPT-2's architecture at one shape; `fields`: name, vocabulary and context, and any
    further `ModelConfig` field a family built on GPT-2 sets (MT-NLG's `init_std`)."""
    return ModelConfig(
        num_layers=num_layers,
        hidden_dim=hidden_dim,
        intermediate_dim=4 * hidden_dim,
        num_query_heads=num_query_heads,
        num_key_value_heads=num_query_heads,
        head_dim=head_dim,
        position="learned",
        normalization="layernorm",
        norm_bias=True,
        feedforward="gelu",
        attention_pattern=("dense",),
        residual="serial",
        use_bias=True,
        tie_embeddings=True,
        init="gpt2",
        scale_logits=False,
        norm_epsilon=1e-5,
        **fields,
    )


GPT2 = Family(
    name="gpt2",
    citation="Radford et al. 2019, GPT-2 report, Table 2",
    choices=CHOICES,
    architecture=gpt2,
    vocabulary_size=50257,
    max_sequence_length=1024,
)
# Tokens are not published; 512 sequences × 1024 tokens (§2.3), GPT-3's 375M warmup tokens.
TRAINING = ADAMW_GPT3.replace(batch_tokens=524_288, warmup_steps=715, training_tokens=None)

RECIPES = (
    # 4 layers × 160 wide, 5 heads of 32: the keras-hub GPT-2 yardstick of the design notes.
    *GPT2.twins(
        ADAMW_GPT3,
        choices=(),
        small_choices=("head_dim 32 instead of 64 at width 160",),
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, head_dim=8),
        small=dict(num_layers=4, hidden_dim=160, num_query_heads=5, head_dim=32),
    ),
    GPT2.paper(
        "gpt2-124m",
        row="117M",
        num_layers=12,
        hidden_dim=768,
        num_query_heads=12,
        head_dim=64,
        training=TRAINING.replace(learning_rate=6e-4),
        reported_params=124_439_808,
    ),
    GPT2.paper(
        "gpt2-355m",
        row="345M",
        num_layers=24,
        hidden_dim=1024,
        num_query_heads=16,
        head_dim=64,
        training=TRAINING.replace(learning_rate=3e-4),
        reported_params=354_823_168,
    ),
    GPT2.paper(
        "gpt2-774m",
        row="762M",
        num_layers=36,
        hidden_dim=1280,
        num_query_heads=20,
        head_dim=64,
        training=TRAINING.replace(learning_rate=2.5e-4),
        reported_params=774_030_080,
    ),
    GPT2.paper(
        "gpt2-1.5b",
        row="1542M",
        num_layers=48,
        hidden_dim=1600,
        num_query_heads=25,
        head_dim=64,
        training=TRAINING.replace(learning_rate=2e-4),
        reported_params=1_557_611_200,
    ),
)
