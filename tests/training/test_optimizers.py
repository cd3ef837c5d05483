"""The optimisation recipe of each family: optimizer, schedule, weight-decay mask, accumulation,
PaLM's unfactored Adafactor against NumPy, and XLA training with a save/load round trip."""

import dataclasses
import math

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from tests.helpers import FAMILIES, current_learning_rate
from zoo.errors import ConfigError
from zoo.training.adafactor import UnfactoredAdafactor
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import (
    ClippedAdam,
    MaskedAdamW,
    describe_optimizer,
    make_optimizer,
)
from zoo.training.schedules import InverseSquareRootSchedule, UpdateStepSchedule

TOTAL_STEPS = 2000

# What each family's optimizer must be after construction (reference/papers.md §3, and each
# recipe's stated choices where the paper is silent). Adafactor's "epsilon" is ε1; its weight
# decay is Keras's coefficient λ = peak, so that λ·lr = lr² (PaLM's dynamic decay) at the peak.
ADAMW_GPT3 = (MaskedAdamW, 0.9, 0.95, 1e-8, 0.1, 1.0, "CosineDecay")
EXPECTED = {
    "gpt2": ADAMW_GPT3,
    "gpt3": ADAMW_GPT3,
    "jurassic1": ADAMW_GPT3,
    "mt-nlg": ADAMW_GPT3,
    "gopher": (ClippedAdam, 0.9, 0.95, 1e-8, None, 1.0, "CosineDecay"),
    "chinchilla": ADAMW_GPT3,
    "palm": (UnfactoredAdafactor, 0.9, None, 1e-30, 1e-2, 1.0, "InverseSquareRootSchedule"),
    "llama": (MaskedAdamW, 0.9, 0.95, 1e-5, 0.1, 1.0, "CosineDecay"),
    "mistral": (MaskedAdamW, 0.9, 0.95, 1e-5, 0.1, 1.0, "CosineDecay"),  # LLaMA's (unpublished)
}


def lr_at(optimizer, step):
    optimizer._iterations.assign(step)
    return current_learning_rate(optimizer)


