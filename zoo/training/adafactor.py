"""`UnfactoredAdafactor`: PaLM's optimizer, Adafactor without factorisation (PaLM §5).

Keras's `Adafactor` always factorises the second moment of ≥ 2-D variables and has no first
moment, so it cannot express PaLM's choice. This is Shazeer & Stern (2018, arXiv:1804.04235)
with every variable treated as the paper treats weight vectors (a full second moment), with its
update clipping, increasing β2 schedule, parameter-scaled relative step size, and momentum β1.
Per variable X, at step t = 1, 2, …:

    β2_t = 1 - t^beta_2_decay                      (0 at t = 1, so v starts at g²)
    v_t  = β2_t·v + (1 - β2_t)·(g² + ε1)
    U    = g / sqrt(v_t)
    U    = U / max(1, RMS(U) / clip_threshold)      (update clipping)
    m_t  = β1·m + (1 - β1)·U
    X    = X - lr_t · max(ε2, RMS(X)) · m_t         (parameter scaling)

The β2 rule makes v unbiased from the first step; m is not bias-corrected, which damps the first
few updates (m_1 = 0.1·U at β1 = 0.9). Weight decay, when set, is Keras's decoupled
X -= X·weight_decay·lr_t, applied before the update to the variables `MatrixWeightDecay` selects.
"""

import keras
from keras import ops

from zoo.training.clipping import DenseGradientClipping
from zoo.training.weight_decay import MatrixWeightDecay


def _rms(x):
    return ops.sqrt(ops.mean(ops.square(x)))


@keras.saving.register_keras_serializable(package="zoo")
class UnfactoredAdafactor(DenseGradientClipping, MatrixWeightDecay, keras.optimizers.Optimizer):
    """Adafactor with a full (unfactored) second moment, momentum and parameter scaling.

    Args:
        learning_rate: float or `LearningRateSchedule`; the relative step size ρ_t, multiplied by
            each variable's RMS (at least `epsilon_2`).
        beta_1: first-moment decay (PaLM: 0.9; 0 disables momentum).
        beta_2_decay: exponent of the β2 rule β2_t = 1 - t^beta_2_decay (PaLM: -0.8).
        epsilon_1: added to g² so that zero gradients do not divide by zero (paper: 1e-30).
        epsilon_2: floor of the parameter scale, so zero-initialised weights can move (1e-3).
        clip_threshold: largest RMS of the normalised update U (paper: 1.0).
        **kwargs: the base `keras.optimizers.Optimizer` arguments (`weight_decay`,
            `global_clipnorm`, `gradient_accumulation_steps`, ...).
    """

    def __init__(
        self,
        learning_rate=1e-2,
        beta_1=0.9,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        name="unfactored_adafactor",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]

        step = ops.cast(self.iterations + 1, dtype)  # applied updates, also under accumulation
        beta_2 = 1.0 - ops.power(step, ops.cast(self.beta_2_decay, dtype))
        self.assign(v, beta_2 * v + (1.0 - beta_2) * (ops.square(g) + self.epsilon_1))
        u = g * ops.rsqrt(v)
        u = u / ops.maximum(1.0, _rms(u) / self.clip_threshold)
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * u)
        scale = ops.maximum(ops.cast(self.epsilon_2, dtype), _rms(variable))
        self.assign_sub(variable, lr * scale * m)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
        }
