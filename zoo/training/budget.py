"""Training budgets: how many tokens, steps and FLOPs a run will spend, fixed before it starts.

A budget is given as exactly one of tokens, FLOPs (PaLM convention, 6N + 12·L·H·Q·T per token),
a multiple of the Chinchilla-optimal 20 tokens per parameter, or optimizer steps; without one,
the recipe's own `training_tokens` applies (for the `-small` twins that is a CPU-sized default).
Tokens are rounded up to whole optimizer steps.
"""

import dataclasses
import math

from zoo.accounting import TOKENS_PER_PARAMETER, count_params, flops_per_token
from zoo.errors import ZooError
from zoo.run_config import RunConfigError

ASSUMED_MFU = 0.5  # for the up-front time estimate only; the run measures the real figure


@dataclasses.dataclass(frozen=True)
class Budget:
    steps: int
    batch_size: int  # sequences per optimizer step
    seq_len: int
    flops_per_token: float  # training, PaLM convention
    given_as: str  # e.g. "tokens=1500000"

    @property
    def tokens_per_step(self):
        return self.batch_size * self.seq_len

    @property
    def tokens(self):
        return self.steps * self.tokens_per_step

    @property
    def flops(self):
        return self.tokens * self.flops_per_token

    def estimated_seconds(self, peak_flops):
        return None if not peak_flops else self.flops / (peak_flops * ASSUMED_MFU)

    def to_dict(self):
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "tokens_per_step": self.tokens_per_step,
            "tokens": self.tokens,
            "flops": self.flops,
            "flops_per_token": self.flops_per_token,
            "given_as": self.given_as,
        }


def resolve_budget(
    config, training, batch_size=None, tokens=None, flops=None, chinchilla=None, steps=None
):
    """A `Budget` for `config` trained with `training` (a TrainingRecipe) at full context."""
    given = {k: v for k, v in
             {"tokens": tokens, "flops": flops, "chinchilla": chinchilla, "steps": steps}.items()
             if v is not None}  # fmt: skip
    if len(given) > 1:
        raise ZooError(f"give at most one budget; received {', '.join(given)}")
    for key, value in given.items():
        if not value > 0:
            raise RunConfigError(key, f"must be positive; received {value}")
    seq_len = config.max_sequence_length
    if batch_size is None:
        batch_size = max(1, round(training.batch_tokens / seq_len))
    if batch_size < 1:
        raise ZooError(f"batch size must be at least 1; received {batch_size}")
    per_token = flops_per_token(config, seq_len).palm
    tokens_per_step = batch_size * seq_len
    if "steps" in given:
        total_steps = int(steps)
    else:
        if "tokens" in given:
            wanted = tokens
        elif "flops" in given:
            wanted = flops / per_token
        elif "chinchilla" in given:
            wanted = chinchilla * TOKENS_PER_PARAMETER * count_params(config)
        elif training.training_tokens:
            wanted = training.training_tokens
            given = {"recipe default tokens": wanted}
        else:
            raise ZooError(
                f"{config.name} has no default budget; give one of tokens, flops, "
                "chinchilla or steps"
            )
        total_steps = max(1, math.ceil(wanted / tokens_per_step))
    label = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in given.items()
    )
    return Budget(total_steps, batch_size, seq_len, per_token, label)
