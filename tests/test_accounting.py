"""Accounting against the model itself and against the papers."""

import math

import pytest

import zoo
from zoo.accounting import attended_keys, count_non_embedding_params
from zoo.recipe import Scale

SCALED = [r.name for r in zoo.list_recipes() if r.scale is not Scale.PAPER]
PAPER = [r.name for r in zoo.list_recipes(scale="paper")]


@pytest.mark.parametrize("name", SCALED)
def test_count_equals_built_model(name):
    config = zoo.get_recipe(name).model
    assert zoo.count_params(config) == zoo.build(config).count_params()


@pytest.mark.parametrize(
    "name, exact",
    [
        ("gpt2-124m", 124_439_808),  # llm.c / HF GPT2LMHeadModel
        ("gpt2-355m", 354_823_168),
        ("llama-7b", 6_738_415_616),  # keras-hub llama preset "params"
        ("llama-13b", 13_015_864_320),
    ],
)
def test_exact_counts_of_released_checkpoints(name, exact):
    assert zoo.count_params(name) == exact


@pytest.mark.parametrize("name", ["palm-8b", "palm-62b", "palm-540b"])
def test_palm_within_a_tenth_of_a_percent(name):
    recipe = zoo.get_recipe(name)
    assert zoo.count_params(recipe.model) == pytest.approx(recipe.reported_params, rel=1e-3)


@pytest.mark.parametrize("name", PAPER)
def test_every_paper_preset_within_two_percent(name):
    recipe = zoo.get_recipe(name)
    assert zoo.count_params(recipe.model) == pytest.approx(recipe.reported_params, rel=0.02)


def test_gpt2_closed_form():
    """papers.md §5: V·d + T·d + L·(12d² + 13d) + 2d."""
    v, t, layers, d = 50257, 1024, 12, 768
    assert zoo.count_params("gpt2-124m") == v * d + t * d + layers * (12 * d * d + 13 * d) + 2 * d


def test_llama_closed_form():
    """papers.md §5: 2·V·d + L·(4d² + 3·d·f + 2d) + d."""
    v, layers, d, f = 32000, 32, 4096, 11008
    assert zoo.count_params("llama-7b") == 2 * v * d + layers * (4 * d * d + 3 * d * f + 2 * d) + d


@pytest.mark.parametrize(
    "name, table_22", [("palm-8b", 0.0550e12), ("palm-62b", 0.388e12), ("palm-540b", 3.28e12)]
)
def test_palm_flops_match_palm_table_22(name, table_22):
    assert zoo.flops_per_token(name, 2048).palm == pytest.approx(table_22, rel=2e-3)


def test_palm_formula():
    c = zoo.get_recipe("gpt2-124m").model
    f = zoo.flops_per_token(c, 1024)
    assert f.palm == 6 * zoo.count_params(c) + 12 * 12 * 12 * 64 * 1024


def test_exact_forward_count_gpt2_by_hand():
    """Chinchilla App. F terms for a dense model, written out independently."""
    c = zoo.get_recipe("gpt2-124m").model
    s, v, d, layers, f = 1024, c.vocabulary_size, 768, 12, 3072
    attention = 2 * 3 * s * d * d + 2 * s * s * d + 3 * 12 * s * s + 2 * s * s * d + 2 * s * d * d
    dense = 2 * s * (d * f + d * f)
    forward = layers * (attention + dense) + 2 * s * d * v  # no embedding term: a lookup
    result = zoo.flops_per_token(c, s)
    assert result.forward * s == pytest.approx(forward, rel=1e-12)
    assert result.training == 3 * result.forward


def test_exact_and_palm_agree_for_dense_model():
    """Chinchilla Table A4 finds App. F / 6N within ~10%; PaLM's adds attention, so closer."""
    f = zoo.flops_per_token("gpt3-175b", 2048)
    dense = zoo.flops_per_token(
        zoo.get_recipe("gpt3-175b").model.replace(attention_pattern=("dense",)), 2048
    )
    assert dense.training == pytest.approx(dense.palm, rel=0.02)
    assert f.training < dense.training  # banded layers compute fewer scores


def test_banded_layers_counted_as_computed():
    config = zoo.get_recipe("gpt3-small").model  # window 32
    w = config.local_window
    for t in (16, 32, 100, 256, 8192):
        keys = attended_keys(config, zoo.Attention.LOCAL, t)
        expected = t if t <= w else math.ceil(t / w) * w * 2 * w / t
        assert keys == expected
    long = zoo.flops_per_token(config.replace(max_sequence_length=8192), 8192).components
    dense = zoo.flops_per_token(
        config.replace(max_sequence_length=8192, attention_pattern=("dense",)), 8192
    ).components
    # Half the layers banded: scores fall from 4·T to 2·T + 2·2w per query.
    assert long["attention_scores"] / dense["attention_scores"] == pytest.approx(
        (2 * 8192 + 2 * 2 * w) / (4 * 8192)
    )


