"""`--backend auto`: the rule of `zoo.backend_choice.choose_backend` (installed backends and the
accelerator injected), accelerator detection from device files, and how the library resolves
`auto` once Keras is running."""

import subprocess
import sys

import keras
import pytest

import zoo
from zoo.backend_choice import choose_backend, detect_accelerator
from zoo.training.distribution import backend_choice, select_backend

BOTH = ("tensorflow", "jax")


@pytest.mark.parametrize("installed, accelerator, expected, why", [
    (BOTH, "cpu", "tensorflow", "CPU: fastest in `zoo bench sizes`"),
    (BOTH, "gpu", "jax", "GPU: Keras's recommended XLA backend"),
    (BOTH, "tpu", "jax", "TPU: Keras's recommended XLA backend"),
    (("tensorflow",), "gpu", "tensorflow", "GPU: XLA backend; jax is not installed"),
    (("tensorflow",), "tpu", "tensorflow", "TPU: XLA backend; jax is not installed"),
    (("tensorflow",), "cpu", "tensorflow", "CPU: fastest"),
    (("jax",), "cpu", "jax", "CPU: tensorflow is not installed"),
])  # fmt: skip
def test_the_rule(installed, accelerator, expected, why):
    name, reason = choose_backend(installed=installed, accelerator=accelerator)
    assert name == expected
    assert reason.startswith(f"auto: {expected} (") and why in reason
    assert "\n" not in reason and len(reason) < 80  # one short line for the run header


@pytest.mark.parametrize("strategy, expected", [
    ("mirrored", "tensorflow"), ("multi-worker", "tensorflow"), ("tpu", "tensorflow"),
    ("data-parallel", "jax"), ("model-parallel", "jax"),
])  # fmt: skip
def test_a_one_backend_strategy_decides(strategy, expected):
    for accelerator in ("cpu", "gpu"):
        name, reason = choose_backend(installed=BOTH, accelerator=accelerator, strategy=strategy)
        assert name == expected and f"strategy {strategy}" in reason
    # "auto" and "none" exist on both: the hardware decides
    assert choose_backend(BOTH, "gpu", strategy="none")[0] == "jax"
    assert choose_backend(BOTH, "cpu", strategy="auto")[0] == "tensorflow"


def test_strategies_and_their_backends_come_from_the_run_config():
    """`zoo.run_config.Strategy` is the one list: backend_choice's tuples are read from it."""
    from zoo.backend_choice import JAX_STRATEGIES, TENSORFLOW_STRATEGIES
    from zoo.run_config import Strategy

    assert TENSORFLOW_STRATEGIES == ("mirrored", "multi-worker", "tpu")
    assert JAX_STRATEGIES == ("data-parallel", "model-parallel")
    assert Strategy.on(None) == (Strategy.AUTO, Strategy.NONE)  # either backend
    for strategy in Strategy:  # the enum member itself, as RunConfig holds it
        name, reason = choose_backend(BOTH, "cpu", strategy=strategy)
        assert name == (strategy.backend.value if strategy.backend else "tensorflow")
        assert "Strategy." not in reason


def test_nothing_installed_or_an_unknown_accelerator_is_refused():
    with pytest.raises(zoo.ZooError, match="backend auto needs tensorflow or jax"):
        choose_backend(installed=(), accelerator="cpu")
    with pytest.raises(ValueError, match="accelerator must be one of"):
        choose_backend(installed=BOTH, accelerator="npu")


def test_accelerator_detection_reads_device_files(tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.backend_choice._installed", lambda module: False)  # no libtpu
    roots = iter(range(100))

    def machine(*paths, environ=None):
        """detect_accelerator on a fresh root holding `paths` (a trailing / makes a folder)."""
        root = tmp_path / str(next(roots))
        root.mkdir()
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).mkdir() if path.endswith("/") else (root / path).touch()
        return detect_accelerator(root, environ or {})

    assert machine() == "cpu"
    assert machine("dev/nvidia0") == "gpu"
    assert machine("proc/driver/nvidia/gpus/0000:00:04.0/") == "gpu"
    assert machine("proc/driver/nvidia/gpus/") == "cpu"  # the driver, but no GPU
    assert machine("dev/accel0") == "tpu"
    assert machine("dev/vfio/0") == "cpu"  # VFIO alone: any passed-through device
    assert machine("dev/vfio/0", environ={"TPU_ACCELERATOR_TYPE": "v5litepod-8"}) == "tpu"
    monkeypatch.setattr("zoo.backend_choice._installed", lambda module: module == "libtpu")
    assert machine("dev/vfio/0") == "tpu"


def test_choosing_imports_no_backend():
    code = (
        "import sys; from zoo.backend_choice import choose_backend; choose_backend(); "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_auto_in_the_library_takes_the_running_backend(monkeypatch):
    running = keras.backend.backend()  # imported by the test session
    choice = backend_choice("auto")
    assert choice["requested"] == "auto" and choice["backend"] == running
    assert select_backend("auto") == running
    other = next(b for b in BOTH if b != running)
    monkeypatch.setattr(
        "zoo.training.distribution.choose_backend",
        lambda strategy=None: (other, f"auto: {other} (GPU: because)"),
    )
    choice = backend_choice("auto")  # not an error: auto accepts what Keras already runs on
    assert choice["backend"] == running
    assert choice["reason"] == (
        f"auto: {running} (Keras already runs on {running}; else {other}, GPU: because)"
    )
    with pytest.raises(zoo.ZooError, match=f"already running on {running}"):
        select_backend(other)  # an explicit other backend still is


def test_the_request_is_recorded_as_given(monkeypatch):
    running = keras.backend.backend()
    assert backend_choice(running)["requested"] == running
    monkeypatch.setenv("KERAS_BACKEND", running)
    assert backend_choice() == {
        "requested": "$KERAS_BACKEND",
        "backend": running,
        "reason": f"{running} (from $KERAS_BACKEND)",
    }
    monkeypatch.delenv("KERAS_BACKEND")
    if running == "tensorflow":
        assert backend_choice()["requested"] == "default"
    monkeypatch.setenv("KERAS_BACKEND", "auto")  # a backend= choice, not a Keras backend
    with pytest.raises(
        zoo.RunConfigError, match="auto is not a Keras backend: pass backend='auto'"
    ):
        backend_choice()


def test_run_config_accepts_auto():
    assert zoo.RunConfig(backend="auto").backend.value == "auto"
    assert "backend" not in zoo.RunConfig(backend="auto").identity()  # not part of the key
    with pytest.raises(zoo.RunConfigError, match="tensorflow, jax, auto; received 'torch'"):
        zoo.RunConfig(backend="torch")
