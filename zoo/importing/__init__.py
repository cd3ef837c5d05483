"""Import released checkpoints (Hugging Face GPT-2/LLaMA safetensors, keras-hub GPT-2/LLaMA
presets) from local files into zoo models.

    >>> from zoo.importing import import_checkpoint
    >>> import_checkpoint("~/models/gpt2", "gpt2.keras")        # a .keras file (+ tokenizer/)
    >>> import_checkpoint("~/models/llama", "results/llama-7b")  # a run directory

Every source tensor must land in exactly one zoo weight with the shape the source config implies,
and every zoo weight must come from a source tensor; anything else is refused with a one-line
`ZooError` before anything is written. Tensors are read with safetensors' numpy reader or by
keras-hub from its own preset; pickle files (`pytorch_model.bin`, `*.pt`, ...) are never opened.
"""

import dataclasses
import pathlib

from zoo.errors import FieldError, Setting, ZooError
from zoo.files import atomic_directory, atomic_save
from zoo.importing import huggingface, kerashub
from zoo.importing.fields import Fields, read_json
from zoo.importing.tensors import (
    SourceTensors,
    file_digests,
    read_safetensors,
    refuse_pickles,
    safetensors_files,
)
from zoo.importing.tokenizer import ImportedTokenizer, find_tokenizer

HUGGING_FACE = "huggingface"
KERAS_HUB = "keras_hub"
# Suffixes that name a file, not a run directory: a likely typo for FILE.keras.
FILE_SUFFIXES = (".h5", ".safetensors", ".bin", ".pt", ".json", ".npz", ".npy", ".weights")


@dataclasses.dataclass
class ImportedCheckpoint:
    """A checkpoint read, mapped and checked, with its weights in a zoo model; nothing written."""

    source: pathlib.Path
    layout: str  # HUGGING_FACE or KERAS_HUB
    model_type: str  # "gpt2" or "llama"
    model: object  # zoo.model.DecoderLM holding the imported weights
    tensors_mapped: int
    weight_files: dict  # file (relative to source) -> sha256
    tokenizer: ImportedTokenizer | None
    tokenizer_note: str

    @property
    def config(self):
        return self.model.config

    @property
    def params(self):
        return self.model.count_params()

    def describe(self):
        """What `config.json` records under "imported_from"."""
        return {
            "source": str(self.source),
            "layout": self.layout,
            "model_type": self.model_type,
            "tensors_mapped": self.tensors_mapped,
            "params": self.params,
            "weight_files_sha256": self.weight_files,
            "tokenizer": self.tokenizer_note,
        }


def import_checkpoint(source, out, force=False):
    """Import the checkpoint in directory `source` and write it to `out`; returns the path.

    `out` ending in `.keras` gets that file (and a `tokenizer/` directory beside it when the
    checkpoint has a tokenizer); any other `out` becomes a run directory (model.keras,
    config.json, summary.json, tokenizer/) that `zoo train --init-from` and `find_run` accept.
    An existing `.keras` file is replaced only with `force`; a run directory that holds
    anything never is.
    """
    check_destination(out, force)
    return write_checkpoint(read_checkpoint(source), out, force)


def read_checkpoint(source):
    """Read, map and check the checkpoint in directory `source`; writes nothing."""
    source = pathlib.Path(source).expanduser()
    if not source.is_dir():
        raise ZooError(f"checkpoint {str(source)!r} is not a directory")
    source = source.resolve()
    document = _source_config(source)
    name = source.name or "imported"
    if kerashub.backbone_class(document):
        return _read_keras_hub(source, document, name)
    return _read_hugging_face(source, document, name)


def _source_config(source):
    has_weights = bool(safetensors_files(source)) or (source / kerashub.WEIGHTS_FILE).is_file()
    if not has_weights:
        refuse_pickles(source)  # before anything else: say why a .bin checkpoint is refused
    if not (source / "config.json").is_file():
        raise ZooError(
            f"{source}: unknown checkpoint layout (no config.json; expected a Hugging "
            "Face directory or a keras-hub preset)"
        )
    return read_json(source / "config.json")


def _read_hugging_face(source, document, name):
    where = str(source / "config.json")
    if not isinstance(document, dict) or "model_type" not in document:
        raise ZooError(
            f"{where}: unknown checkpoint layout (neither a Hugging Face model_type "
            "nor a keras-hub backbone class_name)"
        )
    fields = Fields(document, where)
    model_type = huggingface.family(fields)
    config = huggingface.to_model_config(fields, name)
    files = safetensors_files(source)
    if not files:
        refuse_pickles(source)
        raise ZooError(f"{source}: no model.safetensors (or sharded model-*-of-*.safetensors)")
    tensors = SourceTensors(read_safetensors(files), str(source))
    weights = huggingface.map_weights(tensors, config, model_type)
    tensors.finish()
    return _checkpoint(
        source,
        HUGGING_FACE,
        model_type,
        config,
        weights,
        tensors.taken,
        file_digests(files, source),
        fields.get("eos_token_id"),
    )


