"""`SpikeGuard`: skip the optimizer update of a step whose gradient norm is a spike.

A step is skipped when its global gradient norm ‖g‖ (float32, before clipping) is

    not finite, always; or
    above median(‖g‖) · exp(threshold · 1.4826 · MAD(log ‖g‖)) over the last `window` norms,
    i.e. its log is more than `threshold` robust standard deviations above theirs.

The rule, and why each part. The published guards are OLMo-core's `SkipStepOptimizer` and
Levanter's `SkipStepConfig`: mean + 6σ of the last 128 norms, skipped or not; OLMo-core waits
for max(20, 64) of them. This module's first rule took that band over *accepted* norms only, from
16 of them, and locked healthy runs out (`tests/training/data/` holds the recorded norms):

- **Every finite norm enters the window, skipped or not**, as in both. A window of accepted
  norms cannot follow a lasting change of level: every later norm is above a band that no
  longer moves. (`gpt2-small`'s weights after step 25 gave norms of 20-260 on every batch, 80x
  the window's; the first rule skipped every step from 26 on, so the weights never left that
  state. Taken, the one clipped step at 26 brought the norm back to 0.4 at once.)
- **The statistics start after the learning-rate warmup** (`warmup_steps`): while the rate
  rises the norm is in transition (in the recorded `-small` runs, one-step jumps of 30-150x
  inside the 30-step warmup that resolve at the next step), so norms of the warmup are neither
  judged nor held, and judging starts once `min_history` later ones are held (OLMo-core's
  floor of 20, see `MIN_HISTORY`).
- **A robust centre and spread of the log norm**: the median and the median absolute deviation
  (scaled by 1.4826 to estimate σ for normal data; Rousseeuw & Croux 1993) instead of the mean
  and std, because spikes enter the window and a std would be widened by the spike it judges
  and by its neighbours for `window` steps, where the median and MAD move by one rank. Of the
  log, because the norm's noise is multiplicative: at the zoo's batches of 16 × 256 tokens its
  step-to-step spread is about 15% of its level and its upper tail is long, so a band in norm
  units skipped a healthy 1.9x excursion of `gpt3-small` (step 193) that is 4.7 robust σ in
  log units, while the spikes this guard exists for are 10-1000x.
- **A bound on consecutive skips**: after `max_consecutive_skips` skipped steps in a row the
  norm has moved, not spiked: that step is accepted and the window restarts from the norms since
  the move (judging again once `min_history` are held). So the guard cannot stop a run: a run is
  declared diverged only by a non-finite loss or gradient norm (the training loop), and
  persistent spikes are PaLM's rewind's business (`rewind_after_spikes`), not the guard's.
- One-sided (a norm far *below* the band is not a spike), and the loss is not looked at.

Skipping leaves the optimizer state exactly as before the step, bit for bit: the trainable
variables and every inner-optimizer variable (moments, `iterations`, gradient accumulators, EMA
averages). With `gradient_accumulation_steps` each `apply` is one micro-batch and is judged on its
own norm; a skipped micro-batch is as if it had never been seen (the accumulator and the
micro-step count keep their values, so the update waits for another accepted micro-batch). The
guard's own state does change: `skipped_steps`, `nonfinite_steps` (also counted as skipped),
`accepted_steps`, `last_gradient_norm`, `consecutive_skips`, `restarts`, `history` and the ring
buffer `gradient_norms`.

Mechanism, one for every backend: snapshot the state, run the inner optimizer, then write back
`where(accept, new, old)` into each variable. Unlike a side-effecting `cond` this is pure data
flow, so it traces inside `jax.jit` (Keras's `stateless_apply`) and inside the one XLA program of
a TensorFlow `jit_compile` step; the medians are two sorts of `window` floats. Under a
`tf.distribute` strategy the optimizer runs per replica on unreduced gradients: the guard
all-reduces them itself (the one all-reduce the inner optimizer would have done, which is then
turned off), so the norm is that of the applied gradient and identical on every replica, and it
writes the variables back through `merge_call` + `extended.update`, the only legal way to assign
mirrored variables. (Keras 3.15's own gradient accumulation fails under MirroredStrategy, guard or
not: its `cond` holds a `merge_call`. Were it fixed, the guard would all-reduce every micro-batch,
not every update.)

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

# The rule's version: 1 was mean + 6 std of accepted norms only; 2 is this module's. Runs record
# it, so a guarded run is never reused or resumed under another rule.
RULE_VERSION = 2

# Norms held before spikes are judged. The band needs a usable spread: from n samples the MAD's
# estimate of σ has a relative standard error of about 1.17/sqrt(n), 26% at n = 20, so a 6σ limit
# is then known to within about ±1.6σ. OLMo-core waits for max(20, window // 2); its floor of 20
# lets the guard protect the short runs this zoo trains, from about step 20 on.
MIN_HISTORY = 20

# Skipped steps in a row after which the norm is taken to have moved rather than spiked. A spike
# is one step or a few; at most this many healthy steps are lost to a lasting change of level.
MAX_CONSECUTIVE_SKIPS = 8

# MAD × this estimates σ for normally distributed values: 1 / Φ⁻¹(3/4).
MAD_TO_SIGMA = 1.482602218505602
_TINY_NORM = 1e-30  # a zero norm's logarithm is taken at this floor, not -inf


@keras.saving.register_keras_serializable(package="zoo")
class SpikeGuard(keras.optimizers.Optimizer):
    """Wrap `inner_optimizer`; skip updates whose gradient norm is a spike or not finite.

    Args:
        inner_optimizer: the `keras.optimizers.Optimizer` that makes the updates; clipping,
            weight decay, loss-scale factor and gradient accumulation are set on it.
        threshold: how many robust standard deviations (1.4826 · MAD) of the log norm above
            the window's median a norm may be.
        window: the latest finite norms (of every step after the warmup, skipped or not) the
            median and MAD are taken over (a ring buffer).
        min_history: norms held before spikes are judged (see `MIN_HISTORY`).
        warmup_steps: applied updates of the inner optimizer before norms are held and judged
            (the learning-rate warmup; `make_optimizer` passes the schedule's).
        max_consecutive_skips: skipped steps in a row after which the next one above the band is
            accepted and the window restarts from the norms since the move (the last
            `min(max_consecutive_skips, window - 1) + 1`).
        name: the optimizer's name.

    Read after any step (Keras variables; `statistics()` gives them as Python numbers):
        skipped_steps, nonfinite_steps, accepted_steps, last_gradient_norm, consecutive_skips,
        restarts, history, gradient_norms.
    `learning_rate`, `iterations`, `weight_decay`, `_use_weight_decay` and `scale_loss` are the
    inner optimizer's.
    """

    def __init__(
        self,
        inner_optimizer,
        threshold=6.0,
        window=128,
        min_history=MIN_HISTORY,
        warmup_steps=0,
        max_consecutive_skips=MAX_CONSECUTIVE_SKIPS,
        name=None,
    ):
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                f"SpikeGuard wraps a keras.optimizers.Optimizer; received {inner_optimizer!r}"
            )
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not threshold > 0
            or not math.isfinite(threshold)
        ):
            raise ValueError(f"threshold must be a positive number; received {threshold!r}")
        if not _is_int(window) or window < 2:
            raise ValueError(f"window must be an integer >= 2; received {window!r}")
        if not _is_int(min_history) or not 2 <= min_history <= window:
            raise ValueError(
                f"min_history must be an integer in [2, window={window}]; received {min_history!r}"
            )
        if not _is_int(warmup_steps) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0; received {warmup_steps!r}")
        if not _is_int(max_consecutive_skips) or max_consecutive_skips < 1:
            raise ValueError(
                f"max_consecutive_skips must be an integer >= 1; received {max_consecutive_skips!r}"
            )
        # Like LossScaleOptimizer: the base arguments (clipping, decay, ...) belong to the inner
        # optimizer, and the wrapper's own learning rate and iteration count are never used.
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.threshold = float(threshold)
        self.window = window
        self.min_history = min_history
        self.warmup_steps = warmup_steps
        self.max_consecutive_skips = max_consecutive_skips
        self.rule_version = RULE_VERSION

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        if self.built:
            return
        self._gradient_norms = self.add_variable(
            (self.window,), dtype="float32", name="gradient_norms"
        )
        self._accepted_steps = self.add_variable((), dtype="int", name="accepted_steps")
        self._skipped_steps = self.add_variable((), dtype="int", name="skipped_steps")
        self._nonfinite_steps = self.add_variable((), dtype="int", name="nonfinite_steps")
        self._last_gradient_norm = self.add_variable((), dtype="float32", name="last_gradient_norm")
        self._history = self.add_variable((), dtype="int", name="history")
        self._consecutive_skips = self.add_variable((), dtype="int", name="consecutive_skips")
        self._restarts = self.add_variable((), dtype="int", name="restarts")
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
        """Steps whose update was applied."""
        return self._built_variable("_accepted_steps")

    @property
    def last_gradient_norm(self):
        """The global gradient norm of the latest step, accepted or not."""
        return self._built_variable("_last_gradient_norm")

    @property
    def consecutive_skips(self):
        """Spikes skipped since the last accepted step (non-finite steps neither count nor
        reset it)."""
        return self._built_variable("_consecutive_skips")

    @property
    def restarts(self):
        """Times the window restarted because the norm had moved (`max_consecutive_skips`)."""
        return self._built_variable("_restarts")

    @property
    def history(self):
        """Finite norms recorded since the warmup ended or the window last restarted; the window
        holds the latest `min(history, window)` of them."""
        return self._built_variable("_history")

    @property
    def gradient_norms(self):
        """The ring buffer of finite norms; slot `history % window` is written next."""
        return self._built_variable("_gradient_norms")

    def _built_variable(self, name):
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} has no {name[1:]} before it is built "
                f"(build it, or apply a step)"
            )
        return getattr(self, name)

    def statistics(self):
        """The guard's counters and the band the next step is judged against, as numbers."""
        self._built_variable("_accepted_steps")
        median, spread, limit = (float(ops.convert_to_numpy(x)) for x in self._band()[:3])
        number = lambda v: int(ops.convert_to_numpy(v))  # noqa: E731
        history = number(self._history)
        return {
            "accepted_steps": number(self._accepted_steps),
            "skipped_steps": number(self._skipped_steps),
            "nonfinite_steps": number(self._nonfinite_steps),
            "consecutive_skips": number(self._consecutive_skips),
            "restarts": number(self._restarts),
            "last_gradient_norm": float(ops.convert_to_numpy(self._last_gradient_norm)),
            "history": min(history, self.window),
            "median": median if history else math.nan,
            "spread": spread if history else math.nan,
            "limit": limit if history >= self.min_history else math.inf,
        }

    # === The step ===

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must "
                    "already be built: call `optimizer.build(trainable_variables)`."
                )
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
        _, _, limit, history = self._band()
        finite = ops.isfinite(norm)
        updates = ops.cast(_read(self.inner_optimizer.iterations), history.dtype)
        warmed = ops.greater_equal(updates, self.warmup_steps)
        # Norms are held only after the warmup, so `min_history` of them means it is over.
        judging = ops.greater_equal(history, self.min_history)
        above = ops.logical_and(judging, ops.greater(norm, limit))
        consecutive = _read(self._consecutive_skips)
        moved = ops.logical_and(above, ops.greater_equal(consecutive, self.max_consecutive_skips))
        spike = ops.logical_and(above, ops.logical_not(moved))
        accept = ops.logical_and(finite, ops.logical_not(spike))

        state = variables + [v for v in self.inner_optimizer.variables if v is not None]
        before = [_read(v) for v in state]
        self.inner_optimizer.apply(grads, variables)
        writes = [(v, ops.where(accept, _read(v), old)) for v, old in zip(state, before)]
        writes += self._own_updates(norm, ops.logical_and(finite, warmed), finite, spike, moved)
        write(writes)

    def _band(self):
        """(median, spread, limit, history) of the norms held: the median norm, the robust σ of
        the log norms (1.4826 · their MAD), and median · exp(threshold · spread)."""
        history = _read(self._history)
        held = ops.minimum(history, self.window)
        valid = ops.less(ops.arange(self.window, dtype=history.dtype), held)
        logs = ops.log(ops.maximum(_read(self._gradient_norms), _TINY_NORM))
        centre = _masked_median(logs, valid, held)
        spread = MAD_TO_SIGMA * _masked_median(ops.abs(logs - centre), valid, held)
        return ops.exp(centre), spread, ops.exp(centre + self.threshold * spread), history

    def _own_updates(self, norm, held, finite, spike, moved):
        history = _read(self._history)
        slots = ops.arange(self.window, dtype=history.dtype)
        norms = _read(self._gradient_norms)
        # A finite norm goes into slot history % window. After a move, the window restarts:
        # slots 0..k-1 get the k skipped norms before this one (oldest first), slot k this one.
        k = min(self.max_consecutive_skips, self.window - 1)
        appended = ops.where(ops.equal(slots, ops.mod(history, self.window)), norm, norms)
        recent = ops.take(norms, ops.mod(history - k + slots, self.window))
        restarted = ops.where(ops.less(slots, k), recent, ops.where(ops.equal(slots, k), norm, 0.0))
        new_norms = ops.where(held, ops.where(moved, restarted, appended), norms)
        new_history = ops.where(
            held, ops.where(moved, ops.cast(k + 1, history.dtype), history + 1), history
        )
        consecutive = _read(self._consecutive_skips)
        new_consecutive = ops.where(
            spike, consecutive + 1, ops.where(finite, ops.zeros_like(consecutive), consecutive)
        )
        accept = ops.logical_and(finite, ops.logical_not(spike))
        count = lambda flag: ops.cast(flag, history.dtype)  # noqa: E731
        return [
            (self._gradient_norms, new_norms),
            (self._accepted_steps, _read(self._accepted_steps) + count(accept)),
            (self._skipped_steps, _read(self._skipped_steps) + count(ops.logical_not(accept))),
            (self._nonfinite_steps, _read(self._nonfinite_steps) + count(ops.logical_not(finite))),
            (self._last_gradient_norm, norm),
            (self._history, new_history),
            (self._consecutive_skips, new_consecutive),
            (self._restarts, _read(self._restarts) + count(moved)),
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
            "warmup_steps": self.warmup_steps,
            "max_consecutive_skips": self.max_consecutive_skips,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _masked_median(values, valid, count):
    """The median of `values[valid]` (`count` of them; any value when there are none)."""
    ordered = ops.sort(ops.where(valid, values, math.inf))
    count = ops.maximum(count, 1)
    low = ops.take(ordered, (count - 1) // 2)
    high = ops.take(ordered, count // 2)
    return (low + high) / 2.0


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
            strategy.extended.update(
                target, lambda var, x: var.assign(tf.cast(x, var.dtype)), args=(value,), group=False
            )

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
        raise TypeError(
            f"{type(optimizer).__name__} has no {name}: this Keras no longer reduces "
            "gradients where SpikeGuard expects, so it cannot run under a strategy"
        )
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
