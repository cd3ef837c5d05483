"""Decoding speed and key/value cache size: each family's `-small` twin, and the keras-hub anchor.

Every contender decodes greedily from the same random prompt with its key/value cache, batch
`batch_size`, `prompt_tokens` then `new_tokens` (filling the -small twins' 256-token context),
in its own worker process (`zoo.bench.worker`), compiled and warmed up once before timing.
Tokens/s counts new tokens per sequence over prefill and decoding, as keras-hub's `generate`
does. Cache bytes per token are read off the cache the decoder allocates (b, L, 2, S, K, Q),
divided by b·S: 2·L·K·Q values, so multi-query attention (K = 1) keeps 1/H of multi-head's.
PaLM's -small twin also runs with multi-head attention (K = H), every other field equal, so
its saving is measured on one architecture rather than across families.
"""

import dataclasses

import keras
import numpy as np

from zoo.bench.timing import Timing, interleaved
from zoo.bench.training import AnchorShape, gpt2_config
from zoo.bench.worker import Worker
from zoo.registry import get_recipe, list_families

PROMPT_TOKENS = 32
NEW_TOKENS = 224
MULTI_QUERY_TWIN = "palm-small"  # the preset whose multi-head twin shows what K = 1 saves


class GenerationContender:
    """A compiled decoder (the whole loop in one XLA program, as `zoo.generate_tokens` without
    a streaming callback) and a fixed prompt; `run(n)` generates n times and blocks."""

    def __init__(self, name, model, batch_size, prompt_tokens, new_tokens):
        from zoo.generation import Decoder, make_sampler

        self.name = name
        self.model = model
        self.tokens_per_step = new_tokens  # per sequence: what tokens/s reports
        self.model_flops = None
        vocabulary_size = model.config.vocabulary_size
        self.prompt = (
            np.random.default_rng(0)
            .integers(0, vocabulary_size, (batch_size, prompt_tokens))
            .astype("int32")
        )
        self.decoder = Decoder(
            model, make_sampler("greedy"), batch_size, prompt_tokens, prompt_tokens + new_tokens
        )
        c = model.config
        self.facts = {
            "cache_bytes": self.decoder.cache_bytes,
            "cache_bytes_per_token": self.decoder.cache_bytes_per_token,
            "num_key_value_heads": c.num_key_value_heads,
            "num_query_heads": c.num_query_heads,
            "compile_seconds": self.decoder.compile_seconds,
        }

    def run(self, steps):
        for _ in range(steps):
            self.decoder.generate(self.prompt)  # one XLA program, as keras-hub's generate


class KerasHubGenerationContender:
    """keras-hub's `GPT2CausalLM.generate`: greedy, its own cache and XLA-compiled loop."""

    def __init__(self, shape, batch_size, prompt_tokens, new_tokens):
        import keras_hub

        keras.utils.set_random_seed(0)
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=shape.vocabulary_size,
            num_layers=shape.num_layers,
            num_heads=shape.num_heads,
            hidden_dim=shape.hidden_dim,
            intermediate_dim=4 * shape.hidden_dim,
            dropout=0.0,
            max_sequence_length=prompt_tokens + new_tokens,
        )
        self.model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
        self.model.compile(sampler="greedy")
        self.name = "keras-hub GPT2CausalLM"
        self.tokens_per_step = new_tokens
        self.model_flops = None
        length = prompt_tokens + new_tokens
        token_ids = np.zeros((batch_size, length), "int32")
        token_ids[:, :prompt_tokens] = np.random.default_rng(0).integers(
            0, shape.vocabulary_size, (batch_size, prompt_tokens)
        )
        mask = np.zeros((batch_size, length), bool)
        mask[:, :prompt_tokens] = True
        self.inputs = {"token_ids": token_ids, "padding_mask": mask}
        c = backbone
        itemsize = np.dtype(self.model.compute_dtype).itemsize
        self.facts = {
            "cache_bytes_per_token": 2 * c.num_layers * c.hidden_dim * itemsize,
            "num_key_value_heads": c.num_heads,
            "num_query_heads": c.num_heads,
        }

    def run(self, steps):
        for _ in range(steps):
            self.model.generate(self.inputs, stop_token_ids=None)


