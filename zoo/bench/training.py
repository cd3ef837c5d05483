"""Training throughput: the zoo's GPT-2 against keras-hub's `GPT2Backbone`; each `-small` twin.

Both sides train, each in its own worker process (`zoo.bench.worker`), on the same random token
batches with `fit`, XLA (`jit_compile=True`) and AdamW at the same hyperparameters: the zoo model
with the zoo's optimizer and loss as `zoo train` builds them, less the spike guard (a bench
measures the step, and keras-hub's side has no guard to match), keras-hub's `GPT2CausalLM` as
its documentation sets it up (sparse categorical cross-entropy from logits). Model FLOPs per
token are PaLM's 6N + 12·L·H·Q·T for both, since the two architectures are identical (the
parameter counts are checked equal).
"""

import dataclasses

import keras
import numpy as np

from zoo.accounting import flops_per_token
from zoo.bench.timing import Timing, interleaved
from zoo.data.pipeline import PREFETCH_BATCHES, without_autotuning
from zoo.bench.worker import Worker
from zoo.model import DecoderLM
from zoo.registry import get_recipe, list_families
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import make_optimizer
from zoo.training.schedules import make_schedule

SAMPLES = 64  # distinct random sequences, cycled


@dataclasses.dataclass(frozen=True)
class AnchorShape:
    """The shared configuration of the keras-hub comparison: a GPT-2 of 4 × 256 at sequence 256,
    batch 16 and vocabulary 8192, large enough that step time is matmuls, not dispatch."""

    num_layers: int = 4
    hidden_dim: int = 256
    num_heads: int = 4
    seq_len: int = 256
    batch_size: int = 16
    vocabulary_size: int = 8192


class Contender:
    """A compiled model and its data; `run(steps)` trains that many steps and blocks."""

    def __init__(self, name, model, inputs, targets, batch_size, seq_len, model_flops):
        import tensorflow as tf  # tf.data feeds every backend

        self.name = name
        self.model = model
        self.tokens_per_step = batch_size * seq_len
        self.model_flops = model_flops  # per token
        # Both contenders get the zoo's pipeline settings (autotuning off, see
        # zoo.data.pipeline.without_autotuning), so the ratio compares models, not input stalls.
        self.dataset = without_autotuning(
            tf.data.Dataset.from_tensor_slices((inputs, targets))
            .repeat()
            .batch(batch_size, drop_remainder=True)
            .prefetch(PREFETCH_BATCHES)
        )

    def run(self, steps):
        self.model.fit(self.dataset, steps_per_epoch=steps, epochs=1, verbose=0)


def _tokens(vocabulary_size, seq_len, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocabulary_size, (SAMPLES, seq_len + 1)).astype("int32")


def gpt2_config(shape):
    """The zoo's GPT-2 at `shape`."""
    return get_recipe("gpt2-small").model.replace(
        name="gpt2-bench",
        vocabulary_size=shape.vocabulary_size,
        num_layers=shape.num_layers,
        hidden_dim=shape.hidden_dim,
        intermediate_dim=4 * shape.hidden_dim,
        num_query_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        head_dim=shape.hidden_dim // shape.num_heads,
        max_sequence_length=shape.seq_len,
        dropout=0.0,
    )


def zoo_contender(name, config, training, batch_size, seq_len, total_steps=1000, jit_compile=True):
    """`config` compiled with `zoo train`'s optimizer, loss and XLA on the whole step, but
    without its spike guard, with the whole batch in one update (no gradient accumulation), in
    Keras's global dtype policy (float32 unless set) rather than the run's precision."""
    keras.utils.set_random_seed(0)
    model = DecoderLM(config)
    model.compile(
        optimizer=make_optimizer(training, total_steps, model),
        loss=LanguageModelLoss(z_loss_weight=config.z_loss_weight),
        jit_compile=jit_compile,
    )
    tokens = _tokens(config.vocabulary_size, seq_len)
    return Contender(
        name,
        model,
        tokens[:, :-1],
        tokens[:, 1:],
        batch_size,
        seq_len,
        flops_per_token(config, seq_len).palm,
    )