def cosine(step, peak, warmup, total, fraction):
    if step < warmup:
        return peak * step / warmup
    progress = (min(step, total) - warmup) / (total - warmup)
    return peak * (fraction + (1 - fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


def test_every_family_has_an_expectation():
    assert set(EXPECTED) == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_optimizer_and_schedule(family):
    recipe = zoo.get_recipe(f"{family}-small").training
    model = zoo.build(f"{family}-nano")
    optimizer = make_optimizer(recipe, TOTAL_STEPS, model)
    cls, beta_1, beta_2, epsilon, weight_decay, clip, schedule = EXPECTED[family]
    assert type(optimizer) is cls
    described = describe_optimizer(optimizer, model.trainable_variables)
    assert described["beta_1"] == beta_1
    if cls is UnfactoredAdafactor:
        assert (described["beta_2_decay"], described["epsilon_1"]) == (-0.8, epsilon)
        assert described["update_clip_threshold"] == 1.0
    else:
        assert (described["beta_2"], described["epsilon"]) == (beta_2, epsilon)
    if weight_decay is None:
        assert described["weight_decay"] is None
    else:
        assert described["weight_decay"] == pytest.approx(weight_decay)
    assert optimizer.global_clipnorm == clip and optimizer.clipnorm is None
    assert described["learning_rate"]["schedule"] == schedule
    assert described["gradient_accumulation_steps"] is None
    assert (described["decayed_variables"] > 0) == (weight_decay is not None)

    peak, warmup = recipe.learning_rate, recipe.warmup_steps
    if schedule == "CosineDecay":
        fraction = recipe.final_learning_rate_fraction
        assert fraction == 0.1 and warmup == 100  # the twins' shared settings
        mid = (warmup + TOTAL_STEPS) // 2
        for step, expected in [
            (0, 0.0),
            (warmup // 2, peak / 2),
            (warmup, peak),
            (mid, peak * (0.1 + 0.9 * 0.5)),
            (TOTAL_STEPS, 0.1 * peak),
            (TOTAL_STEPS + 500, 0.1 * peak),  # constant after the cycle
            (777, cosine(777, peak, warmup, TOTAL_STEPS, fraction)),
        ]:
            assert lr_at(optimizer, step) == pytest.approx(expected, rel=1e-5, abs=1e-12), step
    else:
        for step, expected in [
            (0, peak),
            (warmup - 1, peak),
            (warmup, peak),
            (4 * warmup, peak / 2),
            (TOTAL_STEPS, peak * math.sqrt(warmup / TOTAL_STEPS)),
        ]:
            assert lr_at(optimizer, step) == pytest.approx(expected, rel=1e-5), step


def test_warmup_is_capped_at_a_tenth_of_a_short_run():
    recipe = zoo.get_recipe("llama-small").training  # warmup 100
    described = describe_optimizer(make_optimizer(recipe, 200))["learning_rate"]
    assert (described["warmup_steps"], described["total_steps"]) == (20, 200)
    tiny = make_optimizer(recipe, 5)  # no room for warmup: start at the peak
    assert lr_at(tiny, 0) == pytest.approx(recipe.learning_rate)
    assert lr_at(tiny, 5) == pytest.approx(0.1 * recipe.learning_rate)
    long = describe_optimizer(make_optimizer(recipe, 10_000))["learning_rate"]
    assert long["warmup_steps"] == 100


def test_inverse_sqrt_constant_phase_is_not_capped():
    recipe = zoo.get_recipe("palm-small").training  # constant for 100 steps
    optimizer = make_optimizer(recipe, 50)
    assert describe_optimizer(optimizer)["learning_rate"]["constant_steps"] == 100
    assert lr_at(optimizer, 49) == pytest.approx(recipe.learning_rate)


def test_learning_rate_override():
    adamw = make_optimizer(zoo.get_recipe("gpt2-small").training, 1000, learning_rate=1e-3)
    assert lr_at(adamw, 100) == pytest.approx(1e-3)
    palm = zoo.get_recipe("palm-small").training
    adafactor = make_optimizer(palm, 1000, learning_rate=5e-3)
    assert lr_at(adafactor, 0) == pytest.approx(5e-3)
    # PaLM's decay is lr²: at the new peak, λ·lr = (5e-3)².
    assert adafactor.weight_decay * 5e-3 == pytest.approx(5e-3**2)


def test_bad_recipes_and_arguments_raise():
    gopher = zoo.get_recipe("gopher-small").training
    with pytest.raises(ConfigError, match="adamw"):
        make_optimizer(dataclasses.replace(gopher, weight_decay=0.1), 100)
    with pytest.raises(ConfigError, match="total_steps"):
        make_optimizer(gopher, 0)
    with pytest.raises(ConfigError, match="gradient_accumulation_steps"):
        make_optimizer(gopher, 100, gradient_accumulation_steps=0)
    single = make_optimizer(gopher, 100, gradient_accumulation_steps=1)
    assert single.gradient_accumulation_steps is None


# --- weight decay: matrices only ---


def _matmul_weight(path):
    """Independent statement of the rule: kernels, the untied head and Transformer-XL's W_R."""
    return path.endswith(("/kernel", "/relative_kernel", "/reverse_embeddings"))


@pytest.mark.parametrize(
    "name, decayed", [("llama-nano", 15), ("gpt2-nano", 12), ("gopher-nano", 14)]
)  # per layer: query, key, value, output and each feed-forward kernel (+ W_R); + untied head
def test_weight_decay_skips_norms_biases_and_embeddings(name, decayed):
    model = zoo.build(name)
    recipe = zoo.get_recipe("llama-small").training  # AdamW, weight decay 0.1
    optimizer = make_optimizer(recipe, 5, model)  # 5 steps: no warmup, lr(0) is the peak
    variables = model.trainable_variables
    for v in variables:
        assert optimizer._use_weight_decay(v) == _matmul_weight(v.path), v.path
    assert sum(_matmul_weight(v.path) for v in variables) == decayed
    assert describe_optimizer(optimizer, variables)["decayed_variables"] == decayed

    # Behaviour, not bookkeeping: with zero gradients AdamW's moment update is exactly 0, so only
    # decay moves a weight, by the factor (1 - lr·wd).
    before = [np.array(v.numpy()) for v in variables]
    optimizer.apply([ops.zeros(v.shape) for v in variables], variables)
    shrink = 1 - recipe.learning_rate * recipe.weight_decay
    for v, old in zip(variables, before):
        expected = old * shrink if _matmul_weight(v.path) else old
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6, err_msg=v.path)


def test_mask_is_derived_again_when_built_without_the_model():
    # What a reloaded optimizer goes through: built on the variables with no mask set up front.
    model = zoo.build("gpt2-nano")
    optimizer = make_optimizer(zoo.get_recipe("gpt2-small").training, 10)
    optimizer.build(model.trainable_variables)
    for v in model.trainable_variables:
        assert optimizer._use_weight_decay(v) == _matmul_weight(v.path), v.path


# --- gradient accumulation ---


def test_keras_evaluates_schedules_at_micro_batches():
    """Pins the Keras behaviour that `UpdateStepSchedule` corrects: with accumulation over 2,
    updates are applied at micro-batches 1, 3, 5 and read the schedule there."""
    schedule = keras.optimizers.schedules.PolynomialDecay(1.0, 10, 0.0)  # 1 - step/10
    optimizer = keras.optimizers.SGD(schedule, gradient_accumulation_steps=2)
    variable = keras.Variable(np.zeros(1, "float32"))
    for _ in range(6):
        optimizer.apply([ops.ones(1)], [variable])
    assert (int(optimizer.iterations), int(optimizer._iterations)) == (3, 6)
    np.testing.assert_allclose(variable.numpy(), [-(0.9 + 0.7 + 0.5)], rtol=1e-6)


@pytest.mark.parametrize("family", ["llama", "palm"])
def test_accumulation_matches_the_averaged_batch(family):
    """Two micro-batches averaging to g give the same trajectory as one batch of g: the same
    schedule position, bias correction (Adam) or β2 step (Adafactor), clipping and decay."""
    recipe = zoo.get_recipe(f"{family}-small").training
    recipe = dataclasses.replace(recipe, warmup_steps=2)  # constant/warmup phase ends mid-test
    rng = np.random.default_rng(0)
    init = rng.normal(size=(4, 3)).astype("float32")
    kernels = [keras.Variable(init, name="kernel") for _ in range(2)]
    plain = make_optimizer(recipe, 8, learning_rate=0.05)
    accumulating = make_optimizer(recipe, 8, learning_rate=0.05, gradient_accumulation_steps=2)
    assert isinstance(accumulating._learning_rate, UpdateStepSchedule)
    for _ in range(6):
        g, d = rng.normal(size=(2, 4, 3)).astype("float32") * 3
        plain.apply([g], [kernels[0]])
        accumulating.apply([g + d], [kernels[1]])
        accumulating.apply([g - d], [kernels[1]])
        np.testing.assert_allclose(kernels[1].numpy(), kernels[0].numpy(), rtol=1e-5, atol=1e-6)
        assert current_learning_rate(accumulating) == pytest.approx(current_learning_rate(plain))
    assert int(accumulating.iterations) == int(plain.iterations) == 6
    assert describe_optimizer(accumulating)["learning_rate"]["steps_per_update"] == 2


# --- PaLM's Adafactor against NumPy ---


def _adafactor_reference(x, gradients, lr, weight_decay, decayed, b1=0.9, decay=-0.8, d=1.0):
    x, m, v = x.astype("float64"), 0.0, 0.0
    rms = lambda a: np.sqrt(np.mean(np.square(a)))  # noqa: E731
    for t, g in enumerate(gradients, start=1):
        if decayed:
            x = x - x * weight_decay * lr
        beta_2 = 1 - t**decay
        v = beta_2 * v + (1 - beta_2) * (g.astype("float64") ** 2 + 1e-30)
        u = g / np.sqrt(v)
        u = u / max(1.0, rms(u) / d)
        m = b1 * m + (1 - b1) * u
        x = x - lr * max(1e-3, rms(x)) * m
    return x


def test_unfactored_adafactor_matches_numpy():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(4, 3)).astype("float32")  # scaled by its RMS, decayed
    bias = np.zeros(5, "float32")  # RMS 0: the ε2 floor scales it; 1-D, never decayed
    # The second gradient is 10× the first, so RMS(U) > 1 and update clipping acts at step 2.
    grads = [
        [rng.normal(size=s).astype("float32") * scale for s in ((4, 3), (5,))]
        for scale in (1.0, 10.0, 0.5)
    ]
    variables = [keras.Variable(kernel, name="kernel"), keras.Variable(bias, name="bias")]
    optimizer = UnfactoredAdafactor(learning_rate=0.1, weight_decay=0.05)
    for g in grads:
        optimizer.apply(g, variables)
    for i, (initial, decayed) in enumerate([(kernel, True), (bias, False)]):
        expected = _adafactor_reference(initial, [g[i] for g in grads], 0.1, 0.05, decayed)
        np.testing.assert_allclose(variables[i].numpy(), expected, rtol=2e-5, atol=1e-7)


def test_serialization_round_trips():
    optimizer = UnfactoredAdafactor(
        learning_rate=UpdateStepSchedule(InverseSquareRootSchedule(3e-3, 7), 4),
        beta_1=0.8,
        beta_2_decay=-0.7,
        epsilon_1=1e-20,
        epsilon_2=2e-3,
        clip_threshold=0.5,
        weight_decay=0.02,
        global_clipnorm=0.25,
        gradient_accumulation_steps=4,
    )
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(optimizer), safe_mode=True
    )
    assert type(restored) is UnfactoredAdafactor
    assert restored.get_config() == optimizer.get_config()
    assert describe_optimizer(restored) == describe_optimizer(optimizer)


