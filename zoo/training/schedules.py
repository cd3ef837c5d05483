"""Learning-rate schedules of the recipes, all counted in applied optimizer updates.

COSINE is Keras's own `CosineDecay`: linear warmup from 0 to the peak, then cosine decay to
`final_learning_rate_fraction` of the peak at the last step, constant after. The two classes here
are what Keras lacks: PaLM's inverse-square-root decay, and a wrapper that keeps any schedule in
applied updates when the optimizer accumulates gradients.

Keras evaluates a schedule at the optimizer's update counter *before* it increments, so update k
(counting from 0) uses `schedule(k)`; with warmup the first update therefore has rate 0, as in
Hugging Face's `get_cosine_schedule_with_warmup`.
"""

import keras
from keras import ops

from zoo.errors import ConfigError
from zoo.recipe import Schedule

# The papers warm up for 0.1–1% of training (GPT-3: 375M of 300B tokens; LLaMA: 2,000 of ~250k
# steps). A short run keeps the recipe's warmup only while it is at most this fraction of the run,
# so a test or a small budget does not spend most of its steps below the peak.
MAX_WARMUP_FRACTION = 0.1


def capped_warmup_steps(warmup_steps, total_steps):
    """The recipe's warmup, capped at `MAX_WARMUP_FRACTION` of the run (rounded down)."""
    return min(int(warmup_steps), int(total_steps * MAX_WARMUP_FRACTION))


@keras.saving.register_keras_serializable(package="zoo")
class InverseSquareRootSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """PaLM §5: the peak for the first `constant_steps` updates, then peak·sqrt(constant_steps/k).

    The two pieces meet at k = constant_steps, so the rate is continuous. `constant_steps=0` is read
    as 1 (peak at the first update, then peak/sqrt(k)), which keeps the rate finite.

    Args:
        peak_learning_rate: the constant rate of the first phase (PaLM: 1e-2).
        constant_steps: updates at the peak before the decay starts (PaLM: 10,000).
    """

    def __init__(self, peak_learning_rate, constant_steps, name="InverseSquareRootSchedule"):
        super().__init__()
        if not peak_learning_rate > 0:
            raise ConfigError(
                f"peak_learning_rate must be positive; received {peak_learning_rate!r}"
            )
        if int(constant_steps) < 0:
            raise ConfigError(f"constant_steps must be >= 0; received {constant_steps!r}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.constant_steps = int(constant_steps)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        constant_steps = ops.cast(max(self.constant_steps, 1), "float32")
        return self.peak_learning_rate * ops.sqrt(
            constant_steps / ops.maximum(step, constant_steps)
        )

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "constant_steps": self.constant_steps,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="zoo")
class UpdateStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` counted in applied updates while the optimizer accumulates gradients.

    Under `gradient_accumulation_steps=n`, Keras 3 evaluates the schedule at its micro-batch
    counter (`BaseOptimizer._get_current_learning_rate` passes `_iterations`, which advances n times
    per applied update), so an unwrapped schedule would run n times too fast. Update k is applied
    at micro-batch k·n + n − 1, and floor division by n recovers k.
    """

    def __init__(self, schedule, steps_per_update):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        if int(steps_per_update) < 1:
            raise ConfigError(f"steps_per_update must be >= 1; received {steps_per_update!r}")
        self.schedule = schedule
        self.steps_per_update = int(steps_per_update)

    def __call__(self, step):
        return self.schedule(ops.floor_divide(step, self.steps_per_update))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "steps_per_update": self.steps_per_update,
        }


def make_schedule(recipe, total_steps, peak_learning_rate):
    """The recipe's schedule for a run of `total_steps` applied updates, peaking at
    `peak_learning_rate`.

    COSINE warms up for `capped_warmup_steps(recipe.warmup_steps, total_steps)` updates and ends
    at `recipe.final_learning_rate_fraction` of the peak at `total_steps`. INVERSE_SQRT keeps the
    recipe's constant phase uncapped: it is spent at the peak, so it wastes nothing in a short run.
    """
    total_steps = int(total_steps)
    if total_steps < 1:
        raise ConfigError(f"total_steps must be a positive integer; received {total_steps!r}")
    if not peak_learning_rate > 0:
        raise ConfigError(f"learning_rate must be positive; received {peak_learning_rate!r}")
    peak = float(peak_learning_rate)
    if recipe.schedule is Schedule.COSINE:
        warmup = capped_warmup_steps(recipe.warmup_steps, total_steps)
        fraction = float(recipe.final_learning_rate_fraction)
        if warmup == 0:
            return keras.optimizers.schedules.CosineDecay(peak, total_steps, alpha=fraction)
        return keras.optimizers.schedules.CosineDecay(
            0.0, total_steps - warmup, alpha=fraction, warmup_target=peak, warmup_steps=warmup
        )
    if recipe.schedule is Schedule.INVERSE_SQRT:
        return InverseSquareRootSchedule(peak, recipe.warmup_steps)
    raise ConfigError(f"unknown schedule {recipe.schedule!r}")


def rising_steps(recipe, total_steps):
    """Updates during which the recipe's rate rises to its peak in a run of `total_steps`: the
    capped warmup of COSINE; none for INVERSE_SQRT, which starts at its peak."""
    if recipe.schedule is Schedule.COSINE:
        return capped_warmup_steps(recipe.warmup_steps, int(total_steps))
    return 0


def describe_schedule(schedule):
    """The numbers that define `schedule`, as plain JSON-ready values."""
    if isinstance(schedule, UpdateStepSchedule):
        inner = describe_schedule(schedule.schedule)
        return {**inner, "steps_per_update": schedule.steps_per_update}
    if isinstance(schedule, keras.optimizers.schedules.CosineDecay):
        peak = schedule.warmup_target
        warmup = schedule.warmup_steps if peak is not None else 0
        peak = schedule.initial_learning_rate if peak is None else peak
        return {
            "schedule": "CosineDecay",
            "peak_learning_rate": float(peak),
            "warmup_steps": int(warmup),
            "decay_steps": int(schedule.decay_steps),
            "total_steps": int(warmup + schedule.decay_steps),
            "final_learning_rate": float(peak * schedule.alpha),
        }
    if isinstance(schedule, InverseSquareRootSchedule):
        return {
            "schedule": "InverseSquareRootSchedule",
            "peak_learning_rate": schedule.peak_learning_rate,
            "constant_steps": schedule.constant_steps,
        }
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return {"schedule": type(schedule).__name__, **schedule.get_config()}
    return {"schedule": "constant", "peak_learning_rate": float(ops.convert_to_numpy(schedule))}
