"""Mistral 7B (Jiang et al. 2023, "Mistral 7B", arXiv:2310.06825).

§2, Table 1: LLaMA's architecture (pre-RMSNorm, SwiGLU, rotary positions, no biases, untied output)
with grouped-query attention (32 query heads share 8 key/value heads of 128) and sliding-window
attention on every layer (window 4,096; stacked layers still reach W·L ≈ 131K tokens back).
dim 4,096, 32 layers, hidden_dim 14,336, vocabulary 32,000, context_len 8,192. No training recipe.
"""

import functools

from recipes._family import Family
from recipes._optimizers import ADAMW_LLAMA
from recipes.llama import llama

PUBLISHED = "2023-10"  # orders `zoo list` historically
CHOICES = (
    "the training recipe is not published: LLaMA 7B's (AdamW 0.9/0.95, ε 1e-5, wd 0.1, clip 1.0, "
    "2,000 warmup steps, cosine to 10%, peak 3e-4, 4M-token batches); tokens are not published",
    "not in the paper: rotary θ 10,000 (v0.1), RMSNorm ε 1e-5 (released params.json), "
    "initialisation N(0, 0.02), SentencePiece BPE with byte fallback as LLaMA's",
    'a window of 4,096 keys counts the query itself (Hugging Face\'s reading of "i − W to i")',
)
MISTRAL = Family(
    name="mistral",
    citation="Jiang et al. 2023, arXiv:2310.06825, Table 1",
    choices=CHOICES,
    vocabulary_size=32_000,
    max_sequence_length=8192,
    architecture=functools.partial(llama, attention_pattern=("local",), norm_epsilon=1e-5),
)

RECIPES = (
    # Feed-forward 3.5·d and a window of half the context, as 14,336 and 4,096 at 4,096 and 8,192;
    # the small twin keeps 4 query heads per key/value head.
    *MISTRAL.twins(
        ADAMW_LLAMA,
        nano=dict(
            num_layers=2,
            hidden_dim=32,
            num_query_heads=4,
            num_key_value_heads=2,
            intermediate_dim=112,
            local_window=32,
        ),
        small=dict(
            num_layers=4,
            hidden_dim=160,
            num_query_heads=8,
            num_key_value_heads=2,
            intermediate_dim=560,
            local_window=128,
        ),
    ),
    # 7,241,732,096: the released checkpoint's exact count (keras-hub `mistral_7b_en`).
    MISTRAL.paper(
        "mistral-7b",
        hidden_dim=4096,
        num_layers=32,
        head_dim=128,
        intermediate_dim=14336,
        num_query_heads=32,
        num_key_value_heads=8,
        local_window=4096,
        training=ADAMW_LLAMA.replace(training_tokens=None),
        reported_params=7_241_732_096,
    ),
)
