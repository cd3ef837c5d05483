"""`RunConfig`: everything about one training run that is neither the model nor the paper's recipe.

`ModelConfig` says what is trained, `TrainingRecipe` how the paper optimised it, and `RunConfig`
the rest: the data, the tokenizer mode, the budget, the batch, precision, seed, evaluation,
gradient accumulation, patience, the starting weights, the spike guard, and where it runs.

Each field declares whether it can change the run's result (`affects_result`). The run's identity
key (`zoo.training.plan.RunPlan.key`) is built from exactly those fields, so no list of "fields
that matter" is kept by hand: a new field must say which it is, or this module fails to import.
Strategy and backend do not affect the result (the same run on other hardware should give the
same losses, to round-off); neither does the output directory, which is not a field at all.

Messages name fields (`flops must be positive and finite`); the command line maps field names to
its flags (`FLAGS`), so a Python caller is never told about `--grad-accum`.
"""

import dataclasses
import enum
import math
import numbers
from typing import Optional

from zoo.data_spec import DEFAULT_DATA
from zoo.errors import FieldError


class Precision(str, enum.Enum):
    FLOAT32 = "float32"
    MIXED_BFLOAT16 = "mixed_bfloat16"  # bfloat16 compute, float32 variables (Keras policy)


class TokenizerMode(str, enum.Enum):
    NATIVE = "native"  # the paper's kind (byte-level BPE or SentencePiece)
    SHARED = "shared"  # one byte-level BPE for every model, for comparisons


class Backend(str, enum.Enum):
    TENSORFLOW = "tensorflow"
    JAX = "jax"
    AUTO = "auto"  # chosen for the hardware before Keras starts (zoo.backend_choice)


class Strategy(str, enum.Enum):
    """Where a run's steps go: the one list of strategy names (`zoo.training.distribution`
    creates them, `zoo.backend_choice` and the command line's help read them from here)."""

    AUTO = "auto"  # picked from the visible devices
    NONE = "none"  # one device
    MIRRORED = "mirrored"  # tf.distribute's: one host's devices
    MULTI_WORKER = "multi-worker"  # tf.distribute's: several hosts (TF_CONFIG)
    TPU = "tpu"  # tf.distribute's
    DATA_PARALLEL = "data-parallel"  # Keras's JAX distribution API
    MODEL_PARALLEL = "model-parallel"  # Keras's JAX distribution API: Megatron-LM's slicing

    @property
    def backend(self):
        """The one `Backend` this strategy runs on, or None where either will do (auto, none)."""
        return STRATEGY_BACKENDS[self]

    @classmethod
    def on(cls, backend):
        """The strategies that need `backend` (None: those that run on either), in order."""
        return tuple(s for s in cls if s.backend == backend)


# Every strategy says which backend it needs (None: either), or this module fails to import.
STRATEGY_BACKENDS = {
    Strategy.AUTO: None,
    Strategy.NONE: None,
    Strategy.MIRRORED: Backend.TENSORFLOW,
    Strategy.MULTI_WORKER: Backend.TENSORFLOW,
    Strategy.TPU: Backend.TENSORFLOW,
    Strategy.DATA_PARALLEL: Backend.JAX,
    Strategy.MODEL_PARALLEL: Backend.JAX,
}
assert set(STRATEGY_BACKENDS) == set(Strategy), set(Strategy) - set(STRATEGY_BACKENDS)


# The strategies whose mesh has a data axis to divide the optimizer state over.
SHARDING_STRATEGIES = (Strategy.DATA_PARALLEL, Strategy.MODEL_PARALLEL)


class RunConfigError(FieldError):
    """An invalid `RunConfig` value; `field` names the field the message starts with."""


def _field(default, *, affects_result, flag=None, omit_none=False):
    """`omit_none`: a field added after runs were keyed is left out of the identity while it
    is None, so every earlier run keeps its key."""
    return dataclasses.field(
        default=default,
        metadata={"affects_result": affects_result, "flag": flag, "omit_none": omit_none},
    )


