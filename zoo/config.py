"""`ModelConfig`: every architectural choice that separates the 2019–2023 decoder LMs.

The historical models differ in a handful of orthogonal choices; each is one typed field here, and
one `DecoderLM` builds them all. Structural fields have no defaults, so every preset states them
and a forgotten line cannot silently build a hybrid. Names follow the keras-hub glossary:

    vocabulary_size      V   tokens in the vocabulary
    num_layers           L   decoder blocks
    hidden_dim           d   residual stream width (d_model)
    intermediate_dim     f   feed-forward width (for SwiGLU: the width of each input branch)
    num_query_heads      H   attention heads for queries
    num_key_value_heads  K   heads for keys and values (H: multi-head, 1: multi-query, else grouped)
    head_dim             Q   width of one head (H·Q need not equal d: PaLM fixes Q = 256)
    max_sequence_length T   longest context the model is built for
"""

import dataclasses
import enum
import math
from typing import Optional

from zoo.errors import ConfigError, unknown


class Position(str, enum.Enum):
    """How token order enters the model."""

    LEARNED = "learned"  # absolute table added to the embeddings (GPT-2, GPT-3)
    ROTARY = "rotary"  # rotation of queries and keys (PaLM, LLaMA)
    RELATIVE = "relative"  # Transformer-XL relative logits with two global biases (Gopher)
    ALIBI = "alibi"  # a fixed per-head penalty −m_h·(i−j) on the scores (Press et al. 2022)
    NONE = "none"  # causal masking alone carries order (an ablation baseline)


class Normalization(str, enum.Enum):
    LAYERNORM = "layernorm"
    RMSNORM = "rmsnorm"


class FeedForward(str, enum.Enum):
    """The feed-forward layer: W2·act(W1·x), or gated, W2·(act(Wg·x) ⊙ Wu·x) (Shazeer 2020)."""

    GELU = "gelu"  # tanh approximation as in GPT-2's code
    RELU = "relu"  # the original Transformer's
    LEAKY_RELU = "leaky_relu"  # max(x, 0.01·x): Maas et al. 2013's slope, PyTorch's default
    TANH = "tanh"  # saturating, zero-centred
    SIGMOID = "sigmoid"  # saturating, gradient at most 1/4
    SWIGLU = "swiglu"  # gated, swish on the gate, three matmuls (PaLM, LLaMA)
    GEGLU = "geglu"  # gated, GELU (tanh approximation) on the gate (Shazeer 2020)
    REGLU = "reglu"  # gated, ReLU on the gate (Shazeer 2020)

    @property
    def gated(self):
        """Three matmuls (gate, up, down) rather than two."""
        return self in (FeedForward.SWIGLU, FeedForward.GEGLU, FeedForward.REGLU)

    @property
    def activation(self):
        """The activation's name in `zoo.layers.feedforward.ACTIVATIONS` (on the gate, if gated)."""
        return {"swiglu": "silu", "geglu": "gelu", "reglu": "relu"}.get(self.value, self.value)


class NormPlacement(str, enum.Enum):
    """Where each block's norms sit relative to its residual additions."""

    PRE = "pre"  # x + F(N(x)), and a final norm before the head (GPT-2 on)
    POST = "post"  # N(x + F(x)), no final norm (the original Transformer, GPT-1)


class Attention(str, enum.Enum):
    DENSE = "dense"  # every earlier position
    LOCAL = "local"  # the `local_window` most recent positions, computed blockwise


class Residual(str, enum.Enum):
    """How the attention and feed-forward branches join the residual stream."""

    SERIAL = "serial"  # h = x + Attn(N(x)); y = h + FF(N(h))
    PARALLEL = "parallel"  # y = x + Attn(N(x)) + FF(N(x)), one shared norm (PaLM, GPT-J)


class Init(str, enum.Enum):
    """Weight initialisation scheme; `init_std` is the base standard deviation."""

    NORMAL = "normal"  # N(0, init_std) for every kernel and embedding
    GPT2 = "gpt2"  # NORMAL, with residual output projections scaled by 1/sqrt(2·num_layers)
    FAN_IN = "fan_in"  # PaLM §5: kernels N(0, 1/fan_in), embeddings N(0, 1), logits × 1/sqrt(d)


