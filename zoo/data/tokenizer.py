"""Tokenizers trained on the corpus, used at run time through keras-hub.

Two kinds, as the papers used them (`zoo.recipe.Tokenizer`):
    byte_bpe        GPT-2's byte-level BPE, trained with HF `tokenizers`, saved as vocab.json +
                    merges.txt, run by `keras_hub.tokenizers.BytePairTokenizer`
    sentencepiece   a SentencePiece BPE model with byte fallback, trained with `sentencepiece`,
                    saved as tokenizer.model, run by `keras_hub.tokenizers.SentencePieceTokenizer`

HF `tokenizers` and `sentencepiece` only *train*; every encoding goes through the keras-hub
layer, so the ids the model trains on are the ids a saved run reproduces. Assets are cached by
(kind, requested vocabulary size, corpus fingerprint) in `cache_dir("tokenizers", ...)`, and
`tokenizer.json` beside them records what was built. It is written last, so a directory without
it is incomplete and is rebuilt.
"""

import dataclasses
import io
import json
import operator
import pathlib
import re
import shutil

from zoo.errors import ZooError, unknown
from zoo.files import (
    atomic_directory,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    cache_dir,
    cache_entry_lock,
)
from zoo.quiet_import import stderr_filtered
from zoo.recipe import Tokenizer

METADATA = "tokenizer.json"
FORMAT = 1
END_OF_TEXT = "<|endoftext|>"  # GPT-2's separator; SentencePiece uses its eos piece instead
SENTENCEPIECE_MODEL = "tokenizer.model"
ASSET_FILES = {
    Tokenizer.BYTE_BPE: ("vocab.json", "merges.txt"),
    Tokenizer.SENTENCEPIECE: (SENTENCEPIECE_MODEL,),
    Tokenizer.SENTENCEPIECE_UNIGRAM: (SENTENCEPIECE_MODEL,),
}
# SentencePiece's model_type per kind (both with byte fallback, run by keras-hub alike).
SENTENCEPIECE_TYPES = {Tokenizer.SENTENCEPIECE: "bpe", Tokenizer.SENTENCEPIECE_UNIGRAM: "unigram"}
SEED = 1234
# SentencePiece's model depends on its thread count (measured: 1 and 2 threads give different
# models), so the count is fixed rather than taken from the machine.
SENTENCEPIECE_THREADS = 4
# keras-hub's BytePairTokenizer splits text with Llama 3's pattern before its byte-level step (its
# eager path); training on the same pieces lets merges span "\n\n" and the like, which GPT-2's
# pattern never produces. On Shakespeare at 4,096 tokens: 3.31 bytes/token against 3.06.
# Must equal keras_hub.src.tokenizers.byte_pair_tokenizer.SPLIT_PATTERN_TOKENIZERS (a test checks).
KERAS_HUB_SPLIT_PATTERN = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)
# What tensorflow_text's SentencePiece op (keras-hub's SentencePieceTokenizer runs it) writes
# to fd 2, through its own copy of SentencePiece's logging, each time it loads a model with the
# "identity" normalisation this zoo trains (see `_train_sentencepiece`).
CHARSMAP_NOTICE = re.compile(
    r"^normalizer\.cc\(\d+\) LOG\(INFO\) precompiled_charsmap is empty\. "
    r"use identity normalization\.$"
)
BYTE_BPE_MINIMUM = 257  # 256 byte symbols and the end-of-text token
SENTENCEPIECE_CHUNK = 1024  # characters per training "sentence": ≤ 4 KiB, SentencePiece's limit


