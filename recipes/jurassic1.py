"""Jurassic-1 (Lieber et al. 2021, AI21 Labs white paper "Jurassic-1: Technical Details and
Evaluation").

Published: J1-Large 7.5B and J1-Jumbo 178B parameters, 76 layers for Jumbo (fewer and wider than
GPT-3 175B's 96, following Levine et al.'s depth-to-width analysis), context 2048, a 256K
SentencePiece vocabulary with multi-word items, 300B training tokens (Chinchilla Table 1).
Everything else is unpublished; we take GPT-2/GPT-3's dense architecture ("the modifications
proposed by GPT-2") and GPT-3's 175B training recipe, sized to match the reported counts.
"""

from recipes._family import Family
from recipes._optimizers import ADAMW_GPT3
from recipes.gpt2 import gpt2
from zoo.recipe import Tokenizer

PUBLISHED = "2021-08"  # orders `zoo list` historically
CITATION = "Lieber et al. 2021, Jurassic-1 white paper; AI21 model docs"
CHOICES = (
    "width, heads and head_dim are not published: head_dim 128 with widths that reproduce the "
    "reported counts (Large 32 × 4096, Jumbo 76 × 13,824)",
    "positions, norm, activation, biases and tying are not published: GPT-2's (learned, "
    "pre-LayerNorm, GELU, biases, tied), dense attention",
    "the training recipe is not published: GPT-3 175B's (App. B)",
    'vocabulary 256,000 ("256K items")',
)
J1 = Family(
    name="jurassic1",
    citation=CITATION,
    choices=CHOICES,
    architecture=gpt2,
    vocabulary_size=256_000,
    max_sequence_length=2048,
)
# GPT-3 175B's rate and warmup at a 3.2M-token batch, with J1's SentencePiece vocabulary.
TRAINING = ADAMW_GPT3.replace(
    batch_tokens=3_200_000, warmup_steps=117, tokenizer=Tokenizer.SENTENCEPIECE
)

RECIPES = (
    # Shallower and wider small twin than GPT-3's (3 × 192 vs 4 × 160), as Jumbo is vs GPT-3.
    *J1.twins(
        TRAINING,
        nano=dict(num_layers=1, hidden_dim=48, num_query_heads=4, head_dim=12),
        small=dict(num_layers=3, hidden_dim=192, num_query_heads=6, head_dim=32),
    ),
    J1.paper(
        "jurassic1-7.5b",
        citation=f"{CITATION}, J1-Large",
        num_layers=32,
        hidden_dim=4096,
        num_query_heads=32,
        head_dim=128,
        training=TRAINING,
        reported_params=7_500_000_000,
    ),
    J1.paper(
        "jurassic1-178b",
        citation=f"{CITATION}, J1-Jumbo",
        num_layers=76,
        hidden_dim=13824,
        num_query_heads=108,
        head_dim=128,
        training=TRAINING,
        reported_params=178_000_000_000,
    ),
)
