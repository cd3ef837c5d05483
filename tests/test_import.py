"""`zoo import`: released checkpoints (HF safetensors, keras-hub presets) give the same logits in
the zoo; bad checkpoints are refused in one line, exit status 2, before anything is written.

Reference models are tiny and randomly initialised here (nothing is downloaded), with every
norm weight and bias moved away from its default so that their mapping is really tested.
"""

import io
import json
import pickle
import shutil

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from zoo.data.tokenizer import load_tokenizer
from zoo.errors import ZooError
from zoo.importing import import_checkpoint, read_checkpoint
from zoo.storage.models import model_source, saved_model_config
from zoo.storage.runs import find_run
from zoo_cli.main import app

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
keras_hub = pytest.importorskip("keras_hub")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402

TOLERANCE = 1e-4
TEXT = ["the king and the queen speak of love and death", "hello world, gentle lord"] * 40
runner = CliRunner()


def tokens(vocabulary_size, seed=0):
    return np.random.default_rng(seed).integers(0, vocabulary_size, (2, 16)).astype("int32")


def zoo_logits(model, ids):
    return keras.ops.convert_to_numpy(model(ids))


# --- reference checkpoints ---


def perturb_torch(model):
    """Norm weights and biases start at ones/zeros; move them so a swapped or missing mapping
    shows in the logits."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 1:
                parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))


def save_hf(model, directory, ids):
    perturb_torch(model)
    model.eval()
    model.save_pretrained(directory, safe_serialization=True)
    with torch.no_grad():
        return model(torch.from_numpy(ids).long()).logits.numpy()


def byte_bpe_files(directory, vocabulary_size):
    """GPT-2-style vocab.json + merges.txt (what the released GPT-2 repos hold)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TEXT, trainer=trainer)
    tokenizer.model.save(str(directory))
    return tokenizer


def sentencepiece_proto():
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT),
        model_writer=model,
        vocab_size=60,
        model_type="bpe",
        hard_vocab_limit=False,
        minloglevel=2,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
    )
    return model.getvalue()


GPT2_VOCABULARY = 300  # byte-level BPE needs its 256 byte symbols


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf_gpt2")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=GPT2_VOCABULARY,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        initializer_range=0.1,
    )
    ids = tokens(GPT2_VOCABULARY)
    logits = save_hf(transformers.GPT2LMHeadModel(config), directory, ids)
    byte_bpe_files(directory, GPT2_VOCABULARY)
    return directory, ids, logits


def hf_llama(directory, tie):
    torch.manual_seed(1)
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=500.0,
        initializer_range=0.1,
        tie_word_embeddings=tie,
    )
    ids = tokens(97, seed=1)
    logits = save_hf(transformers.LlamaForCausalLM(config), directory, ids)
    (directory / "tokenizer.model").write_bytes(sentencepiece_proto())
    return directory, ids, logits


@pytest.fixture(scope="module")
def hf_llama_untied(tmp_path_factory):
    return hf_llama(tmp_path_factory.mktemp("hf_llama_untied"), tie=False)


@pytest.fixture(scope="module")
def hf_llama_tied(tmp_path_factory):
    return hf_llama(tmp_path_factory.mktemp("hf_llama_tied"), tie=True)


def perturb_keras(backbone):
    rng = np.random.default_rng(0)
    for variable in backbone.weights:
        if variable.path.rsplit("/", 1)[-1] in ("gamma", "beta", "scale", "bias"):
            variable.assign(variable.numpy() + 0.2 * rng.standard_normal(variable.shape))


def save_keras_hub(backbone, causal_lm_class, tokenizer, directory, ids):
    perturb_keras(backbone)
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    causal_lm = causal_lm_class(backbone=backbone, preprocessor=None)
    logits = causal_lm({"token_ids": ids, "padding_mask": np.ones_like(ids, bool)})
    return directory, ids, keras.ops.convert_to_numpy(logits)


@pytest.fixture(scope="module")
def keras_hub_gpt2(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keras_hub_gpt2")
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=GPT2_VOCABULARY,
        num_layers=2,
        num_heads=4,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=32,
        dropout=0.0,
    )
    hf_files = tmp_path_factory.mktemp("bpe")
    byte_bpe_files(hf_files, GPT2_VOCABULARY)
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary=json.loads((hf_files / "vocab.json").read_text()),
        merges=[m for m in (hf_files / "merges.txt").read_text().split("\n") if m][1:],
    )
    return save_keras_hub(
        backbone,
        keras_hub.models.GPT2CausalLM,
        tokenizer,
        directory,
        tokens(GPT2_VOCABULARY, seed=2),
    )