@dataclasses.dataclass(frozen=True)
class TokenizerAssets:
    """A trained tokenizer on disk: what `load()` turns into a keras-hub layer."""

    path: pathlib.Path
    kind: Tokenizer
    vocabulary_size: int  # the actual size, at most the one requested
    end_of_text_id: int

    def load(self):
        """The keras-hub tokenizer. Data, not file paths, are passed in, so this also works
        while `keras.models.load_model` runs in safe mode."""
        import keras_hub

        if self.kind is Tokenizer.BYTE_BPE:
            vocabulary = json.loads((self.path / "vocab.json").read_text("utf-8"))
            # split("\n") as keras-hub reads the file; splitlines() also cuts at \x1c and kin
            merges = [m for m in (self.path / "merges.txt").read_text("utf-8").split("\n") if m]
            return keras_hub.tokenizers.BytePairTokenizer(
                vocabulary=vocabulary, merges=merges, unsplittable_tokens=[END_OF_TEXT]
            )
        with _charsmap_notice_dropped():
            return keras_hub.tokenizers.SentencePieceTokenizer(
                proto=(self.path / SENTENCEPIECE_MODEL).read_bytes()
            )

    @property
    def metadata(self):
        return json.loads((self.path / METADATA).read_text("utf-8"))

    def describe(self):
        """For the run record: everything `tokenizer.json` says (settings, corpus fingerprint,
        library versions), JSON-ready."""
        return {
            **self.metadata,
            "kind": self.kind.value,
            "vocabulary_size": self.vocabulary_size,
            "end_of_text_id": self.end_of_text_id,
        }

    def copy_to(self, directory):
        """Copy the assets and `tokenizer.json` into `directory` (created if needed), each file
        atomically and the metadata last; returns the assets at their new place. Files already
        in `directory` are left alone, so a run directory can be the target."""
        directory = pathlib.Path(directory)
        for name in ASSET_FILES[self.kind] + (METADATA,):
            with atomic_path(directory / name) as tmp:
                shutil.copyfile(self.path / name, tmp)
        return dataclasses.replace(self, path=directory)


def tokenizer_kind(kind):
    """A `Tokenizer` from the enum or its string value."""
    if isinstance(kind, Tokenizer):
        return kind
    try:
        return Tokenizer(str(kind).lower())
    except ValueError:
        raise unknown("tokenizer kind", str(kind), [t.value for t in Tokenizer]) from None


def whole_number(name, value):
    """`value` as an int (numpy integers too), or a `ZooError` naming the field."""
    if isinstance(value, bool):
        raise ZooError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ZooError(f"{name} must be an integer, got {value!r}") from None


def load_tokenizer(directory):
    """The `TokenizerAssets` saved in `directory` (a cache entry or a run directory)."""
    directory = pathlib.Path(directory)
    try:
        metadata = json.loads((directory / METADATA).read_text("utf-8"))
    except FileNotFoundError:
        raise ZooError(f"{directory}: no tokenizer here ({METADATA} is missing)") from None
    except json.JSONDecodeError as error:
        raise ZooError(f"{directory / METADATA}: not valid JSON ({error.msg})") from None
    kind = tokenizer_kind(metadata.get("kind"))
    missing = [n for n in ASSET_FILES[kind] if not (directory / n).is_file()]
    if missing:
        raise ZooError(f"{directory}: tokenizer files missing: {', '.join(missing)}")
    try:
        sizes = int(metadata["vocabulary_size"]), int(metadata["end_of_text_id"])
    except (KeyError, TypeError, ValueError):
        reason = "vocabulary_size or end_of_text_id missing"
        raise ZooError(f"{directory / METADATA}: {reason}") from None
    return TokenizerAssets(directory, kind, *sizes)


def prepare_tokenizer(corpus, kind, vocabulary_size):
    """Train (or find in the cache) a tokenizer on `corpus.train`, at most `vocabulary_size`
    tokens. Tiny corpora give smaller vocabularies; the model's must be at least as large."""
    kind = tokenizer_kind(kind)
    vocabulary_size = whole_number("vocabulary_size", vocabulary_size)
    if kind is Tokenizer.BYTE_BPE and vocabulary_size < BYTE_BPE_MINIMUM:
        raise ZooError(
            f"vocabulary_size {vocabulary_size} is too small for byte-level BPE "
            f"(at least {BYTE_BPE_MINIMUM}: 256 bytes and the end-of-text token)"
        )
    path = cache_dir("tokenizers") / f"{kind.value}-{vocabulary_size}-{corpus.fingerprint[:16]}"
    with cache_entry_lock(path):  # one builder; the others wait, then find it
        try:
            cached = load_tokenizer(path)
            metadata = cached.metadata
            found = (metadata.get("format"), metadata.get("corpus_fingerprint"))
            if found == (FORMAT, corpus.fingerprint):
                return cached
        except (ZooError, KeyError, ValueError):
            pass  # absent or incomplete: rebuild below
        documents = [d.text for d in corpus.train]
        with atomic_directory(path) as staging:
            if kind is Tokenizer.BYTE_BPE:
                trained = _train_byte_bpe(documents, vocabulary_size, staging)
            else:
                trained = _train_sentencepiece(
                    documents, vocabulary_size, staging, SENTENCEPIECE_TYPES[kind]
                )
            actual, end_of_text_id, settings = trained
            if actual > vocabulary_size:
                raise ZooError(
                    f"the {kind.value} tokenizer has {actual} tokens, more than the "
                    f"vocabulary_size {vocabulary_size} asked for; raise vocabulary_size"
                )
            atomic_write_json(staging / METADATA, {
                "format": FORMAT,
                "kind": kind.value,
                "requested_vocabulary_size": vocabulary_size,
                "vocabulary_size": actual,
                "end_of_text_id": end_of_text_id,
                "end_of_text": END_OF_TEXT if kind is Tokenizer.BYTE_BPE else "</s>",
                "corpus_source": corpus.source,
                "corpus_fingerprint": corpus.fingerprint,
                "trained_on": f"{len(documents)} training documents, {corpus.train_bytes} bytes",
                "settings": settings,
                "versions": _versions(),
            })  # fmt: skip
        return load_tokenizer(path)


