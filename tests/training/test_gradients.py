"""`zoo gradients`: each layer's gradient norm, checked against the loss itself (a central
difference along a random direction equals the gradient's inner product with it), the layers
partitioning the weights, steps taken with the recipe's optimizer, and bad input refused."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.helpers import assert_one_line, invoker
from zoo.training.gradients import _loss_and_gradients, gradient_norms, layer_groups
from zoo.training.loss import LanguageModelLoss
from zoo.training.trainer import plan_run
from zoo_cli.main import app

pytestmark = pytest.mark.usefixtures("isolated")
invoke = invoker(app)


def _plan(corpus, **overrides):
    return plan_run("llama-nano", data=str(corpus), steps=2, overrides=overrides)


@pytest.mark.parametrize("overrides", [{}, {"norm_placement": "post", "feedforward": "tanh"}])
def test_each_layers_norm_is_the_losss_slope_along_its_gradient(corpus, overrides):
    """For each layer, moving its weights by ±ε along its own gradient's direction changes the
    loss by ±ε times the norm reported for it: (L(w + εĝ) − L(w − εĝ)) / 2ε = |g| (a wrong
    gradient points elsewhere and gives a smaller slope). ε = 0.01: the loss moves by far more
    than float32's round-off, and the third-order term is far below. And the layers partition
    the weights."""
    from zoo.model import DecoderLM

    plan = _plan(corpus, **overrides)
    keras.utils.set_random_seed(0)
    model = DecoderLM(plan.model)
    loss_fn = LanguageModelLoss()
    x = np.asarray(plan.materials.data.train[: 2 * 33], "int32").reshape(2, 33)
    inputs, targets = x[:, :-1], x[:, 1:]
    _, grads = _loss_and_gradients(model, loss_fn, inputs, targets)
    by_id = {id(v): np.asarray(keras.ops.convert_to_numpy(g), np.float64)
             for v, g in zip(model.trainable_variables, grads)}  # fmt: skip
    groups = layer_groups(model)
    eps = 1e-2
    for name, variables in groups.items():
        if "/" in name:
            continue
        weights = [np.asarray(keras.ops.convert_to_numpy(v), np.float64) for v in variables]
        norm = np.sqrt(sum(float(np.sum(by_id[id(v)] ** 2)) for v in variables))

        def loss_at(sign):
            for v, w in zip(variables, weights):
                v.assign((w + sign * eps * by_id[id(v)] / norm).astype("float32"))
            return float(loss_fn(targets, model(inputs)))

        slope = (loss_at(1) - loss_at(-1)) / (2 * eps)
        for v, w in zip(variables, weights):
            v.assign(w.astype("float32"))
        assert slope == pytest.approx(norm, rel=0.02), name
    whole = [v for name, vs in groups.items() if "/" not in name for v in vs]
    assert sorted(map(id, whole)) == sorted(map(id, model.trainable_variables))


def test_steps_use_the_recipes_optimizer_and_start_from_the_same_initialisation(corpus):
    plan = _plan(corpus)
    still = gradient_norms(plan, steps=0)
    moving = gradient_norms(plan, steps=2)
    assert [r["step"] for r in moving["rows"]] == [0, 1, 2] and len(still["rows"]) == 1
    assert moving["rows"][0]["norms"] == still["rows"][0]["norms"]  # seeded: the same start
    assert moving["rows"][2]["loss"] != moving["rows"][0]["loss"]  # the updates were applied
    assert moving["layers"] == ["embedding", "block 0", "block 1", "final norm", "output head"]
    norms = moving["rows"][0]["norms"]
    assert moving["first_to_last"][0] == pytest.approx(norms[1] / norms[2])
    sub = moving["rows"][0]["sublayers"]
    assert all(0 < a < n and 0 < f < n for a, f, n in zip(sub["self_attention"], sub["feedforward"], norms[1:3]))  # fmt: skip


def test_the_command_prints_a_table_writes_a_figure_and_refuses_bad_input(corpus, tmp_path):
    plot = tmp_path / "g.png"
    result = invoke("gradients", "gpt2-nano", "--set", "norm_placement=post", "--steps", "1",
                    "--data", corpus, "--plot", plot)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "post-norm" in result.stdout and "block 1" in result.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    data = json.loads(invoke("gradients", "gpt2-nano", "--data", corpus, "--json").stdout)
    assert [r["step"] for r in data["rows"]] == [0] and "final norm" in data["layers"]
    post = json.loads(invoke("gradients", "gpt2-nano", "--set", "norm_placement=post",
                             "--data", corpus, "--json").stdout)  # fmt: skip
    assert "final norm" not in post["layers"]  # post-norm blocks end in their own norm
    assert_one_line(invoke("gradients", "gpt2-nano", "--steps", "-1"), "--steps", empty_stdout=True)
    assert_one_line(invoke("gradients", "gpt2-nano", "--set", "norm_placement=side"), "pre, post")
    assert_one_line(invoke("gradients", "gpt2-nano", "--plot", tmp_path / "g.txt"), "--plot")
    assert not (tmp_path / "g.txt").exists()


@pytest.mark.slow  # two processes of their own (~40 s)
def test_jax_measures_the_same_norms(corpus, tmp_path):
    """Each backend takes its own gradient (tf.GradientTape, jax.value_and_grad); from the same
    weights (Keras draws different initial weights per backend, so both start from one file)
    every layer's norm agrees, at initialisation and after an update."""
    from zoo.model import DecoderLM
    from zoo.registry import resolve_config

    keras.utils.set_random_seed(0)
    start = tmp_path / "start.keras"
    DecoderLM(resolve_config("gpt2-nano").replace(num_layers=3)).save(start)
    args = ["gradients", "gpt2-nano", "--set", "num_layers=3", "--data", str(corpus),
            "--init-from", str(start), "--steps", "1", "--json"]  # fmt: skip
    out = {}
    for backend in ("tensorflow", "jax"):
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run([sys.executable, "-m", "zoo_cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        out[backend] = json.loads(done.stdout)
    tf_rows, jax_rows = out["tensorflow"]["rows"], out["jax"]["rows"]
    assert out["tensorflow"]["layers"] == out["jax"]["layers"]
    for a, b in zip(tf_rows, jax_rows):
        np.testing.assert_allclose(a["norms"], b["norms"], rtol=1e-4)
