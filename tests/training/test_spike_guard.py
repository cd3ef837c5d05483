"""SpikeGuard: the skip rule against NumPy, bit-exact skips, gradient accumulation, `.keras`
round trips, and the same behaviour under JAX (jax.jit) and MirroredStrategy (2 virtual CPUs);
the recorded gradient norms of real runs (the first rule's lock-out of `gpt2-small`, and every
`-small` preset's healthy default run), which the rule must accept.

Synthetic gradients on tiny variables, applied by an XLA-compiled `tf.function` (TensorFlow's
jit_compile path, as `model.compile(jit_compile=True)` uses). "Skipped" is checked as bit
equality of every trainable and inner-optimizer variable, and against an unguarded optimizer
that never saw the skipped step.
"""

import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.helpers import current_learning_rate
from zoo.errors import ConfigError
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import describe_optimizer, make_optimizer
from zoo.training.schedules import rising_steps
from zoo.training.spike_guard import MAX_CONSECUTIVE_SKIPS, MIN_HISTORY, RULE_VERSION, SpikeGuard

DATA = pathlib.Path(__file__).parent / "data"


SHAPES = ((3, 2), (2,))


def _variables():
    return [
        keras.Variable(np.linspace(-1, 1, 6, dtype="float32").reshape(3, 2), name="kernel"),
        keras.Variable(np.full((2,), 0.5, "float32"), name="bias"),
    ]


def _stepper(optimizer, variables):
    """Apply (kernel_grad, bias_grad) in one XLA program, as a compiled train step does."""
    optimizer.build(variables)

    @tf.function(jit_compile=True)
    def step(kernel_grad, bias_grad):
        optimizer.apply([kernel_grad, bias_grad], variables)

    return lambda grads: step(*(tf.constant(g) for g in grads))


def _grads(rng, scale=1.0):
    return [(scale * rng.normal(size=s)).astype("float32") for s in SHAPES]


def _with_norm(norm):
    """Gradients whose global norm is exactly `norm`."""
    kernel = np.zeros(SHAPES[0], "float32")
    kernel[0, 0] = norm
    return [kernel, np.zeros(SHAPES[1], "float32")]


def _state(variables, optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return [np.array(v.numpy()) for v in list(variables) + inner.variables]


def _assert_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)  # NaN-free state: equality is bit equality here
        assert x.dtype == y.dtype


def _counters(guard):
    stats = guard.statistics()
    return stats["accepted_steps"], stats["skipped_steps"], stats["nonfinite_steps"]


def test_accepted_steps_change_every_variable_and_fill_the_window():
    variables = _variables()
    guard = SpikeGuard(keras.optimizers.Adam(1e-2))
    step = _stepper(guard, variables)
    inner = guard.inner_optimizer
    moving = variables + [v for v in inner.variables if v is not inner._learning_rate]
    initial = [v.numpy().copy() for v in moving]
    grads = _grads(np.random.default_rng(0))
    step(grads)
    for variable, before in zip(moving, initial):  # weights, both moments, the iteration count
        assert not np.array_equal(variable.numpy(), before), variable.path
    assert _counters(guard) == (1, 0, 0)
    norm = np.sqrt(sum(np.sum(g.astype("float64") ** 2) for g in grads))
    np.testing.assert_allclose(float(guard.last_gradient_norm.numpy()), norm, rtol=1e-6)
    np.testing.assert_allclose(guard.gradient_norms.numpy()[0], norm, rtol=1e-6)
    assert int(guard.iterations) == 1


