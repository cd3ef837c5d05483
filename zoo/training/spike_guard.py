"""`SpikeGuard`: skip the optimizer update of a step whose gradient norm is a spike.

The rule of OLMo-core's skip-step optimizer and Levanter's `SkipStepConfig`, on the gradient norm
alone: a step is skipped when its global gradient norm ‖g‖ (float32, before clipping) is

    not finite, always; or
    > mean + threshold · std of the last `window` accepted norms, once `min_history` are held.

std is the population standard deviation (NumPy's default, ddof=0; Levanter's `nanstd`).
Only accepted norms enter the window (Levanter records every step's), so one spike does not
widen the band for the next. The loss is not looked at (OLMo-core and Levanter also test it).

Skipping leaves the optimizer state exactly as before the step, bit for bit: the trainable
variables and every inner-optimizer variable (moments, `iterations`, gradient accumulators, EMA
averages). With `gradient_accumulation_steps` each `apply` is one micro-batch and is judged on its
own norm; a skipped micro-batch is as if it had never been seen (the accumulator and the
micro-step count keep their values, so the update waits for another accepted micro-batch). The
guard's own counters do change: `skipped_steps`, `nonfinite_steps` (also counted as skipped),
`accepted_steps`, `last_gradient_norm` and the ring buffer `gradient_norms`.

Mechanism, one for every backend: snapshot the state, run the inner optimizer, then write back
`where(accept, new, old)` into each variable. Unlike a side-effecting `cond` this is pure data
flow, so it traces inside `jax.jit` (Keras's `stateless_apply`) and inside the one XLA program of
a TensorFlow `jit_compile` step. Under a `tf.distribute` strategy the
optimizer runs per replica on unreduced gradients: the guard all-reduces them itself (the one
all-reduce the inner optimizer would have done, which is then turned off), so the norm is that of
the applied gradient and identical on every replica, and it writes the variables back through
`merge_call` + `extended.update`, the only legal way to assign mirrored variables. (Keras 3.15's
own gradient accumulation fails under MirroredStrategy, guard or not: its `cond` holds a
`merge_call`. Were it fixed, the guard would all-reduce every micro-batch, not every update.)

Cost: one float32 reduction over the gradients (Keras computes another if `global_clipnorm` is
set) and one extra read, select and write of every trainable and optimizer variable per step;
XLA on CPU does not fuse the select into the update, so the optimizer's apply takes about
1.3-1.5x as long, a small part of a training step. While the step runs, the old values are held
alongside the new ones: up to one more copy of the weights and optimizer state at peak.
"""

import contextlib
import math
import threading

import keras
from keras import ops
from keras.src import backend
from keras.src.utils import tracking

# Fewer accepted norms than this and only non-finite norms are skipped. The band needs a usable
# std: from n samples its relative standard error is about 1/sqrt(2(n-1)), 18% at n = 16, so a
# 6σ limit is then known to within about ±1σ; and the earliest steps, where the norm falls fast,
# are the ones least like what follows. OLMo-core and Levanter wait for half the window (64);
# 16 lets the guard protect the short runs this zoo trains, from about step 16 on.
MIN_HISTORY = 16


