"""Where training runs: the Keras backend, the distribution strategy, and XLA under it.

One recipe runs unchanged on one CPU or many accelerators through the engines that already exist:
TensorFlow's `tf.distribute` (`mirrored`, `multi-worker`, `tpu`) and Keras's distribution API on
JAX (`data-parallel`, `model-parallel`). `auto` picks from the visible devices.

XLA under a TensorFlow strategy: Keras 3 fails with `jit_compile=True` under `MirroredStrategy`
("Trying to access resource … located in device CPU:1 from device CPU:0") and its "auto" quietly
drops XLA there. So under a TensorFlow strategy the zoo compiles each replica's forward pass,
loss and gradients with XLA (`bind_per_replica_xla`), and leaves the optimizer update and its
all-reduce to the strategy, outside XLA. Without a strategy the whole step (optimizer included)
is one XLA program. On JAX, Keras jit-compiles the whole sharded step under every distribution.
The effective setting is written to the run's `config.json` and shown in the progress header.

Virtual devices: `ZOO_CPU_DEVICES=N` splits the host CPU into N devices (TensorFlow logical
devices, or `--xla_force_host_platform_device_count` on JAX) so that every strategy can be tried,
and tested, on a laptop. It must be set before the backend starts, as the CLI does.
"""

import contextlib
import dataclasses
import enum
import functools
import importlib.util
import json
import os
import pathlib
import sys

from zoo.backend_choice import AUTO, TRAINER_BACKENDS, choose_backend
from zoo.errors import Setting, ZooError
from zoo.run_config import Backend, RunConfigError, Strategy
from zoo.training.sharding import DATA_AXIS, MODEL_AXIS, megatron_layouts, zero_spec

STRATEGIES = tuple(s.value for s in Strategy)  # the RunConfig's vocabulary, as plain names
BACKENDS = tuple(b.value for b in Backend)  # what `backend` accepts: TRAINER_BACKENDS and auto
CPU_DEVICES_VARIABLE = "ZOO_CPU_DEVICES"
MAX_MODEL_AXIS = 8  # Megatron-LM slices within a node: tensor parallelism over at most 8 devices


def select_backend(backend=None, strategy=None):
    """Check that Keras runs on `backend` (default $KERAS_BACKEND, else tensorflow); its name.

    The backend is fixed when Keras is first imported (by `zoo.build`, `zoo.train`, ...): choose
    it with KERAS_BACKEND before that (the CLI's --backend does so). Asking for another backend
    afterwards is a user error, not a silent switch. `backend="auto"` is chosen for the
    hardware (and `strategy`) by `zoo.backend_choice.choose_backend`; see `backend_choice`.
    """
    return backend_choice(backend, strategy)["backend"]


def backend_choice(backend=None, strategy=None):
    """{"requested", "backend", "reason"}: the backend Keras runs on for `backend`, and why.

    `requested` is `backend` as given, else "$KERAS_BACKEND" or "default". Before Keras is
    imported this sets KERAS_BACKEND to the choice. `auto` decides without importing a
    backend; in Python, call this (or `select_backend("auto")`) before `zoo.build` or
    `zoo.train`, which import Keras. If Keras already runs on a backend the trainer supports,
    `auto` takes that one and its reason says so: it is never an error.
    """
    backend = backend.value if isinstance(backend, enum.Enum) else backend
    environment = os.environ.get("KERAS_BACKEND")
    requested = backend or ("$KERAS_BACKEND" if environment else "default")
    running = _running_backend()
    if backend == AUTO:
        name, reason = choose_backend(strategy=strategy)
        if running in TRAINER_BACKENDS and running != name:
            why = reason.removeprefix(f"auto: {name} (").removesuffix(")")
            reason = f"auto: {running} (Keras already runs on {running}; else {name}, {why})"
            name = running
    else:
        name = backend or environment or "tensorflow"
        if name not in TRAINER_BACKENDS:
            source = "backend" if backend else "KERAS_BACKEND"
            choices = ", ".join(BACKENDS if backend else TRAINER_BACKENDS)
            hint = []
            if name == AUTO:  # KERAS_BACKEND=auto: Keras knows no such backend
                hint = [" (auto is not a Keras backend: pass ", Setting("backend", AUTO), ")"]
            raise RunConfigError(source, f"must be one of {choices}; received {name!r}", *hint)
        reason = (
            f"{name} (requested)"
            if backend
            else f"{name} (from $KERAS_BACKEND)"
            if environment
            else f"{name} (Keras's default)"
        )
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise RunConfigError(
            "backend", "jax needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"
        )
    if running is not None:
        if running != name:
            raise ZooError(
                f"Keras is already running on {running}: choose {name} before Keras is "
                f"imported (KERAS_BACKEND={name}, or ",
                Setting("backend", name),
                ")",
            )
    else:
        os.environ["KERAS_BACKEND"] = name
    _split_cpu(name)
    return {"requested": requested, "backend": name, "reason": reason}