# --- training under XLA, and a save/load round trip ---


@pytest.mark.parametrize("name", ["palm-nano", pytest.param("llama-nano", marks=pytest.mark.slow)])
def test_trains_under_xla_and_round_trips(name, tmp_path):
    model = zoo.build(name)
    recipe = zoo.get_recipe(name).training
    optimizer = make_optimizer(recipe, 40, model)
    model.compile(
        optimizer=optimizer, loss=LanguageModelLoss(model.config.z_loss_weight), jit_compile=True
    )
    tokens = np.random.default_rng(2).integers(0, 512, size=(4, 33)).astype("int32")
    x, y = tokens[:, :-1], tokens[:, 1:]
    history = model.fit(x, y, batch_size=4, epochs=12, verbose=0)
    losses = history.history["loss"]
    assert model.jit_compile is True
    assert losses[-1] < losses[0] - 0.1 and losses[-1] < min(losses[:-1]), losses

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # safe mode
    restored = loaded.optimizer
    assert type(restored) is type(optimizer)
    assert int(restored.iterations) == 12
    assert describe_optimizer(restored) == describe_optimizer(optimizer)
    assert loaded.loss.get_config() == model.loss.get_config()
    for v in loaded.trainable_variables:
        assert restored._use_weight_decay(v) == _matmul_weight(v.path), v.path
    # Same configuration and the same state (moments, counter) means the same next update; this
    # avoids compiling the loaded model's train step a second time.
    assert [v.path for v in restored.variables] == [v.path for v in optimizer.variables]
    for a, b in zip(optimizer.variables, restored.variables):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="sparse gradients are TF's")
def test_global_norm_clipping_counts_repeated_embedding_rows():
    """An embedding's sparse gradient with a repeated row is clipped by the norm of its dense
    sum, as JAX's dense gradient is; Keras alone squares the slices separately (too small)."""
    import tensorflow as tf

    recipe = zoo.get_recipe("llama-small").training
    table = keras.Variable(np.zeros((4, 2), "float32"), name="embeddings")
    rows = tf.constant([[3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    sparse = tf.IndexedSlices(rows, tf.constant([1, 1, 2]), tf.constant([4, 2]))
    optimizer = make_optimizer(dataclasses.replace(recipe, clip_norm=1.0), TOTAL_STEPS)
    optimizer.build([table])
    (clipped,) = optimizer._clip_gradients([sparse])
    dense = np.array([[0, 0], [6, 0], [0, 4], [0, 0]], "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(clipped), dense / np.linalg.norm(dense), rtol=1e-6
    )
