"""A checkpoint's tokenizer, converted to the zoo's format (`zoo.data.tokenizer`).

    byte_bpe        HF vocab.json + merges.txt, keras-hub assets/tokenizer/vocabulary.json +
                    merges.txt, or (what transformers 5 saves) the BPE model inside tokenizer.json
    sentencepiece   HF tokenizer.model, keras-hub assets/tokenizer/vocabulary.spm

The files are written with a `tokenizer.json` holding what `load_tokenizer` needs (kind,
vocabulary_size, end_of_text_id). A checkpoint without a tokenizer imports without one, and the
reason is recorded.
"""

import dataclasses
import json
import pathlib
import tempfile

from zoo.data.tokenizer import END_OF_TEXT, FORMAT, METADATA, SENTENCEPIECE_MODEL, load_tokenizer
from zoo.errors import ZooError
from zoo.files import atomic_write_bytes, atomic_write_json
from zoo.importing.fields import read_json
from zoo.recipe import Tokenizer

KERAS_HUB_ASSETS = "assets/tokenizer"
BYTE_BPE_SOURCES = (
    ("vocab.json", "merges.txt"),
    (f"{KERAS_HUB_ASSETS}/vocabulary.json", f"{KERAS_HUB_ASSETS}/merges.txt"),
)
SENTENCEPIECE_SOURCES = ("tokenizer.model", f"{KERAS_HUB_ASSETS}/vocabulary.spm")
HF_FAST_TOKENIZER = "tokenizer.json"


@dataclasses.dataclass(frozen=True)
class ImportedTokenizer:
    """Tokenizer files in the zoo's layout, held in memory until the import is written."""

    kind: Tokenizer
    files: dict  # zoo asset name -> bytes
    vocabulary_size: int
    end_of_text_id: int
    end_of_text: str
    sources: tuple  # the checkpoint's files it came from

    def metadata(self):
        return {
            "format": FORMAT,
            "kind": self.kind.value,
            "vocabulary_size": self.vocabulary_size,
            "end_of_text_id": self.end_of_text_id,
            "end_of_text": self.end_of_text,
            "imported_from": list(self.sources),
        }

    def write(self, directory):
        """Write the assets, then `tokenizer.json` last (its presence marks them complete)."""
        for name, data in self.files.items():
            atomic_write_bytes(directory / name, data)
        atomic_write_json(directory / METADATA, self.metadata())

    def same_as(self, directory):
        """Whether `directory` already holds exactly these assets."""
        try:
            return all((directory / n).read_bytes() == d for n, d in self.files.items())
        except OSError:
            return False


def find_tokenizer(directory, model_type, eos_token_id, vocabulary_size):
    """`(ImportedTokenizer or None, note)`: the checkpoint's tokenizer, checked to load in
    keras-hub and to fit the model's vocabulary; the note says what was found or why none."""
    find = _byte_bpe if model_type == "gpt2" else _sentencepiece
    tokenizer = find(directory, eos_token_id)
    if isinstance(tokenizer, str):
        return None, tokenizer
    if tokenizer.vocabulary_size > vocabulary_size:
        raise ZooError(
            f"{directory}: the tokenizer ({', '.join(tokenizer.sources)}) has "
            f"{tokenizer.vocabulary_size} tokens but the model only "
            f"{vocabulary_size}"
        )
    _check_loads(tokenizer, directory)
    return tokenizer, f"{tokenizer.kind.value} from {', '.join(tokenizer.sources)}"


def _byte_bpe(directory, eos_token_id):
    for vocab_name, merges_name in BYTE_BPE_SOURCES:
        if (directory / vocab_name).is_file() and (directory / merges_name).is_file():
            vocabulary = read_json(directory / vocab_name)
            merges = (directory / merges_name).read_bytes()
            return _byte_bpe_tokenizer(directory, vocabulary, merges, (vocab_name, merges_name))
    if (directory / HF_FAST_TOKENIZER).is_file():
        return _from_fast_tokenizer(directory)
    return "none (no vocab.json + merges.txt, keras-hub assets or tokenizer.json)"


