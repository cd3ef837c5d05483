"""Megatron-Turing NLG 530B (Smith et al. 2022, arXiv:2201.11990).

105 layers, width 20,480, 128 heads, context 2048, GPT-2's BPE vocabulary, 270B training tokens;
Adam β 0.9/0.95, ε 1e-8, weight decay 0.1, clip 1.0, peak 5e-5 with 1B-token linear warmup and
cosine decay to 10%, batch 1920 × 2048. (These hyper-parameters reach us through secondary
sources; NVIDIA's Megatron-LM sc21 script `run_table_1.sh` confirms the shape.)
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_GPT3
from recipes.gpt2 import gpt2

PUBLISHED = "2021-10"  # orders `zoo list` historically
CHOICES = (
    "positions, norm, activation, biases and tying are not published: Megatron's GPT defaults "
    "(learned positions, pre-LayerNorm, GELU, biases, tied), dense attention",
    "initialisation N(0, 4e-3) as reported; residual projections scaled as GPT-2",
    "Adam with weight decay 0.1 is implemented as decoupled decay (AdamW)",
)
MT_NLG = Family(
    name="mt-nlg",
    citation="Smith et al. 2022, arXiv:2201.11990, model configuration (530B)",
    choices=CHOICES,
    architecture=gpt2,
    vocabulary_size=50257,
    max_sequence_length=2048,
)

RECIPES = (
    # Deeper and narrower small twin than GPT-3's (5 × 144), as 105 × 20,480 is vs 96 × 12,288.
    *MT_NLG.twins(
        ADAMW_GPT3,
        nano=dict(num_layers=3, hidden_dim=24, num_query_heads=4, head_dim=6),
        small=dict(num_layers=5, hidden_dim=144, num_query_heads=4, head_dim=36),
    ),
    MT_NLG.paper(
        "mt-nlg-530b",
        num_layers=105,
        hidden_dim=20480,
        num_query_heads=128,
        head_dim=160,
        init_std=4e-3,
        reported_params=530_000_000_000,
        # 1B warmup tokens at 1920 × 2048 tokens per step.
        training=ADAMW_GPT3.replace(
            learning_rate=5.0e-5,
            batch_tokens=1920 * 2048,
            warmup_steps=round(1e9 / (1920 * 2048)),
            training_tokens=270 * 10**9,
        ),
    ),
)
