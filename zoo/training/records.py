"""The on-disk record of a run: `results/<run-id>/`.

    config.json       everything resolved: model, training, budget, data, tokenizer, versions,
                      git revision, machine, effective XLA setting
    metrics.jsonl     one JSON object per evaluation (see `METRIC_FIELDS`)
    summary.json      written once, when the run finishes
    failure.json      why it stopped, when training turned non-finite (step, reason)
    tokenizer/        the tokenizer assets (keras-hub loadable)
    model.keras       the trained model (no optimizer), loadable with keras.models.load_model
    probe.npz         a fixed probe batch and the logits the run computed for it
    checkpoint.keras  the last commit: model + optimizer at the last evaluation, with the state
                      that says which step it holds inside the same file (zoo.training.store)
    state.json        a readable copy of that state (never trusted on resume)
    best.weights.h5   weights at the best validation loss (for --patience; written at the end)
    tensorboard/      TensorBoard event files
    run.lock          the writer's lock (zoo.training.store.RunLock)

Every file is written atomically (zoo.files), so a killed run never leaves a half-written file,
and every JSON file is strict JSON (non-finite numbers are written as null and listed).
"""

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import zipfile

from zoo.errors import ZooError
from zoo.files import atomic_save, atomic_write_json, atomic_write_text, json_text
from zoo.training.store import committed_state

METRIC_FIELDS = (
    "step", "tokens", "flops", "learning_rate", "train_loss", "validation_loss",
    "validation_bits_per_byte", "tokens_per_second", "mfu", "skipped_steps", "wall_time",
)  # fmt: skip


def results_root():
    return pathlib.Path(os.environ.get("ZOO_RESULTS", "results"))


def new_run_id(name):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{name}-{stamp}"


class RunRecord:
    """Reads and writes one run directory."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    # --- paths ---
    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    model_path = property(lambda self: self.path / "model.keras")
    checkpoint_path = property(lambda self: self.path / "checkpoint.keras")
    state_path = property(lambda self: self.path / "state.json")
    best_weights_path = property(lambda self: self.path / "best.weights.h5")
    probe_path = property(lambda self: self.path / "probe.npz")
    tokenizer_path = property(lambda self: self.path / "tokenizer")
    tensorboard_path = property(lambda self: self.path / "tensorboard")
    failure_path = property(lambda self: self.path / "failure.json")

    @property
    def complete(self):
        return self.summary_path.exists()

    def read_json(self, path):
        """The file's JSON, None when it does not exist; a damaged file is a `ZooError`."""
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ZooError(f"{path} is damaged ({type(error).__name__}: {error})") from None

    def config(self):
        return self.read_json(self.config_path)

    def state(self):
        """Where the last commit stands (step, evaluations, ...), or None before the first."""
        return committed_state(self)

    def setting(self, key):
        """`config.json`'s value of `key`; None without a config or when the record is damaged
        (a damaged record is never reused or resumed, and `zoo runs` shows it as damaged)."""
        try:
            return (self.config() or {}).get(key)
        except ZooError:
            return None

    def summary(self):
        return self.read_json(self.summary_path)

    def metrics(self):
        if not self.metrics_path.exists():
            return []
        try:
            return [json.loads(line) for line in self.metrics_path.read_text().splitlines()
                    if line]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ZooError(f"{self.metrics_path} is damaged ({type(error).__name__}: "
                           f"{error})") from None

    def write_metrics(self, rows):
        """Rewrite metrics.jsonl whole (atomically); runs log tens of rows, not millions."""
        atomic_write_text(self.metrics_path, "".join(json_text(r, indent=None) for r in rows))

    def write_config(self, config):
        atomic_write_json(self.config_path, config)

    def write_state(self, state):
        atomic_write_json(self.state_path, state)

    def write_summary(self, summary):
        atomic_write_json(self.summary_path, summary)

    def failure(self):
        """Why the run stopped without finishing (step, reason), or None."""
        return self.read_json(self.failure_path)

    def write_failure(self, failure):
        atomic_write_json(self.failure_path, failure)


def find_run(run_or_path):
    """A `RunRecord` for a run id (under the results root) or a directory path."""
    for candidate in (pathlib.Path(run_or_path), results_root() / str(run_or_path)):
        if (candidate / "config.json").exists():
            return RunRecord(candidate)
    raise ZooError(f"no run at {run_or_path!r} (looked for config.json there and under "
                   f"{results_root()}/)")