def test_a_100x_gradient_after_calm_steps_is_skipped_bit_for_bit():
    rng = np.random.default_rng(1)
    calm = [_grads(rng) for _ in range(MIN_HISTORY + 4)]
    after = _grads(rng)
    spike = [100 * g for g in calm[0]]

    variables, reference_variables = _variables(), _variables()
    guard = SpikeGuard(keras.optimizers.AdamW(1e-2, weight_decay=0.1, global_clipnorm=1.0))
    reference = keras.optimizers.AdamW(1e-2, weight_decay=0.1, global_clipnorm=1.0)
    step, reference_step = _stepper(guard, variables), _stepper(reference, reference_variables)
    for grads in calm:
        step(grads)
        reference_step(grads)
    before = _state(variables, guard)

    step(spike)
    _assert_identical(_state(variables, guard), before)  # weights, moments, iterations: all
    assert _counters(guard) == (len(calm), 1, 0)
    spike_norm = np.sqrt(sum(np.sum(g.astype("float64") ** 2) for g in spike))
    np.testing.assert_allclose(float(guard.last_gradient_norm.numpy()), spike_norm, rtol=1e-6)
    # Every finite norm enters the window, the spike's too (the median and MAD barely move).
    np.testing.assert_allclose(guard.gradient_norms.numpy()[len(calm)], spike_norm, rtol=1e-6)
    assert guard.statistics()["history"] == len(calm) + 1
    assert int(guard.iterations) == len(calm)

    # The next calm step is accepted, and the run is the one that never saw the spike.
    step(after)
    reference_step(after)
    _assert_identical(_state(variables, guard), _state(reference_variables, reference))
    assert _counters(guard) == (len(calm) + 1, 1, 0)


def test_non_finite_gradients_are_skipped_even_without_history():
    variables = _variables()
    guard = SpikeGuard(keras.optimizers.Adam(1e-2))
    step = _stepper(guard, variables)
    initial = _state(variables, guard)
    step([np.full(SHAPES[0], np.nan, "float32"), np.zeros(SHAPES[1], "float32")])
    step([np.zeros(SHAPES[0], "float32"), np.array([np.inf, 1.0], "float32")])
    _assert_identical(_state(variables, guard), initial)
    assert _counters(guard) == (0, 2, 2)
    assert np.isinf(float(guard.last_gradient_norm.numpy()))
    # Before min_history a large but finite norm is accepted: only non-finite ones are skipped.
    step(_with_norm(1e6))
    assert _counters(guard) == (1, 2, 2)


def reference_rule(
    norms,
    threshold=6.0,
    window=128,
    min_history=MIN_HISTORY,
    warmup_steps=0,
    max_consecutive_skips=MAX_CONSECUTIVE_SKIPS,
):
    """The rule in plain NumPy (np.median of the log norms; their MAD scaled by 1 / Φ⁻¹(3/4)
    from the standard library's NormalDist): the 1-based steps it skips, and how often the
    window restarted."""
    from statistics import NormalDist

    to_sigma = 1.0 / NormalDist().inv_cdf(0.75)
    held, skipped, consecutive, restarts, updates = [], [], 0, 0, 0
    for step, norm in enumerate(norms, 1):
        if not math.isfinite(norm):
            skipped.append(step)
            continue
        if updates < warmup_steps:  # neither held nor judged
            updates += 1
            continue
        above = False
        if len(held) >= min_history:
            logs = np.log(np.asarray(held[-window:], "float64"))
            centre = np.median(logs)
            spread = to_sigma * np.median(np.abs(logs - centre))
            above = np.log(norm) > centre + threshold * spread
        if above and consecutive >= max_consecutive_skips:  # moved: accept, restart the window
            kept = min(max_consecutive_skips, window - 1)
            held, consecutive, restarts, updates = (
                held[-kept:] + [norm],
                0,
                restarts + 1,
                updates + 1,
            )
            continue
        held.append(norm)
        if above:
            skipped.append(step)
            consecutive += 1
        else:
            consecutive, updates = 0, updates + 1
    return skipped, restarts


def first_rule(norms, threshold=6.0, window=128, min_history=16):
    """The guard's first rule (RULE_VERSION 1), in NumPy: mean + 6 std (ddof=0) of the last
    `window` *accepted* norms, judged from `min_history` of them. Returns the skipped steps."""
    held, skipped = [], []
    for step, norm in enumerate(norms, 1):
        recent = np.asarray(held[-window:], "float64")
        if not math.isfinite(norm) or (
            len(held) >= min_history and norm > recent.mean() + threshold * recent.std()
        ):
            skipped.append(step)
        else:
            held.append(norm)
    return skipped


def _guard_skips(norms, **arguments):
    """Feed `norms` to a real SpikeGuard (XLA-compiled steps); the 1-based skipped steps."""
    variables = _variables()
    guard = SpikeGuard(keras.optimizers.SGD(1e-6), **arguments)
    step = _stepper(guard, variables)
    skipped = []
    for i, norm in enumerate(norms, 1):
        before = guard.statistics()["skipped_steps"]
        step(_with_norm(norm))
        if guard.statistics()["skipped_steps"] > before:
            skipped.append(i)
    return skipped, guard


