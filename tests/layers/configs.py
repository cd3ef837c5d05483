"""Small `ModelConfig`s for layer tests: the layers take a config, as `DecoderLM` gives them."""

from zoo.config import ModelConfig

HIDDEN = 12

DEFAULTS = dict(
    name="layer-test",
    vocabulary_size=16,
    num_layers=1,
    hidden_dim=HIDDEN,
    intermediate_dim=20,
    num_query_heads=4,
    num_key_value_heads=2,
    head_dim=6,
    max_sequence_length=64,
    position="none",
    normalization="layernorm",
    norm_bias=True,
    feedforward="gelu",
    attention_pattern=("dense",),
    residual="serial",
    use_bias=False,
    tie_embeddings=True,
    init="normal",
    scale_logits=False,
)


def layer_config(**fields):
    """`DEFAULTS` with `fields` replaced; `attention="local"`, `window=w` set the layer's kind."""
    attention = fields.pop("attention", None)
    window = fields.pop("window", None)
    if attention is not None:
        fields["attention_pattern"] = (attention,)
    if window is not None:
        fields["local_window"] = window
    return ModelConfig(**{**DEFAULTS, **fields})


def attention_config(heads, kv, head_dim, **fields):
    return layer_config(num_query_heads=heads, num_key_value_heads=kv, head_dim=head_dim, **fields)
