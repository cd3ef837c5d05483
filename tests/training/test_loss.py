"""Next-token cross-entropy and PaLM's z-loss against NumPy, in float32 whatever the logits."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.training.loss import LanguageModelLoss

VALIDATION = LanguageModelLoss(z_loss_weight=0.0)  # what validation and bits per byte use


def token_cross_entropy(token_ids, logits):
    """The loss's per-token values, (batch, seq), before Keras reduces them."""
    return VALIDATION.call(token_ids, logits)


def cross_entropy(token_ids, logits):
    return VALIDATION(token_ids, logits)


VOCAB = 11


def reference(token_ids, logits, z_loss_weight=0.0):
    """Per-token cross-entropy and log Z in float64."""
    logits = np.asarray(logits, "float64")
    top = logits.max(-1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
    target = np.take_along_axis(logits, token_ids[..., None], -1)[..., 0]
    return log_z - target + z_loss_weight * log_z**2, log_z


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(2, 5, VOCAB)) * 3 + 4).astype("float32")  # offset: log Z ≈ 7
    token_ids = rng.integers(0, VOCAB, size=(2, 5)).astype("int32")
    return token_ids, logits


def test_cross_entropy_matches_numpy(batch):
    token_ids, logits = batch
    expected, _ = reference(token_ids, logits)
    np.testing.assert_allclose(token_cross_entropy(token_ids, logits), expected, rtol=1e-6)
    assert float(cross_entropy(token_ids, logits)) == pytest.approx(expected.mean(), rel=1e-6)
    assert float(LanguageModelLoss()(token_ids, logits)) == pytest.approx(expected.mean(), rel=1e-6)


@pytest.mark.parametrize("z_loss_weight", [1e-4, 0.05])
def test_z_loss_adds_weighted_mean_squared_log_partition(batch, z_loss_weight):
    token_ids, logits = batch
    expected, log_z = reference(token_ids, logits, z_loss_weight)
    loss = LanguageModelLoss(z_loss_weight=z_loss_weight)(token_ids, logits)
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-6)
    # The term itself, so a tiny weight cannot hide behind the tolerance.
    term = float(loss) - float(cross_entropy(token_ids, logits))
    assert term == pytest.approx(z_loss_weight * np.mean(log_z**2), rel=1e-3)
    assert term > 0


def test_bfloat16_logits_are_reduced_in_float32(batch):
    token_ids, logits = batch
    low = ops.cast(logits, "bfloat16")
    rounded = ops.convert_to_numpy(ops.cast(low, "float32"))  # what the model actually produced
    expected, _ = reference(token_ids, rounded, 1e-4)
    loss = LanguageModelLoss(z_loss_weight=1e-4)(token_ids, low)
    assert ops.convert_to_numpy(loss).dtype == np.float32
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-6)
    assert ops.convert_to_numpy(token_cross_entropy(token_ids, low)).dtype == np.float32
    assert float(cross_entropy(token_ids, low)) == pytest.approx(
        reference(token_ids, rounded)[0].mean(), rel=1e-6
    )


def test_large_logits_stay_finite():
    logits = np.full((1, 2, VOCAB), 3e4, "float32")
    logits[0, :, 3] += 10.0
    token_ids = np.array([[3, 4]], "int32")
    expected, _ = reference(token_ids, logits)
    # A naive exp() overflows; float32 resolves log Z ≈ 3e4 only to its spacing there (0.002).
    actual = ops.convert_to_numpy(token_cross_entropy(token_ids, logits))
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(actual, expected, atol=2 * np.spacing(np.float32(3e4)))


def test_large_vocabulary_ids_survive_the_float32_cast():
    # Loss.__call__ casts y_true to the loss dtype; ids up to 2^24 are exact in float32.
    vocabulary = 256_000  # PaLM's
    logits = np.zeros((1, 1, vocabulary), "float32")
    logits[0, 0, vocabulary - 1] = 5.0
    token_ids = np.array([[vocabulary - 1]], "int32")
    expected, _ = reference(token_ids, logits)
    assert float(LanguageModelLoss()(token_ids, logits)) == pytest.approx(expected.mean(), rel=1e-6)


def test_sample_weight_weights_tokens(batch):
    token_ids, logits = batch
    weights = np.zeros((2, 5), "float32")
    weights[:, :2] = 1.0
    expected, _ = reference(token_ids, logits)
    loss = LanguageModelLoss()(token_ids, logits, sample_weight=weights)
    # Keras's sum_over_batch_size divides by the token count, not by the weights' sum.
    assert float(loss) == pytest.approx((expected * weights).sum() / weights.size, rel=1e-6)


def test_config_round_trip():
    loss = LanguageModelLoss(z_loss_weight=3e-4, name="lm", reduction="sum")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss), safe_mode=True
    )
    assert type(restored) is LanguageModelLoss
    assert restored.get_config() == loss.get_config()
    assert restored.get_config()["z_loss_weight"] == 3e-4
    with pytest.raises(ValueError, match="z_loss_weight"):
        LanguageModelLoss(z_loss_weight=-1.0)