def _running_backend():
    """The backend Keras already runs on, or None before Keras is imported."""
    if "keras" not in sys.modules:
        return None
    import keras

    return keras.backend.backend()


def _split_cpu(backend):
    """Apply ZOO_CPU_DEVICES before the backend sees its devices."""
    value = os.environ.get(CPU_DEVICES_VARIABLE)
    if not value:
        return
    if not value.isdigit() or int(value) < 1:
        raise ZooError(f"{CPU_DEVICES_VARIABLE} must be a positive integer; received {value!r}")
    count = int(value)
    if backend == "jax":
        flag = f"--xla_force_host_platform_device_count={count}"
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == count:
        return  # already split (a second run in the same process), or nothing to split
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError:
        raise ZooError(
            f"{CPU_DEVICES_VARIABLE}={count} must be set before TensorFlow starts"
        ) from None


@dataclasses.dataclass
class Distribution:
    """A resolved strategy: enter `scope()` around building, compiling and fitting a model."""

    strategy: str  # one of STRATEGIES except "auto"
    backend: str
    devices: list  # device names the step runs on
    tf_strategy: object = None  # tf.distribute.Strategy, on TensorFlow
    keras_distribution: object = None  # keras.distribution.Distribution, on JAX
    mesh: dict = None  # {"data": n, "model": m} for JAX distributions
    replicated: tuple = ()  # variables model parallelism could not slice, with the reason

    @property
    def replicas(self):
        if self.tf_strategy is not None:
            return self.tf_strategy.num_replicas_in_sync
        return (self.mesh or {}).get("data", 1)

    @property
    def per_replica_xla(self):
        """True where XLA must be applied per replica (TensorFlow strategies)."""
        return self.tf_strategy is not None

    def scope(self):
        if self.tf_strategy is not None:
            return self.tf_strategy.scope()
        if self.keras_distribution is not None:
            return self.keras_distribution.scope()
        return contextlib.nullcontext()

    def configure(self, config):
        """This distribution for a model `config`: model parallelism needs its shapes."""
        if self.strategy != Strategy.MODEL_PARALLEL:
            return self
        return megatron_distribution(config, self.devices, _model_axis(len(self.devices)))

    @property
    def worker_index(self):
        """This process's index in a multi-worker TensorFlow cluster or a multi-process JAX run
        (None elsewhere); 0 is the chief."""
        if self.strategy == Strategy.MULTI_WORKER:
            return self.tf_strategy.cluster_resolver.task_id
        if self.backend == "jax" and jax_processes() > 1:
            import jax

            return jax.process_index()
        return None

    def lost_workers(self, error):
        """The other workers `error` says stopped ('worker 1 (host:port)'), for a run across
        processes whose collectives failed because one of them is gone: TensorFlow's aborted
        after missed heartbeats, JAX's gloo all-reduce found its peer's connection closed.
        [] for any other error."""
        if self.strategy == Strategy.MULTI_WORKER:
            return self._lost_tensorflow_workers(error)
        if self.backend == "jax" and jax_processes() > 1:
            return _lost_jax_processes(error)
        return []

    def _lost_tensorflow_workers(self, error):
        import re

        import tensorflow as tf

        if not isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError)):
            return []
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
        addresses = cluster.get("worker", [])
        tasks = sorted(
            {int(t) for t in re.findall(r"/job:worker/replica:\d+/task:(\d+)", str(error))}
        )
        tasks = [t for t in tasks if t != self.worker_index]
        return [
            f"worker {t}" + (f" ({addresses[t]})" if t < len(addresses) else "") for t in tasks
        ] or (["a worker"] if "unhealthy" in str(error) else [])

    @property
    def collectives_outlive_errors(self):
        """False where a lost process leaves this one unable to exit normally: JAX's
        distributed client waits at shutdown on a barrier the lost process never reaches, then
        aborts the process (SIGABRT, after its heartbeat timeout, some 100 s); the command
        line exits at once instead (`os._exit`), after saying why."""
        return not (self.backend == "jax" and jax_processes() > 1)

    def check_same_step(self, step):
        """Refuse, in one line, to resume a run across processes whose last commits differ
        (one was killed between the others' commit and its own): they would train different
        steps and wait on each other's collectives for ever."""
        if self.strategy == Strategy.MULTI_WORKER:
            self._check_same_tensorflow_step(step)
        elif self.backend == "jax" and jax_processes() > 1:
            import numpy as np
            from jax.experimental import multihost_utils

            steps = [int(s) for s in multihost_utils.process_allgather(np.array([step]))[:, 0]]
            if len(set(steps)) > 1:
                raise ZooError(
                    f"the {len(steps)} processes' last commits differ (this one, process "
                    f"{self.worker_index}: step {step}; theirs: "
                    f"{', '.join(f'step {s}' for s in steps)}), so they cannot resume together: "
                    "a process was stopped between the others' commit and its own"
                )

    def _check_same_tensorflow_step(self, step):
        """Sums of the steps and of their squares across the workers are equal to n·step and
        n·step² only when every step is (TensorFlow's collectives reduce; they do not gather)."""
        import tensorflow as tf

        workers = self.tf_strategy.extended._num_workers
        ours = tf.constant([float(step), float(step) ** 2], tf.float64)
        total = self.tf_strategy.reduce(tf.distribute.ReduceOp.SUM, ours, axis=None).numpy()
        if abs(total[0] - workers * step) > 0.5 or abs(total[1] - workers * step**2) > 0.5:
            mean = total[0] / workers
            raise ZooError(
                f"the {workers} workers' last commits differ (this one, worker "
                f"{self.worker_index}: step {step}; their mean: step {mean:g}), so they cannot "
                "resume together: a worker was stopped between the others' commit and its own"
            )

    def check_batch(self, micro_batch):
        """Each data-parallel replica must get an equal share of every (micro-)batch."""
        if micro_batch % self.replicas:
            raise RunConfigError(
                "strategy",
                f"{self.strategy}: the batch of {micro_batch} sequences "
                f"does not split over {self.replicas} replicas; choose a multiple",
            )

    def xla_setting(self):
        """What XLA compiles under this strategy (recorded as `config.json` "xla")."""
        if self.per_replica_xla:
            return "per replica: forward, loss and gradients (optimizer and all-reduce outside)"
        if self.backend == "jax":
            return (
                "whole step (jax.jit over the sharded step)"
                if self.keras_distribution
                else "whole step (jax.jit)"
            )
        return "whole step (tf.function(jit_compile=True))"

    def describe(self):
        return {
            "strategy": self.strategy,
            "backend": self.backend,
            "replicas": self.replicas,
            "devices": list(self.devices),
            "mesh": self.mesh,
            "replicated": list(self.replicated),
        }


