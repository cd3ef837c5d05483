"""Training: each paper's optimisation recipe (optimizer, schedule, weight-decay mask, loss), the
distribution strategy and the `fit` loop behind `zoo train` (`zoo.training.trainer.train`)."""

# Importing these registers the optimizers, schedules and loss with Keras (package "zoo"), so a
# checkpoint saved with its optimizer loads back with keras.models.load_model in safe mode.
from zoo.training import adafactor, loss, optimizers, schedules  # noqa: F401