def test_median_mad_and_limit_match_numpy():
    window, min_history = 8, 4
    variables = _variables()
    guard = SpikeGuard(keras.optimizers.SGD(1e-3), window=window, min_history=min_history)
    step = _stepper(guard, variables)
    norms = np.random.default_rng(3).uniform(1.0, 2.0, size=13).astype("float32")

    for i, norm in enumerate(norms):
        if i == min_history - 1:  # one short of the history: no limit, a big norm is accepted
            assert guard.statistics()["limit"] == np.inf
        step(_with_norm(norm))
    assert _counters(guard) == (len(norms), 0, 0)

    def band(held):
        logs = np.log(held)
        centre = np.median(logs)
        spread = 1.482602218505602 * np.median(np.abs(logs - centre))
        return np.exp(centre), spread, np.exp(centre + 6.0 * spread)

    held = norms[-window:].astype("float64")  # the ring buffer holds the last `window` norms
    np.testing.assert_allclose(np.sort(guard.gradient_norms.numpy()), np.sort(held), rtol=1e-7)
    median, spread, limit = band(held)
    stats = guard.statistics()
    np.testing.assert_allclose(
        [stats["median"], stats["spread"], stats["limit"]], [median, spread, limit], rtol=1e-5
    )

    step(_with_norm(limit * 1.001))  # just above median · exp(6 robust sd): skipped, but held
    assert _counters(guard) == (len(norms), 1, 0)
    held = np.append(held[1:], limit * 1.001)
    np.testing.assert_allclose(guard.statistics()["limit"], band(held)[2], rtol=1e-5)
    step(_with_norm(band(held)[2] * 0.999))  # just below: accepted
    assert _counters(guard) == (len(norms) + 1, 1, 0)


def test_the_skips_are_numpys_on_noisy_norms_with_spikes_and_a_jump():
    """A lognormal series with isolated spikes, a burst and a lasting 5x jump: the compiled
    guard skips exactly the steps the NumPy rule does, and restarts where it does."""
    rng = np.random.default_rng(11)
    norms = np.exp(rng.normal(0.0, 0.15, size=160))
    norms[[40, 41, 75]] *= 30.0  # isolated spikes
    norms[100:] *= 5.0  # a lasting change of level
    norms[130] *= 40.0  # a spike at the new level
    arguments = dict(window=32, min_history=12, max_consecutive_skips=4, warmup_steps=10)
    expected, restarts = reference_rule(norms, **arguments)
    skipped, guard = _guard_skips(norms, **arguments)
    assert skipped == expected
    assert {41, 42, 76, 131} <= set(skipped) and restarts == 1
    assert guard.statistics()["restarts"] == restarts
    assert [s for s in skipped if 101 <= s <= 110] == [101, 102, 103, 104]  # then it follows


def test_a_lasting_jump_costs_at_most_max_consecutive_skips():
    """Norms that jump 10x for good: the guard skips `max_consecutive_skips` steps, then accepts
    the new level and restarts its window from it; it never locks the run out."""
    norms = [1.0 + 0.01 * (i % 5) for i in range(30)] + [10.0 + 0.1 * (i % 5) for i in range(60)]
    skipped, guard = _guard_skips(norms, window=64, min_history=10, max_consecutive_skips=8)
    assert skipped == list(range(31, 39))
    stats = guard.statistics()
    assert (stats["restarts"], stats["consecutive_skips"]) == (1, 0)
    assert stats["accepted_steps"] == len(norms) - 8
    assert 10.0 <= stats["median"] <= 10.4  # the window holds the new level only


def test_the_warmups_norms_are_neither_judged_nor_held():
    norms = [0.5 + 0.01 * (i % 3) for i in range(30)] + [5.0 + 0.1 * (i % 3) for i in range(30)]
    norms[24] = 100.0  # update 24: still warming up (warmup_steps=30) -> accepted, not held
    norms[55] = 100.0  # after it -> judged against the 25 norms held since the warmup: skipped
    skipped, guard = _guard_skips(norms, min_history=10, warmup_steps=30)
    assert skipped == [56]
    assert guard.statistics()["history"] == 30  # steps 31-60 only
    assert 5.0 <= guard.statistics()["median"] <= 5.2


