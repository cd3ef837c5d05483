"""keras-hub presets (`backbone.save_to_preset(dir)`) of GPT2Backbone and LlamaBackbone.

A preset directory holds config.json ({"class_name": "GPT2Backbone", "registered_name":
"keras_hub>GPT2Backbone", "config": {...}}), model.weights.h5 and, when a tokenizer was saved
too, assets/tokenizer/. The h5 file is keyed by Keras's object structure, not by variable names, so we
let keras-hub build the backbone offline from the local directory and read its variables by path:

    token_embedding/embeddings (V, d), token_embedding/reverse_embeddings (d, V) if untied,
    position_embedding/embeddings (T, d) (GPT-2),
    transformer_layer_{i}/self_attention/{query,key,value}/kernel (d, heads, Q) [+ /bias (heads, Q)],
    transformer_layer_{i}/self_attention/attention_output/kernel (H, Q, d) [+ /bias (d,)],
    GPT-2: transformer_layer_{i}/{self_attention_layer_norm,feedforward_layer_norm}/{gamma,beta},
           transformer_layer_{i}/feedforward_{intermediate,output}_dense/{kernel,bias},
           layer_norm/{gamma,beta}
    LLaMA: transformer_layer_{i}/{self_attention_layernorm,feedforward_layernorm}/scale,
           transformer_layer_{i}/feedforward_{gate,intermediate,output}_dense/kernel,
           sequence_output_layernorm/scale
"""

import warnings

from zoo.errors import ZooError
from zoo.importing.fields import Fields, model_config

WEIGHTS_FILE = "model.weights.h5"
BACKBONES = {"GPT2Backbone": "gpt2", "LlamaBackbone": "llama"}
GPT2_LAYER_NORM_EPSILON = 1e-5  # fixed inside keras-hub's GPT2Backbone
# keras-hub's LlamaBackbone has no context length (rotary positions need none); LLaMA's own.
LLAMA_CONTEXT = 2048


def backbone_class(document):
    """ "GPT2Backbone"/"LlamaBackbone" if config.json describes a keras-hub backbone, else None."""
    if not isinstance(document, dict):
        return None
    registered = str(document.get("registered_name") or "")
    class_name = str(document.get("class_name") or "")
    if registered.startswith("keras_hub>") or class_name.endswith("Backbone"):
        return registered.removeprefix("keras_hub>") or class_name
    return None


def family(name, where):
    if name not in BACKBONES:
        raise ZooError(
            f"{where}: keras-hub {name} is not supported (supported: {', '.join(BACKBONES)})"
        )
    return BACKBONES[name]


def to_model_config(document, where, name):
    fields = Fields(document.get("config"), where)
    model_type = family(backbone_class(document), where)
    return (_gpt2_config if model_type == "gpt2" else _llama_config)(fields, name)


def read_variables(directory, document):
    """`(variables, tied)`: variable path -> float32 array from the backbone keras-hub builds
    from `directory`, and whether its token embedding is tied to the output head."""
    try:
        backbone = _load_backbone(directory)
    except (ValueError, KeyError, TypeError, OSError) as error:
        if "tie_word_embeddings" in (document.get("config") or {}) or (
            backbone_class(document) != "LlamaBackbone"
        ):
            raise _load_error(directory, error) from None
        # keras-hub 0.32's LlamaBackbone.get_config omits tie_word_embeddings, so a tied preset
        # rebuilds untied and misses its output kernel; the saved config cannot tell us, so
        # the weights file must: try it tied.
        try:
            backbone = _load_backbone(directory, tie_word_embeddings=True)
        except (ValueError, KeyError, TypeError, OSError):
            raise _load_error(directory, error) from None
    import keras

    tied = bool(getattr(backbone.token_embedding, "tie_weights", True))
    return {v.path: keras.ops.convert_to_numpy(v) for v in backbone.weights}, tied


