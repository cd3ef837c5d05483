"""Hugging Face `transformers` checkpoints (GPT-2 and LLaMA, safetensors) -> zoo weights.

Name formats (transformers 4.x and 5.x write the same tensor names):

    GPT-2   [transformer.]wte.weight (V, d), wpe.weight (T, d), h.{i}.ln_1.{weight,bias},
            h.{i}.attn.c_attn.{weight (d, 3d), bias}, h.{i}.attn.c_proj.{weight (d, d), bias},
            h.{i}.ln_2.*, h.{i}.mlp.c_fc.{weight (d, f), bias}, h.{i}.mlp.c_proj.{weight (f, d),
            bias}, ln_f.*, lm_head.weight (only if untied or saved anyway). GPT-2's Conv1D
            stores (in, out), so kernels need no transpose. Old checkpoints also hold the causal
            mask buffers h.{i}.attn.bias and h.{i}.attn.masked_bias.
    LLaMA   model.embed_tokens.weight (V, d), model.layers.{i}.input_layernorm.weight,
            model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, model.layers.{i}.
            post_attention_layernorm.weight, model.layers.{i}.mlp.{gate,up,down}_proj.weight,
            model.norm.weight, lm_head.weight (absent when tie_word_embeddings). torch Linear
            stores (out, in), so kernels are transposed. Old checkpoints also hold
            rotary_emb.inv_freq buffers. HF's rotary is the rotate-half convention, as keras-hub's
            RotaryEmbedding, so q/k need no permutation.
"""

from zoo.errors import ZooError
from zoo.importing.fields import Fields, model_config

FAMILIES = ("gpt2", "llama")
GPT2_ACTIVATIONS = ("gelu_new", "gelu_pytorch_tanh")  # both are GELU's tanh approximation
LLAMA_DEFAULT_CONTEXT = 2048  # LlamaConfig's default max_position_embeddings


def family(fields):
    model_type = fields.values.get("model_type")
    if model_type not in FAMILIES:
        raise ZooError(
            f"{fields.where}: model_type={model_type!r} is not supported (supported: "
            f"{', '.join(FAMILIES)})"
        )
    return model_type


def to_model_config(fields, name):
    return {"gpt2": _gpt2_config, "llama": _llama_config}[family(fields)](fields, name)


def map_weights(tensors, config, model_type):
    """zoo weight path -> float32 array, taking every tensor the model needs from `tensors`."""
    if model_type == "gpt2":
        # Saved from GPT2LMHeadModel the names carry "transformer."; from GPT2Model they do not.
        tensors.prefix = "transformer." if "transformer.wte.weight" in tensors.names() else ""
        tensors.drop_buffers(lambda n: n.endswith((".attn.bias", ".attn.masked_bias")))
        return _gpt2_weights(tensors, config)
    tensors.drop_buffers(lambda n: n.endswith("rotary_emb.inv_freq"))
    return _llama_weights(tensors, config)


# --- GPT-2 ---


def _gpt2_config(fields, name):
    fields.only(
        "activation_function",
        GPT2_ACTIVATIONS,
        "gelu_new",
        "the zoo's GELU is the tanh approximation: gelu_new or gelu_pytorch_tanh",
    )
    fields.only("scale_attn_weights", (True,), True, "attention scores are always scaled by 1/√Q")
    fields.only(
        "scale_attn_by_inverse_layer_idx",
        (False,),
        False,
        "no per-layer attention scaling in the zoo",
    )
    fields.only("reorder_and_upcast_attn", (False,), False, "not implemented in the zoo")
    fields.only(
        "add_cross_attention", (False,), False, "decoder-only models have no cross-attention"
    )
    hidden_dim = fields.positive_int("n_embd")
    num_heads = fields.positive_int("n_head")
    if hidden_dim % num_heads:
        raise ZooError(f"{fields.where}: n_head={num_heads} does not divide n_embd={hidden_dim}")
    return model_config(
        fields.where,
        "gpt2",
        name=name,
        vocabulary_size=fields.positive_int("vocab_size"),
        num_layers=fields.positive_int("n_layer"),
        hidden_dim=hidden_dim,
        intermediate_dim=fields.positive_int("n_inner", 4 * hidden_dim),
        num_query_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_dim // num_heads,
        max_sequence_length=fields.positive_int("n_positions"),
        tie_embeddings=bool(fields.get("tie_word_embeddings", True)),
        norm_epsilon=fields.positive_float("layer_norm_epsilon", 1e-5),
        init_std=fields.positive_float("initializer_range", 0.02),
    )