def _recorded(name):
    return json.loads((DATA / name).read_text())


def test_the_first_rule_locked_out_gpt2_small_and_this_one_accepts_its_norms():
    """The norms `zoo train gpt2-small` measured under the first rule, up to its failure at step
    60 (scripts/record_gradient_norms.py): that rule, in NumPy, skips exactly the steps the run
    recorded as skipped, every one from 31 on (the lock-out); this rule, in the real guard, with
    the schedule's warmup as `make_optimizer` gives it, skips none."""
    run = _recorded("gradient-norms-gpt2-small-rule1.json")["gpt2-small"]
    norms = run["gradient_norm"]
    assert run["ended"].startswith("failed at step 60")
    recorded = [
        step
        for step, before, after in zip(
            run["steps"], [0, *run["skipped_steps"]], run["skipped_steps"]
        )
        if after > before
    ]
    assert first_rule(norms) == recorded
    assert set(range(31, 61)) <= set(recorded)
    warmup = rising_steps(zoo.get_recipe("gpt2-small").training, 300)
    assert warmup == 30
    skipped, _ = _guard_skips(norms, warmup_steps=warmup)
    assert skipped == [] and reference_rule(norms, warmup_steps=warmup) == ([], 0)


@pytest.mark.slow  # several trainings: the default suite keeps its 3 minutes
def test_every_small_presets_default_run_is_accepted():
    """Every `-small` preset's default `zoo train` (300 steps), norms recorded with a guard that
    skipped nothing: the rule skips none of them, in NumPy and in the real guard."""
    runs = _recorded("gradient-norms-small-presets.json")
    assert sorted(runs) == sorted(f"{f}-small" for f in zoo.list_families())
    for name, run in runs.items():
        norms = run["gradient_norm"]
        assert len(norms) == 300 and run["ended"] == "finished", name
        warmup = rising_steps(zoo.get_recipe(name).training, 300)
        assert reference_rule(norms, warmup_steps=warmup) == ([], 0), name
        assert _guard_skips(norms, warmup_steps=warmup)[0] == [], name
        # ...while the first rule would have skipped some of them (most: locked out).
        print(name, "first rule skips", len(first_rule(norms)))


def test_a_skipped_micro_batch_is_as_if_never_seen_under_accumulation():
    rng = np.random.default_rng(4)
    calm = [_grads(rng) for _ in range(6)]
    first, second = _grads(rng), _grads(rng)
    variables, reference_variables = _variables(), _variables()
    guard = SpikeGuard(
        keras.optimizers.Adam(1e-2, gradient_accumulation_steps=2), window=8, min_history=4
    )
    reference = keras.optimizers.Adam(1e-2, gradient_accumulation_steps=2)
    step, reference_step = _stepper(guard, variables), _stepper(reference, reference_variables)
    for grads in calm:
        step(grads)
        reference_step(grads)

    step(first)  # accumulated, not applied
    reference_step(first)
    accumulating = _state(variables, guard)
    step([100 * g for g in first])  # would have completed the update: skipped
    _assert_identical(_state(variables, guard), accumulating)  # accumulator, micro-step count
    step([np.full(SHAPES[0], np.nan, "float32"), second[1]])
    _assert_identical(_state(variables, guard), accumulating)
    assert _counters(guard) == (7, 2, 1)
    assert int(guard.iterations) == 3  # applied updates

    step(second)  # completes the update with `first`
    reference_step(second)
    _assert_identical(_state(variables, guard), _state(reference_variables, reference))
    assert int(guard.iterations) == 4
    assert not np.array_equal(_state(variables, guard)[0], accumulating[0])


def _lm_batches(model, batches, batch_size=2, seed=5):
    rng = np.random.default_rng(seed)
    length = 17
    tokens = rng.integers(0, model.config.vocabulary_size, (batches * batch_size, length + 1))
    return tokens[:, :-1].astype("int32"), tokens[:, 1:].astype("int32")


