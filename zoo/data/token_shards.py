"""Pre-tokenized data (`--data tokens:PATH`), in the formats nanoGPT and llm.c write.

    DIR with train.bin, val.bin         nanoGPT: raw little-endian uint16 tokens
    DIR with *_train_*.bin, *_val_*.bin llm.c shards: a header of 256 int32 (magic 20240520,
                                        version 1, token count), then that many uint16 tokens
    FILE.bin                            raw uint16 tokens (or one llm.c shard, by its magic)
    FILE.npy                            an integer array, read without pickle
    GLOB                                any of the above, matched files in name order
A single file (or a glob of files without train/val names) holds out its last 10% as validation.
There is no text, so bits per byte cannot be computed and the end-of-text id is not known.
"""

import glob
import os
import pathlib
import re

import numpy as np

from zoo.data.token_data import TokenData
from zoo.errors import ZooError

LLMC_MAGIC = 20240520
LLMC_VERSION = 1
LLMC_HEADER = 256  # int32 words
HOLD_OUT = 0.1
TRAIN_SHARD = re.compile(r"_train_?.*\.bin$")
VALIDATION_SHARD = re.compile(r"_val_?.*\.bin$")


def load_token_shards(path):
    """`TokenData` from pre-tokenized files at `path` (see the module docstring)."""
    source = f"tokens:{path}"
    where = pathlib.Path(os.path.expanduser(path))
    if where.is_dir():
        train, validation = _directory_splits(where)
    elif where.is_file():
        train, validation = None, None
        whole = _read(where)
    else:
        pattern = os.path.expanduser(path)
        matches = sorted(pathlib.Path(p) for p in glob.glob(pattern, recursive=True))
        files = [p for p in matches if p.is_file() and p.suffix in (".bin", ".npy")]
        if not files:
            raise ZooError(
                f"{source}: no .bin or .npy files there (not a file, directory or matching glob)"
            )
        nanogpt = {f.name: f for f in files if f.name in ("train.bin", "val.bin")}
        if len(nanogpt) == 2:
            train, validation = _raw_uint16(nanogpt["train.bin"]), _raw_uint16(nanogpt["val.bin"])
        else:
            train, validation = _named_splits(files)
        if train is None:
            whole = np.concatenate([_read(f) for f in files])
    if train is None:
        if len(whole) < 2:
            raise ZooError(f"{source}: {len(whole)} tokens cannot be split for validation")
        cut = int(len(whole) * (1 - HOLD_OUT))
        train, validation = whole[:cut], whole[cut:]
    return TokenData(
        np.ascontiguousarray(train, np.int32), np.ascontiguousarray(validation, np.int32),
        validation_bytes=None, end_of_text_id=None, source=source,
    )  # fmt: skip


def _directory_splits(directory):
    if (directory / "train.bin").is_file() and (directory / "val.bin").is_file():
        return _raw_uint16(directory / "train.bin"), _raw_uint16(directory / "val.bin")
    train, validation = _named_splits(sorted(directory.glob("*.bin")))
    if train is None:
        raise ZooError(
            f"{directory}: found neither nanoGPT's train.bin and val.bin "
            f"nor llm.c shards named *_train_*.bin and *_val_*.bin"
        )
    return train, validation


def _named_splits(files):
    """(train, validation) from llm.c-style names, or (None, None) when no file is so named."""
    train = [f for f in files if TRAIN_SHARD.search(f.name)]
    validation = [f for f in files if VALIDATION_SHARD.search(f.name)]
    if not train and not validation:
        return None, None
    if not train or not validation:
        have, lack = ("training", "validation") if train else ("validation", "training")
        raise ZooError(
            f"{files[0].parent}: {have} shards found but no {lack} shards "
            f"(llm.c names them *_train_*.bin and *_val_*.bin)"
        )
    return (np.concatenate([_llmc_shard(f) for f in train]),
            np.concatenate([_llmc_shard(f) for f in validation]))  # fmt: skip


def _read(file):
    if file.suffix == ".npy":
        return _npy(file)
    if file.suffix != ".bin":
        raise ZooError(f"{file}: unsupported token file type {file.suffix!r} (use .bin or .npy)")
    if file.stat().st_size >= 4 * LLMC_HEADER:
        magic = np.fromfile(file, dtype="<i4", count=1)[0]
        if magic == LLMC_MAGIC:  # a lone llm.c shard; as raw uint16 tokens it would be 54600, 308
            return _llmc_shard(file)
    return _raw_uint16(file)


def _raw_uint16(file):
    size = file.stat().st_size
    if size == 0:
        raise ZooError(f"{file}: empty, no tokens")
    if size % 2:
        raise ZooError(f"{file}: {size} bytes is an odd count, so not uint16 tokens")
    return np.memmap(file, dtype="<u2", mode="r")


def _llmc_shard(file):
    size = file.stat().st_size
    if size < 4 * LLMC_HEADER:
        raise ZooError(f"{file}: {size} bytes, shorter than the llm.c header of {4 * LLMC_HEADER}")
    magic, version, count = np.fromfile(file, dtype="<i4", count=3)
    if magic != LLMC_MAGIC:
        raise ZooError(f"{file}: not an llm.c shard (magic {magic}, expected {LLMC_MAGIC})")
    if version != LLMC_VERSION:
        raise ZooError(
            f"{file}: llm.c shard version {version} is not supported (only {LLMC_VERSION}: uint16)"
        )
    available = (size - 4 * LLMC_HEADER) // 2
    if count > available:
        raise ZooError(
            f"{file}: truncated, the header promises {count} tokens but {available} are there"
        )
    if count <= 0:
        raise ZooError(f"{file}: empty shard, no tokens")
    return np.memmap(file, dtype="<u2", mode="r", offset=4 * LLMC_HEADER, shape=(int(count),))


def _npy(file):
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:  # object arrays need pickle: refused
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ZooError(f"{file}: cannot read as a plain .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise ZooError(f"{file}: expected one array, found {type(array).__name__}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ZooError(f"{file}: token ids must be integers, found dtype {array.dtype}")
    array = array.reshape(-1)  # (documents, length) arrays are read in row order
    if array.size == 0:
        raise ZooError(f"{file}: empty array, no tokens")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > np.iinfo(np.int32).max:
        bad = low if low < 0 else high
        raise ZooError(f"{file}: token ids must lie in [0, 2**31), found {bad}")
    return array