_ENUM_FIELDS = {
    "position": Position,
    "normalization": Normalization,
    "feedforward": FeedForward,
    "norm_placement": NormPlacement,
    "residual": Residual,
    "init": Init,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The complete architecture of one decoder-only language model.

    Fields without defaults are structural and must be stated by every preset. Enum fields also
    accept their string values (`normalization="rmsnorm"`), so overrides from the command line and
    from JSON work unchanged. Invalid values or combinations raise `ConfigError` naming what was
    received.
    """

    # --- identity and shape ---
    name: str
    vocabulary_size: int
    num_layers: int
    hidden_dim: int
    intermediate_dim: int
    num_query_heads: int
    num_key_value_heads: int
    head_dim: int
    max_sequence_length: int
    # --- architectural choices (no defaults: every preset states each one) ---
    position: Position
    normalization: Normalization
    norm_bias: bool  # LayerNorm with a learned shift; RMSNorm never has one
    feedforward: FeedForward
    attention_pattern: tuple  # of Attention, repeated cyclically over the layers
    residual: Residual
    use_bias: bool  # biases on every projection (GPT-2/3) or none (PaLM, LLaMA)
    tie_embeddings: bool  # output logits reuse the token embedding (hᵀE)
    init: Init
    scale_logits: bool  # logits × 1/sqrt(d) (PaLM, whose shared embedding is N(0, 1))
    # --- numerics with conventional defaults ---
    local_window: Optional[int] = None  # keys per query in LOCAL layers (the query included)
    norm_epsilon: float = 1e-5
    rotary_max_wavelength: float = 10000.0  # θ in LLaMA's code
    init_std: float = 0.02
    dropout: float = 0.0  # on embeddings and on each residual branch
    z_loss_weight: float = 0.0  # PaLM's auxiliary 1e-4·log²Z, applied by the training loss
    # Structural, but with a default: it came after runs were keyed, and every preset from GPT-2
    # on is pre-norm. At `pre` it is left out of `identity()`, so those runs keep their keys.
    norm_placement: NormPlacement = NormPlacement.PRE

    def __post_init__(self):
        for field, enum_type in _ENUM_FIELDS.items():
            object.__setattr__(self, field, _as_enum(field, getattr(self, field), enum_type))
        pattern = self.attention_pattern
        if isinstance(pattern, (str, Attention)):
            pattern = (pattern,)
        pattern = tuple(_as_enum("attention_pattern", a, Attention) for a in pattern)
        object.__setattr__(self, "attention_pattern", pattern)
        self._validate()

    def _validate(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name must be a non-empty string; received name={self.name!r}")
        for field in (
            "vocabulary_size",
            "num_layers",
            "hidden_dim",
            "intermediate_dim",
            "num_query_heads",
            "num_key_value_heads",
            "head_dim",
            "max_sequence_length",
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{field} must be a positive integer; received {field}={value!r}")
        for field in ("norm_bias", "use_bias", "tie_embeddings", "scale_logits"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(
                    f"{field} must be true or false; received {field}={getattr(self, field)!r}"
                )
        if self.num_query_heads % self.num_key_value_heads:
            raise ConfigError(
                "num_key_value_heads must divide num_query_heads; received "
                f"num_query_heads={self.num_query_heads}, "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if self.position is Position.RELATIVE and self.hidden_dim % 2:
            raise ConfigError(
                "relative positions encode each distance as d/2 sine-cosine pairs, so hidden_dim "
                f"must be even; received hidden_dim={self.hidden_dim}"
            )
        if self.position is Position.ROTARY and self.head_dim % 2:
            raise ConfigError(
                f"rotary positions rotate pairs of features, so head_dim must be even; "
                f"received head_dim={self.head_dim}"
            )
        if self.normalization is Normalization.RMSNORM and self.norm_bias:
            raise ConfigError(
                "RMSNorm has no bias (it does not re-center); received "
                "normalization='rmsnorm' with norm_bias=True"
            )
        if not self.attention_pattern:
            choices = "/".join(repr(a.value) for a in Attention)
            raise ConfigError(
                f"attention_pattern must list at least one of {choices}; "
                f"received attention_pattern={self.attention_pattern!r}"
            )
        if Attention.LOCAL in self.attention_pattern:
            w = self.local_window
            if isinstance(w, bool) or not isinstance(w, int) or w < 1:
                raise ConfigError(
                    "local attention needs local_window, a positive integer; "
                    f"received local_window={w!r}"
                )
        elif self.local_window is not None and (
            isinstance(self.local_window, bool)
            or not isinstance(self.local_window, int)
            or self.local_window < 1
        ):
            raise ConfigError(
                f"local_window must be a positive integer; received local_window={self.local_window!r}"
            )
        if len(self.attention_pattern) > self.num_layers:
            raise ConfigError(
                f"attention_pattern has {len(self.attention_pattern)} entries but the model has "
                f"num_layers={self.num_layers}"
            )
        for field in ("norm_epsilon", "rotary_max_wavelength", "init_std"):
            value = getattr(self, field)
            if not _finite(value) or not value > 0:  # inf passes `> 0`: refused by _finite
                raise ConfigError(f"{field} must be a positive number; received {field}={value!r}")
        if not _finite(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); received dropout={self.dropout!r}")
        if not _finite(self.z_loss_weight) or self.z_loss_weight < 0:  # nan passes `< 0`
            raise ConfigError(
                f"z_loss_weight must be non-negative; received z_loss_weight={self.z_loss_weight!r}"
            )

    # --- derived views (never stored, so they cannot drift) ---

    def layer_attention(self, index):
        """The attention kind of layer `index`: the pattern repeated over the depth."""
        return self.attention_pattern[index % len(self.attention_pattern)]

    def check_layer_index(self, index):
        """`index` if it names one of the model's layers (how each layer is built), else raise."""
        if not 0 <= index < self.num_layers:
            raise ValueError(
                f"index must be a layer of the model, 0 to {self.num_layers - 1}; "
                f"received index={index!r}"
            )
        return index

    @property
    def qkv_head_ranges(self):
        """{"query": (0, H), "key": (H, H+K), "value": (H+K, H+2K)}: each projection's heads on
        the fused (d, H + 2K, Q) axis that initial weights are drawn at (and that files of
        weights_format 1 stored)."""
        heads, kv = self.num_query_heads, self.num_key_value_heads
        return {
            "query": (0, heads),
            "key": (heads, heads + kv),
            "value": (heads + kv, heads + 2 * kv),
        }

    @property
    def layer_attentions(self):
        return tuple(self.layer_attention(i) for i in range(self.num_layers))

    @property
    def logit_scale(self):
        """The factor on the final hidden states before the output head: 1/sqrt(d) or 1."""
        return 1.0 / math.sqrt(self.hidden_dim) if self.scale_logits else 1.0

    def replace(self, **overrides):
        """A copy with some fields changed; unknown field names raise with the nearest names."""
        names = {f.name for f in dataclasses.fields(self)}
        for key in overrides:
            if key not in names:
                raise unknown("config field", key, sorted(names))
        return dataclasses.replace(self, **overrides)

    def to_dict(self):
        """Plain JSON-ready values (enums as their strings)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif f.name == "attention_pattern":
                value = [a.value for a in value]
            out[f.name] = value
        return out

    def identity(self):
        """What a run's key holds of the model (`zoo.training.plan.identity`): `to_dict()`, less
        the fields added after runs were keyed while they hold the value every earlier run had."""
        out = self.to_dict()
        for name, earlier in _LATER_FIELDS.items():
            if out[name] == earlier:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data):
        data = _upgrade(data)
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise unknown("config field", key, sorted(names))
        if isinstance(data.get("attention_pattern"), list):
            data["attention_pattern"] = tuple(data["attention_pattern"])
        try:
            return cls(**data)
        except TypeError as error:  # a missing structural field
            raise ConfigError(str(error).replace("__init__()", "ModelConfig")) from None


def as_model_config(value):
    """`value` itself if it is a `ModelConfig`, else the config of its `to_dict()`: how the
    layers and `DecoderLM` receive their config back from `get_config()`."""
    if isinstance(value, ModelConfig):
        return value
    if isinstance(value, dict):
        return ModelConfig.from_dict(value)
    raise TypeError(f"expected a ModelConfig or its to_dict(); received {type(value).__name__}")


# Fields added after runs were keyed, and the value every run before them had.
_LATER_FIELDS = {"norm_placement": NormPlacement.PRE.value}


def _upgrade(data):
    """A config written by an earlier zoo (a .keras file, a run record), in today's fields: the
    serial/parallel field was called `block`, and PaLM's logit scaling followed `init=fan_in`."""
    data = dict(data)
    if "block" in data and "residual" not in data:
        data["residual"] = data.pop("block")
    if "scale_logits" not in data and "init" in data:
        data["scale_logits"] = data["init"] in (Init.FAN_IN, Init.FAN_IN.value)
    return data


def _finite(value):
    """A finite int or float, not a bool (True is not a dropout rate). Every int is finite, and
    one too large for a float would make `math.isfinite` raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _as_enum(field, value, enum_type):
    if isinstance(value, enum_type):
        return value
    try:
        return enum_type(value)
    except ValueError:
        choices = [e.value for e in enum_type]
        raise ConfigError(
            f"{field} must be one of {', '.join(choices)}; received {field}={value!r}"
        ) from None


def swiglu_intermediate_dim(hidden_dim, multiple_of=256):
    """LLaMA's SwiGLU width: two thirds of 4d, rounded up to `multiple_of` (llama `FeedForward`)."""
    width = int(2 * 4 * hidden_dim / 3)
    return multiple_of * math.ceil(width / multiple_of)
