"""`Recipe`: a preset's architecture, the paper's training recipe, and where the numbers come from.

Recipes are data: each file in `recipes/` lists `Recipe` values, and adding a model never edits
`zoo/`. A paper-scale preset carries the parameter count the paper reports; its scaled-down twins
(`-small` for CPU replicas, `-nano` for tests) keep the family's choices and proportions.
"""

import dataclasses
import enum
from typing import Optional

from zoo.config import ModelConfig
from zoo.errors import ConfigError


class Optimizer(str, enum.Enum):
    ADAM = "adam"
    ADAMW = "adamw"  # decoupled weight decay (Loshchilov & Hutter)
    ADAFACTOR = "adafactor"  # PaLM §5: without factorisation, β2 = 1 - k^-0.8


class Schedule(str, enum.Enum):
    COSINE = "cosine"  # linear warmup, cosine decay to `final_learning_rate_fraction` of peak
    INVERSE_SQRT = "inverse_sqrt"  # PaLM: constant for `warmup_steps`, then ∝ 1/sqrt(step)


class Tokenizer(str, enum.Enum):
    BYTE_BPE = "byte_bpe"  # GPT-2's byte-level BPE
    SENTENCEPIECE = "sentencepiece"  # SentencePiece (with byte fallback where the paper says so)


class Allocation(str, enum.Enum):
    """How a recipe spends a fixed compute budget (`zoo compare --budget`)."""

    FIXED = "fixed"  # Kaplan-era: keep the model's size, spend the budget on tokens
    COMPUTE_OPTIMAL = "compute_optimal"  # Chinchilla: resize to ~20 tokens per parameter


class Scale(str, enum.Enum):
    PAPER = "paper"  # the published model
    SMALL = "small"  # CPU replica, ~1M non-embedding parameters, shared vocabulary and context
    NANO = "nano"  # test twin: builds and trains in seconds


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingRecipe:
    """The paper's optimisation recipe, as data. Values the paper does not publish are our
    choice and are listed in `Recipe.choices`."""

    optimizer: Optimizer
    learning_rate: float  # peak, for this preset's size
    beta_1: float
    beta_2: Optional[float]  # None where a decay rule replaces it (`beta_2_decay`)
    epsilon: float
    weight_decay: float  # applied to matrices only: never to norms, biases or embeddings
    schedule: Schedule
    warmup_steps: int
    final_learning_rate_fraction: float
    clip_norm: Optional[float]  # global gradient norm
    batch_tokens: int  # tokens per optimizer step
    training_tokens: Optional[int]  # the paper's total (None where unpublished)
    tokenizer: Tokenizer
    beta_2_decay: Optional[float] = None  # PaLM: β2 = 1 - step^beta_2_decay, beta_2_decay = -0.8
    allocation: Allocation = Allocation.FIXED

    def __post_init__(self):
        # Accept enum values as strings (overrides from the command line and from JSON).
        for field, enum_type in (("optimizer", Optimizer), ("schedule", Schedule),
                                 ("tokenizer", Tokenizer), ("allocation", Allocation)):
            value = getattr(self, field)
            try:
                object.__setattr__(self, field, enum_type(value))
            except ValueError:
                choices = ", ".join(e.value for e in enum_type)
                raise ConfigError(
                    f"{field} must be one of {choices}; received {field}={value!r}"
                ) from None
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive; received {self.learning_rate!r}")

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

    def to_dict(self):
        return {
            f.name: (v.value if isinstance(v, enum.Enum) else v)
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    family: str
    scale: Scale
    model: ModelConfig
    training: TrainingRecipe
    citation: str  # paper, table and row
    reported_params: Optional[int] = None  # the paper's figure, for paper-scale presets
    choices: tuple = ()  # values the paper does not publish, and what we chose

    def __post_init__(self):
        if self.model.name != self.name:
            raise ConfigError(f"recipe {self.name!r} holds a model named {self.model.name!r}")