_RESOLVED = {}  # one tf.distribute strategy per process (multi-worker must be created only once)


def check_strategy(strategy="auto", backend=None):
    """Validate the names (cheap: creates nothing); returns the backend's name."""
    if strategy not in STRATEGIES:
        raise RunConfigError(
            "strategy", f"must be one of {', '.join(STRATEGIES)}; received {strategy!r}"
        )
    backend = select_backend(backend, strategy)
    needed = Strategy(strategy).backend
    if needed is not None and needed != backend:
        what = {
            Backend.TENSORFLOW: "a tf.distribute strategy",
            Backend.JAX: "Keras's JAX distribution API",
        }[needed]
        other = Backend.JAX if needed == Backend.TENSORFLOW else Backend.TENSORFLOW
        elsewhere = ", ".join(s.value for s in Strategy.on(other))
        raise RunConfigError(
            "strategy",
            f"{Strategy(strategy).value} is {what}: use ",
            Setting("backend", needed),
            f" (on {other.value}: {elsewhere})",
        )
    return backend


def resolve_distribution(strategy="auto", backend=None):
    """Validate `strategy` against the backend and visible devices, and create it (once)."""
    backend = check_strategy(strategy, backend)
    if (strategy, backend) not in _RESOLVED:
        _RESOLVED[strategy, backend] = _create(strategy, backend)
    return _RESOLVED[strategy, backend]