def keras_hub_llama(directory, tie):
    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=97,
        num_layers=2,
        num_query_heads=4,
        num_key_value_heads=2,
        hidden_dim=32,
        intermediate_dim=48,
        rope_max_wavelength=500.0,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=tie,
    )
    tokenizer = keras_hub.models.LlamaTokenizer(proto=sentencepiece_proto())
    return save_keras_hub(
        backbone, keras_hub.models.LlamaCausalLM, tokenizer, directory, tokens(97, seed=3)
    )


@pytest.fixture(scope="module")
def keras_hub_llama_untied(tmp_path_factory):
    return keras_hub_llama(tmp_path_factory.mktemp("keras_hub_llama_untied"), tie=False)


# --- equivalence ---


@pytest.mark.parametrize(
    "reference",
    [
        *(
            pytest.param(r, marks=pytest.mark.slow)  # torch builds the reference
            for r in ("hf_gpt2", "hf_llama_untied", "hf_llama_tied")
        ),
        "keras_hub_gpt2",
        "keras_hub_llama_untied",
    ],
)
def test_imported_model_reproduces_reference_logits(reference, request, tmp_path):
    source, ids, expected = request.getfixturevalue(reference)
    assert np.std(expected) > 0.05  # a trivial reference would prove nothing
    path = import_checkpoint(source, tmp_path / "model.keras")
    restored = keras.models.load_model(path)  # after `import zoo`, in safe mode
    assert isinstance(restored, zoo.DecoderLM)
    np.testing.assert_allclose(zoo_logits(restored, ids), expected, atol=TOLERANCE, rtol=0)


GREEDY_TOKENS = 20


