"""`--backend auto`: the Keras backend to train on here, decided without importing one.

The backend is fixed when Keras is first imported, so the choice has to be made before that and
stay cheap: what is installed comes from `importlib.util.find_spec`, the accelerator from device
files, and neither TensorFlow, JAX nor Keras is imported. Only the backends the trainer supports
are candidates (tensorflow and jax; not torch).

The rule (`choose_backend`):

1. A strategy that exists on one backend only decides it (`mirrored`, `multi-worker` and `tpu`
   are tf.distribute's; `data-parallel` and `model-parallel` Keras's JAX distribution API:
   `zoo.run_config.Strategy.backend`).
2. On a GPU or TPU, an XLA backend: jax if it is installed (Keras's recommended backend for
   XLA on accelerators), else tensorflow.
3. On CPU, tensorflow: `zoo bench sizes` measured the zoo on TensorFlow+XLA the fastest of the
   backends the trainer supports on the (2-core) development machine; run `zoo bench sizes`
   to measure yours, and pass `--backend jax` if it says otherwise.

A backend the rule wants that is not installed falls back to the other one; a strategy's
backend is returned even when missing, so that the caller's check names what to install.
"""

import importlib.util
import os
import pathlib

from zoo.errors import FieldError
from zoo.run_config import Backend, Strategy

AUTO = Backend.AUTO.value
# Keras backends the trainer runs on (torch: no): the Backend choices but auto.
TRAINER_BACKENDS = tuple(b.value for b in Backend if b is not Backend.AUTO)
TENSORFLOW_STRATEGIES = tuple(s.value for s in Strategy.on(Backend.TENSORFLOW))
JAX_STRATEGIES = tuple(s.value for s in Strategy.on(Backend.JAX))
ACCELERATORS = ("cpu", "gpu", "tpu")
# Set on Cloud TPU VMs and by TPU launchers; /dev/vfio alone is any VFIO passthrough device.
TPU_ENVIRONMENT = (
    "TPU_ACCELERATOR_TYPE",
    "TPU_WORKER_ID",
    "TPU_WORKER_HOSTNAMES",
    "TPU_SKIP_MDS_QUERY",
    "TPU_CHIPS_PER_HOST_BOUNDS",
    "TPU_HOST_BOUNDS",
    "TPU_PROCESS_BOUNDS",
    "TPU_NAME",
    "CLOUD_TPU_TASK_ID",
)
CPU_REASON = "CPU: fastest in `zoo bench sizes`"


def installed_backends():
    """The trainer's backends that are installed here (without importing them)."""
    return tuple(name for name in TRAINER_BACKENDS if _installed(name))


def detect_accelerator(root="/", environ=None):
    """'gpu', 'tpu' or 'cpu', from device files under `root` (no backend is imported).

    GPU: /dev/nvidia0, or a non-empty /proc/driver/nvidia/gpus. TPU: /dev/accel0 (TPU VMs up to
    v4), or /dev/vfio (v5e and later) together with a TPU hint: one of `TPU_ENVIRONMENT`, or
    libtpu installed. Anything else is a CPU.
    """
    root = pathlib.Path(root)
    environ = os.environ if environ is None else environ
    gpus = root / "proc/driver/nvidia/gpus"
    if (root / "dev/nvidia0").exists() or (gpus.is_dir() and any(gpus.iterdir())):
        return "gpu"
    if (root / "dev/accel0").exists():
        return "tpu"
    if (root / "dev/vfio").is_dir() and (
        any(environ.get(name) for name in TPU_ENVIRONMENT) or _installed("libtpu")
    ):
        return "tpu"
    return "cpu"


def choose_backend(installed=None, accelerator=None, strategy=None):
    """(backend name, one-line reason) for `--backend auto`; see the module for the rule.

    `installed`: the backends available (default: `installed_backends()`); `accelerator`:
    'cpu', 'gpu' or 'tpu' (default: `detect_accelerator()`); `strategy`: the run's strategy
    name, when one is given.
    """
    needed = _strategy_backend(strategy)
    if needed is not None:
        return needed, f"auto: {needed} (strategy {Strategy(strategy).value} runs on {needed} only)"
    installed = installed_backends() if installed is None else tuple(installed)
    accelerator = detect_accelerator() if accelerator is None else accelerator
    if accelerator not in ACCELERATORS:
        raise ValueError(
            f"accelerator must be one of {', '.join(ACCELERATORS)}; received {accelerator!r}"
        )
    usable = [name for name in TRAINER_BACKENDS if name in installed]
    if not usable:
        raise FieldError("backend", "auto needs tensorflow or jax installed; neither is")
    kind = accelerator.upper()
    if accelerator in ("gpu", "tpu"):
        if "jax" in usable:
            return "jax", f"auto: jax ({kind}: Keras's recommended XLA backend on accelerators)"
        return "tensorflow", f"auto: tensorflow ({kind}: XLA backend; jax is not installed)"
    if "tensorflow" in usable:
        return "tensorflow", f"auto: tensorflow ({CPU_REASON})"
    return "jax", "auto: jax (CPU: tensorflow is not installed)"


def _strategy_backend(strategy):
    """The backend name `strategy` runs on only, or None (either backend, or not a strategy:
    the strategy's own check names that)."""
    try:
        needed = Strategy(strategy).backend
    except ValueError:
        return None
    return None if needed is None else needed.value


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


__all__ = [
    "AUTO",
    "JAX_STRATEGIES",
    "TENSORFLOW_STRATEGIES",
    "TRAINER_BACKENDS",
    "choose_backend",
    "detect_accelerator",
    "installed_backends",
]
