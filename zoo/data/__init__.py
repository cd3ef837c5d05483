"""Data for training: corpora, tokenizers trained on them, pre-tokenized shards, and the
tf.data input pipeline. The trainer calls `prepare_data` (corpus to `TokenData` and tokenizer),
`train_dataset` and `validation_windows`."""

from zoo.data.corpus import Corpus, Document, load_corpus
from zoo.data.pipeline import (
    encode_corpus,
    measure_pipeline,
    prepare_data,
    train_dataset,
    validation_windows,
)
from zoo.data.token_data import TokenData, bits_per_byte
from zoo.data.token_shards import load_token_shards
from zoo.data.tokenizer import TokenizerAssets, load_tokenizer, prepare_tokenizer

__all__ = [
    "Corpus",
    "Document",
    "TokenData",
    "TokenizerAssets",
    "bits_per_byte",
    "encode_corpus",
    "load_corpus",
    "load_token_shards",
    "load_tokenizer",
    "measure_pipeline",
    "prepare_data",
    "prepare_tokenizer",
    "train_dataset",
    "validation_windows",
]
