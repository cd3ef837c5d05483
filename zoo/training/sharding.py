"""Where each variable's values live on a device mesh, and how many bytes that puts on a device.

Pure (no Keras, no backend): the same rules lay out a trained model's variables
(`zoo.training.distribution`) and account for models too large to build here (`llama-7b`,
`palm-540b`), so `zoo bench parallel` checks the accounting against the measured shards of a
small model and then applies it where nothing can be measured.

Three ways to spend devices (Megatron-LM, Shoeybi et al. 2019; ZeRO, Rajbhandari et al. 2020):
    data parallelism       every device holds the whole model, its gradients and optimizer
                           state, and a slice of the batch;
    tensor parallelism     the "model" axis slices attention by heads and the feed-forward by
                           width (`megatron_layouts`): weights, gradients and optimizer state
                           all divided, activations exchanged twice per block;
    optimizer sharding     (ZeRO stage 1) the optimizer state, and only it, further divided
                           over the data axis (`zero_spec`): each device updates its slice and
                           the updated weights are gathered. Gradients stay whole (stage 2
                           would divide them; stage 3 the weights too).
"""

import math
import re

from zoo.config import FeedForward, Normalization, NormPlacement, Position, Residual

DATA_AXIS = "batch"  # the mesh axis the batch is split over (Keras's DataParallel name)
MODEL_AXIS = "model"


def megatron_layouts(config, model_axis):
    """Layouts that slice `config`'s kernels over the "model" mesh axis as Megatron-LM does.

    Attention is sliced by heads, so that every device holds whole query heads and the
    key/value heads they read: the query kernel (d, H, Q) on H and the output kernel (H, Q, d)
    on H (column- then row-parallel); the key and value kernels (d, K, Q) on K when the axis
    divides K, and otherwise replicated, as Megatron-LM replicates key/value heads for
    multi-query and narrow grouped attention. Query head n reads key/value head n·K/H, so
    contiguous slices of H and K line up. The feed-forward gate/up kernels (d, f) are sliced on
    f, its down kernel (f, d) on f; the token embedding (V, d) on the vocabulary.
    Patterns are full matches of variable paths (Keras `LayoutMap`). A dimension the axis does
    not divide is left replicated, and named in the second value.
    Optimizer slots take their variable's layout, so Adam's moments are sliced alike.
    """
    groups = [
        (
            "token_embedding vocabulary",
            config.vocabulary_size,
            {
                "token_embedding/embeddings": (MODEL_AXIS, None),
                "token_embedding/reverse_embeddings": (None, MODEL_AXIS),
            },
        ),
        (
            "self_attention/{query,output} heads",
            config.num_query_heads,
            {
                r".*/self_attention/query/kernel": (None, MODEL_AXIS, None),
                r".*/self_attention/query/bias": (MODEL_AXIS, None),
                r".*/self_attention/output/kernel": (MODEL_AXIS, None, None),
            },
        ),
        # K divides H, so an axis that divides K divides H: key/value heads are only sliced
        # together with their query heads.
        (
            "self_attention/{key,value} heads",
            config.num_key_value_heads,
            {
                r".*/self_attention/(key|value)/kernel": (None, MODEL_AXIS, None),
                r".*/self_attention/(key|value)/bias": (MODEL_AXIS, None),
            },
        ),
        (
            "feedforward/{gate,up,down} width",
            config.intermediate_dim,
            {
                r".*/feedforward/(gate|up)/kernel": (None, MODEL_AXIS),
                r".*/feedforward/(gate|up)/bias": (MODEL_AXIS,),
                r".*/feedforward/down/kernel": (MODEL_AXIS, None),
            },
        ),
    ]
    layouts, replicated = {}, []
    for what, size, patterns in groups:
        if size % model_axis:
            replicated.append(f"{what}: {size} is not divisible by {model_axis}")
        else:
            layouts.update(patterns)
    return layouts, tuple(replicated)


def layout_of(path, layouts, rank):
    """The spec `layouts` gives `path` (the first full match, as Keras's LayoutMap), else
    replicated."""
    for pattern, spec in layouts.items():
        if re.fullmatch(pattern, path):
            return tuple(spec)
    return (None,) * rank


def zero_spec(shape, spec, data_axis):
    """`spec` with the data axis added on the first dimension it divides that no other axis
    slices: how an optimizer slot of a variable laid out as `spec` is divided under optimizer
    sharding. Unchanged where no dimension divides (scalars, small vectors), or `data_axis`
    is 1: those slots stay whole on every device."""
    if data_axis <= 1:
        return tuple(spec)
    for index, (size, axis) in enumerate(zip(shape, spec)):
        if axis is None and size % data_axis == 0:
            return tuple(spec[:index]) + (DATA_AXIS,) + tuple(spec[index + 1 :])
    return tuple(spec)


