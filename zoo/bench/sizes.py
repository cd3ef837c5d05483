"""Training throughput over a ladder of sizes: the zoo on every installed Keras backend against
keras-hub's `GPT2Backbone` and `transformers`' `GPT2LMHeadModel` (eager and `torch.compile`).

Every contender trains the same GPT-2 (the parameter counts are checked equal) on the same
random token batches, at the same AdamW hyperparameters, each in its own worker process
(`zoo.bench.worker`), started with the backend it needs. Per size, all contenders are built and
warmed up (compilation excluded), then timed in turns for `repeats` rounds; each round trains
the same number of steps on every contender, chosen from a short probe so one round of the
median contender lasts about `seconds`. MFU divides PaLM's 6N + 12·L·H·Q·T per token (one count:
the architectures are identical) by the peak measured at the start of the run.

What each contender is:
- zoo (backend): `DecoderLM` compiled as `zoo train` compiles it (`zoo.bench.training.
  zoo_contender`): the zoo's AdamW, loss and schedule, `fit` with `jit_compile=True`: XLA on
  TensorFlow and JAX, `torch.compile` of the train step on torch (measured faster than Keras's
  default eager torch `fit` at 2×64: 77.7K against 58.3K tokens/s; see `TORCH_JIT`).
- keras-hub: `GPT2CausalLM` on TensorFlow with XLA, as its documentation sets it up.
- transformers: `GPT2LMHeadModel` in a plain PyTorch loop, as a user of that library writes it:
  `torch.optim.AdamW` (foreach), global-norm clipping, warmup + cosine, cross-entropy on the
  logits; eager, and with the model under `torch.compile` (its default inductor backend).
"""

import dataclasses
import importlib.util
import math

import numpy as np

from zoo.bench.timing import Timing, interleaved, seconds
from zoo.bench.worker import Worker
from zoo.errors import ZooError

SAMPLES = 64  # distinct random sequences, cycled (as zoo.bench.training)
TORCH_JIT = True  # zoo on Keras-torch: jit_compile=True (torch.compile) measured faster
PROBE_STEPS = 3
# The zoo on torch with `scaled_dot_product_attention` (torch's fused attention kernel) instead
# of its own (`zoo.layers.attention_kernels.FUSED`): the speed change tried on a CPU, kept as a
# contender so every run shows whether it pays yet.
FUSED_TORCH = "zoo torch fused-attention"


@dataclasses.dataclass(frozen=True)
class SizeShape:
    """One rung of the ladder: a GPT-2 at `num_layers` × `hidden_dim` (4× feed-forward, heads of
    width hidden_dim / num_heads), trained at `batch_size` × `seq_len` tokens per step."""

    label: str
    num_layers: int
    hidden_dim: int
    num_heads: int
    seq_len: int
    batch_size: int
    vocabulary_size: int


# The three configurations the bench is anchored on (GPT-2's 64-wide heads, sequence 256, batch
# 16); the sweeps' compute-optimal shapes are added by the caller (`zoo bench sizes` asks the
# sweep planner), since the bench sits below the scaling layer.
FIXED_LADDER = (
    SizeShape("4×256 v8192", 4, 256, 4, 256, 16, 8192),
    SizeShape("4×128 v4096", 4, 128, 2, 256, 16, 4096),
    SizeShape("2×64 v512", 2, 64, 1, 256, 16, 512),
)


def installed_contenders():
    """The contenders this machine can run, in table order: the zoo on each installed Keras
    backend, then the peers."""
    have = {
        name: importlib.util.find_spec(name) is not None
        for name in ("jax", "torch", "keras_hub", "transformers")
    }
    names = ["zoo tensorflow"]
    names += [f"zoo {b}" for b in ("jax", "torch") if have[b]]
    if have["torch"]:  # torch's fused attention kernel, beside the zoo's own
        names.append(FUSED_TORCH)
    if have["keras_hub"]:
        names.append("keras-hub tensorflow")
    if have["torch"] and have["transformers"]:
        names += ["transformers eager", "transformers compile"]
    return names