@keras.saving.register_keras_serializable(package="zoo")
class SpikeGuard(keras.optimizers.Optimizer):
    """Wrap `inner_optimizer`; skip updates whose gradient norm is a spike or not finite.

    Args:
        inner_optimizer: the `keras.optimizers.Optimizer` that makes the updates; clipping,
            weight decay, loss-scale factor and gradient accumulation are set on it.
        threshold: how many standard deviations above the window's mean a norm may be.
        window: accepted norms the mean and std are taken over (a ring buffer).
        min_history: accepted norms needed before spikes are skipped (see `MIN_HISTORY`).
        name: the optimizer's name.

    Read after any step (Keras variables; `statistics()` gives them as Python numbers):
        skipped_steps, nonfinite_steps, accepted_steps, last_gradient_norm, gradient_norms.
    `learning_rate`, `iterations`, `weight_decay`, `_use_weight_decay` and `scale_loss` are the
    inner optimizer's.
    """

    def __init__(self, inner_optimizer, threshold=6.0, window=128, min_history=MIN_HISTORY,
                 name=None):
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"SpikeGuard wraps a keras.optimizers.Optimizer; received "
                            f"{inner_optimizer!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or not threshold > 0 or not math.isfinite(threshold):
            raise ValueError(f"threshold must be a positive number; received {threshold!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an integer >= 2; received {window!r}")
        if isinstance(min_history, bool) or not isinstance(min_history, int) \
                or not 2 <= min_history <= window:
            raise ValueError(f"min_history must be an integer in [2, window={window}]; "
                             f"received {min_history!r}")
        # Like LossScaleOptimizer: the base arguments (clipping, decay, ...) belong to the inner
        # optimizer, and the wrapper's own learning rate and iteration count are never used.
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.threshold = float(threshold)
        self.window = window
        self.min_history = min_history

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        if self.built:
            return
        self._gradient_norms = self.add_variable((self.window,), dtype="float32",
                                                 name="gradient_norms")
        self._accepted_steps = self.add_variable((), dtype="int", name="accepted_steps")
        self._skipped_steps = self.add_variable((), dtype="int", name="skipped_steps")
        self._nonfinite_steps = self.add_variable((), dtype="int", name="nonfinite_steps")
        self._last_gradient_norm = self.add_variable((), dtype="float32",
                                                     name="last_gradient_norm")
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    # === What the training loop reads ===

    @property
    def skipped_steps(self):
        """Skipped steps (micro-batches under accumulation), non-finite ones included."""
        return self._built_variable("_skipped_steps")

    @property
    def nonfinite_steps(self):
        """Skipped steps whose gradient norm was NaN or infinite."""
        return self._built_variable("_nonfinite_steps")

    @property
    def accepted_steps(self):
        """Steps whose update was applied (their norms fill `gradient_norms`)."""
        return self._built_variable("_accepted_steps")

    @property
    def last_gradient_norm(self):
        """The global gradient norm of the latest step, accepted or not."""
        return self._built_variable("_last_gradient_norm")

    @property
    def gradient_norms(self):
        """The ring buffer of accepted norms; slot `accepted % window` is written next."""
        return self._built_variable("_gradient_norms")

    def _built_variable(self, name):
        if not self.built:
            raise ValueError(f"{type(self).__name__} has no {name[1:]} before it is built "
                             f"(build it, or apply a step)")
        return getattr(self, name)

    def statistics(self):
        """The guard's counters and the band the next step is judged against, as numbers."""
        self._built_variable("_accepted_steps")
        mean, std, limit = (float(ops.convert_to_numpy(x)) for x in self._band()[:3])
        accepted = int(ops.convert_to_numpy(self._accepted_steps))
        return {
            "accepted_steps": accepted,
            "skipped_steps": int(ops.convert_to_numpy(self._skipped_steps)),
            "nonfinite_steps": int(ops.convert_to_numpy(self._nonfinite_steps)),
            "last_gradient_norm": float(ops.convert_to_numpy(self._last_gradient_norm)),
            "history": min(accepted, self.window),
            "mean": mean,
            "std": std,
            "limit": limit if accepted >= self.min_history else math.inf,
        }

    # === The step ===

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must "
                                 "already be built: call `optimizer.build(trainable_variables)`.")
            variables = list(self._trainable_variables)
        else:
            variables = list(trainable_variables)
            if not self.built:
                with backend.name_scope(self.name, caller=self):
                    self.build(variables)
        if not grads:
            return
        if keras.backend.backend() == "tensorflow":
            self._tf_apply(grads, variables)
        else:
            self._guarded_apply(grads, variables, _assign_all)

    def _tf_apply(self, grads, variables):
        import tensorflow as tf

        if not tf.distribute.has_strategy():
            return self._guarded_apply(grads, variables, _assign_all)
        if tf.distribute.in_cross_replica_context():
            raise ValueError("SpikeGuard.apply() must be called in a replica context")
        context = tf.distribute.get_replica_context()
        present = [g for g in grads if g is not None]
        reduced = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
        grads = [None if g is None else next(reduced) for g in grads]
        with _gradients_already_reduced(self.inner_optimizer):
            self._guarded_apply(grads, variables, _merge_assign_all)

    def _guarded_apply(self, grads, variables, write):
        norm = ops.sqrt(_squared_norm(grads))
        factor = self.inner_optimizer.loss_scale_factor
        if factor is not None:  # the inner optimizer divides the gradients by it
            norm = norm / factor
        _, _, limit, accepted = self._band()
        finite = ops.isfinite(norm)
        spike = ops.logical_and(ops.greater_equal(accepted, self.min_history),
                                ops.greater(norm, limit))
        accept = ops.logical_and(finite, ops.logical_not(spike))

        state = variables + [v for v in self.inner_optimizer.variables if v is not None]
        before = [_read(v) for v in state]
        self.inner_optimizer.apply(grads, variables)
        writes = [(v, ops.where(accept, _read(v), old))
                  for v, old in zip(state, before)]
        writes += self._own_updates(norm, accept, finite)
        write(writes)

    def _band(self):
        """(mean, std, mean + threshold·std, accepted count) of the accepted norms held."""
        accepted = _read(self._accepted_steps)
        held = ops.minimum(accepted, self.window)
        valid = ops.less(ops.arange(self.window, dtype=accepted.dtype), held)
        norms = _read(self._gradient_norms)
        count = ops.maximum(ops.cast(held, "float32"), 1.0)
        mean = ops.sum(ops.where(valid, norms, 0.0)) / count
        variance = ops.sum(ops.where(valid, ops.square(norms - mean), 0.0)) / count
        std = ops.sqrt(variance)
        return mean, std, mean + self.threshold * std, accepted

    def _own_updates(self, norm, accept, finite):
        accepted = _read(self._accepted_steps)
        slot = ops.equal(ops.arange(self.window, dtype=accepted.dtype),
                         ops.mod(accepted, self.window))
        norms = _read(self._gradient_norms)
        rejected = ops.logical_not(accept)
        return [
            (self._gradient_norms, ops.where(ops.logical_and(slot, accept), norm, norms)),
            (self._accepted_steps, accepted + ops.cast(accept, accepted.dtype)),
            (self._skipped_steps,
             _read(self._skipped_steps) + ops.cast(rejected, accepted.dtype)),
            (self._nonfinite_steps, _read(self._nonfinite_steps)
             + ops.cast(ops.logical_not(finite), accepted.dtype)),
            (self._last_gradient_norm, norm),
        ]

    # === Forwarded to the inner optimizer ===

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if hasattr(self, "inner_optimizer"):
            self.inner_optimizer.learning_rate = learning_rate
        # else: the base constructor's placeholder rate, before the inner optimizer is attached

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def weight_decay(self):
        inner = self.__dict__.get("inner_optimizer")  # None inside the base constructor
        return None if inner is None else inner.weight_decay

    @weight_decay.setter
    def weight_decay(self, value):
        if value is not None:
            raise ValueError("set weight_decay on SpikeGuard's inner optimizer")

    def _use_weight_decay(self, variable):
        return self.inner_optimizer._use_weight_decay(variable)

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        # Not super().get_config(): the base arguments are the inner optimizer's.
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "threshold": self.threshold,
            "window": self.window,
            "min_history": self.min_history,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"),
                                                      custom_objects=custom_objects)
        return cls(inner, **config)


