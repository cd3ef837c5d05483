"""The encoded streams a corpus becomes (`TokenData`), shared by the pipeline and token shards."""

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class TokenData:
    """Encoded training and validation streams (1-D int32)."""

    train: np.ndarray
    validation: np.ndarray
    validation_bytes: int | None  # UTF-8 bytes of the validation text; None when pre-tokenized
    end_of_text_id: int | None
    source: str

    def bits_per_byte(self, nats_per_token):
        """Validation loss in bits per byte (see `bits_per_byte`); None without the text."""
        if self.validation_bytes is None:
            return None
        return bits_per_byte(nats_per_token, len(self.validation), self.validation_bytes)

    def describe(self):
        return {
            "source": self.source,
            "train_tokens": int(len(self.train)),
            "validation_tokens": int(len(self.validation)),
            "validation_bytes": self.validation_bytes,
            "end_of_text_id": self.end_of_text_id,
        }


def bits_per_byte(nats_per_token, tokens, nbytes):
    """`nats_per_token * tokens / (nbytes * ln 2)`: the tokenizer-independent loss.

    Convention: `tokens` is the length of the validation stream *including* its end-of-text
    separators, and `nbytes` the UTF-8 bytes of the validation documents (separators have no
    bytes). The separators' loss is thus charged to the text, which slightly overstates bits per
    byte, the honest direction; a mean loss over validation windows stands for the whole stream.
    """
    return nats_per_token * tokens / (nbytes * math.log(2))