def _spec(name, shape, training):
    shape_dict = dataclasses.asdict(shape)
    if name.startswith("zoo "):
        backend = name.split()[1]
        return {
            "kind": "size-zoo",
            "name": name,
            "shape": shape_dict,
            "training": training,
            "jit_compile": backend != "torch" or TORCH_JIT,
            "fused_attention": True if name == FUSED_TORCH else None,
        }, backend
    if name == "keras-hub tensorflow":
        return {
            "kind": "size-keras-hub",
            "name": name,
            "shape": shape_dict,
            "training": training,
        }, "tensorflow"
    if name in ("transformers eager", "transformers compile"):
        return {
            "kind": "size-transformers",
            "name": name,
            "shape": shape_dict,
            "training": training,
            "compile": name.endswith("compile"),
        }, "torch"
    raise ZooError(
        f"unknown contender {name!r}: 'zoo BACKEND', 'keras-hub tensorflow', "
        "'transformers eager' or 'transformers compile'"
    )


def benchmark_sizes(
    shapes=FIXED_LADDER,
    contenders=None,
    repeats=5,
    seconds_per_repeat=1.0,
    peak=None,
    reporter=print,
):
    """{'rows': one per shape and contender, 'sizes': one summary per shape}: see the module."""
    from zoo.registry import get_recipe

    training = get_recipe("gpt2-small").training.to_dict()
    contenders = contenders or installed_contenders()
    rows, sizes = [], []
    for shape in shapes:
        reporter(f"{shape.label}: building {len(contenders)} contenders …")
        size_rows = _benchmark_shape(shape, contenders, training, repeats, seconds_per_repeat, peak)
        rows += size_rows
        sizes.append(_summary(shape, size_rows))
    return {
        "contenders": contenders,
        "repeats": repeats,
        "seconds_per_repeat": seconds_per_repeat,
        "rows": rows,
        "sizes": sizes,
    }


def _benchmark_shape(shape, contenders, training, repeats, seconds_per_repeat, peak):
    workers, failed = {}, {}
    specs = {name: _spec(name, shape, training) for name in contenders}
    try:
        for name, (spec, backend) in specs.items():
            try:
                workers[name] = Worker(spec, env={"KERAS_BACKEND": backend})
            except ZooError as error:  # a worker that exits (e.g. a backend not installed)
                failed[name] = str(error)  # is a row saying why, not a lost benchmark
        params = {name: w.built["params"] for name, w in workers.items()}
        if len(set(params.values())) > 1:
            raise AssertionError(f"not the same model at {shape.label}: {params}")
        flops = next(w.built["flops_per_token"] for n, w in workers.items() if n.startswith("zoo"))
        steps = _steps_per_repeat(workers, seconds_per_repeat)
        times = interleaved({n: (lambda w=w: w.run(steps)) for n, w in workers.items()}, repeats)
        rows = []
        for name in contenders:
            if name in failed:
                rows.append({"size": shape.label, "name": name, "error": failed[name]})
                continue
            worker = workers[name]
            speed = Timing([steps * worker.built["tokens_per_step"] / t for t in times[name]])
            rows.append(
                {
                    "size": shape.label,
                    "name": name,
                    "params": params[name],
                    "tokens_per_second": speed.to_dict(),
                    "mfu": speed.median * flops / peak if peak else None,
                    "model_flops_per_second": speed.median * flops,
                    "flops_per_token": flops,
                    "steps_per_repeat": steps,
                    "warmup_seconds": worker.built["warmup_seconds"],
                    "facts": worker.built.get("facts", {}),
                    "memory": worker.memory(),
                }
            )
        return rows
    finally:
        for worker in workers.values():
            worker.__exit__(None, None, None)


