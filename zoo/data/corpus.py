"""Text corpora: where documents come from and how validation is held out.

Sources (`load_corpus(spec)`):
    shakespeare         the built-in default (see `zoo.data.shakespeare`)
    PATH                a .txt/.md/.jsonl file, a directory of them, or a glob
    hf:NAME[:SPLIT]     a Hugging Face data set through `datasets`, when installed (an extra)
Pre-tokenized shards (`tokens:PATH`) are handled by `zoo.data.token_shards`.

Validation is made of whole documents chosen deterministically: every 10th document in name
order (the 1st, 11th, 21st, …), so it measures generalisation to unseen works rather than to
neighbours of memorised lines. A corpus of one document holds out its last tenth instead, cut at
a line break.
"""

import glob
import json
import os
import pathlib

from zoo.data.documents import Corpus, Document
from zoo.data.shakespeare import shakespeare_documents
from zoo.data_spec import DataKind, DataSpec
from zoo.errors import ZooError

TEXT_SUFFIXES = (".txt", ".md")
VALIDATION_EVERY = 10


def load_corpus(spec):
    """A `Corpus` from a source spec; bad input raises `ZooError` with a one-line reason."""
    parsed = DataSpec.of(spec)
    if parsed.kind is DataKind.SHAKESPEARE:
        documents = shakespeare_documents()
    elif parsed.kind is DataKind.HUGGINGFACE:
        documents = _huggingface_documents(parsed.location)
    else:
        documents = _path_documents(spec)
    documents = [d for d in documents if d.text.strip()]
    if not documents:
        raise ZooError(f"corpus {spec!r} is empty: no document has any text")
    return split_documents(spec, documents)


def split_documents(source, documents):
    documents = sorted(documents, key=lambda d: d.name)
    if len(documents) == 1:
        only = documents[0]
        cut = only.text.rfind("\n", 0, int(len(only.text) * 0.9)) + 1 or int(len(only.text) * 0.9)
        train = (Document(only.name + "[:90%]", only.text[:cut]),)
        validation = (Document(only.name + "[90%:]", only.text[cut:]),)
        return Corpus(source, train, validation, "last tenth of the only document, at a line break")
    validation = tuple(d for i, d in enumerate(documents) if i % VALIDATION_EVERY == 0)
    train = tuple(d for i, d in enumerate(documents) if i % VALIDATION_EVERY != 0)
    if not train:
        train, validation = validation[1:], validation[:1]
    return Corpus(source, train, validation, "every 10th document by name (1st, 11th, ...)")


def _path_documents(spec):
    path = pathlib.Path(os.path.expanduser(spec))
    if path.is_dir():
        root = path
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES + (".jsonl",)
        )
        if not files:
            raise ZooError(f"directory {spec!r} holds no .txt, .md or .jsonl files")
    elif path.is_file():
        root, files = path.parent, [path]
    else:
        files = sorted(pathlib.Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True))
        files = [p for p in files if p.is_file()]
        if not files:
            raise ZooError(
                f"no corpus at {spec!r}: not 'shakespeare', a file, a directory or a matching glob"
            )
        root = pathlib.Path(os.path.commonpath([os.path.abspath(p.parent) for p in files]))
    documents = []
    for file in files:
        # Names relative to the corpus root: the fingerprint (the tokenizer cache key) and the
        # validation choice do not change when the same corpus is named by another path.
        name = os.path.relpath(os.path.abspath(file), os.path.abspath(root))
        name = pathlib.Path(name).as_posix()
        if file.suffix == ".jsonl":
            documents.extend(_jsonl_documents(file, name))
        elif file.suffix in TEXT_SUFFIXES:
            documents.append(Document(name, _read_utf8(file)))
        else:
            raise ZooError(
                f"{file}: unsupported file type {file.suffix!r} (use .txt, .md or .jsonl)"
            )
    return documents


def _read_utf8(file):
    data = file.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ZooError(
            f"{file}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def _jsonl_documents(file, name):
    documents = []
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028, which splitlines cuts.
    for number, line in enumerate(_read_utf8(file).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ZooError(f"{file}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ZooError(f"{file}:{number}: each line needs a string field 'text'")
        documents.append(Document(f"{name}:{number:09d}", record["text"]))
    return documents


def _huggingface_documents(name):
    try:
        import datasets
    except ImportError:
        raise ZooError(
            "hf: corpora need the optional 'datasets' package (pip install datasets)"
        ) from None
    dataset_name, _, split = name.partition(":")
    try:
        dataset = datasets.load_dataset(dataset_name, split=split or "train")
    except Exception as error:  # datasets raises many types; the user needs the reason only
        reason = (str(error).strip().splitlines() or [""])[0]
        raise ZooError(f"hf:{name}: could not load ({type(error).__name__}: {reason})") from None
    if "text" not in dataset.column_names:
        raise ZooError(f"hf:{name}: no 'text' column (columns: {', '.join(dataset.column_names)})")
    return [Document(f"{i:09d}", row["text"]) for i, row in enumerate(dataset)]
