"""The run directory `results/<run-id>/` and its JSON records (see `zoo.storage`)."""

import datetime
import json
import os
import pathlib

from zoo.errors import ZooError
from zoo.files import atomic_write_json, atomic_write_text, json_text
from zoo.storage.commits import committed_state

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
            return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ZooError(
                f"{self.metrics_path} is damaged ({type(error).__name__}: {error})"
            ) from None

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
    raise ZooError(
        f"no run at {run_or_path!r} (looked for config.json there and under {results_root()}/)"
    )


def list_runs(root=None):
    """The runs under `root` (default: the results root), oldest first."""
    root = results_root() if root is None else pathlib.Path(root)
    if not root.is_dir():
        return []
    runs = [RunRecord(p) for p in sorted(root.iterdir()) if (p / "config.json").exists()]
    return sorted(runs, key=lambda r: r.config_path.stat().st_mtime)


def run_rows():
    """One plain row per run, for `zoo runs`; a damaged record is a row of status "damaged" with
    its `problem` (what is wrong, naming the file) and no figures."""
    rows = []
    for run in list_runs():
        try:
            config = run.config() or {}
            summary = run.summary()
            state = run.state() or {}
            metrics = run.metrics()
            failure = run.failure()
            # Valid JSON of the wrong shape is as damaged as a torn file.
            state_path = run.checkpoint_path if run.checkpoint_path.exists() else run.state_path
            for path, value in (
                (run.config_path, config),
                (run.summary_path, summary),
                (state_path, state),
                (run.metrics_path, (metrics or [{}])[-1]),
                (run.failure_path, failure),
            ):
                if value is not None and not isinstance(value, dict):
                    raise ZooError(f"{path} is damaged: it holds no JSON object")
            budget = config.get("budget") or {}
            if not isinstance(budget, dict):
                raise ZooError(f"{run.config_path} is damaged: its budget is no JSON object")
        except ZooError as error:  # one damaged record must not hide the others
            rows.append(
                {
                    "run_id": run.path.name,
                    "path": str(run.path),
                    "preset": None,
                    "status": "damaged",
                    "problem": str(error),
                    "steps": None,
                    "total_steps": None,
                    "tokens": None,
                    "validation_loss": None,
                    "validation_bits_per_byte": None,
                    "tokens_per_second": None,
                    "mfu": None,
                }
            )
            continue
        source = summary or (metrics or [{}])[-1]
        rows.append({
            "run_id": run.path.name,
            "path": str(run.path),
            "preset": config.get("preset"),
            "status": "complete" if summary else ("failed" if failure else "unfinished"),
            "steps": summary.get("steps") if summary else state.get("step", 0),
            "total_steps": budget.get("steps"),
            "tokens": source.get("tokens"),
            "validation_loss": source.get("validation_loss"),
            "validation_bits_per_byte": source.get("validation_bits_per_byte"),
            "tokens_per_second": source.get("tokens_per_second"),
            "mfu": source.get("mfu"),
        })  # fmt: skip
    return rows
