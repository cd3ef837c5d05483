"""The unigram yardstick, in bits per byte (tokenizer-independent).

The unigram baseline is the cross-entropy of the validation bytes under the byte frequencies of
the training bytes (add-one smoothed): what a model that ignores all context achieves. A replica
that does not fall well below it has learned nothing.
"""

import math
from collections import Counter


def unigram_bits_per_byte(train_texts, validation_texts):
    counts = Counter()
    for text in train_texts:
        counts.update(text.encode("utf-8"))
    total = sum(counts.values()) + 256  # add-one smoothing over all byte values
    validation = Counter()
    for text in validation_texts:
        validation.update(text.encode("utf-8"))
    n = sum(validation.values())
    if n == 0:
        return None
    bits = -sum(c * math.log2((counts[b] + 1) / total) for b, c in validation.items())
    return bits / n
