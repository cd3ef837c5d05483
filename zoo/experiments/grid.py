"""What a sweep will train, decided before anything trains: arms, sizes and hyperparameters.

A sweep is a grid of ordinary runs (`zoo.training.trainer.plan_run`), so every run is reused or
resumed by its key. This module turns a sweep's request into those plans and refuses bad input
(budgets not increasing, one size, an unknown arm) before a single step is taken.

The settings a sweep needs and a single run does not (each stated in the sweep's output):

* **Vocabulary: bytes.** At 1e11–1e13 FLOPs the compute-optimal models have 10^4–10^6
  parameters, and a 4,096-token embedding would be most of the model. Sweeps use the byte-level
  BPE at its minimum size, 257 tokens (the 256 bytes and end-of-text: no merges), so a token is a
  byte, bits per token are bits per byte, and the embedding stays a minority of every size the
  grid reaches above ~30K parameters.
* **Learning rate per size.** One rate tuned at ~1M parameters must not serve every size:
  the peak rate follows Porian et al. 2024 (arXiv:2406.19146), whose tuned rates fall with size
  as N^-0.33, anchored at the recipe's `-small` rate at the `-small` twin's size (with the byte
  vocabulary). `--tune-lr` replaces the rule by a per-size grid (×1/3, ×1, ×3 of it, at a
  quarter of the budget, chosen by final *training* loss, as `zoo compare --tune-lr` does).
* **Warmup about N tokens** (Porian et al.: a fixed long warmup biases small-scale exponents),
  i.e. ceil(N / tokens per step) updates, still capped at a tenth of the run; cosine decay to
  each run's own length, which every COSINE recipe already does.
* **Batch.** The recipe's batch, made smaller when a run would otherwise take fewer than
  `MIN_STEPS` optimizer steps (the smallest budgets buy only ~10^5 tokens).
"""

import dataclasses
import json
import math
import pathlib

import numpy as np

from zoo.accounting import (
    TOKENS_PER_PARAMETER,
    count_non_embedding_params,
    count_params,
    flops_per_token,
)
from zoo.comparison.ablation import parse_arms as compare_arms
from zoo.comparison.allocation import compute_optimal_config
from zoo.errors import FieldError, ZooError
from zoo.overrides import parse_overrides
from zoo.recipe import Allocation
from zoo.registry import get_recipe
from zoo.scaling.hyperparameters import NEAR_OPTIMAL, predict_rule
from zoo.run_config import BUDGET_FIELDS, RunConfig, RunConfigError, TokenizerMode
from zoo.training.trainer import plan_run, run_config

SWEEP_VOCABULARY = 257  # the byte-level BPE with no merges: 256 bytes and end-of-text
SIZE_SPAN = 5.0  # IsoFLOP sizes span 1/SIZE_SPAN to SIZE_SPAN times the predicted optimum
SWEEP_ASPECT_TOLERANCE = 3.0  # width per layer within 3× of the family's (single runs: 1.5×)
MIN_STEPS = 200  # optimizer steps a run gets at least (by shrinking its batch)
LR_SIZE_EXPONENT = -1 / 3  # Porian et al. 2024: tuned peak rate ∝ N^-0.33
ALLOCATIONS = (Allocation.COMPUTE_OPTIMAL, Allocation.FIXED)  # in the order sweeps list them
SHAPE_FIELDS = (  # what a resized shape sets (the papers' shapes change the number of heads)
    "num_layers",
    "hidden_dim",
    "num_query_heads",
    "head_dim",
    "num_key_value_heads",
    "intermediate_dim",
    "attention_pattern",
)