def reference_greedy(reference, source, prompt):
    """The reference implementation's own greedy continuation, reloaded from `source`."""
    length = prompt.shape[1] + GREEDY_TOKENS
    if reference.startswith("hf_"):
        model = transformers.AutoModelForCausalLM.from_pretrained(source)  # local directory
        model.generation_config.eos_token_id = None  # never stop early: compare all 20
        model.generation_config.pad_token_id = 0
        with torch.no_grad():
            out = model.generate(
                torch.from_numpy(prompt).long(),
                do_sample=False,
                max_new_tokens=GREEDY_TOKENS,
                min_new_tokens=None,
            )
        return out.numpy()
    backbone = keras_hub.models.Backbone.from_preset(str(source))
    causal_lm_class = {
        "GPT2Backbone": keras_hub.models.GPT2CausalLM,
        "LlamaBackbone": keras_hub.models.LlamaCausalLM,
    }[type(backbone).__name__]
    causal_lm = causal_lm_class(backbone=backbone, preprocessor=None)
    causal_lm.compile(sampler="greedy")
    token_ids = np.zeros((prompt.shape[0], length), "int32")
    token_ids[:, : prompt.shape[1]] = prompt
    mask = np.broadcast_to(np.arange(length) < prompt.shape[1], token_ids.shape)
    out = causal_lm.generate({"token_ids": token_ids, "padding_mask": mask}, stop_token_ids=None)
    return np.asarray(out["token_ids"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "reference", ["hf_gpt2", "hf_llama_untied", "keras_hub_gpt2", "keras_hub_llama_untied"]
)
def test_imported_model_greedy_generation_matches_the_reference(reference, request, tmp_path):
    source, ids, _ = request.getfixturevalue(reference)
    prompt = ids[:, :4]  # two prompts of four tokens
    expected = reference_greedy(reference, source, prompt)
    imported = read_checkpoint(source)
    ours = zoo.generate_tokens(imported.model, prompt, GREEDY_TOKENS)  # key/value cache, XLA
    assert expected.shape == ours.token_ids.shape == (2, 4 + GREEDY_TOKENS)
    np.testing.assert_array_equal(ours.token_ids, expected)
    assert len(set(expected[:, 4:].ravel().tolist())) >= 2  # not one token over and over


def test_keras_hub_tied_llama(tmp_path):
    source, ids, expected = keras_hub_llama(tmp_path / "preset", tie=True)
    imported = read_checkpoint(source)
    assert imported.config.tie_embeddings
    np.testing.assert_allclose(zoo_logits(imported.model, ids), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_untied_gpt2(tmp_path):
    torch.manual_seed(4)
    config = transformers.GPT2Config(
        vocab_size=97,
        n_positions=32,
        n_embd=32,
        n_layer=1,
        n_head=4,
        initializer_range=0.1,
        tie_word_embeddings=False,
    )
    ids = tokens(97, seed=4)
    expected = save_hf(transformers.GPT2LMHeadModel(config), tmp_path / "gpt2", ids)
    imported = read_checkpoint(tmp_path / "gpt2")
    assert not imported.config.tie_embeddings
    np.testing.assert_allclose(zoo_logits(imported.model, ids), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_config_follows_the_source(hf_llama_untied, hf_gpt2):
    llama = read_checkpoint(hf_llama_untied[0])
    c = llama.config
    assert (c.num_query_heads, c.num_key_value_heads, c.head_dim) == (4, 2, 8)
    assert (c.rotary_max_wavelength, c.norm_epsilon, c.max_sequence_length) == (500.0, 1e-5, 64)
    assert not c.tie_embeddings and c.position.value == "rotary"
    assert llama.tensors_mapped == 1 + 9 * 2 + 1 + 1  # embed, 9 per layer, norm, lm_head
    gpt2 = read_checkpoint(hf_gpt2[0])
    assert gpt2.config.tie_embeddings and gpt2.config.position.value == "learned"
    assert gpt2.tensors_mapped == 2 + 12 * 2 + 2
    assert gpt2.params == zoo.count_params(gpt2.config)


@pytest.mark.slow
def test_hf_gpt2_without_transformer_prefix_and_with_mask_buffers(hf_gpt2, tmp_path):
    """Checkpoints saved from GPT2Model (as openai-community/gpt2) lack the prefix and carry
    causal-mask buffers, which are known and skipped."""
    source, ids, expected = hf_gpt2
    tensors = safetensors_numpy.load_file(str(source / "model.safetensors"))
    tensors = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    for i in range(2):
        tensors[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 32, 32), np.float32))
        tensors[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    tensors["lm_head.weight"] = tensors["wte.weight"]  # a tied head saved anyway
    copy = tmp_path / "gpt2"
    copy.mkdir()
    shutil.copy(source / "config.json", copy)
    safetensors_numpy.save_file(tensors, str(copy / "model.safetensors"))
    imported = read_checkpoint(copy)
    np.testing.assert_allclose(zoo_logits(imported.model, ids), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_sharded_checkpoint(hf_llama_untied, tmp_path):
    source, ids, expected = hf_llama_untied
    tensors = safetensors_numpy.load_file(str(source / "model.safetensors"))
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    copy = tmp_path / "sharded"
    copy.mkdir()
    shutil.copy(source / "config.json", copy)
    for shard, keys in shards.items():
        safetensors_numpy.save_file({k: tensors[k] for k in keys}, str(copy / shard))
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (copy / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    imported = read_checkpoint(copy)
    assert sorted(imported.weight_files) == sorted(shards)
    np.testing.assert_allclose(zoo_logits(imported.model, ids), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_bfloat16_tensors_are_read(hf_llama_tied, tmp_path):
    source, ids, _ = hf_llama_tied
    model = transformers.LlamaForCausalLM.from_pretrained(source).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "bf16", safe_serialization=True)
    with safe_open(str(tmp_path / "bf16" / "model.safetensors"), framework="np") as stored:
        assert stored.get_slice("model.norm.weight").get_dtype() == "BF16"
    # The reference computes in float32 from the bf16-rounded weights (and fresh rotary buffers).
    model = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "bf16", dtype=torch.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(ids).long()).logits.numpy()
    imported = read_checkpoint(tmp_path / "bf16")
    np.testing.assert_allclose(zoo_logits(imported.model, ids), expected, atol=TOLERANCE, rtol=0)


# --- outputs: run directory, .keras file, tokenizer ---


@pytest.mark.slow
def test_cli_imports_a_run_directory_that_init_from_accepts(hf_gpt2, tmp_path):
    source, ids, expected = hf_gpt2
    out = tmp_path / "runs" / "gpt2-imported"
    result = runner.invoke(app, ["import", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "huggingface gpt2" in lines[0] and "28 tensors" in lines[0]
    assert str(out) in lines[0]
    record = find_run(out)
    assert record.complete and record.model_path.is_file()
    config = record.config()
    assert config["preset"] is None and config["model"]["hidden_dim"] == 32
    imported = config["imported_from"]
    assert imported["layout"] == "huggingface" and imported["tensors_mapped"] == 28
    assert set(imported["weight_files_sha256"]) == {"model.safetensors"}
    restored = keras.models.load_model(record.model_path)
    np.testing.assert_allclose(zoo_logits(restored, ids), expected, atol=TOLERANCE, rtol=0)
    # What `zoo train --init-from RUN` reads: the model, its architecture and its tokenizer.
    assert model_source(str(out)) == (record.model_path, record.tokenizer_path)
    assert saved_model_config(record.model_path).to_dict() == config["model"]
    assets = load_tokenizer(record.tokenizer_path)
    hf_vocabulary = json.loads((source / "vocab.json").read_text())
    assert assets.kind.value == "byte_bpe"
    assert assets.end_of_text_id == hf_vocabulary["<|endoftext|>"]
    assert assets.vocabulary_size == len(hf_vocabulary) <= GPT2_VOCABULARY
    from tokenizers import Tokenizer

    hf_tokenizer = Tokenizer.from_file(str(_fast_tokenizer(source, tmp_path)))
    text = "hello world the king"
    assert keras.ops.convert_to_numpy(assets.load()(text)).tolist() == hf_tokenizer.encode(text).ids


def _fast_tokenizer(source, tmp_path):
    """A tokenizers.Tokenizer file rebuilt from vocab.json + merges.txt, as the reference."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(
        models.BPE.from_file(str(source / "vocab.json"), str(source / "merges.txt"))
    )
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    path = tmp_path / "reference-tokenizer.json"
    tokenizer.save(str(path))
    return path


@pytest.mark.slow
def test_keras_file_gets_a_tokenizer_beside_it(hf_llama_untied, tmp_path):
    import sentencepiece

    source, ids, expected = hf_llama_untied
    out = tmp_path / "llama.keras"
    result = runner.invoke(app, ["import", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llama.keras", "tokenizer"]
    assert model_source(str(out)) == (out, tmp_path / "tokenizer")  # what --init-from reads
    assets = load_tokenizer(tmp_path / "tokenizer")
    processor = sentencepiece.SentencePieceProcessor(model_file=str(source / "tokenizer.model"))
    assert assets.kind.value == "sentencepiece"
    assert (assets.vocabulary_size, assets.end_of_text_id) == (processor.get_piece_size(), 2)
    text = "the queen speaks"
    assert keras.ops.convert_to_numpy(assets.load()(text)).tolist() == processor.encode(text)
    restored = keras.models.load_model(out)
    np.testing.assert_allclose(zoo_logits(restored, ids), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize(
    "reference, kind", [("keras_hub_gpt2", "byte_bpe"), ("keras_hub_llama_untied", "sentencepiece")]
)
def test_keras_hub_tokenizer_assets_are_imported(reference, kind, request, tmp_path):
    source = request.getfixturevalue(reference)[0]
    out = import_checkpoint(source, tmp_path / "run")
    assets = load_tokenizer(find_run(out).tokenizer_path)
    assert assets.kind.value == kind
    assert assets.load()("the king") is not None


@pytest.mark.slow
def test_transformers5_tokenizer_json_is_converted(hf_gpt2, tmp_path):
    """transformers 5 saves a GPT-2 tokenizer as tokenizer.json only."""
    source, _, _ = hf_gpt2
    copy = tmp_path / "gpt2"
    shutil.copytree(source, copy)
    (copy / "vocab.json").unlink()
    (copy / "merges.txt").unlink()
    shutil.copy(_fast_tokenizer(source, tmp_path), copy / "tokenizer.json")
    imported = read_checkpoint(copy)
    assert imported.tokenizer is not None and imported.tokenizer.sources == ("tokenizer.json",)
    original = json.loads((source / "vocab.json").read_text())
    assert json.loads(imported.tokenizer.files["vocab.json"]) == original


@pytest.mark.slow
def test_checkpoint_without_tokenizer_imports_and_says_so(hf_llama_tied, tmp_path):
    copy = tmp_path / "no-tokenizer"
    shutil.copytree(hf_llama_tied[0], copy)
    (copy / "tokenizer.model").unlink()
    out = import_checkpoint(copy, tmp_path / "run")
    assert not find_run(out).tokenizer_path.exists()
    assert find_run(out).config()["imported_from"]["tokenizer"].startswith("none")
    assert model_source(str(out))[1] is None


# --- refusals: exit 2, one line, nothing written ---


def edited_copy(source, tmp_path, config=None, tensors=None):
    """A copy of `source` with config.json fields and/or safetensors tensors replaced."""
    copy = tmp_path / "bad"
    shutil.copytree(source, copy)
    if config:
        document = json.loads((copy / "config.json").read_text())
        document.update(config)
        (copy / "config.json").write_text(json.dumps(document))
    if tensors:
        path = str(copy / "model.safetensors")
        data = safetensors_numpy.load_file(path)
        for name, value in tensors.items():
            if value is None:
                del data[name]
            else:
                data[name] = value
        safetensors_numpy.save_file(data, path)
    return copy


def assert_refused(source, tmp_path, *fragments, out_name="out"):
    out = tmp_path / "dest" / out_name
    before = set(tmp_path.rglob("*"))
    result = runner.invoke(app, ["import", str(source), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert set(tmp_path.rglob("*")) == before  # nothing written, not even a temporary
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("out_name", ["out", "out.keras"])
def test_missing_tensor(hf_gpt2, tmp_path, out_name):
    bad = edited_copy(hf_gpt2[0], tmp_path, tensors={"transformer.h.1.mlp.c_fc.bias": None})
    assert_refused(bad, tmp_path, "'transformer.h.1.mlp.c_fc.bias'", "missing", out_name=out_name)


@pytest.mark.slow
def test_wrong_shape(hf_llama_untied, tmp_path):
    bad = edited_copy(
        hf_llama_untied[0],
        tmp_path,
        tensors={"model.layers.0.self_attn.k_proj.weight": np.zeros((32, 32), "f4")},
    )
    assert_refused(
        bad, tmp_path, "'model.layers.0.self_attn.k_proj.weight'", "(32, 32)", "(16, 32)"
    )


@pytest.mark.slow
def test_unexpected_tensor(hf_llama_tied, tmp_path):
    bad = edited_copy(
        hf_llama_tied[0],
        tmp_path,
        tensors={"model.layers.0.self_attn.q_norm.weight": np.ones(8, "f4")},
    )
    assert_refused(bad, tmp_path, "unexpected tensor 'model.layers.0.self_attn.q_norm.weight'")


@pytest.mark.slow
def test_tied_head_that_differs_is_refused(hf_llama_tied, tmp_path):
    bad = edited_copy(
        hf_llama_tied[0], tmp_path, tensors={"lm_head.weight": np.ones((97, 32), "f4")}
    )
    assert_refused(bad, tmp_path, "'lm_head.weight'", "tie_word_embeddings")


@pytest.mark.slow
def test_unknown_model_type(hf_llama_tied, tmp_path):
    bad = edited_copy(hf_llama_tied[0], tmp_path, config={"model_type": "mistral"})
    assert_refused(bad, tmp_path, "model_type='mistral'", "gpt2, llama")


def test_unknown_layout(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"hello": 1}))
    assert_refused(bad, tmp_path, "unknown checkpoint layout")
    (bad / "config.json").unlink()
    (bad / "weights.npz").write_bytes(b"")
    assert_refused(bad, tmp_path, "unknown checkpoint layout")


@pytest.mark.parametrize("with_config", [False, True])
def test_pickle_checkpoint_is_never_opened(with_config, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pytorch_model.bin").write_bytes(b"\x80\x04 not really a pickle")
    if with_config:
        (bad / "config.json").write_text(json.dumps({"model_type": "gpt2"}))

    def never(*args, **kwargs):
        raise AssertionError("a pickle file was opened")

    for module, name in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
        monkeypatch.setattr(module, name, never)
    assert_refused(bad, tmp_path, "pytorch_model.bin", "never loaded", "safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("fixture, change, fragment", [
    ("hf_llama_tied", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_scaling"),
    ("hf_llama_tied", {"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4, "factor": 4}},
     "rope_parameters"),
    ("hf_llama_tied", {"attention_bias": True}, "attention_bias"),
    ("hf_llama_tied", {"mlp_bias": True}, "mlp_bias"),
    ("hf_llama_tied", {"hidden_act": "gelu"}, "hidden_act"),
    ("hf_gpt2", {"activation_function": "relu"}, "activation_function"),
    ("hf_gpt2", {"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ("hf_gpt2", {"reorder_and_upcast_attn": True}, "reorder_and_upcast_attn"),
])  # fmt: skip
def test_unsupported_config_feature(fixture, change, fragment, request, tmp_path):
    bad = edited_copy(request.getfixturevalue(fixture)[0], tmp_path, config=change)
    assert_refused(bad, tmp_path, fragment, "not supported")


@pytest.mark.slow
def test_transformers4_config_is_read(hf_llama_tied, tmp_path):
    """transformers 4.x writes rope_theta at the top level (5.x: inside rope_parameters) and
    older configs lack head_dim."""
    document = json.loads((hf_llama_tied[0] / "config.json").read_text())
    old = {k: v for k, v in document.items() if k not in ("rope_parameters", "head_dim")}
    old.update(rope_theta=500.0, rope_scaling=None)
    bad = edited_copy(hf_llama_tied[0], tmp_path)
    (bad / "config.json").write_text(json.dumps(old))
    config = read_checkpoint(bad).config
    assert (config.rotary_max_wavelength, config.head_dim) == (500.0, 8)


def test_keras_hub_unsupported_features(keras_hub_llama_untied, tmp_path):
    source = keras_hub_llama_untied[0]
    document = json.loads((source / "config.json").read_text())
    bad = edited_copy(source, tmp_path)
    scaled = json.loads(json.dumps(document))
    scaled["config"]["rope_position_scaling_factor"] = 8.0
    (bad / "config.json").write_text(json.dumps(scaled))
    assert_refused(bad, tmp_path, "rope_position_scaling_factor", "not supported")
    other = dict(
        document, class_name="MistralBackbone", registered_name="keras_hub>MistralBackbone"
    )
    (bad / "config.json").write_text(json.dumps(other))
    assert_refused(bad, tmp_path, "MistralBackbone", "not supported")


def test_keras_hub_wrong_shape(keras_hub_gpt2, tmp_path):
    source = keras_hub_gpt2[0]
    bad = edited_copy(source, tmp_path)
    document = json.loads((source / "config.json").read_text())
    document["config"]["intermediate_dim"] = 96  # the weights file holds 64
    (bad / "config.json").write_text(json.dumps(document))
    assert_refused(bad, tmp_path)


@pytest.mark.slow
def test_out_must_not_clobber_anything(hf_llama_tied, tmp_path):
    occupied = tmp_path / "dest" / "out"
    occupied.mkdir(parents=True)
    (occupied / "notes.txt").write_text("mine")
    assert_refused(hf_llama_tied[0], tmp_path, "already exists")
    assert_refused(hf_llama_tied[0], tmp_path, "FILE.keras", out_name="weights.h5")
    with pytest.raises(ZooError, match="not a directory"):
        read_checkpoint(tmp_path / "nowhere")


@pytest.mark.slow
def test_different_tokenizer_beside_keras_file_is_refused(hf_llama_untied, tmp_path):
    (tmp_path / "dest" / "tokenizer").mkdir(parents=True)
    (tmp_path / "dest" / "tokenizer" / "tokenizer.model").write_bytes(b"another model")
    assert_refused(hf_llama_untied[0], tmp_path, "different tokenizer", out_name="llama.keras")


@pytest.mark.slow
def test_import_then_continue_training_then_generate(hf_gpt2, corpus, isolated, tmp_path):
    """The README's path: a local checkpoint, imported, trained further under a preset's recipe
    (architecture and tokenizer from the checkpoint), then read with `zoo generate`."""
    source, _, _ = hf_gpt2
    imported = tmp_path / "imported"
    assert runner.invoke(app, ["import", str(source), "--out", str(imported)]).exit_code == 0
    continued = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=3,
        eval_interval=3,
        init_from=str(imported),
        out=str(tmp_path / "continued"),
    )
    config = continued.config()
    assert config["model"] == find_run(imported).config()["model"]  # 32 wide, 300 tokens
    tokenizer = load_tokenizer(imported / "tokenizer")
    assert config["tokenizer"]["vocabulary_size"] == tokenizer.vocabulary_size
    assert continued.summary()["steps"] == 3
    result = runner.invoke(
        app, ["generate", str(continued.path), "-p", "the king", "-n", "5", "--no-stop"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("the king") and "5 tokens in" in result.output