def start_collectives(strategy="auto", backend=None):
    """Join the other processes of a multi-process run now, before anything starts the backend.

    TensorFlow: `MultiWorkerMirroredStrategy` (named, or found by `auto` in TF_CONFIG)
    configures collective ops, which TensorFlow allows only before its runtime starts
    ("Collective ops must be configured at program startup"); preparing a corpus or a
    tokenizer starts it. The strategy is created here and reused (`resolve_distribution`).
    JAX: with Keras's KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES (2 or
    more) and KERAS_DISTRIBUTION_PROCESS_ID set, `keras.distribution.initialize` connects the
    processes (CPU collectives through gloo), so JAX lists every process's devices and
    `data-parallel` and `model-parallel` span them. `zoo.train` calls this first; elsewhere it
    does nothing."""
    strategy = strategy.value if isinstance(strategy, enum.Enum) else strategy
    if jax_processes() > 1 and select_backend(backend, strategy) == "jax":
        _initialize_jax_processes()
        import jax

        _STARTED["index"] = jax.process_index()
        return
    if strategy not in (Strategy.MULTI_WORKER.value, Strategy.AUTO.value):
        return
    if strategy == Strategy.AUTO and not _tf_config_workers() > 1:
        return
    if check_strategy(strategy, backend) == "tensorflow":
        _STARTED["index"] = resolve_distribution(strategy, backend).worker_index


_STARTED = {}  # this process's index in the multi-process run `start_collectives` joined


def own_copy(path):
    """Where this process keeps its run: `path` for the chief (and any one-process run),
    `<path>.worker-i` for worker i of a multi-process run (it never writes the chief's)."""
    index = _STARTED.get("index")
    if path is None or not index:
        return path
    path = pathlib.Path(path)
    suffix = f".worker-{index}"
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


JAX_PROCESSES_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"  # Keras's, read by initialize()
JAX_ADDRESSES_VARIABLE = "KERAS_DISTRIBUTION_JOB_ADDRESSES"


def jax_processes():
    """How many processes a JAX run spans, as Keras's environment variables say (1: one)."""
    value = os.environ.get(JAX_PROCESSES_VARIABLE) or "1"
    try:
        return int(value)
    except ValueError:
        raise ZooError(
            f"{JAX_PROCESSES_VARIABLE} must be a whole number; found {value!r}"
        ) from None


# What JAX's gloo collectives (CPU) say when a peer process is gone: its sockets closed under
# them. Other runtime errors are not a lost process.
JAX_LOST_PEER = ("Connection closed by peer", "Connection reset by peer")


