"""Shape and training settings shared by every family's scaled-down twins.

`-small` twins are the CPU replicas: about 1.2M non-embedding parameters each (within ±15% of one
another), one vocabulary size and one context length for all, so that `zoo compare` measures
architecture rather than size. `-nano` twins exist for tests. `Family.twins` (recipes/_family.py)
applies these settings, so a family states only its twins' shapes.

Learning rates: the papers' peak rates are tuned for 10^8–10^11 parameters and batches of 0.25M–4M
tokens. At ~1M parameters and 4,096-token batches we use 2e-3 for the Adam family, the peak that
keras-hub GPT-2 of this size trained well with on the default corpus (see design notes), with
the paper's betas, clipping and schedule shape kept; `zoo compare --tune-lr` checks it per model.
"""

SMALL_VOCABULARY = 4096
SMALL_CONTEXT = 256
SMALL_BATCH_TOKENS = 16 * SMALL_CONTEXT
SMALL_LEARNING_RATE = 2e-3
SMALL_WARMUP_STEPS = 100
# Default budget of `zoo train <family>-small`: 300 steps of 16 × 256 tokens, which finishes in
# about 6–7 minutes on a 2-core CPU (≈3,500 tokens/s measured, plus compilation and evaluation).
SMALL_TRAINING_TOKENS = 300 * SMALL_BATCH_TOKENS

NANO_VOCABULARY = 512
NANO_CONTEXT = 64
NANO_BATCH_TOKENS = 4 * NANO_CONTEXT
NANO_WARMUP_STEPS = 10
NANO_TRAINING_TOKENS = 20 * NANO_BATCH_TOKENS

SCALED_CHOICE = (
    "scaled twin: vocabulary, context, batch and peak learning rate are the project's shared "
    "small-scale settings (recipes/_scaled.py), not the paper's"
)
