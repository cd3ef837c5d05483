"""`RunPlan`: one training run fully resolved, frozen, before anything is written.

A plan is the preset's `ModelConfig` and `TrainingRecipe` (with overrides), the `RunConfig`, the
budget it resolved to, what the data and tokenizer turned out to be, where initial weights come
from and the evaluation interval. Training reads it by attribute; `config.json` holds
`plan.to_dict()` as its top-level keys, with the run-time facts (environment, device, XLA, the
optimizer's description, `run_id`, `resolution_key`) beside them, and those are never read back:
`RunPlan.from_record` takes the plan's own keys and ignores the rest. Records written before the
plan existed load through `upgrade_record`, as `ModelConfig._upgrade` does for model fields.

**Identity.** Every field (here and in `DataFacts`, `TokenizerFacts`) declares `affects_result`,
as `RunConfig`'s do; `RunPlan.key` hashes exactly those, each part through its own identity, so
no list of "what matters" is kept by hand. `keyed` metadata places a part where the key has
always had it (the init source and evaluation interval under "run"), so runs planned before the
plan existed keep their keys (`tests/training/test_plan_keys.py` re-plans recorded requests).
"""

import dataclasses
import hashlib
import json
import math
from typing import Optional

from zoo.config import ModelConfig
from zoo.errors import ZooError
from zoo.recipe import Tokenizer, TrainingRecipe
from zoo.run_config import RunConfig
from zoo.training.budget import Budget

EVALUATIONS = 10  # default number of evaluations over a run

# What the same settings train to changes when the code does. Bumped with every change that
# alters a result, so a run of the old code is never reused as if it were the new one:
#   1  (no entry) up to 2026-12
#   2  every weight drawn independently (`IndependentDraws`: blocks, SwiGLU's gate and up, an
#      untied head no longer share initial values); sparse gradients counted correctly by
#      global-norm clipping on TensorFlow (`DenseGradientClipping`: untied embeddings)
RESULT_VERSION = 2


def _fact(default=None, *, affects_result, keyed=None, omit_none=False):
    """A plan field; `keyed` = (section, name) places it inside another part of the key, and
    `omit_none` leaves it out of the key (and the record) while it is None."""
    return dataclasses.field(
        default=default,
        metadata={"affects_result": affects_result, "keyed": keyed, "omit_none": omit_none},
    )


def identity(part):
    """The JSON-ready identity of a plan part: its `identity()` when it has one (the fields that
    declare `affects_result`), else everything it holds (`to_dict()`), else the value."""
    if hasattr(part, "identity"):
        return part.identity()
    if hasattr(part, "to_dict"):
        return part.to_dict()
    return part