def _lost_jax_processes(error):
    """['process 1 (host:port)'] for a two-process JAX run whose collective failed because
    the other process is gone; with more processes gloo does not say which ('a process')."""
    import jax

    # JaxRuntimeError from a step's all-reduce; ValueError where JAX re-raises it (the
    # all-gather with which device_put checks that every process holds the same batch).
    text = str(error)
    if "Gloo" not in text or not any(phrase in text for phrase in JAX_LOST_PEER):
        return []
    addresses = [a for a in os.environ.get(JAX_ADDRESSES_VARIABLE, "").split(",") if a]
    if jax_processes() != 2:
        return ["a process"]
    other = 1 - jax.process_index()
    return [f"process {other}" + (f" ({addresses[other]})" if len(addresses) == 2 else "")]


def multi_process_jax():
    """Whether this is one process of a JAX run that spans several."""
    import keras

    return keras.backend.backend() == "jax" and jax_processes() > 1


@functools.cache
def _initialize_jax_processes():
    import keras

    keras.distribution.initialize()


def _tf_config_workers():
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _create(strategy, backend):
    if strategy == Strategy.AUTO:
        strategy = _auto(backend)
    if backend == "jax":
        return _jax_distribution(strategy)
    return _tensorflow_distribution(strategy)


def _auto(backend):
    """tpu or multi-worker when the environment says so; else data parallel over >1 device."""
    if backend == "jax":
        import keras

        several = len(keras.distribution.list_devices()) > 1
        return (Strategy.DATA_PARALLEL if several else Strategy.NONE).value
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
        return Strategy.TPU.value
    if _tf_config_workers() > 1:
        return Strategy.MULTI_WORKER.value
    several = len(_accelerators_or_cpus()) > 1
    return (Strategy.MIRRORED if several else Strategy.NONE).value


def _accelerators_or_cpus():
    import tensorflow as tf

    return tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")


def _tensorflow_distribution(strategy):
    import tensorflow as tf

    if strategy == Strategy.NONE:
        device = _accelerators_or_cpus()[0].name
        return Distribution(Strategy.NONE.value, "tensorflow", [device])
    if strategy == Strategy.MIRRORED:
        devices = [d.name for d in _accelerators_or_cpus()]
        if len(devices) < 2:
            raise RunConfigError(
                "strategy",
                f"mirrored needs at least 2 devices; this machine shows "
                f"{len(devices)} (set {CPU_DEVICES_VARIABLE}=2 to split the CPU)",
            )
        return Distribution(
            Strategy.MIRRORED.value, "tensorflow", devices, tf.distribute.MirroredStrategy(devices)
        )
    if strategy == Strategy.MULTI_WORKER:
        if not os.environ.get("TF_CONFIG"):
            raise RunConfigError(
                "strategy",
                "multi-worker reads the cluster from TF_CONFIG, which is "
                "not set (see the README, 'Several hosts')",
            )
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        mirrored = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
        devices = list(mirrored.extended.worker_devices)
        return Distribution(Strategy.MULTI_WORKER.value, "tensorflow", devices, mirrored)
    # Strategy.TPU
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    # OSError: the resolver asks the cloud metadata server (a URLError off Google Cloud).
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as error:
        name = os.environ.get("TPU_NAME")
        where = f" as TPU_NAME={name}" if name else ""
        raise RunConfigError(
            "strategy", f"tpu: no TPU reachable{where} ({str(error).splitlines()[0]})"
        ) from None
    tpu = tf.distribute.TPUStrategy(resolver)
    return Distribution(Strategy.TPU.value, "tensorflow", list(tpu.extended.worker_devices), tpu)


def _jax_distribution(strategy):
    import keras

    devices = keras.distribution.list_devices()
    if strategy == Strategy.NONE:
        return Distribution(Strategy.NONE.value, "jax", devices[:1])
    if len(devices) < 2:
        raise RunConfigError(
            "strategy",
            f"{strategy} needs at least 2 devices; JAX shows {len(devices)} "
            f"(set {CPU_DEVICES_VARIABLE}=2 to split the CPU)",
        )
    if strategy == Strategy.DATA_PARALLEL:
        mesh = keras.distribution.DeviceMesh((len(devices),), ("batch",), devices)
        return Distribution(
            Strategy.DATA_PARALLEL.value,
            "jax",
            devices,
            keras_distribution=keras.distribution.DataParallel(device_mesh=mesh),
            mesh={"data": len(devices), "model": 1},
        )
    # model-parallel: the layout map needs the model's shapes, see `Distribution.configure`.
    return Distribution(Strategy.MODEL_PARALLEL.value, "jax", devices)