def _gpt2_weights(tensors, c):
    d, f, V, T = c.hidden_dim, c.intermediate_dim, c.vocabulary_size, c.max_sequence_length
    H, Q = c.num_query_heads, c.head_dim
    weights = {
        "token_embedding/embeddings": tensors.take("wte.weight", (V, d)),
        "position_embedding/embeddings": tensors.take("wpe.weight", (T, d)),
    }
    for i in range(c.num_layers):
        src, dst = f"h.{i}.", f"decoder_block_{i}/"
        # c_attn's output columns are [q | k | v], each H heads of Q.
        qkv = tensors.take(src + "attn.c_attn.weight", (d, 3 * d)).reshape(d, 3, H, Q)
        qkv_bias = tensors.take(src + "attn.c_attn.bias", (3 * d,)).reshape(3, H, Q)
        for n, projection in enumerate(("query", "key", "value")):
            weights[dst + f"self_attention/{projection}/kernel"] = qkv[:, n]
            weights[dst + f"self_attention/{projection}/bias"] = qkv_bias[n]
        weights.update({
            dst + "attention_norm/gamma": tensors.take(src + "ln_1.weight", (d,)),
            dst + "attention_norm/beta": tensors.take(src + "ln_1.bias", (d,)),
            dst + "self_attention/output/kernel":
                tensors.take(src + "attn.c_proj.weight", (d, d)).reshape(H, Q, d),
            dst + "self_attention/output/bias": tensors.take(src + "attn.c_proj.bias", (d,)),
            dst + "feedforward_norm/gamma": tensors.take(src + "ln_2.weight", (d,)),
            dst + "feedforward_norm/beta": tensors.take(src + "ln_2.bias", (d,)),
            dst + "feedforward/up/kernel": tensors.take(src + "mlp.c_fc.weight", (d, f)),
            dst + "feedforward/up/bias": tensors.take(src + "mlp.c_fc.bias", (f,)),
            dst + "feedforward/down/kernel": tensors.take(src + "mlp.c_proj.weight", (f, d)),
            dst + "feedforward/down/bias": tensors.take(src + "mlp.c_proj.bias", (d,)),
        })  # fmt: skip
    weights["final_norm/gamma"] = tensors.take("ln_f.weight", (d,))
    weights["final_norm/beta"] = tensors.take("ln_f.bias", (d,))
    weights.update(_output_head(tensors, c, weights["token_embedding/embeddings"]))
    return weights


# --- LLaMA ---


