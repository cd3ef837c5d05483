"""Chinchilla (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
arXiv:2203.15556).

§4.1: the same architecture and training setup as Gopher, except AdamW instead of Adam, a
SentencePiece tokenizer without NFKC normalisation, and bfloat16 compute with a float32 master
copy. Table 4: 80 layers, 64 heads of 128, width 8,192, feed-forward 32,768, max learning rate
1e-4, batch 1.5M → 3M tokens, 1.4T training tokens — about 20 tokens per parameter, the
compute-optimal allocation the paper is known for.
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_CHINCHILLA
from recipes.gopher import gopher

PUBLISHED = "2022-03"  # orders `zoo list` historically
CHOICES = (
    "architecture as our Gopher presets (relative positions, RMSNorm, GELU, biases, tied)",
    "AdamW β/ε, weight decay, warmup and clipping are not published: 0.9/0.95/1e-8, weight decay "
    "0.1, Gopher's 1,500-step warmup and clip 1.0",
)
CHINCHILLA = Family(
    name="chinchilla",
    citation="Hoffmann et al. 2022, arXiv:2203.15556, Table 4, row Chinchilla 70B",
    choices=CHOICES,
    architecture=gopher,
    vocabulary_size=32_000,
    max_sequence_length=2048,
)

RECIPES = (
    *CHINCHILLA.twins(
        ADAMW_CHINCHILLA,
        nano=dict(num_layers=2, hidden_dim=32, num_query_heads=4, head_dim=8),
        small=dict(num_layers=4, hidden_dim=152, num_query_heads=4, head_dim=38),
    ),
    # Table 4's feed-forward size 32,768 is the architecture's 4d.
    CHINCHILLA.paper(
        "chinchilla-70b",
        num_layers=80,
        num_query_heads=64,
        head_dim=128,
        hidden_dim=8192,
        training=ADAMW_CHINCHILLA,
        reported_params=70_000_000_000,
    ),
)