def megatron_distribution(config, devices, model_axis):
    """Model parallelism for `config` over `devices`: a (data, model) mesh with `model_axis`
    devices slicing each replica as `megatron_layouts` says (1: data parallelism, on the same
    mesh; `zoo bench parallel` lays out every mesh this way)."""
    import keras

    data_axis = len(devices) // model_axis
    mesh = keras.distribution.DeviceMesh((data_axis, model_axis), (DATA_AXIS, MODEL_AXIS), devices)
    layouts, replicated = megatron_layouts(config, model_axis)
    layout_map = keras.distribution.LayoutMap(mesh)
    for pattern, axes in layouts.items():
        layout_map[pattern] = axes
    distribution = keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name=DATA_AXIS)
    return Distribution(
        Strategy.MODEL_PARALLEL.value,
        "jax",
        list(devices),
        keras_distribution=distribution,
        replicated=replicated,
        mesh={"data": data_axis, "model": model_axis},
    )


def _model_axis(device_count):
    """Devices per model replica: the largest divisor of the count up to MAX_MODEL_AXIS."""
    return max(d for d in range(1, min(device_count, MAX_MODEL_AXIS) + 1) if device_count % d == 0)


def shard_optimizer_state(optimizer, distribution):
    """Divide `optimizer`'s slots over the data axis too (ZeRO stage 1): each variable's slot
    takes `zero_spec` of the variable's layout and is moved there. Returns the paths moved.

    Keras lays a slot out as its variable (`add_variable_from_reference` copies `_layout`) and
    has no public hook for another layout, so the layout is set on the built slot and its value
    redistributed (`_direct_assign` places a value by the variable's layout). XLA's partitioner
    then computes each slot's update on its own slice and gathers the weights it changes; the
    jitted step keeps the slots where they are (Keras passes each variable's sharding as the
    step's output sharding). Losses and weights equal unsharded training's (tested).
    """
    from keras.distribution import TensorLayout

    mesh = distribution.keras_distribution.device_mesh
    data_axis = dict(zip(mesh.axis_names, mesh.shape))[DATA_AXIS]
    moved = []
    for variable in optimizer.variables:
        layout = getattr(variable, "_layout", None)
        if layout is None or not variable.shape:
            continue
        spec = zero_spec(variable.shape, tuple(layout.axes), data_axis)
        if spec == tuple(layout.axes):
            continue
        variable._layout = TensorLayout(list(spec), mesh)
        variable._direct_assign(variable.value)
        moved.append(variable.path)
    return moved


def bind_per_replica_xla(model):
    """Give `model` train and test steps that compile per replica; `model.per_replica_xla` says so.

    Keras calls these steps per replica under a tf.distribute strategy. Bound on the instance by
    the trainer, so the model class knows nothing of training; elsewhere the steps stay Keras's
    own, compiled whole by `compile(jit_compile=True)`.
    """
    model.train_step = functools.partial(xla_train_step, model)
    model.test_step = functools.partial(xla_test_step, model)
    model._maybe_symbolic_build = functools.partial(_symbolic_build_per_tensor, model)
    model.per_replica_xla = True
    return model


