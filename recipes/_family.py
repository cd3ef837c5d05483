"""`Family`: what every preset of one paper shares, so each preset states only what differs.

A family module defines its architecture as a function of keyword arguments named as in
`ModelConfig` (`num_layers=`, `hidden_dim=`, ...), then lists its presets as named rows:

    GPT2 = Family(name="gpt2", citation=..., choices=CHOICES, architecture=gpt2,
                  vocabulary_size=50257, max_sequence_length=1024)
    RECIPES = (
        *GPT2.twins(ADAMW_GPT3, nano=dict(num_layers=2, ...), small=dict(num_layers=4, ...)),
        GPT2.paper("gpt2-124m", row="117M", num_layers=12, ..., training=..., reported_params=...),
    )
"""

import dataclasses
from typing import Callable

from recipes._scaled import (
    NANO_BATCH_TOKENS,
    NANO_CONTEXT,
    NANO_TRAINING_TOKENS,
    NANO_VOCABULARY,
    NANO_WARMUP_STEPS,
    SCALED_CHOICE,
    SMALL_BATCH_TOKENS,
    SMALL_CONTEXT,
    SMALL_LEARNING_RATE,
    SMALL_TRAINING_TOKENS,
    SMALL_VOCABULARY,
    SMALL_WARMUP_STEPS,
)
from zoo.config import ModelConfig
from zoo.recipe import Recipe, Scale, TrainingRecipe


@dataclasses.dataclass(frozen=True, kw_only=True)
class Family:
    name: str  # the presets' prefix and `Recipe.family`
    citation: str  # the paper (and table) every preset cites
    choices: tuple  # values the paper does not publish, and ours
    architecture: Callable[..., ModelConfig]  # ModelConfig keywords -> the family's ModelConfig
    vocabulary_size: int  # of the paper-scale presets
    max_sequence_length: int

    def paper(self, name, *, training, reported_params, row=None, citation=None, **shape):
        """A paper-scale preset: `shape` are the architecture's keywords for this row."""
        model = self.architecture(
            name=name,
            vocabulary_size=self.vocabulary_size,
            max_sequence_length=self.max_sequence_length,
            **shape,
        )
        return Recipe(
            name=name, family=self.name, scale=Scale.PAPER, model=model, training=training,
            citation=citation or (f"{self.citation}, row {row}" if row else self.citation),
            reported_params=reported_params, choices=self.choices,
        )  # fmt: skip

    def twins(
        self,
        training: TrainingRecipe,
        *,
        nano,
        small,
        learning_rate=SMALL_LEARNING_RATE,
        choices=None,
        small_choices=(),
    ):
        """`<family>-nano` and `<family>-small`: the architecture at shapes `nano` and `small`
        (its keywords) on the shared vocabulary, context, batch and budget (`recipes/_scaled.py`),
        trained by `training` at `learning_rate`. Their choices: the shared scaling, `choices`
        (default: the family's), and for the small twin `small_choices`."""
        choices = self.choices if choices is None else choices

        def twin(scale, shape, vocabulary, context, batch, warmup, tokens, role, extra):
            name = f"{self.name}-{scale.value}"
            return Recipe(
                name=name, family=self.name, scale=scale,
                model=self.architecture(name=name, vocabulary_size=vocabulary,
                                        max_sequence_length=context, **shape),
                training=training.replace(learning_rate=learning_rate, batch_tokens=batch,
                                          warmup_steps=warmup, training_tokens=tokens),
                citation=f"{self.citation} ({role})",
                choices=(SCALED_CHOICE, *choices, *extra),
            )  # fmt: skip

        return (
            twin(Scale.NANO, nano, NANO_VOCABULARY, NANO_CONTEXT, NANO_BATCH_TOKENS,
                 NANO_WARMUP_STEPS, NANO_TRAINING_TOKENS, "test twin", ()),
            twin(Scale.SMALL, small, SMALL_VOCABULARY, SMALL_CONTEXT, SMALL_BATCH_TOKENS,
                 SMALL_WARMUP_STEPS, SMALL_TRAINING_TOKENS, "CPU replica", small_choices),
        )  # fmt: skip
