"""The gradient norm of every layer of a model, at initialisation and over its first steps.

The vanishing (or exploding) gradient as numbers: in a deep stack, the gradient that reaches the
first layers is a product of one factor per layer above them, so it shrinks or grows with depth
unless something keeps each factor near 1 — residual connections, and where the norm sits
(post-norm divides every residual sum by its spread, so the early layers' gradient is scaled
down once per layer above them; pre-norm leaves the residual path untouched: Xiong et al.
2020). `gradient_norms` trains the model of a run plan for `steps` updates with its recipe's
optimizer on its recipe's data, and before each update measures the L2 norm of the loss's
gradient with respect to each layer's weights: the embedding, every decoder block (and its
attention and feed-forward sublayers apart), the final norm.

Keras has no backend-neutral way to take a gradient outside `fit` (each backend's trainer
takes its own: `tf.GradientTape`, `jax.value_and_grad`), and `fit` gives no per-variable
gradients, so `_loss_and_gradients` takes each backend's own, in a few lines each.
"""

import math

import keras
import numpy as np

from zoo.data.pipeline import train_dataset
from zoo.errors import FieldError
from zoo.model import DecoderLM
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import make_optimizer

# The block's sublayers reported apart, by the names `DecoderBlock` gives them.
SUBLAYERS = ("self_attention", "feedforward")


def gradient_norms(plan, steps=0):
    """Per-layer gradient norms of `plan`'s model (a `RunPlan` from `zoo.training.trainer.
    plan_run`, from its `init_from` weights if it has them, else drawn with its seed; trained
    with its recipe's optimizer, seed and batch) before each of `steps`
    updates and after the last: `steps + 1` rows, the first at initialisation.

    Returns {'kind': 'gradients', 'model', 'num_layers', 'norm_placement', 'feedforward',
    'batch_size', 'seed', 'layers': [names, input side first], 'blocks': [the names that are whole
    blocks], 'rows': [{'step', 'loss', 'norms': [one per layer], 'sublayers': {name: [one per
    block]}}], 'first_to_last': [each row's first block's norm over its last block's]}."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise FieldError("steps", f"must be an integer of 0 or more; received {steps!r}")
    keras.utils.set_random_seed(plan.run.seed)
    model = DecoderLM(plan.model, dtype=plan.run.precision.value)
    if plan.materials.initial_weights is not None:  # --init-from: a trained or shared start
        model.set_weights(plan.materials.initial_weights)
    optimizer = make_optimizer(plan.training, max(steps, 1), model)
    optimizer.build(model.trainable_variables)
    loss_fn = LanguageModelLoss(z_loss_weight=plan.model.z_loss_weight)
    groups = layer_groups(model)
    batches = train_dataset(
        plan.materials.data.train,
        plan.model.max_sequence_length,
        plan.budget.batch_size,
        plan.run.seed,
    ).as_numpy_iterator()
    layers = [name for name in groups if "/" not in name]
    blocks = [name for name in layers if name.startswith("block ")]
    rows = []
    for step in range(steps + 1):
        x, y = next(batches)
        loss, grads = _loss_and_gradients(model, loss_fn, x, y)
        by_variable = {id(v): g for v, g in zip(model.trainable_variables, grads)}
        norms = {name: _norm([by_variable[id(v)] for v in variables])
                 for name, variables in groups.items()}  # fmt: skip
        rows.append({
            "step": step,
            "loss": float(loss),
            "norms": [norms[name] for name in layers],
            "sublayers": {part: [norms[f"{name}/{part}"] for name in blocks] for part in SUBLAYERS},
        })  # fmt: skip
        if step < steps:
            optimizer.apply(grads, model.trainable_variables)
    first, last = layers.index(blocks[0]), layers.index(blocks[-1])
    return {
        "kind": "gradients",
        "model": plan.model.name,
        "num_layers": plan.model.num_layers,
        "norm_placement": plan.model.norm_placement.value,
        "feedforward": plan.model.feedforward.value,
        "batch_size": plan.budget.batch_size,
        "seed": plan.run.seed,
        "layers": layers,
        "blocks": blocks,
        "rows": rows,
        "first_to_last": [_ratio(r["norms"][first], r["norms"][last]) for r in rows],
    }


def layer_groups(model):
    """{name: [trainable variables]}, input side first: 'embedding' (token and learned
    positions), 'block i' for each decoder block with 'block i/self_attention' and 'block
    i/feedforward' after it, 'final norm' where there is one, 'output head' where untied."""
    embedding = model.token_embedding  # keras-hub's ReversibleEmbedding
    head = [] if model.config.tie_embeddings else [embedding.reverse_embeddings]
    groups = {"embedding": [v for v in embedding.trainable_variables
                            if all(v is not h for h in head)]}  # fmt: skip
    if model.position_embedding is not None:
        groups["embedding"] += model.position_embedding.trainable_variables
    for i, block in enumerate(model.decoder_blocks):
        groups[f"block {i}"] = list(block.trainable_variables)
        groups[f"block {i}/self_attention"] = list(block.self_attention.trainable_variables)
        groups[f"block {i}/feedforward"] = list(block.feedforward_layer.trainable_variables)
    if model.final_norm is not None:
        groups["final norm"] = list(model.final_norm.trainable_variables)
    if head:  # untied: the output projection is the embedding layer's reverse kernel
        groups["output head"] = head
    return groups


def _loss_and_gradients(model, loss_fn, x, y):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        # An embedding lookup's gradient is sparse (IndexedSlices, repeated ids unsummed):
        # dense, as the zoo's optimizers take it (zoo.training.clipping), so its norm is right.
        return loss, [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                      for g in grads]  # fmt: skip
    if backend == "jax":
        import jax

        def compute(trainable, non_trainable):
            logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return loss_fn(y, logits)

        loss, grads = jax.value_and_grad(compute)(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        )
        return loss, grads
    raise FieldError("backend", f"gradients are measured on tensorflow or jax; not {backend}")


def _norm(gradients):
    total = 0.0
    for g in gradients:
        if g is None:
            continue
        values = np.asarray(keras.ops.convert_to_numpy(g), np.float64)
        total += float(np.sum(values * values))
    return math.sqrt(total)


def _ratio(a, b):
    return a / b if b > 0 else None


__all__ = ["SUBLAYERS", "gradient_norms", "layer_groups"]