def _steps_per_repeat(workers, target):
    """Steps per timed round such that the median contender's round lasts about `target` s."""
    per_step = sorted(w.run(PROBE_STEPS) / PROBE_STEPS for w in workers.values())
    return max(PROBE_STEPS, math.ceil(target / per_step[len(per_step) // 2]))


def _summary(shape, rows):
    """The zoo's best backend against the fastest peer at one size (medians)."""
    ok = [r for r in rows if "error" not in r]
    zoo = max(
        (r for r in ok if r["name"].startswith("zoo ")),
        key=lambda r: r["tokens_per_second"]["median"],
    )
    peers = [r for r in ok if not r["name"].startswith("zoo ")]
    peer = max(peers, key=lambda r: r["tokens_per_second"]["median"]) if peers else None
    return {
        "size": shape.label,
        "shape": dataclasses.asdict(shape),
        "params": zoo["params"],
        "zoo_best": zoo["name"],
        "zoo_tokens_per_second": zoo["tokens_per_second"]["median"],
        "fastest_peer": peer and peer["name"],
        "peer_tokens_per_second": peer and peer["tokens_per_second"]["median"],
        "ratio": peer and zoo["tokens_per_second"]["median"] / peer["tokens_per_second"]["median"],
    }


# --- the worker's side: contenders built inside `zoo.bench.serve` ---------------------------


def _tokens(vocabulary_size, seq_len):
    rng = np.random.default_rng(0)
    return rng.integers(0, vocabulary_size, (SAMPLES, seq_len + 1)).astype("int32")


def zoo_size_contender(spec):
    """The zoo's GPT-2 at the spec's shape on this worker's Keras backend."""
    from zoo.bench.training import AnchorShape, gpt2_config, zoo_contender
    from zoo.layers import attention_kernels
    from zoo.recipe import TrainingRecipe

    attention_kernels.FUSED = spec.get("fused_attention")
    shape = SizeShape(**spec["shape"])
    anchor = AnchorShape(**{k: v for k, v in spec["shape"].items() if k != "label"})
    contender = zoo_contender(
        spec["name"],
        gpt2_config(anchor),
        TrainingRecipe.from_dict(spec["training"]),
        shape.batch_size,
        shape.seq_len,
        jit_compile=spec["jit_compile"],
    )
    contender.facts = {"facts": _threads()}
    return contender


def keras_hub_size_contender(spec):
    from zoo.bench.training import AnchorShape, keras_hub_contender
    from zoo.recipe import TrainingRecipe

    anchor = AnchorShape(**{k: v for k, v in spec["shape"].items() if k != "label"})
    contender = keras_hub_contender(anchor, TrainingRecipe.from_dict(spec["training"]))
    contender.facts = {"facts": _threads()}
    return contender


def _threads():
    import keras

    facts = {"backend": keras.backend.backend()}
    if facts["backend"] == "torch":
        import torch

        facts["torch_threads"] = torch.get_num_threads()
    return facts


class TransformersContender:
    """`transformers.GPT2LMHeadModel` trained by a plain PyTorch loop (see the module)."""

    def __init__(self, spec, total_steps=1000):
        import torch
        import transformers

        shape = SizeShape(**spec["shape"])
        training = spec["training"]
        torch.manual_seed(0)
        config = transformers.GPT2Config(
            vocab_size=shape.vocabulary_size,
            n_positions=shape.seq_len,
            n_embd=shape.hidden_dim,
            n_layer=shape.num_layers,
            n_head=shape.num_heads,
            n_inner=4 * shape.hidden_dim,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
        self.module = transformers.GPT2LMHeadModel(config)
        self.model = self  # serve reads `contender.model.count_params()`
        self.forward = torch.compile(self.module) if spec["compile"] else self.module
        self.parameters = list(self.module.parameters())  # tied embedding listed once
        peak, warmup = training["learning_rate"], training["warmup_steps"]
        floor = training.get("final_learning_rate_fraction", 0.1)

        def rate(step):  # linear warmup, cosine to `floor` of the peak (the zoo's GPT-2 rule)
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        self.optimizer = torch.optim.AdamW(
            self.parameters,
            lr=peak,
            betas=(training["beta_1"], training["beta_2"]),
            eps=training["epsilon"],
            weight_decay=training["weight_decay"],
            foreach=True,
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, rate)
        self.clip_norm = training["clip_norm"]
        tokens = torch.from_numpy(_tokens(shape.vocabulary_size, shape.seq_len).astype("int64"))
        self.inputs, self.targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
        self.batch_size = shape.batch_size
        self.tokens_per_step = shape.batch_size * shape.seq_len
        self.model_flops = None
        self.cursor = 0
        self.facts = {
            "facts": {
                "torch_threads": torch.get_num_threads(),
                "compiled": bool(spec["compile"]),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
            }
        }

    def count_params(self):
        return sum(p.numel() for p in self.parameters)

    def run(self, steps):
        import torch

        for _ in range(steps):
            start = self.cursor % (SAMPLES - self.batch_size + 1)
            self.cursor += self.batch_size
            x = self.inputs[start : start + self.batch_size]
            y = self.targets[start : start + self.batch_size]
            logits = self.forward(input_ids=x).logits
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
            )
            loss.backward()
            if self.clip_norm:
                torch.nn.utils.clip_grad_norm_(self.parameters, self.clip_norm, foreach=True)
            self.optimizer.step()
            self.schedule.step()
            self.optimizer.zero_grad(set_to_none=True)
        loss.item()  # eager PyTorch on CPU is synchronous; this also reads the last loss


__all__ = ["FIXED_LADDER", "SizeShape", "benchmark_sizes", "installed_contenders", "seconds"]