def keras_hub_contender(shape, training, total_steps=1000):
    """keras-hub's GPT-2 at `shape`, with the same AdamW settings and schedule."""
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=shape.vocabulary_size,
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        hidden_dim=shape.hidden_dim,
        intermediate_dim=4 * shape.hidden_dim,
        dropout=0.0,
        max_sequence_length=shape.seq_len,
    )
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    optimizer = keras.optimizers.AdamW(
        learning_rate=make_schedule(training, total_steps, training.learning_rate),
        weight_decay=training.weight_decay,
        beta_1=training.beta_1,
        beta_2=training.beta_2,
        epsilon=training.epsilon,
        clipnorm=training.clip_norm,
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    tokens = _tokens(shape.vocabulary_size, shape.seq_len)
    inputs = {"token_ids": tokens[:, :-1], "padding_mask": np.ones_like(tokens[:, :-1], bool)}
    return Contender(
        "keras-hub GPT2Backbone",
        model,
        inputs,
        tokens[:, 1:],
        shape.batch_size,
        shape.seq_len,
        None,
    )


def benchmark_anchor(shape=AnchorShape(), steps=10, repeats=5, peak=None):
    """Tokens/s and MFU of the zoo's GPT-2 against keras-hub's at one identical configuration.

    Each model trains in its own worker process; the driver alternates between them.
    """
    training = get_recipe("gpt2-small").training.to_dict()
    specs = {
        "zoo GPT-2": {"kind": "zoo", "name": "zoo GPT-2", "config": gpt2_config(shape).to_dict(),
                      "training": training, "batch_size": shape.batch_size,
                      "seq_len": shape.seq_len},
        "keras-hub GPT2Backbone": {"kind": "keras-hub", "shape": dataclasses.asdict(shape),
                                   "training": training},
    }  # fmt: skip
    with Worker(specs["zoo GPT-2"]) as ours, Worker(specs["keras-hub GPT2Backbone"]) as theirs:
        workers = {"zoo GPT-2": ours, "keras-hub GPT2Backbone": theirs}
        if ours.built["params"] != theirs.built["params"]:
            raise AssertionError(
                f"not the same model: {ours.built['params']} parameters "
                f"against keras-hub's {theirs.built['params']}"
            )
        flops = ours.built["flops_per_token"]  # identical architectures, one count for both
        times = interleaved(
            {name: (lambda w=w: w.run(steps)) for name, w in workers.items()}, repeats
        )
        rows = []
        for name, worker in workers.items():
            speed = Timing([steps * worker.built["tokens_per_step"] / t for t in times[name]])
            rows.append({**_row(name, speed, flops, peak, worker.built), "memory": worker.memory()})
    return {
        "shape": dataclasses.asdict(shape),
        "params": ours.built["params"],
        "flops_per_token": flops,
        "steps_per_repeat": steps,
        "rows": rows,
        "ratio": rows[0]["tokens_per_second"]["median"] / rows[1]["tokens_per_second"]["median"],
    }


def benchmark_families(families=None, steps=5, repeats=3, peak=None):
    """Tokens/s and MFU of each family's `-small` twin at its own batch and context."""
    rows = []
    for family in families or list_families():
        recipe = get_recipe(f"{family}-small")
        seq_len = recipe.model.max_sequence_length
        spec = {
            "kind": "zoo",
            "name": recipe.name,
            "preset": recipe.name,
            "training": recipe.training.to_dict(),
            "seq_len": seq_len,
            "batch_size": max(1, recipe.training.batch_tokens // seq_len),
        }
        with Worker(spec) as worker:
            times = [worker.run(steps) for _ in range(repeats)]
            speed = Timing([steps * worker.built["tokens_per_step"] / t for t in times])
            rows.append(
                {
                    **_row(recipe.name, speed, worker.built["flops_per_token"], peak, worker.built),
                    "params": worker.built["params"],
                    "memory": worker.memory(),
                }
            )
    return rows


def _row(name, speed, flops_per_token, peak, built):
    return {
        "name": name,
        "tokens_per_second": speed.to_dict(),
        "mfu": speed.median * flops_per_token / peak if peak else None,
        "model_flops_per_second": speed.median * flops_per_token,
        "warmup_seconds": built["warmup_seconds"],
    }
