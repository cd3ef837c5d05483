"""The corpus types shared by the corpus sources (`zoo.data.corpus`, `zoo.data.shakespeare`)."""

import dataclasses
import functools
import hashlib


@dataclasses.dataclass(frozen=True)
class Document:
    name: str
    text: str


@dataclasses.dataclass(frozen=True)
class Corpus:
    source: str
    train: tuple
    validation: tuple
    split: str  # how validation was chosen, for the run record

    @functools.cached_property
    def fingerprint(self):
        """sha256 over every document's name and text, in order: the tokenizer cache key."""
        digest = hashlib.sha256()
        for part, docs in (("train", self.train), ("validation", self.validation)):
            for doc in docs:
                digest.update(f"{part}\0{doc.name}\0".encode())
                digest.update(doc.text.encode("utf-8"))
                digest.update(b"\0")
        return digest.hexdigest()

    @property
    def train_bytes(self):
        return sum(len(d.text.encode("utf-8")) for d in self.train)

    @property
    def validation_bytes(self):
        return sum(len(d.text.encode("utf-8")) for d in self.validation)

    def describe(self):
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "split": self.split,
            "train_documents": len(self.train),
            "validation_documents": len(self.validation),
            "train_bytes": self.train_bytes,
            "validation_bytes": self.validation_bytes,
            "validation_names": [d.name for d in self.validation][:50],
        }
