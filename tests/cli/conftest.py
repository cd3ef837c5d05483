"""Fixtures shared by the command-line tests."""

import pytest


@pytest.fixture
def imported(monkeypatch):
    """`zoo import` with its read (of a torch-made checkpoint, slow) replaced by a gpt2-nano
    model: the write is what the tests exercise."""
    import zoo
    from zoo import importing

    checkpoint = importing.ImportedCheckpoint(
        source=None, layout=importing.HUGGING_FACE, model_type="gpt2",
        model=zoo.build("gpt2-nano"), tensors_mapped=0, weight_files={}, tokenizer=None,
        tokenizer_note="none")  # fmt: skip
    monkeypatch.setattr(importing, "read_checkpoint", lambda source: checkpoint)