@pytest.mark.slow
def test_compiled_model_with_the_guard_round_trips_through_keras(tmp_path):
    """mixed_bfloat16 DecoderLM, compiled with XLA; a NaN (NaN token weights) and a spike
    (token weights × 1e4) are skipped during fit; the reload keeps the buffer and counters."""
    model = zoo.DecoderLM(zoo.resolve_config("palm-nano"), dtype="mixed_bfloat16")
    guard = make_optimizer(
        zoo.get_recipe("palm-nano").training,
        40,
        model,
        spike_guard={"min_history": 4, "window": 16},
    )
    assert isinstance(guard, SpikeGuard)
    model.compile(optimizer=guard, loss=LanguageModelLoss(), jit_compile=True)
    x, y = _lm_batches(model, 8)
    weights = np.ones(y.shape, "float32")
    weights[12:14] = np.nan  # batch 6: not finite
    weights[14:16] = 1e4  # batch 7: a spike
    model.fit(x[:12], y[:12], sample_weight=weights[:12], batch_size=2, shuffle=False, verbose=0)
    before = _state(model.trainable_variables, guard)
    model.fit(x[12:], y[12:], sample_weight=weights[12:], batch_size=2, shuffle=False, verbose=0)
    _assert_identical(_state(model.trainable_variables, guard), before)
    assert _counters(guard) == (6, 2, 1)
    assert all(v.dtype == "float32" for v in model.trainable_variables)

    path = tmp_path / "guarded.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.optimizer
    assert type(restored) is SpikeGuard and type(restored.inner_optimizer) is type(
        guard.inner_optimizer
    )
    assert restored.get_config() == guard.get_config()
    assert restored.statistics() == guard.statistics()
    _assert_identical([v.numpy() for v in restored.variables], [v.numpy() for v in guard.variables])
    assert describe_optimizer(restored) == describe_optimizer(guard)
    assert loaded.compute_dtype == "bfloat16"
    # Same state, same next step, skip rule included.
    model.fit(x[:2], y[:2], sample_weight=weights[:2], batch_size=2, verbose=0)
    loaded.fit(x[:2], y[:2], sample_weight=weights[:2], batch_size=2, verbose=0)
    _assert_identical(
        _state(loaded.trainable_variables, restored), _state(model.trainable_variables, guard)
    )
    assert restored.statistics() == guard.statistics()