def generation_spec(name, config, batch_size=1, prompt_tokens=PROMPT_TOKENS, new_tokens=NEW_TOKENS):
    return {
        "kind": "generate",
        "name": name,
        "config": config.to_dict(),
        "batch_size": batch_size,
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
    }


def build_contender(spec):
    """The worker's side: a contender from its JSON spec."""
    from zoo.config import ModelConfig
    from zoo.model import DecoderLM

    lengths = (spec["batch_size"], spec["prompt_tokens"], spec["new_tokens"])
    if spec["kind"] == "generate-keras-hub":
        return KerasHubGenerationContender(AnchorShape(**spec["shape"]), *lengths)
    keras.utils.set_random_seed(0)
    return GenerationContender(
        spec["name"], DecoderLM(ModelConfig.from_dict(spec["config"])), *lengths
    )


def benchmark_generation_anchor(
    shape=AnchorShape(), batch_size=1, repeats=3, prompt_tokens=PROMPT_TOKENS, new_tokens=NEW_TOKENS
):
    """The zoo's GPT-2 against keras-hub's `GPT2CausalLM.generate` at one configuration."""
    config = gpt2_config(shape).replace(max_sequence_length=prompt_tokens + new_tokens)
    specs = {
        "zoo GPT-2": generation_spec("zoo GPT-2", config, batch_size, prompt_tokens, new_tokens),
        "keras-hub GPT2CausalLM": {
            "kind": "generate-keras-hub", "shape": dataclasses.asdict(shape),
            "batch_size": batch_size, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens},
    }  # fmt: skip
    with (
        Worker(specs["zoo GPT-2"], warmup=1) as ours,
        Worker(specs["keras-hub GPT2CausalLM"], warmup=1) as theirs,
    ):
        workers = {"zoo GPT-2": ours, "keras-hub GPT2CausalLM": theirs}
        if ours.built["params"] != theirs.built["params"]:
            raise AssertionError(
                f"not the same model: {ours.built['params']} parameters "
                f"against keras-hub's {theirs.built['params']}"
            )
        times = interleaved({name: (lambda w=w: w.run(1)) for name, w in workers.items()}, repeats)
        rows = [_row(name, worker, times[name], new_tokens) for name, worker in workers.items()]
    return {
        "shape": dataclasses.asdict(shape),
        "params": ours.built["params"],
        "batch_size": batch_size,
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "rows": rows,
        "ratio": rows[0]["tokens_per_second"]["median"] / rows[1]["tokens_per_second"]["median"],
    }


def benchmark_generation(
    families=None, batch_size=1, repeats=3, prompt_tokens=PROMPT_TOKENS, new_tokens=NEW_TOKENS
):
    """Decoding tokens/s and cache bytes per token of each family's -small twin, plus PaLM's
    -small twin with multi-head attention: {"batch_size", "prompt_tokens", "new_tokens",
    "rows"}."""
    entries = []
    for family in families or list_families():
        recipe = get_recipe(f"{family}-small")
        entries.append((recipe.name, recipe.model))
        if recipe.name == MULTI_QUERY_TWIN and recipe.model.num_key_value_heads == 1:
            multi_head = recipe.model.replace(num_key_value_heads=recipe.model.num_query_heads)
            entries.append((f"{recipe.name}, multi-head", multi_head))
    rows = []
    for name, config in entries:
        with Worker(
            generation_spec(name, config, batch_size, prompt_tokens, new_tokens), warmup=1
        ) as worker:
            times = [worker.run(1) for _ in range(repeats)]
            rows.append(_row(name, worker, times, new_tokens))
    return {
        "batch_size": batch_size,
        "prompt_tokens": prompt_tokens,
        "new_tokens": new_tokens,
        "rows": rows,
    }


def _row(name, worker, times, new_tokens):
    built = worker.built
    return {
        "name": name,
        "params": built["params"],
        "tokens_per_second": Timing([new_tokens / t for t in times]).to_dict(),
        "cache_bytes_per_token": built["cache_bytes_per_token"],
        "num_key_value_heads": built["num_key_value_heads"],
        "num_query_heads": built["num_query_heads"],
        "warmup_seconds": built["warmup_seconds"],
        "memory": worker.memory(),
    }
