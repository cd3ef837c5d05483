"""Training: each paper's optimisation recipe (optimizer, schedule, weight-decay mask, loss), the
data pipeline and the `fit` loop behind `zoo train`."""

# Importing these registers the optimizers, schedules and loss with Keras (package "zoo"), so a
# checkpoint saved with its optimizer loads back with keras.models.load_model in safe mode.
from zoo.training import adafactor, loss, optimizers, schedules  # noqa: F401, E402
from zoo.bench.pipeline import benchmark_pipeline  # noqa: E402
from zoo.training.budget import Budget, resolve_budget  # noqa: E402
from zoo.training.loop import Reporter, RunFailed  # noqa: E402
from zoo.training.records import RunRecord, export_model, find_run, list_runs, run_rows  # noqa: E402
from zoo.training.trainer import train  # noqa: E402
