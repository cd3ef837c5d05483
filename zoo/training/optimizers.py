"""`make_optimizer`: a `TrainingRecipe` turned into the Keras optimizer the paper describes.

    ADAM       ClippedAdam: keras.optimizers.Adam, no weight decay (Gopher)
    ADAMW      MaskedAdamW: keras.optimizers.AdamW decaying matrices only (GPT-3, Chinchilla, LLaMA)
    ADAFACTOR  UnfactoredAdafactor (PaLM)

Betas, epsilon and global-norm clipping come from the recipe (sparse gradients are made dense
before clipping, `zoo.training.clipping`); the schedule from
`zoo.training.schedules.make_schedule`. Weight decay applies to matmul kernels only
(`zoo.training.weight_decay.is_decayed`); for ADAFACTOR it is PaLM's dynamic lr² decay, matched
at the peak (`_adafactor_weight_decay`). `spike_guard` wraps any of them in
`zoo.training.spike_guard.SpikeGuard`, which skips updates whose gradient norm is a spike.
"""

import keras

from zoo.errors import ConfigError
from zoo.recipe import Optimizer
from zoo.training.adafactor import UnfactoredAdafactor
from zoo.training.clipping import DenseGradientClipping
from zoo.training.schedules import (
    UpdateStepSchedule,
    describe_schedule,
    make_schedule,
    rising_steps,
)
from zoo.training.spike_guard import SpikeGuard
from zoo.training.weight_decay import MatrixWeightDecay