def test_chinchilla_optimal_tokens():
    assert zoo.chinchilla_optimal_tokens("chinchilla-70b") == 20 * zoo.count_params(
        "chinchilla-70b"
    )
    # Chinchilla's own allocation: 1.4T tokens for 70B parameters.
    assert zoo.chinchilla_optimal_tokens("chinchilla-70b") == pytest.approx(1.4e12, rel=0.01)


def test_small_twins_are_comparable():
    """Same vocabulary and context, non-embedding parameters within ±15% of one another."""
    smalls = zoo.list_recipes(scale="small")
    assert len({r.model.vocabulary_size for r in smalls}) == 1
    assert len({r.model.max_sequence_length for r in smalls}) == 1
    sizes = [count_non_embedding_params(r.model) for r in smalls]
    middle = (max(sizes) + min(sizes)) / 2
    assert all(abs(s - middle) / middle <= 0.15 for s in sizes)
    assert max(sizes) / min(sizes) <= 1.15
    assert all(0.8e6 <= s <= 1.6e6 for s in sizes)  # "around one million"


def test_breakdown_closed_forms():
    """Each component of `param_breakdown` against the papers' per-component formulas
    (papers.md §5), written out here rather than derived from the code."""
    v, t, layers, d = 50257, 1024, 12, 768  # GPT-2 124M: biases, LayerNorm (γ, β), tied head
    assert zoo.param_breakdown("gpt2-124m") == {
        "token_embedding": v * d,
        "position_embedding": t * d,
        "attention": layers * (4 * d * d + 4 * d),  # W_qkv (d × 3d) + b, W_o (d × d) + b
        "feedforward": layers * (8 * d * d + 5 * d),  # d × 4d + 4d, 4d × d + d
        "norms": layers * 2 * 2 * d + 2 * d,  # two LayerNorms a block, and the final one
    }
    v, layers, d, f = 32000, 32, 4096, 11008  # LLaMA 7B: SwiGLU, RMSNorm (γ), untied head
    assert zoo.param_breakdown("llama-7b") == {
        "token_embedding": v * d,
        "attention": layers * 4 * d * d,
        "feedforward": layers * 3 * d * f,  # gate, up and down
        "norms": layers * 2 * d + d,
        "output_head": v * d,
    }
    # PaLM 540B (Table 1): multi-query attention (one key/value head of 256), parallel block
    # (one bias-free LayerNorm a layer), SwiGLU of width 4d, tied 256k embedding.
    v, layers, d, heads, q = 256_000, 118, 18432, 48, 256
    assert zoo.param_breakdown("palm-540b") == {
        "token_embedding": v * d,
        "attention": layers * (d * heads * q + 2 * d * q + heads * q * d),
        "feedforward": layers * 3 * d * 4 * d,
        "norms": layers * d + d,
    }


def _component(path):
    """The `param_breakdown` component a built model's variable belongs to, by its path."""
    if path == "token_embedding/embeddings":
        return "token_embedding"
    if path == "token_embedding/reverse_embeddings":
        return "output_head"  # the untied head lives in keras-hub's ReversibleEmbedding
    if path.startswith("position_embedding/"):
        return "position_embedding"
    layer = path.split("/")[-2]
    if "norm" in layer:
        return "norms"
    if "/self_attention/" in path:
        name = path.split("/")[-1]
        relative = name in ("relative_kernel", "content_bias", "position_bias")
        return "relative_position" if relative else "attention"
    if "/feedforward/" in path:
        return "feedforward"
    raise AssertionError(f"variable {path} belongs to no component of the breakdown")


@pytest.mark.parametrize("name", [r.name for r in zoo.list_recipes(scale="nano")])
def test_breakdown_matches_the_built_model_per_component(name):
    """Every component's count equals the sizes of the built model's variables in that
    sublayer, so a parameter moved between components (or left out of one) is caught."""
    config = zoo.get_recipe(name).model
    built = {}
    for variable in zoo.build(config).trainable_weights:
        key = _component(variable.path)
        built[key] = built.get(key, 0) + math.prod(variable.shape)
    assert zoo.param_breakdown(config) == built


@pytest.mark.parametrize("name", ["llama-nano", "gpt3-nano", "palm-nano"])
def test_alibi_adds_no_parameters_and_costs_what_no_positions_cost(name):
    """ALiBi learns nothing, and its −m·(i−j) is an elementwise term on the scores, which the
    forward count omits like the mask (zoo.accounting's docstring)."""
    alibi = zoo.get_recipe(name).model.replace(position="alibi")
    none = alibi.replace(position="none")
    assert zoo.count_params(alibi) == zoo.build(alibi).count_params() == zoo.count_params(none)
    assert "position_embedding" not in zoo.accounting.param_breakdown(alibi)
    assert zoo.flops_per_token(alibi, 64) == zoo.flops_per_token(none, 64)
