"""`Recipe`: a preset's architecture, the paper's training recipe, and where the numbers come from.

Recipes are data: each file in `recipes/` lists `Recipe` values, and adding a model never edits
`zoo/`. A paper-scale preset carries the parameter count the paper reports; its scaled-down twins
(`-small` for CPU replicas, `-nano` for tests) keep the family's choices and proportions.
"""

import dataclasses
import enum
import math
import numbers
import typing
from typing import Optional

from zoo.config import ModelConfig
from zoo.errors import ConfigError, unknown


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
    # SentencePiece's unigram language model (its default; Kudo 2018), beside its BPE mode
    # above: no paper recipe here uses it, `zoo sweep` arms compare it (--set tokenizer=…).
    SENTENCEPIECE_UNIGRAM = "sentencepiece_unigram"


class Allocation(str, enum.Enum):
    """How a recipe spends a fixed compute budget (`zoo compare --budget`)."""

    FIXED = "fixed"  # Kaplan-era: keep the model's size, spend the budget on tokens
    COMPUTE_OPTIMAL = "compute_optimal"  # Chinchilla: resize to ~20 tokens per parameter

    @property
    def label(self):
        """The name the command line and the sweeps' records use: `compute-optimal`."""
        return self.value.replace("_", "-")

    @classmethod
    def parse(cls, text):
        """An allocation from either spelling (`compute-optimal` or `compute_optimal`), or
        None when `text` names none."""
        if isinstance(text, cls):
            return text
        return next((a for a in cls if text in (a.value, a.label)), None)


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
        for field in dataclasses.fields(self):
            value = self.check_field(field.name, getattr(self, field.name), exact=True)
            object.__setattr__(self, field.name, value)

    @classmethod
    def check_field(cls, name, value, *, exact=False):
        """`value` as field `name` holds it (enum strings become enums), or a `ConfigError`
        naming the field and the value. Numeric fields are checked by their declared type (int:
        an integer, never a bool; float: any finite int or float, never a bool; Optional: also
        None) and by the range their meaning allows (`_RANGES`). Text read as JSON writes some
        integers as floats (`--set training_tokens=1e9`), so unless `exact` an int field also
        takes a float with an integral value and returns it as an int (never 1.5); Python code
        states ints (`exact`, as `__post_init__` checks). `zoo.overrides` applies this to each
        `--set` value as it is parsed, and `from_dict` to each stored value."""
        declared = _DECLARED[name]
        optional = type(None) in typing.get_args(declared)
        kind = next((t for t in typing.get_args(declared) if t is not type(None)), declared)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            try:
                return kind(value)
            except ValueError:
                choices = ", ".join(e.value for e in kind)
                raise ConfigError(
                    f"{name} must be one of {choices}; received {name}={value!r}"
                ) from None
        if value is None and optional:
            return value
        allowed, words = _RANGES[name]
        integral = kind is int
        number = _as_number(value, integral, exact)
        if number is None or not allowed(number):
            what = words.format("integer" if integral else "number")
            raise ConfigError(
                f"{name} must be {what}{' or null' if optional else ''}; received {value!r}"
            )
        return number

    @classmethod
    def from_dict(cls, data):
        """The recipe `to_dict` wrote (a run record, a bench spec); unknown keys are refused."""
        for key in data:
            if key not in _DECLARED:
                raise unknown("training field", key, list(_DECLARED))
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in data and f.default is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(f"training recipe is missing {', '.join(missing)}")
        return cls(**{key: cls.check_field(key, value) for key, value in data.items()})

    def replace(self, **changes):
        """A copy with some fields changed (each checked); unknown names are refused."""
        for key in changes:
            if key not in _DECLARED:
                raise unknown("training field", key, list(_DECLARED))
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return {
            f.name: (v.value if isinstance(v, enum.Enum) else v)
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }


def _as_number(value, integral, exact):
    """`value` if it is a finite number (an integer, if `integral`), else None. Bools are not
    numbers here (True is not a learning rate). Unless `exact`, a float with an integral value
    counts as an integer (1e6 from JSON; never 1.5) and is returned as an int."""
    if isinstance(value, (bool, enum.Enum)) or not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(value):
        return None
    if integral:
        return int(value) if not exact and float(value).is_integer() else None
    return value


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


def _below_one(v):
    return 0 <= v < 1


# What each numeric field's meaning allows, and how to say so ("{}" is "integer" or "number").
_RANGES = {
    "learning_rate": (_positive, "a positive {}"),  # the peak rate
    "beta_1": (_below_one, "a {} in [0, 1)"),  # first-moment decay
    "beta_2": (_below_one, "a {} in [0, 1)"),  # second-moment decay (None: `beta_2_decay`)
    "epsilon": (_positive, "a positive {}"),  # keeps the update's denominator off zero
    "weight_decay": (_non_negative, "a non-negative {}"),
    "warmup_steps": (_non_negative, "a non-negative {}"),  # 0: no warmup
    "final_learning_rate_fraction": (lambda v: 0 <= v <= 1, "a {} in [0, 1]"),  # of the peak
    "clip_norm": (_positive, "a positive {}"),  # None: no clipping
    "batch_tokens": (_positive, "a positive {}"),
    "training_tokens": (_positive, "a positive {}"),  # None: unpublished
    "beta_2_decay": (lambda v: v < 0, "a negative {}"),  # β2 = 1 - step^d rises to 1 only if d < 0
}
_DECLARED = {f.name: f.type for f in dataclasses.fields(TrainingRecipe)}


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
        for field in ("name", "family", "citation"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{field} must be a non-empty string; received {value!r}")
        try:
            object.__setattr__(self, "scale", Scale(self.scale))
        except ValueError:
            raise ConfigError(
                f"scale must be one of {', '.join(s.value for s in Scale)}; "
                f"received scale={self.scale!r}"
            ) from None
        for field, kind in (("model", ModelConfig), ("training", TrainingRecipe)):
            if not isinstance(getattr(self, field), kind):
                raise ConfigError(
                    f"recipe {self.name!r}: {field} must be a {kind.__name__}; "
                    f"received {getattr(self, field)!r}"
                )
        if self.model.name != self.name:
            raise ConfigError(f"recipe {self.name!r} holds a model named {self.model.name!r}")
        reported = self.reported_params
        if reported is not None and (
            _as_number(reported, True, exact=True) is None or reported < 1
        ):
            raise ConfigError(
                f"recipe {self.name!r}: reported_params must be a positive integer "
                f"or None; received {reported!r}"
            )
        if self.scale is Scale.PAPER and reported is None:
            raise ConfigError(
                f"recipe {self.name!r}: a paper-scale preset states the paper's "
                "parameter count (reported_params)"
            )
        if not isinstance(self.choices, tuple) or not all(
            isinstance(c, str) and c for c in self.choices
        ):
            raise ConfigError(
                f"recipe {self.name!r}: choices must be a tuple of non-empty "
                f"strings; received {self.choices!r}"
            )