def _squared_norm(grads):
    """Σ‖g‖² over the gradients in float32 (sparse TensorFlow gradients made dense first)."""
    total = ops.zeros((), "float32")
    for g in grads:
        if g is None:
            continue
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if isinstance(g, tf.IndexedSlices):  # repeated indices add up, as when applied
                g = tf.convert_to_tensor(g)
        total = total + ops.sum(ops.square(ops.cast(g, "float32")))
    return total


def _read(variable):
    """The variable's value now, as a tensor: a snapshot that later assignments do not change.

    On TensorFlow a Keras variable is itself tensor-like (`ops.convert_to_tensor` returns it
    unread), so the read is explicit; under a strategy it reads this replica's copy.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.identity(variable.value if isinstance(variable, keras.Variable) else variable)
    return ops.convert_to_tensor(variable)


def _assign_all(writes):
    for variable, value in writes:
        variable.assign(value)


def _merge_assign_all(writes):
    """Assign mirrored variables from a replica context, each replica its own value."""
    import tensorflow as tf

    variables = [v for v, _ in writes]
    values = [value for _, value in writes]

    def assign(strategy, values):
        for variable, value in zip(variables, values):
            target = variable.value if isinstance(variable, keras.Variable) else variable
            strategy.extended.update(target, lambda var, x: var.assign(tf.cast(x, var.dtype)),
                                     args=(value,), group=False)

    tf.distribute.get_replica_context().merge_call(assign, args=(values,))


_REDUCED_LOCK = threading.Lock()
_REDUCED_DEPTH = {}  # id(optimizer) -> replica threads inside `_gradients_already_reduced`


@contextlib.contextmanager
def _gradients_already_reduced(optimizer):
    """Stop Keras's TensorFlow optimizer from all-reducing gradients the guard has reduced.

    `TFOptimizer._backend_update_step` sums the gradients across replicas; doing it twice would
    multiply them by the replica count, so an identity replaces it on this instance while any
    replica is inside. MirroredStrategy runs the replicas in threads that take turns at each
    `merge_call`, so the replacement is counted and removed by the last replica out.
    """
    name = "_all_reduce_sum_gradients"
    if not callable(getattr(type(optimizer), name, None)):
        raise TypeError(f"{type(optimizer).__name__} has no {name}: this Keras no longer reduces "
                        "gradients where SpikeGuard expects, so it cannot run under a strategy")
    key = id(optimizer)
    with _REDUCED_LOCK:
        if not _REDUCED_DEPTH.get(key):
            optimizer.__dict__[name] = lambda grads_and_vars: list(grads_and_vars)
        _REDUCED_DEPTH[key] = _REDUCED_DEPTH.get(key, 0) + 1
    try:
        yield
    finally:
        with _REDUCED_LOCK:
            _REDUCED_DEPTH[key] -= 1
            if not _REDUCED_DEPTH[key]:
                del _REDUCED_DEPTH[key]
                del optimizer.__dict__[name]
