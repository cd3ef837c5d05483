"""Which weights decay: matmul kernels only, never norms, biases, embedding tables or Transformer-XL
biases. The papers give only the coefficient; matrices-only is the convention of minGPT, nanoGPT
and Megatron-LM, whose codebases these recipes descend from.

The rule reads a variable's leaf name and rank, which `DecoderLM` keeps stable (see its docstring),
so it holds for every preset and survives a save/load round trip.
"""

# Leaf names of weights that are not matmul kernels although they may have two or more axes:
# token and position tables, EinsumDense biases shaped (heads, head_dim), and Transformer-XL's
# global content and position biases u and v. An untied output head (ReversibleEmbedding's
# `reverse_embeddings`, d × V) is a matmul kernel like any other and does decay, as does the
# Transformer-XL relative projection W_R (`relative_kernel`).
NOT_MATRICES = frozenset({"embeddings", "bias", "content_bias", "position_bias"})


def is_decayed(variable):
    """True for the weights that weight decay applies to: ≥ 2 axes and not in `NOT_MATRICES`.

    Norm scales and shifts (`gamma`, `beta`, `scale`) and dense biases are 1-D, so rank alone
    excludes them.
    """
    return len(variable.shape) >= 2 and variable.name not in NOT_MATRICES


class MatrixWeightDecay:
    """Mixin for a Keras optimizer: decay matrices only (`is_decayed`).

    Keras matches `exclude_from_weight_decay(var_list=...)` by variable identity (`id()`, or the
    TensorFlow variable's `_unique_id`) and does not serialise the exclusions, so an optimizer
    restored by `keras.models.load_model` would decay every weight. Re-deriving the mask from the
    variables whenever the optimizer is built makes it hold after a reload too.
    """

    def mask_weight_decay(self, variables):
        """Exclude every variable of `variables` that `is_decayed` rejects."""
        self.exclude_from_weight_decay(var_list=[v for v in variables if not is_decayed(v)])

    def build(self, variables):
        if not self.built:
            self.mask_weight_decay(variables)
        super().build(variables)
