"""Yardsticks a trained model must beat, in bits per byte (tokenizer-independent): the add-one
unigram (`unigram_bits_per_byte`) and the Kneser-Ney byte n-gram (`ngram_baseline`)."""

from zoo.baselines.cache import ngram_baseline, ngram_yardstick
from zoo.baselines.ngram import MAX_ORDER, KneserNey, choose_order
from zoo.baselines.unigram import unigram_bits_per_byte

__all__ = [
    "MAX_ORDER",
    "KneserNey",
    "choose_order",
    "ngram_baseline",
    "ngram_yardstick",
    "unigram_bits_per_byte",
]