@keras.saving.register_keras_serializable(package="zoo")
class MaskedAdamW(DenseGradientClipping, MatrixWeightDecay, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose decay skips norms, biases and embeddings, also after a
    reload (Keras does not serialise `exclude_from_weight_decay`)."""


@keras.saving.register_keras_serializable(package="zoo")
class ClippedAdam(DenseGradientClipping, keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose global-norm clipping counts sparse gradients correctly."""


def make_optimizer(
    recipe,
    total_steps,
    model=None,
    learning_rate=None,
    gradient_accumulation_steps=None,
    spike_guard=None,
):
    """The optimizer of `recipe` for a run of `total_steps` applied updates.

    Args:
        recipe: a `TrainingRecipe`.
        total_steps: applied optimizer updates in the run (not micro-batches); the cosine
            schedule reaches its final rate here.
        model: the model to train; its variables are masked for weight decay now (the mask is
            derived again when the optimizer is built, so `None` is allowed).
        learning_rate: peak rate replacing the recipe's.
        gradient_accumulation_steps: micro-batches averaged into each update (None or 1: none).
            Passed to Keras's argument of the same name; `optimizer.iterations` then counts
            applied updates, and the schedule is wrapped so it does too.

        spike_guard: None or False for none; True for a `SpikeGuard` with its defaults; or a
            dict of `SpikeGuard` arguments (`threshold`, `window`, `min_history`,
            `warmup_steps`, `max_consecutive_skips`). The guard wraps the recipe's optimizer
            and skips updates whose gradient norm is a spike; it judges none before the
            schedule's rate stops rising (`warmup_steps`, unless given).

    Returns:
        An unbuilt `keras.optimizers.Optimizer`; `describe_optimizer` says what it is.
    """
    peak = recipe.learning_rate if learning_rate is None else learning_rate
    schedule = make_schedule(recipe, total_steps, peak)
    accumulation = gradient_accumulation_steps
    if accumulation is not None:
        if isinstance(accumulation, bool) or not isinstance(accumulation, int) or accumulation < 1:
            raise ConfigError(
                "gradient_accumulation_steps must be a positive integer; received "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        if accumulation == 1:
            accumulation = None  # Keras requires >= 2 for accumulation; 1 means none
        else:
            schedule = UpdateStepSchedule(schedule, accumulation)
    common = dict(
        learning_rate=schedule,
        global_clipnorm=recipe.clip_norm or None,
        gradient_accumulation_steps=accumulation,
    )

    if recipe.optimizer is Optimizer.ADAM:
        if recipe.weight_decay:
            # Keras would decay decoupled, i.e. silently turn Adam into AdamW.
            raise ConfigError(
                "optimizer 'adam' takes no weight decay (decoupled decay is optimizer 'adamw'); "
                f"received weight_decay={recipe.weight_decay!r}"
            )
        optimizer = ClippedAdam(
            beta_1=recipe.beta_1, beta_2=_beta_2(recipe), epsilon=recipe.epsilon, **common
        )
    elif recipe.optimizer is Optimizer.ADAMW:
        optimizer = MaskedAdamW(
            weight_decay=recipe.weight_decay,
            beta_1=recipe.beta_1,
            beta_2=_beta_2(recipe),
            epsilon=recipe.epsilon,
            **common,
        )
    elif recipe.optimizer is Optimizer.ADAFACTOR:
        if recipe.beta_2_decay is None:
            raise ConfigError("optimizer 'adafactor' needs beta_2_decay (PaLM: -0.8)")
        optimizer = UnfactoredAdafactor(
            beta_1=recipe.beta_1,
            beta_2_decay=recipe.beta_2_decay,
            epsilon_1=recipe.epsilon,
            weight_decay=_adafactor_weight_decay(recipe, peak),
            **common,
        )
    else:
        raise ConfigError(f"unknown optimizer {recipe.optimizer!r}")

    if model is not None and isinstance(optimizer, MatrixWeightDecay):
        optimizer.mask_weight_decay(model.trainable_variables)
    if spike_guard is None or spike_guard is False:
        return optimizer
    if spike_guard is True:
        spike_guard = {}
    if not isinstance(spike_guard, dict):
        raise ConfigError(
            "spike_guard must be None, a bool or a dict of SpikeGuard arguments; "
            f"received spike_guard={spike_guard!r}"
        )
    arguments = {"warmup_steps": rising_steps(recipe, total_steps), **spike_guard}
    try:
        return SpikeGuard(optimizer, **arguments)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"spike_guard={spike_guard!r}: {error}") from None


def _beta_2(recipe):
    if recipe.beta_2 is None:
        raise ConfigError(f"optimizer {recipe.optimizer.value!r} needs beta_2; received None")
    return recipe.beta_2


def _adafactor_weight_decay(recipe, peak):
    """Keras's decay coefficient λ (per-step shrink λ·lr_t) for PaLM's dynamic decay lr_t².

    The recipe records PaLM's decay at the peak rate (1e-4 = (1e-2)²). It scales with the peak
    squared, so an overridden peak keeps "lr²" there; and λ = decay_at_peak / peak makes λ·lr_t
    equal lr_t² throughout the constant phase. After it λ·lr_t falls as lr_t, not lr_t², i.e. as
    k^-1/2 rather than k^-1: Keras applies decay as weight_decay × lr_t and we keep its mechanism.
    """
    if not recipe.weight_decay:
        return None
    decay_at_peak = recipe.weight_decay * (peak / recipe.learning_rate) ** 2
    return decay_at_peak / peak


def describe_optimizer(optimizer, variables=None):
    """What was actually constructed, as JSON-ready values (for the run record and tests).

    `variables` (default: those the optimizer was built on) are counted into decayed and
    excluded; the counts are left out when neither is available.
    """
    guard = optimizer if isinstance(optimizer, SpikeGuard) else None
    if guard is not None:
        optimizer = guard.inner_optimizer
    config = optimizer.get_config()
    out = {
        "optimizer": type(optimizer).__name__,
        "learning_rate": describe_schedule(optimizer._learning_rate),
        "global_clipnorm": config["global_clipnorm"],
        "weight_decay": config["weight_decay"],
        "gradient_accumulation_steps": config["gradient_accumulation_steps"],
    }
    for key in ("beta_1", "beta_2", "epsilon", "beta_2_decay", "epsilon_1", "epsilon_2"):
        if key in config:
            out[key] = config[key]
    if "clip_threshold" in config:
        out["update_clip_threshold"] = config["clip_threshold"]
    if variables is None and optimizer.built:
        variables = optimizer._trainable_variables
    if variables is not None:
        decayed = sum(
            bool(optimizer.weight_decay) and optimizer._use_weight_decay(v) for v in variables
        )
        out["decayed_variables"] = int(decayed)
        out["excluded_variables"] = len(variables) - int(decayed)
    if guard is not None:
        out["spike_guard"] = {
            "rule": guard.rule_version,
            "threshold": guard.threshold,
            "window": guard.window,
            "min_history": guard.min_history,
            "warmup_steps": guard.warmup_steps,
            "max_consecutive_skips": guard.max_consecutive_skips,
        }
    return out