def _read_keras_hub(source, document, name):
    where = str(source / "config.json")
    model_type = kerashub.family(kerashub.backbone_class(document), where)
    config = kerashub.to_model_config(document, where, name)
    weights_file = source / kerashub.WEIGHTS_FILE
    if not weights_file.is_file():
        raise ZooError(f"{source}: keras-hub preset without {kerashub.WEIGHTS_FILE}")
    variables, tied = kerashub.read_variables(source, document)
    config = config.replace(tie_embeddings=tied)
    tensors = SourceTensors(variables, str(source))
    weights = kerashub.map_weights(tensors, config, model_type)
    tensors.finish()
    return _checkpoint(
        source,
        KERAS_HUB,
        model_type,
        config,
        weights,
        tensors.taken,
        file_digests([weights_file], source),
        None,
    )


def _checkpoint(source, layout, model_type, config, weights, taken, digests, eos_token_id):
    tokenizer, note = find_tokenizer(source, model_type, eos_token_id, config.vocabulary_size)
    return ImportedCheckpoint(
        source=source,
        layout=layout,
        model_type=model_type,
        model=_zoo_model(config, weights),
        tensors_mapped=taken,
        weight_files=digests,
        tokenizer=tokenizer,
        tokenizer_note=note,
    )


def _zoo_model(config, weights):
    """A `DecoderLM` for `config` holding `weights` (zoo weight path -> array)."""
    from zoo.model import DecoderLM

    model = DecoderLM(config)
    ours = {v.path: tuple(v.shape) for v in model.weights}
    mapped = {path: tuple(array.shape) for path, array in weights.items()}
    if ours != mapped:  # the mapping tables disagree with the model's layers: a bug, not input
        differ = sorted(set(ours.items()) ^ set(mapped.items()))
        raise RuntimeError(f"import mapping does not match DecoderLM's weights: {differ[:3]}")
    for variable in model.weights:
        variable.assign(weights[variable.path])
    return model


# --- writing ---


def check_destination(out, force=False):
    """Refuse an `out` that cannot be written without clobbering something; writes nothing.

    An existing FILE.keras (whatever it holds: it may not be the zoo's) is replaced only with
    `force` (`--force`).
    """
    out = pathlib.Path(out).expanduser()
    if out.suffix == ".keras":
        if out.is_dir():
            raise FieldError("out", f"{str(out)!r} is a directory; a .keras path must name a file")
        if not force and (out.exists() or out.is_symlink()):
            raise FieldError(
                "out", f"{str(out)!r} already exists; pass ", Setting("force"), " to replace it"
            )
        return
    if out.suffix.lower() in FILE_SUFFIXES:
        raise FieldError("out", f"{str(out)!r}: expected FILE.keras or a run directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FieldError("out", f"{str(out)!r} already exists; choose a new run directory")


def write_checkpoint(checkpoint, out, force=False):
    """Write an `ImportedCheckpoint` as FILE.keras (+ tokenizer/ beside it) or a run directory;
    an existing FILE.keras is replaced only with `force`."""
    check_destination(out, force)
    out = pathlib.Path(out).expanduser()
    if out.suffix == ".keras":
        return _write_keras_file(checkpoint, out)
    return _write_run(checkpoint, out)


def _write_keras_file(checkpoint, out):
    # `zoo train --init-from FILE.keras` looks for the tokenizer in tokenizer/ beside the file.
    tokenizer_dir = out.with_name("tokenizer")
    tokenizer = checkpoint.tokenizer
    if tokenizer and tokenizer_dir.exists() and not tokenizer.same_as(tokenizer_dir):
        raise ZooError(
            f"{tokenizer_dir} already holds a different tokenizer; write the .keras "
            "file to another directory"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if not tokenizer or tokenizer_dir.exists():
        return atomic_save(out, checkpoint.model.save)
    with atomic_directory(tokenizer_dir) as staging:  # appears only once the model is saved
        tokenizer.write(staging)
        atomic_save(out, checkpoint.model.save)
    return out


def _write_run(checkpoint, out):
    from zoo.storage.environment import environment
    from zoo.storage.runs import RunRecord

    with atomic_directory(out) as staging:  # the run appears whole or not at all
        record = RunRecord(staging)
        atomic_save(record.model_path, checkpoint.model.save)
        if checkpoint.tokenizer:
            checkpoint.tokenizer.write(record.tokenizer_path)
        record.write_config({
            "run_id": out.name,
            "preset": None,  # not one of the zoo's presets: the model is described by "model"
            "imported_from": checkpoint.describe(),
            "model": checkpoint.config.to_dict(),
            "tokenizer": {"mode": "imported", **checkpoint.tokenizer.metadata()}
                         if checkpoint.tokenizer else None,
            "budget": {"steps": 0, "tokens": 0},  # imported, never trained here
            **environment(),
        })  # fmt: skip
        # A summary marks the run complete, so `zoo train --resume` never picks it up.
        record.write_summary(
            {
                "imported": True,
                "steps": 0,
                "tokens": 0,
                "params": checkpoint.params,
                "final_train_loss": None,
                "validation_loss": None,
                "validation_bits_per_byte": None,
            }
        )
    return out


__all__ = [
    "ImportedCheckpoint",
    "check_destination",
    "import_checkpoint",
    "read_checkpoint",
    "write_checkpoint",
]