def _from_fast_tokenizer(directory):
    """transformers 5 saves only tokenizer.json; its BPE model holds the vocab and merges."""
    document = read_json(directory / HF_FAST_TOKENIZER)
    model = document.get("model") if isinstance(document, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        return f"none ({HF_FAST_TOKENIZER} does not hold a BPE model)"
    vocabulary = dict(model.get("vocab") or {})
    for added in document.get("added_tokens") or ():  # special tokens live outside the model
        vocabulary.setdefault(added.get("content"), added.get("id"))
    # tokenizers ≥ 0.20 saves each merge as a pair, older versions as "a b".
    lines = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or ()]
    merges = ("#version: 0.2\n" + "".join(line + "\n" for line in lines)).encode("utf-8")
    return _byte_bpe_tokenizer(directory, vocabulary, merges, (HF_FAST_TOKENIZER,))


def _byte_bpe_tokenizer(directory, vocabulary, merges, sources):
    if (
        not isinstance(vocabulary, dict)
        or not vocabulary
        or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocabulary.values()
        )
    ):
        raise ZooError(f"{directory / sources[0]}: not a vocabulary (token -> integer id)")
    if END_OF_TEXT not in vocabulary:
        return (
            f"none ({sources[0]} has no {END_OF_TEXT} token, which the zoo separates "
            "documents with)"
        )
    return ImportedTokenizer(
        kind=Tokenizer.BYTE_BPE,
        files={
            "vocab.json": json.dumps(vocabulary, ensure_ascii=False).encode("utf-8"),
            "merges.txt": merges,
        },
        vocabulary_size=max(vocabulary.values()) + 1,
        end_of_text_id=vocabulary[END_OF_TEXT],
        end_of_text=END_OF_TEXT,
        sources=sources,
    )


def _sentencepiece(directory, eos_token_id):
    for name in SENTENCEPIECE_SOURCES:
        if (directory / name).is_file():
            return _sentencepiece_tokenizer(directory, name, eos_token_id)
    if (directory / HF_FAST_TOKENIZER).is_file():
        return (
            f"none (only {HF_FAST_TOKENIZER}, which cannot be turned back into a "
            "SentencePiece model; add the checkpoint's tokenizer.model)"
        )
    return "none (no tokenizer.model or keras-hub assets/tokenizer/vocabulary.spm)"


def _sentencepiece_tokenizer(directory, name, eos_token_id):
    import sentencepiece

    proto = (directory / name).read_bytes()
    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto)
    except (RuntimeError, OSError):
        raise ZooError(f"{directory / name}: not a SentencePiece model") from None
    size = processor.get_piece_size()
    end_of_text_id = processor.eos_id()
    if end_of_text_id < 0:  # a model without an eos piece: the HF config may still name one
        end_of_text_id = eos_token_id if isinstance(eos_token_id, int) else -1
    if not 0 <= end_of_text_id < size:
        return f"none ({name} has no end-of-sequence piece)"
    return ImportedTokenizer(
        kind=Tokenizer.SENTENCEPIECE,
        files={SENTENCEPIECE_MODEL: proto},
        vocabulary_size=size,
        end_of_text_id=end_of_text_id,
        end_of_text=processor.id_to_piece(end_of_text_id),
        sources=(name,),
    )


def _check_loads(tokenizer, directory):
    """Build the keras-hub layer from a scratch copy, so a broken tokenizer fails the import
    before anything is written."""
    with tempfile.TemporaryDirectory(prefix="zoo-import-tokenizer-") as scratch:
        tokenizer.write(pathlib.Path(scratch))
        try:
            load_tokenizer(scratch).load()
        except ValueError as error:
            reason = (str(error).strip().splitlines() or ["failed"])[0]
            raise ZooError(
                f"{directory}: keras-hub cannot load the tokenizer "
                f"({', '.join(tokenizer.sources)}): {reason}"
            ) from None