def model_source(run_or_file, option="model"):
    """(model file, tokenizer directory or None) of a run id, a run directory or a .keras file.

    A run gives its trained model, else its latest checkpoint, and its tokenizer/; a .keras file
    gives the `tokenizer/` directory beside it, if there is one (what `zoo export` and `zoo
    import` write). `option` names the argument in errors.
    """
    try:
        run = find_run(run_or_file)
    except ZooError:
        path = pathlib.Path(run_or_file)
        if path.suffix != ".keras" or not path.is_file():
            raise ZooError(f"{option} {str(run_or_file)!r} is neither a run nor a .keras file") from None
        tokenizer = path.with_name("tokenizer")
        return path, tokenizer if tokenizer.is_dir() else None
    path = run.model_path if run.model_path.exists() else run.checkpoint_path
    if not path.exists():
        raise ZooError(f"{option} {str(run_or_file)!r}: the run has no model or checkpoint yet")
    return path, run.tokenizer_path if run.tokenizer_path.is_dir() else None


def saved_model_config(path):
    """The `ModelConfig` inside a zoo .keras file, read from its config.json without building
    the model or loading weights (a .keras file is a zip archive)."""
    from zoo.config import ModelConfig

    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
        if saved.get("class_name") != "DecoderLM":
            raise ZooError(f"{path}: holds a {saved.get('class_name')}, not a zoo DecoderLM")
        return ModelConfig.from_dict(saved["config"]["config"])
    except (OSError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ZooError(f"{path}: not a readable .keras file ({type(error).__name__}: {error})") from None


def load_decoder(path):
    """`keras.models.load_model(path)` of a zoo model, without optimizer, one-line errors."""
    saved_model_config(path)  # a clear message for files that are not zoo models
    import keras

    import zoo.model  # noqa: F401  registers the zoo layers for safe-mode loading

    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ZooError(f"{path}: cannot be loaded ({reason})") from None


def list_runs():
    root = results_root()
    if not root.is_dir():
        return []
    runs = [RunRecord(p) for p in sorted(root.iterdir()) if (p / "config.json").exists()]
    return sorted(runs, key=lambda r: r.config_path.stat().st_mtime)


def environment():
    """Package versions, git revision and machine, for config.json."""
    import keras
    import keras_hub
    import numpy
    import tensorflow

    from zoo import __version__

    versions = {
        "python": sys.version.split()[0],
        "zoo": __version__,
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "tensorflow": tensorflow.__version__,
        "numpy": numpy.__version__,
        "backend": keras.backend.backend(),
    }
    return {
        "versions": versions,
        "git_revision": _git_revision(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }


def _git_revision():
    here = pathlib.Path(__file__).resolve().parent
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                  text=True, timeout=10)
        if revision.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return revision.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def export_model(run_or_path, out):
    """Write the run's trained model (or its latest checkpoint, without optimizer state) to `out`.

    The file is written beside `out` and moved into place, so `out` is never half-written.
    """
    out = pathlib.Path(out)
    if out.suffix != ".keras":
        raise ZooError(f"--out must end in .keras; received {str(out)!r}")
    run = find_run(run_or_path)
    source = run.model_path if run.model_path.exists() else run.checkpoint_path
    if not source.exists():
        raise ZooError(f"{run.path} has neither a model nor a checkpoint yet")
    from zoo.model import DecoderLM

    trained = load_decoder(source)  # one-line errors for a file that is not a zoo model
    model = DecoderLM.from_config(trained.get_config())
    model.set_weights(trained.get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save(out, model.save)


def run_rows():
    """One plain row per run, for `zoo runs`."""
    rows = []
    for run in list_runs():
        try:
            config = run.config() or {}
            summary = run.summary()
            state = run.state() or {}
            last = (run.metrics() or [{}])[-1]
        except ZooError as error:  # one damaged record must not hide the others
            rows.append({"run_id": run.path.name, "path": str(run.path), "preset": None,
                         "status": "damaged", "problem": str(error), "steps": None,
                         "total_steps": None, "tokens": None, "validation_loss": None,
                         "validation_bits_per_byte": None, "tokens_per_second": None,
                         "mfu": None})
            continue
        source = summary or last
        rows.append({
            "run_id": run.path.name,
            "path": str(run.path),
            "preset": config.get("preset"),
            "status": "complete" if summary else ("failed" if run.failure()
                                                  else "unfinished"),
            "steps": summary["steps"] if summary else state.get("step", 0),
            "total_steps": config.get("budget", {}).get("steps"),
            "tokens": source.get("tokens"),
            "validation_loss": source.get("validation_loss"),
            "validation_bits_per_byte": source.get("validation_bits_per_byte"),
            "tokens_per_second": source.get("tokens_per_second"),
            "mfu": source.get("mfu"),
        })  # fmt: skip
    return rows