LR_RULE = (
    f"peak learning rate = the recipe's -small rate × (N / N_small)^{LR_SIZE_EXPONENT:.2f} "
    "(Porian et al. 2024), N counting every parameter"
)
WARMUP_RULE = "warmup ≈ N tokens (ceil(N / tokens per step) updates, at most a tenth of the run)"
BATCH_RULE = f"the recipe's batch, smaller where a run would take fewer than {MIN_STEPS} steps"
VOCABULARY_RULE = (  # --tokenizer shared, the sweeps' default
    f"bytes: the byte-level BPE at {SWEEP_VOCABULARY} tokens (no merges), so loss "
    "per token is loss per byte, unless an arm sets its vocabulary_size"
)
NATIVE_VOCABULARY_RULE = (  # --tokenizer native: what a token is differs between arms
    "native: each arm's own kind of tokenizer trained on the corpus at its vocabulary_size "
    f"({SWEEP_VOCABULARY} unless the arm sets one); a token is a different amount of text in "
    "each, so compare them in bits per byte"
)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One curve of a sweep: a preset, with model or training changes relative to it."""

    name: str
    preset: str
    changes: dict


@dataclasses.dataclass
class PlannedRun:
    """One run of the grid, resolved (`plan` is the trainer's `RunPlan`)."""

    arm: Arm
    flops: float  # the nominal FLOPs budget of its grid cell (the JSON rows call it "budget")
    seed: int
    size_factor: float  # multiple of the predicted compute-optimal size (None: fixed size)
    changes: dict  # everything passed to plan_run as overrides
    plan: object
    learning_rate: float
    warmup_steps: int
    estimated_seconds: float = None
    label: str = None  # how progress names it; by default "<arm> <layers>×<width> @ <budget>"
    variant: dict = None  # what a study varies within the cell (zoo.experiments.repetition)

    def __post_init__(self):
        if self.label is None:
            config = self.plan.model
            self.label = (
                f"{self.arm.name} {config.num_layers}×{config.hidden_dim} @ {self.flops:.2g}"
            )

    @property
    def config(self):
        return self.plan.model


def parse_budgets(budgets, for_fit=True):
    """'1e11,3e11' or a sequence -> a tuple of strictly increasing, positive, finite floats; at
    least two `for_fit` (a law in compute), else at least one (a check at one budget)."""
    if isinstance(budgets, str):
        parts = [p.strip() for p in budgets.split(",") if p.strip()]
        values = []
        for part in parts:
            try:
                values.append(float(part))
            except ValueError:
                raise FieldError(
                    "budgets", f"takes FLOPs separated by commas, e.g. 1e11,3e11; received {part!r}"
                ) from None
    else:
        values = [float(v) for v in budgets or ()]
    if len(values) < (2 if for_fit else 1):
        raise FieldError(
            "budgets",
            "needs at least two budgets to fit a law" if for_fit else "needs a budget",
            f"; received {len(values)}",
        )
    for value in values:
        if not math.isfinite(value) or value <= 0:
            raise FieldError("budgets", f"must be positive and finite; received {value:g}")
    for low, high in zip(values, values[1:]):
        if not high > low:
            raise FieldError("budgets", f"must increase; {high:g} follows {low:g}")
    return tuple(values)


def parse_arms(models, ablate=None, overrides=()):
    """Arms from a model list (and one base model's ablations), as `zoo compare` forms them."""
    arms = [Arm(*arm) for arm in compare_arms(models, ablate, overrides)]
    if len({arm.name for arm in arms}) != len(arms):
        raise ZooError(f"an arm is listed twice: {', '.join(a.name for a in arms)}")
    return arms


def sweep_model(arm):
    """The arm's model with the sweep vocabulary (unless the arm sets its own)."""
    model_changes, _ = parse_overrides(arm.changes)
    model_changes.setdefault("vocabulary_size", SWEEP_VOCABULARY)
    return get_recipe(arm.preset).model.replace(**model_changes)


@dataclasses.dataclass(frozen=True)
class ShapeRule:
    """How a sweep shapes the sizes it resizes to (`compute_optimal_config`'s constraints)."""

    name: str
    min_layers: int
    head_dim: int  # None: the family's number of heads, their width following the model's
    description: str

    def resize(self, config, budget, target=TOKENS_PER_PARAMETER):
        return compute_optimal_config(
            config,
            budget,
            target=target,
            aspect_tolerance=SWEEP_ASPECT_TOLERANCE,
            min_layers=self.min_layers,
            head_dim=self.head_dim,
        )


SHAPE_RULES = {
    rule.name: rule
    for rule in (
        ShapeRule(
            "family-heads",
            1,
            None,
            "the family's number of heads at any depth from one layer (the 3e10–1e12 studies)",
        ),
        ShapeRule(
            "papers",
            2,
            32,
            "at least 2 layers, heads 32 wide whose number follows the width (Kaplan et al. "
            "and Chinchilla sized their small models with 64-wide heads)",
        ),
    )
}
DEFAULT_SHAPES = "family-heads"


def parse_shapes(shapes):
    """A `ShapeRule` from its name (or itself)."""
    if isinstance(shapes, ShapeRule):
        return shapes
    if shapes not in SHAPE_RULES:
        raise FieldError("shapes", f"must be one of {', '.join(SHAPE_RULES)}; received {shapes!r}")
    return SHAPE_RULES[shapes]


def isoflop_shapes(
    config, budget, sizes, span=SIZE_SPAN, shapes=DEFAULT_SHAPES, center=TOKENS_PER_PARAMETER
):
    """`sizes` shapes of `config` spanning 1/span–span× the size predicted compute-optimal
    (20 tokens per parameter) at `budget`, shaped along the family's proportions by the
    `shapes` rule.

    At a fixed budget D ∝ 1/N, so a size f times the optimum trains on 20/f² tokens per
    parameter: the allocation search is asked for that ratio. Returns [(factor, config)].
    """
    rule = parse_shapes(shapes)
    shapes, seen = [], set()
    for factor in np.geomspace(1 / span, span, sizes):
        target = center / float(factor) ** 2
        shape = rule.resize(config, budget, target=target)
        key = (shape.num_layers, shape.hidden_dim)
        if key not in seen:
            seen.add(key)
            shapes.append((float(factor), shape))
    if len(shapes) < sizes:
        raise ZooError(
            f"only {len(shapes)} distinct shapes of {config.name} exist between "
            f"1/{span:g}× and {span:g}× the size at {center:g} tokens per parameter at {budget:.3g} "
            f"FLOPs (wanted {sizes}); raise the smallest budget or ask for fewer sizes"
        )
    return shapes


def learning_rate_for(arm, config):
    """The size rule's peak rate for `config` (see the module docstring)."""
    recipe = get_recipe(arm.preset)
    _, training_changes = parse_overrides(arm.changes)
    if "learning_rate" in training_changes:  # the arm fixes its own rate
        return float(training_changes["learning_rate"])
    small = get_recipe(f"{recipe.family}-small")
    anchor = count_params(small.model.replace(vocabulary_size=config.vocabulary_size))
    return small.training.learning_rate * (count_params(config) / anchor) ** LR_SIZE_EXPONENT


def batch_size_for(arm, config, budget):
    """The recipe's batch (sequences), smaller when the run would take < MIN_STEPS steps."""
    recipe = get_recipe(arm.preset)
    return within_min_steps(recipe.training.batch_tokens, config, budget)


def within_min_steps(batch_tokens, config, budget):
    """Sequences per step for `batch_tokens`: at least one, and few enough that `budget` buys
    `MIN_STEPS` optimizer steps."""
    seq_len = config.max_sequence_length
    batch = max(1, round(batch_tokens / seq_len))
    tokens = budget / flops_per_token(config, seq_len).palm
    return int(max(1, min(batch, math.floor(tokens / (MIN_STEPS * seq_len)))))


def warmup_for(config, batch):
    """Warmup updates: about N tokens at `batch` sequences per step (at least one)."""
    return max(1, math.ceil(count_params(config) / (batch * config.max_sequence_length)))


@dataclasses.dataclass(frozen=True)
class RateRule:
    """Learning rate and batch per arm as laws in compute, fitted by a rates sweep
    (`zoo sweep rates`; `zoo.scaling.hyperparameters`), read from its JSON."""

    source: str
    arms: dict  # arm name -> {"learning_rate": {a, b, ...}, "batch_tokens": the same or None}
    tolerance: float = NEAR_OPTIMAL  # the fit's near-optimal band, which its check keeps

    @classmethod
    def load(cls, path, field="rates"):
        """The rule in the JSON at `path`; a `FieldError` of `field` (the option that named
        it) when it holds none."""
        try:
            data = json.loads(pathlib.Path(path).read_text())
            arms = {arm["name"]: arm for arm in data["fits"]["rates"]["arms"]}
            tolerance = float(data["fits"]["rates"].get("tolerance", NEAR_OPTIMAL))
            for arm in arms.values():
                float(arm["learning_rate"]["a"]), float(arm["learning_rate"]["b"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise FieldError(
                field,
                f"{str(path)!r} is not a rates sweep's JSON with a fitted rule "
                f"({type(error).__name__}: {error})",
            ) from None
        return cls(str(path), arms, tolerance)

    def for_arm(self, arm):
        # An arm of a two-allocation sweep ("llama-small (fixed)") takes its model's rule.
        for name in (arm.name, arm.name.split(" (")[0], arm.preset):
            if name in self.arms:
                return self.arms[name]
        raise FieldError(
            "rates", f"{self.source} has no rule for {arm.name} (it has {', '.join(self.arms)})"
        )

    def learning_rate(self, arm, budget):
        return predict_rule(self.for_arm(arm)["learning_rate"], budget)

    def batch_size(self, arm, config, budget):
        """Sequences per step from the batch law (None where the rule fitted none), at least
        one and small enough for `MIN_STEPS` steps, as `batch_size_for` keeps the recipe's."""
        line = self.for_arm(arm).get("batch_tokens")
        if line is None:
            return None
        return within_min_steps(predict_rule(line, budget), config, budget)


def plan_grid(cells, base, *, tune_lr=False, rule=None):
    """PlannedRuns for cells [(arm, budget, seed, factor, config)]; every run resolved now, so
    bad input fails before anything trains. `base` is the sweep's shared `RunConfig`; `rule`, a
    `RateRule`, sets each run's peak rate and batch instead of the size rule."""
    planned = []
    materials = {}  # each data spec read, tokenized and counted once for the whole grid
    for arm, budget, seed, factor, config in cells:
        batch = base.batch_size or (rule and rule.batch_size(arm, config, budget))
        batch = batch or batch_size_for(arm, config, budget)
        rate = rule.learning_rate(arm, budget) if rule else learning_rate_for(arm, config)
        warmup = warmup_for(config, batch)
        changes = {
            **arm.changes,
            "vocabulary_size": config.vocabulary_size,
            **{k: getattr(config, k) for k in SHAPE_FIELDS},
            "learning_rate": rate,
            "warmup_steps": warmup,
        }
        run = base.replace(flops=budget, seed=seed, batch_size=batch)
        plan = plan_run(arm.preset, run, overrides=changes, materials=materials)
        planned.append(PlannedRun(arm, budget, seed, factor, changes, plan, rate, warmup))
    return planned


def variant_run(
    p, budget, variant, label, *, batch=None, materials=None, evaluations=None, **run_fields
):
    """A variant of planned cell `p` on `budget` FLOPs (`zoo sweep epochs`, `zoo sweep
    continued`): the cell's shape, changes and peak rate kept; `batch` given, or by default the
    grid's for that budget (the cell's tokens per step, fewer where the budget would buy under
    MIN_STEPS steps); the warmup re-derived for the batch; `run_fields` set on the run;
    `evaluations`: evaluate about that many times over the variant's own steps."""
    if batch is None:
        seq_len = p.config.max_sequence_length
        batch = within_min_steps(p.plan.run.batch_size * seq_len, p.config, budget)
    changes = {**p.changes, "warmup_steps": warmup_for(p.config, batch)}
    run = p.plan.run.replace(flops=budget, batch_size=batch, **run_fields)
    plan = plan_run(p.arm.preset, run, overrides=changes, materials=materials)
    if evaluations:
        run = run.replace(eval_interval=max(1, plan.budget.steps // evaluations))
        plan = plan_run(p.arm.preset, run, overrides=changes, materials=materials)
    return dataclasses.replace(
        p,
        plan=plan,
        changes=changes,
        warmup_steps=changes["warmup_steps"],
        variant=variant,
        label=label,
    )


def shared_run_config(run, fields, owner, own_options):
    """The `RunConfig` every run of a comparison or sweep (`owner`) shares. The budget, seed and
    starting weights are the owner's own (`own_options` names its options), so giving one is
    refused. Without `run`, every model gets the shared tokenizer: equal footing."""
    if run is None:
        fields.setdefault("tokenizer", "shared")
    base = run_config(run, **fields)
    fixed = sorted(
        set(BUDGET_FIELDS + ("seed", "init_from"))
        & {k for k, v in base.to_dict().items() if v != RunConfig.__dataclass_fields__[k].default}
    )
    if fixed:
        raise RunConfigError(
            fixed[0], f"is set by the {owner} itself ({own_options}); it cannot be given"
        )
    return base


def sweep_run_config(run=None, **fields):
    """The shared `RunConfig` of a sweep: the budget and seed are the sweep's own."""
    if run is None:
        # The spike guard's first rule judged each gradient norm against a window of earlier
        # accepted ones from step 16. A sweep's runs warm up for a few to a few tens of steps
        # and are a few hundred steps long, so that window was the fastest-changing phase of
        # the run: measured, an 84K-parameter LLaMA at 1e12 FLOPs had 10 of its first 35 steps
        # skipped and then stalled. The committed studies therefore trained without it, and
        # sweeps keep it off by default so their runs stay comparable and reusable
        # (--spike-guard turns the current rule on); a run that diverges is reported as a
        # failed cell and left out of the fits.
        fields.setdefault("spike_guard", False)
    # The byte vocabulary is the shared byte-level BPE's, at its minimum size.
    return shared_run_config(run, fields, "sweep", "budgets, seeds")


def isoflop_cells(arm, budgets, sizes, seeds, shapes=DEFAULT_SHAPES, center=TOKENS_PER_PARAMETER):
    """Cells of an IsoFLOP study: per budget, `sizes` shapes around the size that trains on
    `center` tokens per parameter (Chinchilla's 20 by default; a study may centre on the
    optimum an earlier one measured)."""
    if isinstance(center, bool) or not isinstance(center, (int, float)) or not 0 < center < 1e6:
        raise FieldError(
            "center", f"must be a positive number of tokens per parameter; received {center!r}"
        )
    if isinstance(sizes, bool) or not isinstance(sizes, int) or sizes < 3:
        raise FieldError(
            "sizes", f"must be at least 3 (a parabola has three parameters); received {sizes!r}"
        )
    check_seeds(seeds)
    config = sweep_model(arm)
    cells = []
    for budget in budgets:
        for factor, shape in isoflop_shapes(config, budget, sizes, shapes=shapes, center=center):
            for seed in range(seeds):
                cells.append((arm, budget, seed, factor, shape))
    return cells


def parse_allocations(allocation):
    """'compute-optimal', 'fixed' or a comma-separated list of both (or `Allocation`s) -> a
    tuple of `zoo.recipe.Allocation`, checked."""
    names = tuple(
        a if isinstance(a, Allocation) else a.strip()
        for a in (allocation.split(",") if isinstance(allocation, str) else allocation or ())
        if isinstance(a, Allocation) or a.strip()
    )
    choices = ", ".join(a.label for a in ALLOCATIONS)
    allocations = []
    for name in names:
        parsed = Allocation.parse(name)
        if parsed is None:
            raise FieldError(
                "allocation",
                f"must be one of {choices} (or both, comma-separated); received {name!r}",
            )
        allocations.append(parsed)
    if not allocations or len(set(allocations)) != len(allocations):
        raise FieldError(
            "allocation", f"lists each of {choices} at most once; received {allocation!r}"
        )
    return tuple(allocations)


def compute_cells(
    arms, budgets, seeds, allocation=Allocation.COMPUTE_OPTIMAL, shapes=DEFAULT_SHAPES
):
    """Cells of a loss-against-compute sweep. `allocation` is one allocation or a list: with
    two, every arm is trained under each (named "<arm> (<allocation>)"), so the sweep compares
    allocations of one recipe and optimizer. Fixed arms keep the arm's own shape (the preset's,
    or one set with `--set num_layers=… hidden_dim=…`) at every budget; compute-optimal arms are
    resized per budget along the same proportions, by the `shapes` rule."""
    allocations = parse_allocations(allocation)
    rule = parse_shapes(shapes)
    check_seeds(seeds)
    cells = []
    for arm in arms:
        config = sweep_model(arm)
        for chosen in allocations:
            optimal = chosen is Allocation.COMPUTE_OPTIMAL
            named = (
                arm
                if len(allocations) == 1
                else dataclasses.replace(arm, name=f"{arm.name} ({chosen.label})")
            )
            for budget in budgets:
                shape = rule.resize(config, budget) if optimal else config
                for seed in range(seeds):
                    cells.append((named, budget, seed, 1.0 if optimal else None, shape))
    return cells


def check_seeds(seeds):
    """Seeds 0 .. seeds - 1: at least one, a whole number."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise FieldError("seeds", f"must be at least 1; received {seeds!r}")


def hyperparameter_rules(
    tune_lr,
    spike_guard=False,
    shapes=DEFAULT_SHAPES,
    rate_factors=None,
    rates=None,
    tokenizer=TokenizerMode.SHARED,
):
    rule = (
        f"η_opt = a·C^b per arm (and B_opt = c·C^d where fitted), from the rates sweep {rates} "
        "(DeepSeek LLM's procedure)"
        if rates
        else LR_RULE
    )
    if rate_factors:  # a rates sweep's grid
        rate = (
            f"each of ×{', ×'.join(f'{f:g}' for f in rate_factors)} the rule's rate, every run "
            "full length; rule: " + rule
        )
    elif tune_lr:
        rate = (
            "per size: the best of ×1/3, ×1, ×3 of the rule's rate by final "
            "training loss at a quarter of the budget; rule: " + LR_RULE
        )
    else:
        rate = rule
    shape_rule = parse_shapes(shapes)
    return {
        "vocabulary": (
            NATIVE_VOCABULARY_RULE
            if TokenizerMode(tokenizer) is TokenizerMode.NATIVE
            else VOCABULARY_RULE
        ),
        "learning_rate": rate,
        "warmup": WARMUP_RULE,
        "schedule": "the recipe's cosine, decayed to each run's own length",
        "batch": (f"the batch law of {rates} where it fitted one, else " if rates else "")
        + BATCH_RULE,
        "spike_guard": (
            "on"
            if spike_guard
            else "off, the sweeps' default (see zoo.experiments.grid.sweep_run_config)"
        )
        + "; a run that fails is a failed cell, reported and not fitted",
        "shapes": (
            f"{shape_rule.name}: {shape_rule.description}; the family's "
            f"feed-forward ratio, width per layer within {SWEEP_ASPECT_TOLERANCE:g}× of the "
            "family's"
        ),
    }


def plan_row(p, status):
    """The plan table's row of planned run `p` (status: reused, resumed, training, failed)."""
    config = p.config
    budget = p.plan.budget
    return {
        "arm": p.arm.name, "budget": p.flops, "seed": p.seed, "size_factor": p.size_factor,
        "num_layers": config.num_layers, "hidden_dim": config.hidden_dim,
        "params": count_params(config), "non_embedding_params": count_non_embedding_params(config),
        "batch_size": budget.batch_size, "steps": budget.steps, "tokens": budget.tokens,
        "flops": budget.flops, "tokens_per_parameter": budget.tokens / count_params(config),
        "epochs": budget.tokens / p.plan.data.train_tokens,
        "learning_rate": p.learning_rate, "warmup_steps": p.warmup_steps,
        "estimated_seconds": p.estimated_seconds, "status": status, "key": p.plan.key,
    }  # fmt: skip


def failure_row(p, record):
    """The row of a planned run that failed (`record`: its run, or None if it never started)."""
    row = plan_row(p, "failed")
    failure = record.failure() if record is not None else None
    return {
        **{
            k: row[k]
            for k in (
                "arm",
                "budget",
                "seed",
                "num_layers",
                "hidden_dim",
                "params",
                "learning_rate",
            )
        },
        "step": failure and failure.get("step"),
        "reason": failure and failure.get("reason"),
        "run": str(record.path) if record is not None else None,
    }