# Keras warns, rather than fails, when part of a weights file matches no layer; those layers
# keep random weights, which an import must never do silently.
_PARTIAL_LOAD = ("freshly-initialized", "Skipping variable loading")


def _load_backbone(directory, **overrides):
    import keras_hub

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backbone = keras_hub.models.Backbone.from_preset(
            str(directory), dtype="float32", **overrides
        )
    for warning in caught:
        message = str(warning.message)
        if any(marker in message for marker in _PARTIAL_LOAD):
            raise ValueError(f"part of {WEIGHTS_FILE} was not loaded: {message.splitlines()[0]}")
        if not issubclass(warning.category, (DeprecationWarning, PendingDeprecationWarning)):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return backbone


def _load_error(directory, error):
    # Keras's load errors put the cause on the line after "could not be loaded ...:".
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = " ".join(lines[:2])[:300] or type(error).__name__
    return ZooError(f"{directory}: keras-hub could not load the preset ({reason})")


def map_weights(tensors, config, model_type):
    if model_type == "gpt2":
        return _gpt2_weights(tensors, config)
    return _llama_weights(tensors, config)


# --- configs ---


def _gpt2_config(fields, name):
    hidden_dim = fields.positive_int("hidden_dim")
    num_heads = fields.positive_int("num_heads")
    if hidden_dim % num_heads:
        raise ZooError(
            f"{fields.where}: num_heads={num_heads} does not divide hidden_dim={hidden_dim}"
        )
    return model_config(
        fields.where,
        "gpt2",
        name=name,
        vocabulary_size=fields.positive_int("vocabulary_size"),
        num_layers=fields.positive_int("num_layers"),
        hidden_dim=hidden_dim,
        intermediate_dim=fields.positive_int("intermediate_dim"),
        num_query_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_dim // num_heads,
        max_sequence_length=fields.positive_int("max_sequence_length", 1024),
        # The preset's GELU is keras-hub's gelu(approximate=True) too: the tanh form.
        tie_embeddings=True,  # GPT2Backbone's ReversibleEmbedding always ties
        norm_epsilon=GPT2_LAYER_NORM_EPSILON,
    )


def _llama_config(fields, name):
    fields.only(
        "rope_position_scaling_factor",
        (1, 1.0),
        1.0,
        "only unscaled rotary positions are supported",
    )
    for scaling in (
        "rope_frequency_adjustment_factor",
        "rope_low_freq_factor",
        "rope_high_freq_factor",
        "rope_pretraining_sequence_length",
    ):
        fields.only(scaling, (None,), None, "Llama 3.1 frequency scaling is not implemented")
    hidden_dim = fields.positive_int("hidden_dim")
    num_query_heads = fields.positive_int("num_query_heads")
    if hidden_dim % num_query_heads:
        raise ZooError(
            f"{fields.where}: num_query_heads={num_query_heads} does not divide "
            f"hidden_dim={hidden_dim}"
        )
    return model_config(
        fields.where,
        "llama",
        name=name,
        vocabulary_size=fields.positive_int("vocabulary_size"),
        num_layers=fields.positive_int("num_layers"),
        hidden_dim=hidden_dim,
        intermediate_dim=fields.positive_int("intermediate_dim"),
        num_query_heads=num_query_heads,
        num_key_value_heads=fields.positive_int("num_key_value_heads", num_query_heads),
        head_dim=hidden_dim // num_query_heads,
        max_sequence_length=LLAMA_CONTEXT,
        tie_embeddings=bool(fields.get("tie_word_embeddings", False)),
        norm_epsilon=fields.positive_float("layer_norm_epsilon", 1e-6),
        rotary_max_wavelength=fields.positive_float("rope_max_wavelength", 10000.0),
    )


# --- weights ---


def _embeddings(tensors, c):
    V, d = c.vocabulary_size, c.hidden_dim
    weights = {"token_embedding/embeddings": tensors.take("token_embedding/embeddings", (V, d))}
    if not c.tie_embeddings:
        weights["token_embedding/reverse_embeddings"] = tensors.take(
            "token_embedding/reverse_embeddings", (d, V)
        )
    return weights


