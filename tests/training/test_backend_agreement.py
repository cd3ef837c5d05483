"""The same run on TensorFlow and on JAX gives the same losses: the backend is not part of a
run's result (nor of its key), and this is where that claim is checked.

Each backend trains in its own `zoo train` process (the backend is fixed when Keras starts),
with the same seed, data order and float32 precision, from the same initial weights: Keras's
random initialisers draw different numbers on each backend (TensorFlow's stateless Philox
against JAX's threefry), so the weights come from one `.keras` file through `--init-from`.

Budget: 40 steps of 4 × 64 tokens with an evaluation every 10 (4 points), the smallest run
whose loss curve means something: validation loss falls from ln 512 = 6.24 to about 4.3.

Measured here (Keras 3.15, TensorFlow 2.21, JAX 0.10, 2-core x86 CPU), gpt2-nano: the
validation losses agree exactly, the interval train losses to at most 1.0e-7 relative (one
float32 ulp), the final train loss exactly; the final weights to 4.5e-6. Both backends compile
the whole step with XLA for the CPU, so only fusion and reduction order differ; perturbing every
initial weight by one ulp on one backend did not move the losses at all (Adam's early steps wash
it out), so round-off does not grow chaotically over this run. Tolerance: rtol 1e-5, 100× the
measured difference, for other CPUs and XLA versions (which fuse and reduce differently); 16×
below the 1.6e-4 that a real semantic difference produced (see the llama-nano case).

llama-nano (untied embeddings) once differed by 1.6e-4 relative: on TensorFlow its input
embedding gets a sparse gradient (`tf.IndexedSlices`), and Keras 3.15's `clip_by_global_norm`
squares and sums the slices without adding repeated token ids first, so it underestimated the
global norm (1.12 against 1.49 on one measured batch) and clipped less than JAX did. The zoo's
optimizers now densify sparse gradients before clipping (`zoo.training.clipping`), and this case
checks that the two agree again.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated")]

BACKENDS = ("tensorflow", "jax")
RTOL = 1e-5  # see the module docstring
STEPS, EVAL_INTERVAL = 40, 10


def _train(preset, backend, corpus, init, out):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo_cli.main",
            "train",
            preset,
            "--data",
            str(corpus),
            "--steps",
            str(STEPS),
            "--eval-interval",
            str(EVAL_INTERVAL),
            "--precision",
            "float32",
            "--seed",
            "0",
            "--init-from",
            str(init),
            "--backend",
            backend,
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = zoo.RunRecord(out)
    assert record.complete
    return record


@pytest.mark.parametrize(
    "preset",
    [
        "gpt2-nano",
        "llama-nano",
    ],
)
def test_tensorflow_and_jax_train_to_the_same_losses(preset, corpus, tmp_path):
    pytest.importorskip("jax")
    keras.utils.set_random_seed(0)
    init = tmp_path / f"{preset}-init.keras"
    zoo.build(preset).save(init)  # float32, as the runs train
    runs = {b: _train(preset, b, corpus, init, tmp_path / "results" / b) for b in BACKENDS}

    configs = {b: r.config() for b, r in runs.items()}
    for backend, config in configs.items():
        assert config["distribution"]["backend"] == backend
        assert config["run"]["precision"] == "float32"
    assert configs["tensorflow"]["resolution_key"] == configs["jax"]["resolution_key"]

    rows = {b: r.metrics() for b, r in runs.items()}
    steps = [row["step"] for row in rows["tensorflow"]]
    assert steps == [row["step"] for row in rows["jax"]] == [10, 20, 30, 40]
    validation = {b: np.array([row["validation_loss"] for row in rows[b]]) for b in BACKENDS}
    train = {b: np.array([row["train_loss"] for row in rows[b]]) for b in BACKENDS}
    assert validation["tensorflow"][-1] < validation["tensorflow"][0] - 0.5  # it learned
    difference = {
        name: float(
            np.max(np.abs(values["tensorflow"] - values["jax"]) / np.abs(values["tensorflow"]))
        )
        for name, values in (("validation", validation), ("train", train))
    }
    print(json.dumps({"preset": preset, "max_relative_difference": difference}))
    np.testing.assert_allclose(validation["jax"], validation["tensorflow"], rtol=RTOL)
    np.testing.assert_allclose(train["jax"], train["tensorflow"], rtol=RTOL)
    final = {b: r.summary()["final_train_loss"] for b, r in runs.items()}
    np.testing.assert_allclose(final["jax"], final["tensorflow"], rtol=RTOL)