def values_per_device(shape, spec, mesh):
    """Values of a variable of `shape` laid out as `spec` that one device holds."""
    held = 1
    for size, axis in zip(shape, spec):
        held *= size // mesh[axis] if axis is not None else size
    return held


def variable_shapes(config):
    """{variable path: shape} of `DecoderLM(config)`'s trainable variables, without building it
    (a 540B model does not fit here); tests hold it equal to the built model's, family by
    family."""
    c = config
    d, heads, kv, q, f = (
        c.hidden_dim,
        c.num_query_heads,
        c.num_key_value_heads,
        c.head_dim,
        c.intermediate_dim,
    )
    shapes = {"token_embedding/embeddings": (c.vocabulary_size, d)}
    if not c.tie_embeddings:
        shapes["token_embedding/reverse_embeddings"] = (d, c.vocabulary_size)
    if c.position is Position.LEARNED:
        shapes["position_embedding/embeddings"] = (c.max_sequence_length, d)

    def norm(name):
        if c.normalization is Normalization.RMSNORM:
            return {f"{name}/scale": (d,)}
        return {f"{name}/gamma": (d,), **({f"{name}/beta": (d,)} if c.norm_bias else {})}

    for i in range(c.num_layers):
        block = f"decoder_block_{i}"
        shapes.update(norm(f"{block}/attention_norm"))
        if c.residual is not Residual.PARALLEL:
            shapes.update(norm(f"{block}/feedforward_norm"))
        attention = f"{block}/self_attention"
        for name, n in (("query", heads), ("key", kv), ("value", kv)):
            shapes[f"{attention}/{name}/kernel"] = (d, n, q)
            if c.use_bias:
                shapes[f"{attention}/{name}/bias"] = (n, q)
        shapes[f"{attention}/output/kernel"] = (heads, q, d)
        if c.use_bias:
            shapes[f"{attention}/output/bias"] = (d,)
        if c.position is Position.RELATIVE:
            shapes[f"{attention}/relative_kernel"] = (d, heads, q)
            shapes[f"{attention}/content_bias"] = (heads, q)
            shapes[f"{attention}/position_bias"] = (heads, q)
        inputs = ("gate", "up") if FeedForward(c.feedforward).gated else ("up",)
        for name in inputs:
            shapes[f"{block}/feedforward/{name}/kernel"] = (d, f)
            if c.use_bias:
                shapes[f"{block}/feedforward/{name}/bias"] = (f,)
        shapes[f"{block}/feedforward/down/kernel"] = (f, d)
        if c.use_bias:
            shapes[f"{block}/feedforward/down/bias"] = (d,)
    if c.norm_placement is NormPlacement.PRE:
        shapes.update(norm("final_norm"))
    return shapes


def optimizer_slots(training):
    """Values of optimizer state per parameter for a `TrainingRecipe`: Adam's and PaLM's
    unfactored Adafactor's first and second moments (one without momentum)."""
    return 1 if training.optimizer.value == "adafactor" and training.beta_1 == 0 else 2


def device_memory(
    config,
    devices,
    model_axis=1,
    shard_optimizer=False,
    slots=2,
    bytes_per_value=4,
):
    """Bytes one device holds for `config` on `devices` devices, `model_axis` of them slicing
    each replica (tensor parallelism; 1: pure data parallelism), the rest the data axis.

    Returns {"parameters", "gradients", "optimizer", "total"}, the same on every device
    (variables an axis cannot divide are whole on each), and "mesh". Float32 weights,
    gradients and optimizer state, as the zoo trains; activations are not counted (they depend
    on batch and sequence, not on how the weights are laid out).
    """
    if devices % model_axis:
        raise ValueError(f"model axis {model_axis} does not divide {devices} devices")
    mesh = {DATA_AXIS: devices // model_axis, MODEL_AXIS: model_axis}
    layouts, _ = megatron_layouts(config, model_axis) if model_axis > 1 else ({}, ())
    weights = optimizer = 0
    for path, shape in variable_shapes(config).items():
        spec = layout_of(path, layouts, len(shape))
        weights += values_per_device(shape, spec, mesh)
        slot_spec = zero_spec(shape, spec, mesh[DATA_AXIS]) if shard_optimizer else spec
        optimizer += slots * values_per_device(shape, slot_spec, mesh)
    parts = {
        "parameters": weights * bytes_per_value,
        "gradients": weights * bytes_per_value,  # laid out as their weights (ZeRO stage 1)
        "optimizer": optimizer * bytes_per_value,
    }
    return {**parts, "total": sum(parts.values()), "mesh": mesh}


def whole_model_bytes(config, slots=2, bytes_per_value=4):
    """Parameters, gradients and optimizer state of the whole model: one device's bytes under
    data parallelism, and what the devices of a tensor-parallel group divide between them."""
    values = sum(math.prod(shape) for shape in variable_shapes(config).values())
    return values * (2 + slots) * bytes_per_value