def _attention(tensors, c, src, dst, bias):
    """keras-hub's query/key/value/attention_output EinsumDense weights: the zoo's own shapes."""
    d, H, K, Q = c.hidden_dim, c.num_query_heads, c.num_key_value_heads, c.head_dim
    table = [
        ("self_attention/query/kernel", "self_attention/query/kernel", (d, H, Q)),
        ("self_attention/key/kernel", "self_attention/key/kernel", (d, K, Q)),
        ("self_attention/value/kernel", "self_attention/value/kernel", (d, K, Q)),
        ("self_attention/output/kernel", "self_attention/attention_output/kernel", (H, Q, d)),
    ]
    if bias:
        table += [
            ("self_attention/query/bias", "self_attention/query/bias", (H, Q)),
            ("self_attention/key/bias", "self_attention/key/bias", (K, Q)),
            ("self_attention/value/bias", "self_attention/value/bias", (K, Q)),
            ("self_attention/output/bias", "self_attention/attention_output/bias", (d,)),
        ]
    return _copied(tensors, src, dst, table)


def _copied(tensors, src, dst, table):
    """Weights that keras-hub and the zoo store alike: (zoo name, keras-hub name, shape) rows."""
    return {dst + ours: tensors.take(src + theirs, shape) for ours, theirs, shape in table}


def _gpt2_weights(tensors, c):
    d, f, T = c.hidden_dim, c.intermediate_dim, c.max_sequence_length
    weights = _embeddings(tensors, c)
    weights["position_embedding/embeddings"] = tensors.take("position_embedding/embeddings", (T, d))
    table = (
        ("attention_norm/gamma", "self_attention_layer_norm/gamma", (d,)),
        ("attention_norm/beta", "self_attention_layer_norm/beta", (d,)),
        ("feedforward_norm/gamma", "feedforward_layer_norm/gamma", (d,)),
        ("feedforward_norm/beta", "feedforward_layer_norm/beta", (d,)),
        ("feedforward/up/kernel", "feedforward_intermediate_dense/kernel", (d, f)),
        ("feedforward/up/bias", "feedforward_intermediate_dense/bias", (f,)),
        ("feedforward/down/kernel", "feedforward_output_dense/kernel", (f, d)),
        ("feedforward/down/bias", "feedforward_output_dense/bias", (d,)),
    )
    for i in range(c.num_layers):
        src, dst = f"transformer_layer_{i}/", f"decoder_block_{i}/"
        weights.update(_attention(tensors, c, src, dst, bias=True))
        weights.update(_copied(tensors, src, dst, table))
    weights["final_norm/gamma"] = tensors.take("layer_norm/gamma", (d,))
    weights["final_norm/beta"] = tensors.take("layer_norm/beta", (d,))
    return weights


def _llama_weights(tensors, c):
    d, f = c.hidden_dim, c.intermediate_dim
    weights = _embeddings(tensors, c)
    table = (
        ("attention_norm/scale", "self_attention_layernorm/scale", (d,)),
        ("feedforward_norm/scale", "feedforward_layernorm/scale", (d,)),
        ("feedforward/gate/kernel", "feedforward_gate_dense/kernel", (d, f)),
        ("feedforward/up/kernel", "feedforward_intermediate_dense/kernel", (d, f)),
        ("feedforward/down/kernel", "feedforward_output_dense/kernel", (f, d)),
    )
    for i in range(c.num_layers):
        src, dst = f"transformer_layer_{i}/", f"decoder_block_{i}/"
        weights.update(_attention(tensors, c, src, dst, bias=False))
        weights.update(_copied(tensors, src, dst, table))
    weights["final_norm/scale"] = tensors.take("sequence_output_layernorm/scale", (d,))
    return weights
