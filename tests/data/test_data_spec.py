"""One parse of a data spec (zoo.data_spec), shared by the pipeline, the baseline and the CLI."""

import pathlib

import pytest

from zoo.data_spec import DEFAULT_DATA, DataKind, DataSpec


@pytest.mark.parametrize(
    "text, kind, location, has_text",
    [
        (DEFAULT_DATA, DataKind.SHAKESPEARE, "shakespeare", True),
        ("hf:tiny_shakespeare:train", DataKind.HUGGINGFACE, "tiny_shakespeare:train", True),
        ("tokens:shards/train.bin", DataKind.TOKENS, "shards/train.bin", False),
        ("~/texts/*.md", DataKind.TEXTS, "~/texts/*.md", True),
        ("shakespeare/", DataKind.TEXTS, "shakespeare/", True),  # a directory of that name
    ],
)
def test_each_kind_is_told_apart(text, kind, location, has_text):
    spec = DataSpec.of(text)
    assert (spec.kind, spec.location, spec.has_text, str(spec)) == (kind, location, has_text, text)
    assert DataSpec.of(spec) is spec and DataSpec.of(pathlib.Path("a/b")).text == "a/b"


def test_the_command_line_and_the_library_share_the_default():
    from zoo.run_config import RunConfig
    from zoo_cli import run_options

    assert RunConfig().data == run_options.DEFAULT_DATA == DEFAULT_DATA
