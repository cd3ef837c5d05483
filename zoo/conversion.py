"""`zoo convert`: a .keras file of an earlier zoo, rewritten in today's weights format.

weights_format 1 (a model config without `weights_format`) kept each layer's queries, keys and
values in one fused kernel, `…/self_attention/qkv/vars/0` of shape (d, H + 2K, Q) — H query
heads, then K key heads, then K value heads — with its bias (H + 2K, Q) at `vars/1`. Format 2
(`zoo.model.WEIGHTS_FORMAT`) keeps them as `…/self_attention/{query,key,value}/vars/{0,1}`.
Nothing else differs, so the converter splits those groups, copies every other entry of the
weights file as it is, and records the format in config.json.

A training checkpoint's optimizer state is not carried over (its moments follow the old
variables): the result is a model file, as `zoo export` writes, and is loaded once before it is
moved into place, so a file that does not load is never written.
"""

import dataclasses
import io
import json
import pathlib
import tempfile
import zipfile

from zoo.config import ModelConfig
from zoo.errors import FieldError, ZooError
from zoo.files import atomic_write_bytes

WEIGHTS = "model.weights.h5"
MODEL_ENTRIES = ("metadata.json", "config.json", WEIGHTS)  # what a zoo model file holds


@dataclasses.dataclass(frozen=True)
class Conversion:
    path: pathlib.Path
    layers: int  # fused kernels split
    dropped_optimizer: bool  # the source was a checkpoint with optimizer state


def convert_keras_file(source, out):
    """Write `source` (weights_format 1) to `out` in today's format; returns a `Conversion`."""
    from zoo.model import WEIGHTS_FORMAT, check_weights_format

    source, out = pathlib.Path(source), pathlib.Path(out)
    if out.suffix != ".keras":
        raise FieldError("out", f"must end in .keras; received {str(out)!r}")
    if out.exists():
        raise FieldError("out", f"{str(out)!r} exists; name a new file (the original is kept)")
    entries = _read_archive(source)
    document = _json(entries, "config.json", source)
    if not isinstance(document, dict) or document.get("class_name") != "DecoderLM":
        raise ZooError(f"{source}: holds no zoo DecoderLM")
    saved = document.get("config") or {}
    found = saved.get("weights_format", 1)
    if found == WEIGHTS_FORMAT:
        raise ZooError(f"{source}: already in weights_format {WEIGHTS_FORMAT}; nothing to convert")
    if found != 1:
        check_weights_format(found)  # raises, naming the format
    try:
        config = ModelConfig.from_dict(saved["config"])
    except (KeyError, TypeError):
        raise ZooError(f"{source}: config.json holds no model config") from None
    weights, layers, had_optimizer = _split_fused_kernels(entries[WEIGHTS], config, source)

    document.pop("compile_config", None)  # the optimizer and loss: not carried over
    document["config"] = {**saved, "config": config.to_dict(), "weights_format": WEIGHTS_FORMAT}
    converted = {
        "metadata.json": entries.get("metadata.json", b"{}"),
        "config.json": json.dumps(document).encode("utf-8"),
        WEIGHTS: weights,
    }
    dropped = had_optimizer or set(entries) - set(MODEL_ENTRIES)
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w", zipfile.ZIP_STORED) as archive:
        for name, data in converted.items():
            archive.writestr(name, data)
    _check_loads(archive_bytes.getvalue())
    atomic_write_bytes(out, archive_bytes.getvalue())
    return Conversion(out, layers, bool(dropped))


def _read_archive(source):
    try:
        with zipfile.ZipFile(source) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile) as error:
        raise ZooError(
            f"{source}: not a readable .keras file ({type(error).__name__}: {error})"
        ) from None
    if WEIGHTS not in entries:
        raise ZooError(f"{source}: not a .keras file (no {WEIGHTS})")
    return entries


def _json(entries, name, source):
    try:
        return json.loads(entries[name])
    except (KeyError, json.JSONDecodeError) as error:
        raise ZooError(f"{source}: not a readable .keras file ({name}: {error})") from None


def _split_fused_kernels(data, config, source):
    """(new weights file bytes, fused kernels split, whether optimizer state was dropped)."""
    import h5py  # a Keras dependency

    split = []
    with h5py.File(io.BytesIO(data), "r") as old:
        had_optimizer = "optimizer" in old
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as new:
            _copy(old, new, config, split, source)
    if len(split) != config.num_layers:
        raise ZooError(
            f"{source}: {len(split)} fused self_attention/qkv kernels for "
            f"num_layers={config.num_layers}; not a weights_format 1 zoo model"
        )
    return buffer.getvalue(), len(split), had_optimizer


def _copy(old, new, config, split, source):
    new.attrs.update(old.attrs)
    for name, item in old.items():
        if old.name == "/" and name == "optimizer":
            continue
        if not hasattr(item, "items"):  # a dataset
            new.create_dataset(name, data=item[()])
            new[name].attrs.update(item.attrs)
        elif name == "qkv" and old.name.endswith("/self_attention"):
            _split(item, new, config, source)
            split.append(item.name)
        else:
            _copy(item, new.create_group(name), config, split, source)


def _split(fused, parent, config, source):
    """`…/qkv/vars/{0,1}` (kernel (d, H + 2K, Q), bias (H + 2K, Q)) -> query, key, value."""
    heads, kv = config.num_query_heads, config.num_key_value_heads
    expected = (config.hidden_dim, heads + 2 * kv, config.head_dim)
    variables = fused["vars"]
    kernel = variables["0"][()]
    if kernel.shape != expected:
        raise ZooError(
            f"{source}: {fused.name}/vars/0 has shape {kernel.shape}; the config implies {expected}"
        )
    bias = variables["1"][()] if "1" in variables else None
    for name, (start, stop) in config.qkv_head_ranges.items():
        group = parent.create_group(name)
        group.attrs.update(fused.attrs)
        projection = group.create_group("vars")
        projection.attrs.update(variables.attrs)
        projection.attrs["name"] = name  # the layer's name, as Keras records it
        projection.create_dataset("0", data=kernel[:, start:stop])
        if bias is not None:
            projection.create_dataset("1", data=bias[start:stop])


def _check_loads(data):
    """Load the converted file (safe mode) before anything is written."""
    import keras

    import zoo.model  # noqa: F401  registers the zoo layers

    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / "converted.keras"  # load_model wants the suffix
        path.write_bytes(data)
        try:
            keras.models.load_model(path, compile=False)
        except (OSError, ValueError) as error:  # a bug in the conversion, not the user's file
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise RuntimeError(f"the converted file does not load: {first}") from error
