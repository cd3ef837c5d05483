"""Next-token cross-entropy, with PaLM's z-loss, computed in float32 whatever the logits' dtype.

Token ids `(batch, seq)` against logits `(batch, seq, vocab)`. Per token,

    log Z = logsumexp(logits)
    loss  = log Z - logits[target] + z_loss_weight · (log Z)²

PaLM §5 adds the z-loss (weight 1e-4) to keep log Z near 0 for stability; it is a training term
only, so validation loss and bits per byte are this loss with `z_loss_weight=0`
(`zoo.training.loop.evaluation_model`).
"""

import keras
from keras import ops


def _log_partition_and_target(token_ids, logits):
    """log Z and the target's logit, both (batch, seq) float32."""
    logits = ops.cast(logits, "float32")  # (b, t, V)
    token_ids = ops.cast(token_ids, "int32")  # (b, t)
    log_z = ops.logsumexp(logits, axis=-1)  # (b, t)
    target = ops.take_along_axis(logits, ops.expand_dims(token_ids, -1), axis=-1)  # (b, t, 1)
    return log_z, ops.squeeze(target, -1)


@keras.saving.register_keras_serializable(package="zoo")
class LanguageModelLoss(keras.losses.Loss):
    """Mean next-token cross-entropy from logits, plus `z_loss_weight · mean(log² Z)`.

    Keras reduces the per-token values (`sum_over_batch_size`: the mean over every token); a
    `sample_weight` of shape (batch, seq) weights tokens, but Keras still divides by the number of
    tokens, not by the sum of the weights.

    Args:
        z_loss_weight: PaLM's auxiliary weight (1e-4); 0 turns the term off.
    """

    def __init__(
        self, z_loss_weight=0.0, name="language_model_loss", reduction="sum_over_batch_size"
    ):
        if not z_loss_weight >= 0:
            raise ValueError(f"z_loss_weight must be >= 0; received {z_loss_weight!r}")
        # float32 always: Loss.__call__ casts y_true to this dtype too, and token ids are exact in
        # float32 up to 2^24, but not in bfloat16 or float16.
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.z_loss_weight = float(z_loss_weight)

    def call(self, y_true, y_pred):
        log_z, target = _log_partition_and_target(y_true, y_pred)
        loss = log_z - target  # (b, t)
        if self.z_loss_weight > 0:
            loss = loss + self.z_loss_weight * ops.square(log_z)
        return loss

    def get_config(self):
        return {**super().get_config(), "z_loss_weight": self.z_loss_weight}