def test_make_optimizer_and_describe_see_through_the_guard():
    recipe = zoo.get_recipe("llama-nano").training
    model = zoo.build("llama-nano")
    plain = make_optimizer(recipe, 100, model, gradient_accumulation_steps=2)
    guard = make_optimizer(recipe, 100, model, gradient_accumulation_steps=2, spike_guard=True)
    assert type(guard.inner_optimizer) is type(plain)
    assert (guard.threshold, guard.window, guard.min_history) == (6.0, 128, MIN_HISTORY)
    assert guard.warmup_steps == rising_steps(recipe, 100) == 10  # the capped warmup
    described = describe_optimizer(guard, model.trainable_variables)
    assert described.pop("spike_guard") == {
        "rule": RULE_VERSION,
        "threshold": 6.0,
        "window": 128,
        "min_history": MIN_HISTORY,
        "warmup_steps": 10,
        "max_consecutive_skips": MAX_CONSECUTIVE_SKIPS,
    }
    assert described == describe_optimizer(plain, model.trainable_variables)
    assert current_learning_rate(guard) == current_learning_rate(plain)
    assert guard.weight_decay == plain.weight_decay == recipe.weight_decay
    assert [guard._use_weight_decay(v) for v in model.trainable_variables] == [
        plain._use_weight_decay(v) for v in model.trainable_variables
    ]
    assert float(guard.learning_rate) == current_learning_rate(plain)
    assert make_optimizer(recipe, 100, spike_guard=False).__class__ is type(plain)
    with pytest.raises(ConfigError, match="window"):
        make_optimizer(recipe, 100, spike_guard={"window": 1})
    with pytest.raises(ConfigError, match="spike_guard"):
        make_optimizer(recipe, 100, spike_guard=6.0)
    with pytest.raises(ValueError, match="min_history"):
        SpikeGuard(keras.optimizers.Adam(), window=8, min_history=9)
    with pytest.raises(ValueError, match="max_consecutive_skips"):
        SpikeGuard(keras.optimizers.Adam(), max_consecutive_skips=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        SpikeGuard(keras.optimizers.Adam(), warmup_steps=-1)
    palm = zoo.get_recipe("palm-nano").training  # constant, then 1/sqrt: nothing rises
    assert make_optimizer(palm, 100, spike_guard=True).warmup_steps == 0
    assert make_optimizer(recipe, 100, spike_guard={"warmup_steps": 3}).warmup_steps == 3


# --- the same rule on the other two execution paths, each in a fresh process ---
# The guard judges once all the calm steps are held (min_history = their count): a median and
# MAD of fewer random norms are too rough a band for these checks of the mechanism.

COMMON = textwrap.dedent("""
    import json
    import numpy as np
    import keras
    from zoo.training.spike_guard import SpikeGuard

    SHAPES = ((3, 2), (2,))
    rng = np.random.default_rng(0)
    calm = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(6)]
    last = [rng.normal(size=s).astype("float32") for s in SHAPES]
    spike = [100 * g for g in calm[0]]
    nan = [np.full(SHAPES[0], np.nan, "float32"), calm[0][1]]

    def same(a, b):
        return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
""")

JAX_SCRIPT = COMMON + textwrap.dedent("""
    import jax
    assert keras.backend.backend() == "jax"
    out = {}
    for accumulation in (None, 2):
        def make(guard):
            variables = [keras.Variable(np.ones(s, "float32")) for s in SHAPES]
            inner = keras.optimizers.Adam(1e-2, gradient_accumulation_steps=accumulation)
            opt = SpikeGuard(inner, window=8, min_history=6) if guard else inner
            opt.build(variables)
            step = jax.jit(lambda t, o, g: opt.stateless_apply(o, g, t))  # Keras's JAX path
            return opt, step, ([v.value for v in variables], [v.value for v in opt.variables])

        guard, step, (t, o) = make(True)
        plain, plain_step, (pt, po) = make(False)
        own = len(guard._variables)
        for g in calm:
            t, o = step(t, o, g)
            pt, po = plain_step(pt, po, g)
        state = lambda t, o: [np.asarray(x) for x in list(t) + list(o)[own:]]
        before = state(t, o)
        t, o = step(t, o, spike)
        spike_same = same(state(t, o), before)
        t, o = step(t, o, nan)
        nan_same = same(state(t, o), before)
        t, o = step(t, o, last)
        pt, po = plain_step(pt, po, last)
        for v, x in zip(guard.variables, o):
            v.assign(x)
        out[str(accumulation)] = {
            "spike_same": spike_same, "nan_same": nan_same,
            "matches_unguarded": same(state(t, o), [np.asarray(x) for x in list(pt) + list(po)]),
            "stats": guard.statistics(),
        }

    # Keras's own JAX trainer, jit-compiled: fit skips a spiked batch (sample weights x 1e4).
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=SpikeGuard(keras.optimizers.Adam(1e-2), min_history=5),
                  loss="mse", jit_compile=True)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = rng.normal(size=(12, 1)).astype("float32")
    w = np.ones(12, "float32"); w[10:] = 1e4
    model.fit(x[:10], y[:10], sample_weight=w[:10], batch_size=2, shuffle=False, verbose=0)
    weights = [np.asarray(v.value) for v in model.trainable_variables + model.optimizer.variables[
        len(model.optimizer._variables):]]
    model.fit(x[10:], y[10:], sample_weight=w[10:], batch_size=2, verbose=0)
    after = [np.asarray(v.value) for v in model.trainable_variables + model.optimizer.variables[
        len(model.optimizer._variables):]]
    out["fit"] = {"same": same(after, weights), "stats": model.optimizer.statistics()}
    print(json.dumps(out))
""")


def _run(script, **env):
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_same_skips_under_jax_jit():
    out = _run(JAX_SCRIPT, KERAS_BACKEND="jax")
    for accumulation in ("None", "2"):
        case = out[accumulation]
        assert case["spike_same"] and case["nan_same"] and case["matches_unguarded"], case
        stats = case["stats"]
        assert (stats["accepted_steps"], stats["skipped_steps"], stats["nonfinite_steps"]) == (
            7,
            2,
            1,
        ), stats
    stats = out["fit"]["stats"]
    assert out["fit"]["same"], out["fit"]
    assert (stats["accepted_steps"], stats["skipped_steps"], stats["nonfinite_steps"]) == (5, 1, 0)


MIRRORED_SCRIPT = (
    textwrap.dedent("""
    import os
    from zoo.training.distribution import bind_per_replica_xla, resolve_distribution, select_backend
    select_backend("tensorflow")  # splits the CPU in ZOO_CPU_DEVICES=2 before TensorFlow starts
""")
    + COMMON
    + textwrap.dedent("""
    import tensorflow as tf
    import zoo
    from zoo.training.loss import LanguageModelLoss

    strategy = resolve_distribution("mirrored").tf_strategy
    assert strategy.num_replicas_in_sync == 2

    def make(guard):
        with strategy.scope():
            variables = [keras.Variable(np.ones(s, "float32")) for s in SHAPES]
            inner = keras.optimizers.AdamW(1e-2, weight_decay=0.1)
            opt = SpikeGuard(inner, window=8, min_history=6) if guard else inner
            opt.build(variables)

        @tf.function
        def step(kernel_grad, bias_grad):
            def replica(kernel_grad, bias_grad):  # per-replica gradients that differ
                scale = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group + 1,
                                "float32")
                opt.apply_gradients([(kernel_grad * scale, variables[0]),
                                     (bias_grad * scale, variables[1])])
            strategy.run(replica, args=(kernel_grad, bias_grad))

        def state():  # every replica's copy of every variable
            inner = getattr(opt, "inner_optimizer", opt)
            return [t.numpy() for v in variables + inner.variables
                    for t in strategy.experimental_local_results(v.value)]
        return opt, (lambda g: step(*g)), state

    guard, step, state = make(True)
    plain, plain_step, plain_state = make(False)
    for g in calm:
        step(g)
        plain_step(g)
    out = {"calm_matches_unguarded": same(state(), plain_state())}
    before = state()
    step(spike)
    out["spike_same"] = same(state(), before)
    step(nan)
    out["nan_same"] = same(state(), before)
    step(last)
    plain_step(last)
    out["matches_unguarded"] = same(state(), plain_state())
    out["stats"] = guard.statistics()
    out["replica_counters"] = [int(t.numpy()) for t in
                               strategy.experimental_local_results(guard.skipped_steps.value)]
    # The replicas' summed gradient: (1 + 2) x the input, so the norm is 3 x the input's.
    out["last_norm_ratio"] = guard.statistics()["last_gradient_norm"] / float(
        np.sqrt(sum(np.sum(g.astype("float64") ** 2) for g in last)))

    # The trainer's path: DecoderLM with per-replica XLA (zoo.training.distribution).
    with strategy.scope():
        model = zoo.build("palm-nano")
        bind_per_replica_xla(model)
        model.compile(optimizer=SpikeGuard(keras.optimizers.Adam(1e-3), min_history=6),
                      loss=LanguageModelLoss(), jit_compile=False)
    tokens = rng.integers(0, 512, (14, 17))
    x, y = tokens[:, :-1].astype("int32"), tokens[:, 1:].astype("int32")
    w = np.ones(y.shape, "float32"); w[12:] = 1e4
    model.fit(x[:12], y[:12], sample_weight=w[:12], batch_size=2, shuffle=False, verbose=0)
    kept = [v.numpy() for v in model.trainable_variables]
    model.fit(x[12:], y[12:], sample_weight=w[12:], batch_size=2, verbose=0)
    out["fit_same"] = same([v.numpy() for v in model.trainable_variables], kept)
    out["fit_stats"] = model.optimizer.statistics()
    print(json.dumps(out))
""")
)


@pytest.mark.slow
def test_the_same_skips_under_mirrored_strategy():
    out = _run(MIRRORED_SCRIPT, ZOO_CPU_DEVICES="2", KERAS_BACKEND="tensorflow")
    assert out["calm_matches_unguarded"], out  # the guard's all-reduce replaces Keras's
    assert out["spike_same"] and out["nan_same"] and out["matches_unguarded"], out
    stats = out["stats"]
    assert (stats["accepted_steps"], stats["skipped_steps"], stats["nonfinite_steps"]) == (7, 2, 1)
    assert out["replica_counters"] == [2, 2]
    np.testing.assert_allclose(out["last_norm_ratio"], 3.0, rtol=1e-6)
    assert out["fit_same"], out
    stats = out["fit_stats"]
    assert (stats["accepted_steps"], stats["skipped_steps"], stats["nonfinite_steps"]) == (6, 1, 0)
