"""Incremental decoding: the key/value cache against full recomputation, samplers, `zoo generate`."""

import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from tests.helpers import FAMILIES
from zoo.data import load_corpus, prepare_tokenizer
from zoo.errors import ZooError
from zoo.generation import generate, generate_tokens, make_sampler

runner = CliRunner(env={"COLUMNS": "120"})

# Variants no preset combines, so every attention/position pairing meets the cache.
VARIANTS = {
    "grouped-rotary": ("llama-nano", {"num_key_value_heads": 2}),
    "banded-relative": (
        "gopher-nano",
        {"attention_pattern": ("local", "dense"), "local_window": 4},
    ),
    "banded-rotary-mqa": ("palm-nano", {"attention_pattern": ("local",), "local_window": 3}),
    "banded-learned": ("gpt3-nano", {"local_window": 4}),
    "alibi-grouped": ("llama-nano", {"position": "alibi", "num_key_value_heads": 2}),
    "post-norm-learned-tanh": ("gpt2-nano", {"norm_placement": "post", "feedforward": "tanh"}),
    "post-norm-parallel-reglu": (
        "palm-nano",
        {
            "norm_placement": "post",
            "feedforward": "reglu",
            "attention_pattern": ("local",),
            "local_window": 3,
        },
    ),  # fmt: skip
    "banded-alibi-mqa": (
        "palm-nano",
        {"position": "alibi", "attention_pattern": ("local", "dense"), "local_window": 3},
    ),
}


def _prompt(config, batch=2, length=6, seed=0):
    return np.random.default_rng(seed).integers(0, config.vocabulary_size, (batch, length))


@pytest.mark.parametrize(
    "family",
    [  # one family by default, every family in the slow suite
        f if f == "llama" else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES
    ],
)
def test_cached_greedy_equals_recomputation_for_every_family(family):
    model = zoo.build(f"{family}-nano")
    prompt = _prompt(model.config)
    cached = generate_tokens(model, prompt, 12)
    recomputed = generate_tokens(model, prompt, 12, use_cache=False)
    np.testing.assert_array_equal(cached.token_ids, recomputed.token_ids)
    assert cached.token_ids.shape == (2, 18) and cached.new_tokens == 12 and cached.xla


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cached_logits_equal_the_full_forward_pass(variant):
    """Prefill of a prompt longer than the band, then one token at a time: every position's
    logits as the model computes them in training (blockwise band, relative terms, rotary)."""
    name, overrides = VARIANTS[variant]
    model = zoo.build(name, **overrides)
    tokens = _prompt(model.config, length=14).astype("int32")
    full = np.asarray(model(tokens))
    cache = model.empty_cache(2, 16)
    logits, _, cache = model.call_with_cache(tokens[:, :9], cache, 0)
    pieces = [np.asarray(logits)]
    for i in range(9, 14):
        logits, _, cache = model.call_with_cache(tokens[:, i : i + 1], cache, i)
        pieces.append(np.asarray(logits))
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=2e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cached_greedy_equals_recomputation_for_each_variant(variant):
    name, overrides = VARIANTS[variant]
    model = zoo.build(name, **overrides)
    prompt = _prompt(model.config, batch=1, length=5, seed=3)
    cached = generate_tokens(model, prompt, 10)
    recomputed = generate_tokens(model, prompt, 10, use_cache=False)
    np.testing.assert_array_equal(cached.token_ids, recomputed.token_ids)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["banded-relative", "grouped-rotary"])
def test_streaming_steps_give_the_tokens_of_the_single_program(variant):
    """One XLA program for the whole loop, or one per step driven from Python: same tokens,
    and the same stopping, including a stop token 0 (the value unfilled positions could hold)."""
    name, overrides = VARIANTS[variant]
    model = zoo.build(name, **overrides)
    prompt = _prompt(model.config, batch=2, length=5, seed=4)
    for stop in (None, 0, "third"):
        whole = generate_tokens(model, prompt, 9)
        if stop == "third":
            stop = int(whole.token_ids[0, 7])
        whole = generate_tokens(model, prompt, 9, stop_token_id=stop)
        steps = []
        streamed = generate_tokens(model, prompt, 9, stop_token_id=stop, on_token=steps.append)
        np.testing.assert_array_equal(streamed.token_ids, whole.token_ids)
        assert len(steps) == streamed.new_tokens == whole.new_tokens