class _Facts:
    """Shared by the facts dataclasses: identity and JSON by field metadata."""

    def identity(self):
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata["affects_result"]
        }

    def to_dict(self):
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "details":
                out.update(value)
            elif value is not None or f.metadata["affects_result"]:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data):
        """From `to_dict()`: lists back to tuples; keys that are not fields go to `details`
        where the class keeps them, else are dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in data.items()
            if k in names and k != "details"
        }
        if "details" in names:
            known["details"] = {k: v for k, v in data.items() if k not in names}
        return cls(**known)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataFacts(_Facts):
    """What the data spec turned out to be: one corpus read gives all of it."""

    spec: str = _fact(affects_result=True)
    source: Optional[str] = _fact(affects_result=True)
    fingerprint: Optional[str] = _fact(affects_result=True)  # None for pre-tokenized data
    train_tokens: Optional[int] = _fact(affects_result=True)
    validation_tokens: Optional[int] = _fact(affects_result=True)
    validation_bytes: Optional[int] = _fact(affects_result=False)  # None: pre-tokenized
    end_of_text_id: Optional[int] = _fact(affects_result=False)
    split: Optional[str] = _fact(affects_result=False)
    validation_documents: Optional[tuple] = _fact(affects_result=False)  # the first 50 names
    unigram_bits_per_byte: Optional[float] = _fact(affects_result=False)  # the yardstick


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizerFacts(_Facts):
    """The tokenizer the run trains with; `details` is its `tokenizer.json` (versions, settings)."""

    mode: str = _fact(affects_result=True)  # RunConfig.tokenizer: native or shared
    kind: str = _fact(affects_result=True)  # zoo.recipe.Tokenizer
    vocabulary_size: Optional[int] = _fact(affects_result=True)  # None for pre-tokenized data
    details: dict = dataclasses.field(default_factory=dict, metadata={"affects_result": False})


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitSource(_Facts):
    """Where `init_from` weights come from: a .keras file, and the tokenizer beside it."""

    path: str = _fact(affects_result=True)
    tokenizer_path: Optional[str] = _fact(affects_result=True)

    def to_dict(self):  # as recorded since continued training existed: both keys, always
        return {"path": self.path, "tokenizer_path": self.tokenizer_path}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunPlan:
    """A fully resolved run: what `zoo.train` will do, and the identity it is found by."""

    result_version: int = _fact(RESULT_VERSION, affects_result=True)
    preset: str = _fact(affects_result=True)
    model: ModelConfig = _fact(affects_result=True)
    training: TrainingRecipe = _fact(affects_result=True)
    budget: Budget = _fact(affects_result=True)
    run: RunConfig = _fact(affects_result=True)
    data: DataFacts = _fact(affects_result=True)
    tokenizer: TokenizerFacts = _fact(affects_result=True)
    init_from: Optional[InitSource] = _fact(affects_result=True, keyed=("run", "init_from"))
    eval_interval: int = _fact(affects_result=True, keyed=("run", "eval_interval"))
    # The spike guard's rule (zoo.training.spike_guard.RULE_VERSION) for guarded runs; None for
    # unguarded ones, which keeps their keys as they were before the guard had versions.
    spike_guard_rule: Optional[int] = _fact(affects_result=True, omit_none=True)
    # Where it runs: the strategy asked for, the backend chosen and why (never in the key).
    backend: Optional[str] = _fact(affects_result=False)
    backend_choice: Optional[dict] = _fact(affects_result=False)
    # The data read while planning, the tokenizer and `init_from` weights, so that a plan made in
    # this process trains without reading the corpus again (`zoo.training.trainer.Materials`).
    # Neither identity nor record: None for a plan read back from a record.
    materials: object = dataclasses.field(
        default=None,
        compare=False,
        repr=False,
        metadata={"affects_result": False, "recorded": False},
    )

    # --- identity ---

    @property
    def key(self):
        """A hash of everything that can change the result, and nothing else; equal keys mean a
        run can be reused for another."""
        keyed = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not f.metadata["affects_result"] or (value is None and f.metadata["omit_none"]):
                continue
            section, name = f.metadata["keyed"] or (None, f.name)
            if section:  # declared after its section's own field, so that one is in place
                keyed[section][name] = identity(value)
            else:
                keyed[name] = identity(value)
        text = json.dumps(keyed, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    # --- derived values training uses ---

    @property
    def micro_batch(self):
        """Sequences per forward pass: the batch split over gradient accumulation."""
        return self.budget.batch_size // self.run.gradient_accumulation

    @property
    def tokenizer_kind(self):
        return Tokenizer(self.tokenizer.kind)

    # --- (de)serialisation ---

    def to_dict(self):
        """JSON-ready; the resolved part of `config.json`."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("recorded") is False or (value is None and f.metadata["omit_none"]):
                continue
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return out

    @classmethod
    def from_record(cls, record):
        """The plan a `config.json` records (any zoo's: old layouts go through `upgrade_record`);
        run-time facts beside it are ignored."""
        data = upgrade_record(record)
        try:
            return cls(
                result_version=data["result_version"],
                preset=data["preset"],
                model=ModelConfig.from_dict(data["model"]),
                training=TrainingRecipe.from_dict(data["training"]),
                budget=_budget(data["budget"]),
                run=RunConfig.from_dict(data["run"]),
                data=DataFacts.from_dict(data["data"]),
                tokenizer=TokenizerFacts.from_dict(data["tokenizer"]),
                init_from=InitSource.from_dict(data["init_from"])
                if data.get("init_from")
                else None,
                eval_interval=data["eval_interval"],
                spike_guard_rule=data.get("spike_guard_rule"),
                backend=data.get("backend"),
                backend_choice=data.get("backend_choice"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ZooError(
                f"the run record is damaged or not a zoo run's ({type(error).__name__}: {error})"
            ) from None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def default_eval_interval(steps):
    return max(1, math.ceil(steps / EVALUATIONS))


def upgrade_record(record):
    """A `config.json` of any zoo version in today's layout (the plan's keys).

    - before `RunConfig` (no "run"): the run's settings are rebuilt from the scattered keys;
    - before result versions (no "result_version"): version 1;
    - before the plan (up to 2026-12-06): the run's settings were stored twice (`seed`,
      `precision`, ... beside "run"), ignored now; the backend sat in "distribution".
    """
    data = dict(record)
    if "run" not in data:
        data["run"] = RunConfig.from_legacy_settings(data).to_dict()
    data.setdefault("result_version", 1)
    distribution = data.get("distribution") or {}
    if "backend_choice" not in data and "backend_choice" in distribution:
        data["backend_choice"] = distribution["backend_choice"]
    if "backend" not in data and "backend" in distribution:
        data["backend"] = distribution["backend"]
    if "eval_interval" not in data or data["eval_interval"] is None:
        steps = (data.get("budget") or {}).get("steps", 1)
        data["eval_interval"] = data["run"].get("eval_interval") or default_eval_interval(steps)
    return data


def _budget(data):
    names = {f.name for f in dataclasses.fields(Budget)}
    return Budget(**{k: v for k, v in data.items() if k in names})


__all__ = [
    "DataFacts",
    "EVALUATIONS",
    "InitSource",
    "RESULT_VERSION",
    "RunPlan",
    "TokenizerFacts",
    "default_eval_interval",
    "upgrade_record",
]