def _train_byte_bpe(documents, vocabulary_size, directory):
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(KERAS_HUB_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    tokenizer.decoder = decoders.ByteLevel()
    settings = {
        "vocab_size": vocabulary_size,
        "min_frequency": 2,  # a pair seen once saves nothing on the corpus it came from
        "special_tokens": [END_OF_TEXT],  # id 0
        "pre_tokenizer": "keras-hub split pattern, then ByteLevel(use_regex=False)",
    }
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size,
        min_frequency=settings["min_frequency"],
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte, seen or not
        show_progress=False,
    )
    tokenizer.train_from_iterator(documents, trainer=trainer, length=len(documents))
    tokenizer.model.save(str(directory))  # vocab.json, merges.txt: in the staging directory
    return tokenizer.get_vocab_size(), tokenizer.token_to_id(END_OF_TEXT), settings


def _train_sentencepiece(documents, vocabulary_size, directory, model_type="bpe"):
    import sentencepiece

    settings = dict(
        model_type=model_type,
        vocab_size=vocabulary_size,
        hard_vocab_limit=False,  # a tiny corpus may support fewer pieces than asked for
        byte_fallback=True,  # any byte round-trips, as in LLaMA and PaLM
        split_digits=True,
        normalization_rule_name="identity",  # no NFKC: decoding must give back the bytes
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,  # no invented leading space: detokenize(tokenize(t)) == t
        user_defined_symbols=["\n"],  # newlines are tokens, not byte fallbacks
        character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=SENTENCEPIECE_THREADS,
        input_sentence_size=10_000_000,  # a random (seeded) sample beyond this, bounding memory
        shuffle_input_sentence=True,
        minloglevel=2,
    )  # fmt: skip
    sentencepiece.set_random_generator_seed(SEED)
    model = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=_sentences(documents), model_writer=model, **settings
        )
    except RuntimeError as error:
        reason = (str(error).strip().splitlines() or ["failed"])[-1]
        needed = re.search(r"required_chars\. \d+ vs (\d+)", reason)
        if needed:  # every character is a piece (coverage 1.0), beside 256 bytes and controls
            reason = f"this corpus needs at least {needed.group(1)} pieces; raise vocabulary_size"
        message = f"sentencepiece could not train a {vocabulary_size}-token model: {reason}"
        raise ZooError(message) from None
    proto = model.getvalue()
    atomic_write_bytes(directory / SENTENCEPIECE_MODEL, proto)
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
    return processor.get_piece_size(), processor.eos_id(), settings


def _charsmap_notice_dropped():
    """Capture file descriptor 2 around the block and replay all of it but `CHARSMAP_NOTICE`,
    so a newcomer's first run does not print a C++ INFO line.

    No knob reaches that line: the op takes no logging option, and the trainer's `minloglevel`
    sets the level of the `sentencepiece` package's copy of the library only (it does silence
    `_train_sentencepiece`); tensorflow_text's copy keeps its level in a symbol it does not
    export. So the descriptor is filtered, as for TensorFlow's start-up lines.
    """
    return stderr_filtered(CHARSMAP_NOTICE)


def _sentences(documents):
    """Lines, with their newlines, as SentencePiece's "sentences". Pieces never span "\\n" (a
    symbol of its own) and there is no dummy prefix, so cutting at line ends loses nothing
    encoding could form; lines over SENTENCEPIECE_CHUNK characters are cut further."""
    for text in documents:
        lines = text.split("\n")
        for number, line in enumerate(lines):
            line += "\n" if number < len(lines) - 1 else ""
            for start in range(0, len(line), SENTENCEPIECE_CHUNK):
                yield line[start : start + SENTENCEPIECE_CHUNK]


def _versions():
    import keras_hub
    import sentencepiece
    import tokenizers

    return {
        "keras_hub": keras_hub.__version__,
        "tokenizers": tokenizers.__version__,
        "sentencepiece": sentencepiece.__version__,
    }
