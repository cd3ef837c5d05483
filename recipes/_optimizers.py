"""The papers' optimisation recipes, one named constant each; every preset names the one it uses.

Each constant is the paper's recipe at one of its rows (named below); a preset of another size
replaces the per-size fields (`learning_rate`, `batch_tokens`, `warmup_steps`, `training_tokens`)
with `TrainingRecipe.replace`, and the `-nano`/`-small` twins replace all four
(`recipes/_family.py`). Values a paper does not publish are listed in the families' `CHOICES`.
"""

from zoo.recipe import Allocation, Optimizer, Schedule, Tokenizer, TrainingRecipe

M = 2**20  # the papers' "M" of batch tokens (GPT-3 Table 2.1's "0.5M" is 2^19)

# GPT-3 App. B: Adam β 0.9/0.95, ε 1e-8, weight decay 0.1 (decoupled, as AdamW), clip 1.0, cosine
# to 10%, linear warmup over 375M tokens, 300B tokens; GPT-2's byte-level BPE. At the 175B row.
ADAMW_GPT3 = TrainingRecipe(
    optimizer=Optimizer.ADAMW,
    learning_rate=0.6e-4,
    beta_1=0.9,
    beta_2=0.95,
    epsilon=1e-8,
    weight_decay=0.1,
    schedule=Schedule.COSINE,
    warmup_steps=round(375e6 / int(3.2 * M)),
    final_learning_rate_fraction=0.1,
    clip_norm=1.0,
    batch_tokens=int(3.2 * M),
    training_tokens=300 * 10**9,
    tokenizer=Tokenizer.BYTE_BPE,
)

# Gopher (Rae et al. 2021): Adam, warmup over 1,500 steps, cosine decay by 10×, clip 1.0 (0.25
# for 7.1B and 280B), 300B tokens, SentencePiece; β/ε and no weight decay are our choices
# (recipes/gopher.py). At the 44M row of Table 1.
ADAM_GOPHER = TrainingRecipe(
    optimizer=Optimizer.ADAM,
    learning_rate=6e-4,
    beta_1=0.9,
    beta_2=0.95,
    epsilon=1e-8,
    weight_decay=0.0,
    schedule=Schedule.COSINE,
    warmup_steps=1500,
    final_learning_rate_fraction=0.1,
    clip_norm=1.0,
    batch_tokens=M // 4,
    training_tokens=300 * 10**9,
    tokenizer=Tokenizer.SENTENCEPIECE,
)

# Chinchilla §4.1: Gopher's setup with AdamW; Table 4's 70B row (1e-4, 1.5M → 3M tokens, 1.4T).
# The paper's lesson travels with it: at a fixed budget, size the model for ~20 tokens/parameter.
ADAMW_CHINCHILLA = ADAM_GOPHER.replace(
    optimizer=Optimizer.ADAMW,
    weight_decay=0.1,
    learning_rate=1e-4,
    batch_tokens=int(1.5 * M),
    training_tokens=1_400 * 10**9,
    allocation=Allocation.COMPUTE_OPTIMAL,
)

# PaLM §5: Adafactor without factorisation (β1 0.9, β2 = 1 - k^-0.8), 1e-2 for 10,000 steps then
# ∝ 1/sqrt(k), clip 1.0, weight decay lr² (recorded at the peak, 1e-4), 780B tokens. Adafactor
# scales updates by each parameter's RMS, so 1e-2 is sane. At the 8B row's first batch.
ADAFACTOR_PALM = TrainingRecipe(
    optimizer=Optimizer.ADAFACTOR,
    learning_rate=1e-2,
    beta_1=0.9,
    beta_2=None,
    beta_2_decay=-0.8,
    epsilon=1e-30,
    weight_decay=1e-4,
    schedule=Schedule.INVERSE_SQRT,
    warmup_steps=10_000,  # constant steps before the 1/sqrt decay
    final_learning_rate_fraction=0.0,
    clip_norm=1.0,
    batch_tokens=256 * 2048,
    training_tokens=780 * 10**9,
    tokenizer=Tokenizer.SENTENCEPIECE,
)

# LLaMA §2.3: AdamW β 0.9/0.95, weight decay 0.1, clip 1.0, 2,000 warmup steps, cosine to 10%;
# ε 1e-5 is LLaMA 2's (unpublished in LLaMA 1). Table 2's 6.7B row: 3e-4, 4M tokens, 1.0T.
ADAMW_LLAMA = TrainingRecipe(
    optimizer=Optimizer.ADAMW,
    learning_rate=3.0e-4,
    beta_1=0.9,
    beta_2=0.95,
    epsilon=1e-5,
    weight_decay=0.1,
    schedule=Schedule.COSINE,
    warmup_steps=2000,
    final_learning_rate_fraction=0.1,
    clip_norm=1.0,
    batch_tokens=4 * M,
    training_tokens=10**12,
    tokenizer=Tokenizer.SENTENCEPIECE,
)