BUDGET_FIELDS = ("tokens", "flops", "chinchilla", "steps")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig:
    """One run's settings beyond the model and the recipe. Enum fields accept their strings.

    The budget is at most one of `tokens`, `flops`, `chinchilla` (multiples of 20 tokens per
    parameter) and `steps`; with none, the recipe's own `training_tokens` applies.
    """

    data: str = _field(DEFAULT_DATA, affects_result=True)  # a zoo.data_spec.DataSpec's text
    tokenizer: TokenizerMode = _field(TokenizerMode.NATIVE, affects_result=True)
    tokens: Optional[int] = _field(None, affects_result=True)
    flops: Optional[float] = _field(None, affects_result=True)
    chinchilla: Optional[float] = _field(None, affects_result=True)
    steps: Optional[int] = _field(None, affects_result=True)
    batch_size: Optional[int] = _field(None, affects_result=True)  # sequences per step
    precision: Precision = _field(Precision.FLOAT32, affects_result=True)
    seed: int = _field(0, affects_result=True)
    eval_interval: Optional[int] = _field(None, affects_result=True)  # None: a tenth of the run
    eval_windows: int = _field(64, affects_result=True)  # windows per interval evaluation
    gradient_accumulation: int = _field(1, affects_result=True, flag="--grad-accum")
    patience: Optional[int] = _field(None, affects_result=True)
    init_from: Optional[str] = _field(None, affects_result=True)  # a run or a .keras file
    spike_guard: bool = _field(True, affects_result=True)  # zoo.training.spike_guard's rule
    # PaLM §5.1's escalation: after this many skipped steps within one evaluation interval,
    # rewind to a commit about 100 steps earlier and skip the next 200 batches (None: off).
    rewind_after_spikes: Optional[int] = _field(None, affects_result=True)
    # Repetition: train on the first slice of the training split that the budget passes over
    # this many times (1: each token once; 40: a slice a fortieth of the budget). None: the
    # whole split, however many passes the budget makes over it.
    passes: Optional[float] = _field(None, affects_result=True, omit_none=True)
    strategy: Strategy = _field(Strategy.AUTO, affects_result=False)
    backend: Optional[Backend] = _field(None, affects_result=False)  # None: $KERAS_BACKEND
    # ZeRO stage 1: the optimizer state divided over the data axis too (JAX strategies only;
    # zoo.training.sharding). Where values live, not what they are: not part of the key.
    shard_optimizer: bool = _field(False, affects_result=False)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            enum_type = _enum_type(f)
            if enum_type is not None and value is not None:
                try:
                    object.__setattr__(self, f.name, enum_type(value))
                except ValueError:
                    choices = ", ".join(e.value for e in enum_type)
                    raise RunConfigError(
                        f.name, f"must be one of {choices}; received {value!r}"
                    ) from None
        _check_text(self, "data")
        if self.init_from is not None:
            _check_text(self, "init_from")
        given = [name for name in BUDGET_FIELDS if getattr(self, name) is not None]
        if len(given) > 1:
            raise RunConfigError(
                given[0],
                f"is one of {len(given)} budgets given "
                f"({', '.join(given)}); give at most one budget",
            )
        for name in ("tokens", "steps"):
            _check_number(self, name, integer=True, minimum=1, optional=True)
        for name in ("flops", "chinchilla"):
            _check_number(self, name, integer=False, minimum=0, optional=True, strict=True)
        _check_number(self, "batch_size", integer=True, minimum=1, optional=True)
        _check_number(self, "seed", integer=True, minimum=0)
        _check_number(self, "eval_interval", integer=True, minimum=1, optional=True)
        _check_number(self, "eval_windows", integer=True, minimum=1)
        _check_number(self, "gradient_accumulation", integer=True, minimum=1)
        _check_number(self, "patience", integer=True, minimum=1, optional=True)
        _check_number(self, "rewind_after_spikes", integer=True, minimum=1, optional=True)
        _check_number(self, "passes", integer=False, minimum=1, optional=True)
        if self.passes is not None:  # one key for 4 and 4.0
            object.__setattr__(self, "passes", float(self.passes))
        if self.rewind_after_spikes is not None and not self.spike_guard:
            raise RunConfigError(
                "rewind_after_spikes",
                "counts the spike guard's skipped steps: it needs spike_guard on",
            )
        if not isinstance(self.shard_optimizer, bool):
            raise RunConfigError(
                "shard_optimizer", f"must be true or false; received {self.shard_optimizer!r}"
            )
        if self.shard_optimizer and self.strategy not in SHARDING_STRATEGIES:
            raise RunConfigError(
                "shard_optimizer",
                "divides the optimizer state over the data axis of Keras's JAX distribution: "
                f"it needs --strategy {' or '.join(s.value for s in SHARDING_STRATEGIES)}",
            )
        if not isinstance(self.spike_guard, bool):
            raise RunConfigError(
                "spike_guard", f"must be true or false; received {self.spike_guard!r}"
            )

    # --- identity ---

    def identity(self):
        """The fields that can change the result, JSON-ready: what the run key is made of."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata["affects_result"]
            and not (f.metadata["omit_none"] and getattr(self, f.name) is None)
        }

    @property
    def given_budget(self):
        """{field: value} of the budget given (empty: the recipe's default)."""
        return {
            name: getattr(self, name) for name in BUDGET_FIELDS if getattr(self, name) is not None
        }

    # --- (de)serialisation ---

    def to_dict(self):
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data):
        """From `to_dict()`; missing fields take their defaults (records written before a field
        existed), unknown ones are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - names)
        if extra:
            raise RunConfigError(extra[0], "is not a run setting")
        return cls(**data)

    @classmethod
    def from_legacy_settings(cls, settings):
        """The `RunConfig` of a `config.json` written before `RunConfig` existed."""
        given = settings.get("budget", {}).get("given_as", "")
        budget = {}
        for part in given.split(", "):
            key, _, value = part.partition("=")
            if key in BUDGET_FIELDS:
                number = float(value)
                budget[key] = int(number) if key in ("tokens", "steps") else number
        distribution = settings.get("distribution", {})
        init = settings.get("init_from") or {}
        return cls(
            data=settings.get("data", {}).get("spec", DEFAULT_DATA),
            tokenizer=settings.get("tokenizer", {}).get("mode", "native"),
            batch_size=settings.get("budget", {}).get("batch_size"),
            precision=settings.get("precision", "float32"),
            seed=settings.get("seed", 0),
            eval_interval=settings.get("eval_interval"),
            gradient_accumulation=settings.get("gradient_accumulation", 1),
            patience=settings.get("patience"),
            init_from=init.get("path"),
            spike_guard=False,  # runs before the guard existed trained without it
            strategy=distribution.get("requested", "auto"),
            backend=distribution.get("backend"),
            **budget,
        )

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def result_fields():
    """Names of the fields that can change a run's result."""
    return [f.name for f in dataclasses.fields(RunConfig) if f.metadata["affects_result"]]


