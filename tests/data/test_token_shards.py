"""Pre-tokenized data as nanoGPT and llm.c write it, and bad shards."""

import numpy as np
import pytest

from zoo.data.token_shards import load_token_shards
from zoo.errors import ZooError


def llmc_shard(path, tokens, magic=20240520, version=1, count=None):
    header = np.zeros(256, dtype="<i4")
    header[:3] = magic, version, len(tokens) if count is None else count
    path.write_bytes(header.tobytes() + np.asarray(tokens, "<u2").tobytes())


def fails(path, *fragments):
    with pytest.raises(ZooError) as error:
        load_token_shards(str(path))
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_nanogpt_directory(tmp_path):
    np.arange(500, dtype="<u2").tofile(tmp_path / "train.bin")
    np.arange(60000, 60100, dtype="<u2").tofile(tmp_path / "val.bin")
    data = load_token_shards(str(tmp_path))
    assert data.train.dtype == np.int32 and np.array_equal(data.train, np.arange(500))
    assert np.array_equal(data.validation, np.arange(60000, 60100))  # uint16 beyond int16
    assert data.validation_bytes is None and data.end_of_text_id is None
    assert data.source == f"tokens:{tmp_path}"


def test_llmc_shards_directory_and_glob(tmp_path):
    llmc_shard(tmp_path / "fineweb_val_000000.bin", range(100))
    llmc_shard(tmp_path / "fineweb_train_000001.bin", range(100, 300))
    llmc_shard(tmp_path / "fineweb_train_000002.bin", range(300, 350))
    for spec in (tmp_path, tmp_path / "fineweb_*.bin"):
        data = load_token_shards(str(spec))
        assert np.array_equal(data.train, np.arange(100, 350))
        assert np.array_equal(data.validation, np.arange(100))


def test_single_npy_and_bin_hold_out_the_last_tenth(tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(1000, dtype=np.int64).reshape(10, 100))
    data = load_token_shards(str(tmp_path / "ids.npy"))
    assert np.array_equal(data.train, np.arange(900))
    assert np.array_equal(data.validation, np.arange(900, 1000))
    np.arange(1000, dtype="<u2").tofile(tmp_path / "ids.bin")
    data = load_token_shards(str(tmp_path / "ids.bin"))
    assert len(data.train) == 900 and data.validation[0] == 900
    llmc_shard(tmp_path / "one.bin", range(1000))  # a lone llm.c shard, known by its magic
    data = load_token_shards(str(tmp_path / "one.bin"))
    assert np.array_equal(data.validation, np.arange(900, 1000))


def test_missing_files(tmp_path):
    fails(tmp_path / "nothing*.bin", "no .bin or .npy files")
    fails(tmp_path, "neither nanoGPT's train.bin")
    llmc_shard(tmp_path / "x_train_000.bin", range(10))
    fails(tmp_path, "no validation shards")


def test_bad_llmc_headers(tmp_path):
    llmc_shard(tmp_path / "a_val_0.bin", range(10))
    llmc_shard(tmp_path / "a_train_0.bin", range(10), magic=12345)
    fails(tmp_path, "a_train_0.bin", "not an llm.c shard", "magic 12345")
    llmc_shard(tmp_path / "a_train_0.bin", range(10), version=7)
    fails(tmp_path, "version 7")
    llmc_shard(tmp_path / "a_train_0.bin", range(10), count=50)
    fails(tmp_path, "truncated", "50 tokens", "10 are there")
    llmc_shard(tmp_path / "a_train_0.bin", [])
    fails(tmp_path, "empty shard")


def test_bad_arrays(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros(0, np.int32))
    fails(tmp_path / "empty.npy", "empty array")
    np.save(tmp_path / "floats.npy", np.ones(10, np.float32))
    fails(tmp_path / "floats.npy", "must be integers", "float32")
    np.save(tmp_path / "objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    fails(tmp_path / "objects.npy", "cannot read as a plain .npy array")
    np.save(tmp_path / "negative.npy", np.array([1, -3]))
    fails(tmp_path / "negative.npy", "found -3")
    (tmp_path / "odd.bin").write_bytes(b"\x01\x02\x03")
    fails(tmp_path / "odd.bin", "odd count")
    (tmp_path / "empty.bin").write_bytes(b"")
    fails(tmp_path / "empty.bin", "empty")