@pytest.mark.slow
def test_cache_holds_two_key_value_vectors_per_layer_and_token():
    """2·L·K·Q values per token: multi-query attention (K = 1) keeps 1/H of multi-head's."""
    heads = zoo.build("llama-nano")
    query_only = zoo.build("llama-nano", num_key_value_heads=1)
    c = heads.config
    prompt = _prompt(c, batch=1, length=4)
    full, mqa = generate_tokens(heads, prompt, 3), generate_tokens(query_only, prompt, 3)
    assert full.cache_bytes_per_token == 2 * c.num_layers * c.num_query_heads * c.head_dim * 4
    assert mqa.cache_bytes_per_token * c.num_query_heads == full.cache_bytes_per_token
    assert tuple(heads.empty_cache(1, 7).shape) == (1, c.num_layers, 2, 7, 4, c.head_dim)


@pytest.mark.slow
def test_seeded_sampling_repeats_and_samplers_come_from_keras_hub():
    import keras_hub

    model = zoo.build("gpt2-nano")
    prompt = _prompt(model.config, batch=1)
    first = generate_tokens(model, prompt, 8, "top-k", seed=7, k=20)
    again = generate_tokens(model, prompt, 8, "top-k", seed=7, k=20)
    np.testing.assert_array_equal(first.token_ids, again.token_ids)
    streamed = [
        generate_tokens(model, prompt, 8, "top-p", seed=7, on_token=lambda t: None)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(streamed[0].token_ids, streamed[1].token_ids)
    assert isinstance(make_sampler("top-p", p=0.5), keras_hub.samplers.TopPSampler)
    assert isinstance(
        make_sampler("temperature", temperature=0.7), keras_hub.samplers.RandomSampler
    )
    with pytest.raises(ZooError, match="^sampler must be one of"):
        make_sampler("beam")
    with pytest.raises(ZooError, match="^top_p"):
        make_sampler("top-p", p=1.5)


def test_generation_beyond_the_context_is_refused():
    model = zoo.build("gpt2-nano")  # 64 positions
    with pytest.raises(ZooError, match="ask for at most 54"):
        generate_tokens(model, _prompt(model.config, length=10), 60)


def test_a_prompt_longer_than_the_context_is_refused_as_such():
    model = zoo.build("gpt2-nano")  # 64 positions
    with pytest.raises(ZooError) as error:
        generate_tokens(model, _prompt(model.config, length=70), 5)
    assert str(error.value) == (
        "the prompt alone has 70 tokens, more than the model's context "
        "of 64 tokens; shorten it to at most 63"
    )
    with pytest.raises(
        ZooError, match="the prompt alone has 64 tokens, all of the model's context of 64 tokens"
    ):
        generate_tokens(model, _prompt(model.config, length=64), 1)


@pytest.fixture
def saved_model(corpus, isolated, tmp_path):
    """A gpt2-nano .keras file with a real byte-level BPE tokenizer beside it."""
    assets = prepare_tokenizer(load_corpus(str(corpus)), "byte_bpe", 512)
    model = zoo.build("gpt2-nano", vocabulary_size=512)
    path = tmp_path / "export" / "model.keras"
    path.parent.mkdir()
    model.save(path)
    assets.copy_to(path.parent / "tokenizer")
    return path, assets


def test_text_streams_in_pieces_that_make_up_the_result(saved_model):
    path, assets = saved_model
    model, loaded = zoo.load_for_generation(str(path))
    pieces = []
    result = generate(model, loaded.load(), "the king", 15, on_text=pieces.append)
    assert result.text == "".join(pieces) and result.new_tokens == 15
    assert result.tokens_per_second > 0 and result.compile_seconds > 0


@pytest.mark.slow
def test_generate_stops_at_the_stop_token(saved_model):
    path, _ = saved_model
    model, assets = zoo.load_for_generation(str(path))
    tokenizer = assets.load()
    first = generate(model, tokenizer, "the king", 10)
    new = [int(t) for t in first.token_ids[0, first.prompt_tokens :]]
    stop = new[2]
    stopped = generate(model, tokenizer, "the king", 10, stop_token_id=stop)
    assert stopped.new_tokens == new.index(stop) + 1  # greedy: the same tokens up to the stop
    assert stopped.token_ids[0, -1] == stop
    assert first.text.startswith(stopped.text)  # the stop token itself is not text


@pytest.mark.slow
def test_cli_generate_streams_text_and_reports_speed(saved_model):
    from zoo_cli.main import app

    path, _ = saved_model
    result = runner.invoke(app, ["generate", str(path), "--prompt", "the king [b]", "-n", "12"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("the king [b]")
    assert (
        "12 tokens in" in result.output
        and "tokens/s" in result.output
        and "XLA on" in result.output
    )
    as_json = runner.invoke(
        app,
        [
            "generate",
            str(path),
            "-p",
            "the",
            "-n",
            "5",
            "--json",
            "--sampler",
            "top-p",
            "--seed",
            "1",
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    assert '"new_tokens": 5' in as_json.output
    at_once = runner.invoke(
        app, ["generate", str(path), "-p", "the king [b]", "-n", "12", "--no-stream"]
    )
    assert at_once.exit_code == 0, at_once.output
    assert at_once.output.splitlines()[0] == result.output.splitlines()[0]  # same greedy text
    assert "one program" in at_once.output and "a program per step" in result.output


@pytest.mark.parametrize("args, reason", [
    (["nowhere.keras", "-p", "x"], "neither a run nor a .keras file"),
    (["{model}", "-p", "x", "-n", "500"], "exceed the model's context of 64 tokens"),
    (["{model}", "-p", "the king " * 80], "more than the model's context of 64 tokens"),
    (["{model}", "-p", "x", "--sampler", "nucleus"], "--sampler must be one of"),
    (["{model}", "-p", "x", "--tokenizer", "{tmp}"], "no tokenizer here"),
    (["{bare}", "-p", "x"], "no tokenizer/ beside it"),
    (["{junk}", "-p", "x"], "not a readable .keras file"),
])  # fmt: skip
def test_cli_generate_bad_input_is_one_line_and_exit_2(saved_model, tmp_path, args, reason):
    from zoo_cli.main import app

    path, _ = saved_model
    bare = tmp_path / "bare" / "m.keras"
    bare.parent.mkdir()
    bare.write_bytes(path.read_bytes())
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    args = [a.format(model=path, tmp=tmp_path, bare=bare, junk=junk) for a in args]
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) == 1


JAX_GENERATE = """
import json, sys
import keras, numpy as np
import zoo
assert keras.backend.backend() == "jax"
for path, prompt, out in json.loads(sys.argv[1]):
    model = keras.models.load_model(path)
    prompt = np.load(prompt)
    cached = zoo.generate_tokens(model, prompt, 10).token_ids
    recomputed = zoo.generate_tokens(model, prompt, 10, use_cache=False).token_ids
    sampled = [zoo.generate_tokens(model, prompt, 10, "top-k", seed=3, k=5).token_ids
               for _ in range(2)]
    np.save(out, np.stack([cached, recomputed, *sampled]))
"""


@pytest.mark.slow
def test_jax_backend_decodes_the_same_tokens(tmp_path):
    """The same saved models under JAX (jax.jit over the variables as state): cached equals
    recomputed, equals TensorFlow's greedy tokens, and a seeded sampler repeats."""
    import json
    import os
    import subprocess
    import sys

    jobs, expected = [], {}
    for variant in ("grouped-rotary", "banded-relative"):
        name, overrides = VARIANTS[variant]
        model = zoo.build(name, **overrides)
        model.save(tmp_path / f"{variant}.keras")
        prompt = _prompt(model.config, batch=1, length=5, seed=5).astype("int32")
        np.save(tmp_path / f"{variant}-prompt.npy", prompt)
        expected[variant] = generate_tokens(model, prompt, 10).token_ids
        jobs.append(
            [
                str(tmp_path / f"{variant}.keras"),
                str(tmp_path / f"{variant}-prompt.npy"),
                str(tmp_path / f"{variant}-out.npy"),
            ]
        )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    subprocess.run(
        [sys.executable, "-c", JAX_GENERATE, json.dumps(jobs)], check=True, env=env, timeout=600
    )
    for variant, tensorflow_tokens in expected.items():
        cached, recomputed, first, second = np.load(tmp_path / f"{variant}-out.npy")
        np.testing.assert_array_equal(cached, recomputed)
        np.testing.assert_array_equal(cached, tensorflow_tokens)
        np.testing.assert_array_equal(first, second)