def flag(field):
    """The command-line flag of `field` (`gradient_accumulation` -> `--grad-accum`)."""
    for f in dataclasses.fields(RunConfig):
        if f.name == field:
            return f.metadata["flag"] or "--" + field.replace("_", "-")
    return None


FLAGS = {f.name: flag(f.name) for f in dataclasses.fields(RunConfig)}


def _enum_type(f):
    for candidate in (Precision, TokenizerMode, Strategy, Backend):
        if f.type in (candidate, Optional[candidate]):
            return candidate
    return None


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


def _check_text(config, name):
    value = getattr(config, name)
    if not isinstance(value, str) or not value.strip():
        raise RunConfigError(name, f"must be a non-empty string; received {value!r}")


def _check_number(config, name, *, integer, minimum, optional=False, strict=False):
    """`name` is a finite number (a whole one when `integer`; never a bool) >= `minimum`, or
    > `minimum` when `strict`. A whole float (1e6 from the command line) becomes an int."""
    value = getattr(config, name)
    if value is None and optional:
        return
    kind = "an integer" if integer else "a number"
    bound = f"greater than {minimum}" if strict else f"at least {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RunConfigError(name, f"must be {kind} {bound}; received {value!r}")
    if not math.isfinite(value):
        raise RunConfigError(name, f"must be finite; received {value!r}")
    if integer:
        if not float(value).is_integer():
            raise RunConfigError(name, f"must be {kind} {bound}; received {value!r}")
        value = int(value)
        object.__setattr__(config, name, value)
    if value <= minimum if strict else value < minimum:
        raise RunConfigError(name, f"must be {kind} {bound}; received {value!r}")


for _f in dataclasses.fields(RunConfig):  # every field must say whether it affects the result
    assert isinstance(_f.metadata.get("affects_result"), bool), _f.name


__all__ = [
    "Backend",
    "FLAGS",
    "Precision",
    "RunConfig",
    "RunConfigError",
    "STRATEGY_BACKENDS",
    "Strategy",
    "TokenizerMode",
    "flag",
    "result_fields",
]
