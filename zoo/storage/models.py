"""Model files: what a run or a .keras path holds, its config without loading, loading, export."""

import json
import pathlib
import zipfile

import keras

from zoo.config import ModelConfig
from zoo.errors import FieldError, Setting, ZooError
from zoo.files import atomic_save
from zoo.model import DecoderLM  # registers the zoo layers for safe-mode loading
from zoo.storage.runs import find_run


def model_source(run_or_file, field="run_or_file"):
    """(model file, tokenizer directory or None) of a run id, a run directory or a .keras file.

    A run gives its trained model, else its latest checkpoint, and its tokenizer/; a .keras file
    gives the `tokenizer/` directory beside it, if there is one (what `zoo export` and `zoo
    import` write). Errors are `FieldError`s of `field`, the caller's name for `run_or_file`.
    """
    try:
        run = find_run(run_or_file)
    except ZooError:
        path = pathlib.Path(run_or_file)
        if path.suffix != ".keras" or not path.is_file():
            raise FieldError(
                field, f"{str(run_or_file)!r} is neither a run nor a .keras file"
            ) from None
        tokenizer = path.with_name("tokenizer")
        return path, tokenizer if tokenizer.is_dir() else None
    path = run.model_path if run.model_path.exists() else run.checkpoint_path
    if not path.exists():
        raise FieldError(field, f"{str(run_or_file)!r}: the run has no model or checkpoint yet")
    return path, run.tokenizer_path if run.tokenizer_path.is_dir() else None


def saved_model_config(path):
    """The `ModelConfig` inside a zoo .keras file, read from its config.json without building
    the model or loading weights (a .keras file is a zip archive)."""
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
        if saved.get("class_name") != "DecoderLM":
            raise ZooError(f"{path}: holds a {saved.get('class_name')}, not a zoo DecoderLM")
        return ModelConfig.from_dict(saved["config"]["config"])
    except (OSError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ZooError(
            f"{path}: not a readable .keras file ({type(error).__name__}: {error})"
        ) from None


def load_decoder(path):
    """`keras.models.load_model(path)` of a zoo model, without optimizer, one-line errors."""
    saved_model_config(path)  # a clear message for files that are not zoo models
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ZooError(f"{path}: cannot be loaded ({reason})") from None


def export_model(run_or_path, out, force=False):
    """Write the run's trained model (or its latest checkpoint, without optimizer state) to `out`.

    The file is written beside `out` and moved into place, so `out` is never half-written. An
    existing `out` (whatever it holds: it may not be the zoo's) is replaced only with `force`.
    """
    out = pathlib.Path(out)
    if out.suffix != ".keras":
        raise FieldError("out", f"must end in .keras; received {str(out)!r}")
    if out.is_dir():
        raise FieldError("out", f"{str(out)!r} is a directory; a .keras path must name a file")
    if not force and (out.exists() or out.is_symlink()):
        raise FieldError(
            "out", f"{str(out)!r} already exists; pass ", Setting("force"), " to replace it"
        )
    run = find_run(run_or_path)
    source = run.model_path if run.model_path.exists() else run.checkpoint_path
    if not source.exists():
        raise ZooError(f"{run.path} has neither a model nor a checkpoint yet")
    trained = load_decoder(source)  # one-line errors for a file that is not a zoo model
    model = DecoderLM.from_config(trained.get_config())
    model.set_weights(trained.get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save(out, model.save)