def _symbolic_build_per_tensor(model, iterator=None, data_batch=None):
    """Keras's `_maybe_symbolic_build`, reducing the first distributed batch one tensor at a time.

    Before `fit` and `evaluate` under a tf.distribute strategy, Keras 3 builds the model from
    one batch, reduced across replicas as a whole (x, y) structure; `MultiWorkerMirroredStrategy`
    reduces a tensor or a single `PerReplica`, not a structure of them, so every multi-worker
    run died there ("Attempt to convert a value (PerReplica…) … to a Tensor"). The values only
    give the build its shapes.
    """
    import tensorflow as tf
    from keras.src import tree

    if iterator is not None:
        strategy = model.distribute_strategy
        for _, _, batches in iterator:
            data_batch = tree.map_structure(
                lambda value: (
                    strategy.reduce("MEAN", value, axis=None)
                    if isinstance(value, tf.distribute.DistributedValues)
                    else value
                ),
                next(batches),
            )
            break
    return type(model)._maybe_symbolic_build(model, data_batch=data_batch)


def xla_train_step(model, data):
    """`train_step` with the replica's forward, loss and gradients in one XLA program.

    Called per replica by Keras under a tf.distribute strategy (see the module docstring).
    """
    import tensorflow as tf
    from keras.src.losses import loss as loss_module
    from keras.src.trainers.data_adapters import data_adapter_utils

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    if getattr(model, "_xla_gradients", None) is None:

        def replica_loss_and_gradients(x, y, w):  # the name XLA's HLO modules carry
            return _loss_and_gradients(model, x, y, w)

        model._xla_gradients = tf.function(replica_loss_and_gradients, jit_compile=True)
    loss, gradients = model._xla_gradients(x, y, sample_weight)
    model._loss_tracker.update_state(
        loss_module.unscale_loss_for_distribution(loss), sample_weight=tf.shape(x)[0]
    )
    model.optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    return _step_results(model)


def xla_test_step(model, data):
    """`test_step` with the replica's forward pass and loss in one XLA program."""
    import tensorflow as tf
    from keras.src.losses import loss as loss_module
    from keras.src.trainers.data_adapters import data_adapter_utils

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    if getattr(model, "_xla_loss", None) is None:

        def replica_loss(x, y, w):
            y_pred = model(x, training=False)
            return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=w, training=False)

        model._xla_loss = tf.function(replica_loss, jit_compile=True)
    loss = model._xla_loss(x, y, sample_weight)
    model._loss_tracker.update_state(
        loss_module.unscale_loss_for_distribution(loss), sample_weight=tf.shape(x)[0]
    )
    return _step_results(model)


def _step_results(model):
    """The step's metric results, as Keras reduces them across replicas.

    Under `MultiWorkerMirroredStrategy` Keras 3 reduces each result with
    `strategy.reduce("MEAN", value, axis=0)`, which a scalar has no axis for ("Invalid
    reduction dimension 0 for input with 0 dimensions"): there each result is given one axis of
    length 1, which that reduce removes again, so the logs hold scalars as elsewhere.
    """
    import tensorflow as tf

    results = model.get_metrics_result()
    if not isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return results
    return {name: tf.reshape(value, [1]) for name, value in results.items()}


def _loss_and_gradients(model, x, y, sample_weight):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
        scaled = model.optimizer.scale_loss(loss)
    return loss, tape.gradient(scaled, model.trainable_weights)


def variable_layouts(model):
    """{variable path: partition spec} of a JAX model's sharded variables (optimizer included)."""
    specs = {}
    for variable in list(model.weights) + list(getattr(model.optimizer, "variables", [])):
        sharding = getattr(variable.value, "sharding", None)
        spec = getattr(sharding, "spec", None)
        if spec is not None and any(axis is not None for axis in spec):
            specs[variable.path] = tuple(spec)
    return specs


__all__ = [
    "BACKENDS",
    "STRATEGIES",
    "Distribution",
    "megatron_distribution",
    "megatron_layouts",
    "resolve_distribution",
    "start_collectives",
    "own_copy",
    "multi_process_jax",
    "backend_choice",
    "bind_per_replica_xla",
    "shard_optimizer_state",
    "check_strategy",
    "select_backend",
    "variable_layouts",
    "xla_test_step",
    "xla_train_step",
]
