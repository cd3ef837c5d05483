"""`DataSpec`: what a run's `data` names, parsed in one place.

Four kinds: the built-in corpus (`shakespeare`, the default), a Hugging Face dataset already in
the local `datasets` cache (`hf:NAME`), pre-tokenized shards (`tokens:PATH`), or a file,
directory or glob of texts. A run records its spec as the text given (`RunConfig.data`, part of
the run's key), so the field stays a string; whatever needs to know the kind — the pipeline, the
corpus reader, the trainer's facts, the n-gram baseline, the sweeps — asks `DataSpec.of(text)`.
"""

import dataclasses
import enum
import os

DEFAULT_DATA = "shakespeare"
TOKENS_PREFIX = "tokens:"
HUGGINGFACE_PREFIX = "hf:"
DATA_HELP = (
    "shakespeare, a path/dir/glob of .txt/.md/.jsonl, tokens:PATH (nanoGPT/llm.c .bin, .npy) or "
    "hf:NAME."
)


class DataKind(str, enum.Enum):
    SHAKESPEARE = "shakespeare"  # the built-in corpus (zoo.data.shakespeare)
    HUGGINGFACE = "huggingface"  # hf:NAME
    TOKENS = "tokens"  # tokens:PATH, token ids with no text
    TEXTS = "texts"  # anything else: a path, directory or glob of texts


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A parsed data spec; `str()` gives back the text it was made from."""

    text: str

    @classmethod
    def of(cls, spec):
        """`spec` (a string, a path or a `DataSpec`) as a `DataSpec`."""
        return spec if isinstance(spec, DataSpec) else cls(os.fspath(spec))

    @property
    def kind(self):
        if self.text == DEFAULT_DATA:
            return DataKind.SHAKESPEARE
        if self.text.startswith(HUGGINGFACE_PREFIX):
            return DataKind.HUGGINGFACE
        if self.text.startswith(TOKENS_PREFIX):
            return DataKind.TOKENS
        return DataKind.TEXTS

    @property
    def location(self):
        """What the spec points at, less its prefix (the path of `tokens:PATH`)."""
        prefix = {DataKind.TOKENS: TOKENS_PREFIX, DataKind.HUGGINGFACE: HUGGINGFACE_PREFIX}
        return self.text[len(prefix.get(self.kind, "")) :]

    @property
    def has_text(self):
        """False for pre-tokenized data: no text to count bytes of or fit an n-gram to."""
        return self.kind is not DataKind.TOKENS

    def __str__(self):
        return self.text


__all__ = ["DATA_HELP", "DEFAULT_DATA", "DataKind", "DataSpec", "TOKENS_PREFIX"]