def _llama_config(fields, name):
    fields.only("hidden_act", ("silu",), "silu", "SwiGLU's gate is swish (silu)")
    fields.only("attention_bias", (False,), False, "LLaMA-style projections have no biases")
    fields.only("mlp_bias", (False,), False, "LLaMA-style projections have no biases")
    fields.only("rope_scaling", (None,), None, "only unscaled rotary positions are supported")
    hidden_dim = fields.positive_int("hidden_size")
    num_query_heads = fields.positive_int("num_attention_heads")
    if "head_dim" not in fields.values and hidden_dim % num_query_heads:
        raise ZooError(
            f"{fields.where}: num_attention_heads={num_query_heads} does not divide "
            f"hidden_size={hidden_dim}"
        )
    return model_config(
        fields.where,
        "llama",
        name=name,
        vocabulary_size=fields.positive_int("vocab_size"),
        num_layers=fields.positive_int("num_hidden_layers"),
        hidden_dim=hidden_dim,
        intermediate_dim=fields.positive_int("intermediate_size"),
        num_query_heads=num_query_heads,
        num_key_value_heads=fields.positive_int("num_key_value_heads", num_query_heads),
        head_dim=fields.positive_int("head_dim", hidden_dim // max(num_query_heads, 1)),
        max_sequence_length=fields.positive_int("max_position_embeddings", LLAMA_DEFAULT_CONTEXT),
        tie_embeddings=bool(fields.get("tie_word_embeddings", False)),
        norm_epsilon=fields.positive_float("rms_norm_eps", 1e-6),
        rotary_max_wavelength=_rope_theta(fields),
        init_std=fields.positive_float("initializer_range", 0.02),
    )


def _rope_theta(fields):
    """θ from transformers 5's `rope_parameters` ({"rope_theta", "rope_type"}) or 4.x's
    top-level `rope_theta`; any rope_type but "default" rescales frequencies, which we lack."""
    parameters = fields.values.get("rope_parameters")
    if parameters is None:
        return fields.positive_float("rope_theta", 10000.0)
    if not isinstance(parameters, dict) or parameters.get("rope_type", "default") != "default":
        raise fields.unsupported(
            "rope_parameters", parameters, "only rope_type 'default' (unscaled rotary positions)"
        )
    extra = sorted(set(parameters) - {"rope_theta", "rope_type"})
    if extra:
        raise fields.unsupported(
            "rope_parameters",
            parameters,
            f"unexpected entry {extra[0]!r} for default rotary positions",
        )
    theta = Fields(parameters, f"{fields.where} rope_parameters")
    return theta.positive_float("rope_theta", 10000.0)


def _llama_weights(tensors, c):
    d, f, V = c.hidden_dim, c.intermediate_dim, c.vocabulary_size
    H, K, Q = c.num_query_heads, c.num_key_value_heads, c.head_dim

    def linear(name, out_features, in_features):  # torch Linear (out, in) -> Keras kernel (in, out)
        return tensors.take(name, (out_features, in_features)).T

    weights = {"token_embedding/embeddings": tensors.take("model.embed_tokens.weight", (V, d))}
    for i in range(c.num_layers):
        src, dst = f"model.layers.{i}.", f"decoder_block_{i}/"
        weights.update({
            dst + "attention_norm/scale": tensors.take(src + "input_layernorm.weight", (d,)),
            dst + "self_attention/query/kernel":
                linear(src + "self_attn.q_proj.weight", H * Q, d).reshape(d, H, Q),
            dst + "self_attention/key/kernel":
                linear(src + "self_attn.k_proj.weight", K * Q, d).reshape(d, K, Q),
            dst + "self_attention/value/kernel":
                linear(src + "self_attn.v_proj.weight", K * Q, d).reshape(d, K, Q),
            dst + "self_attention/output/kernel":
                linear(src + "self_attn.o_proj.weight", d, H * Q).reshape(H, Q, d),
            dst + "feedforward_norm/scale":
                tensors.take(src + "post_attention_layernorm.weight", (d,)),
            dst + "feedforward/gate/kernel": linear(src + "mlp.gate_proj.weight", f, d),
            dst + "feedforward/up/kernel": linear(src + "mlp.up_proj.weight", f, d),
            dst + "feedforward/down/kernel": linear(src + "mlp.down_proj.weight", d, f),
        })  # fmt: skip
    weights["final_norm/scale"] = tensors.take("model.norm.weight", (d,))
    weights.update(_output_head(tensors, c, weights["token_embedding/embeddings"]))
    return weights


def _output_head(tensors, c, embeddings):
    """`lm_head.weight` (V, d): our reverse embedding (d, V) when untied; when tied, a saved
    copy must equal the embedding."""
    shape = (c.vocabulary_size, c.hidden_dim)
    if c.tie_embeddings:
        tensors.take_duplicate("lm_head.weight", shape, of=embeddings, prefixed=False)
        return {}
    return {
        "token_embedding/reverse_embeddings": tensors.take(
            "lm_head.weight", shape, prefixed=False
        ).T
    }
