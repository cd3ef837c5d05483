"""Both tokenizer kinds: training on the corpus, lossless keras-hub round trips, the cache."""

import concurrent.futures
import json
import threading
import time

import numpy as np
import pytest

from zoo.data import encode_corpus, load_corpus, load_tokenizer, prepare_tokenizer
from zoo.data import tokenizer as tokenizer_module
from zoo.errors import ZooError
from zoo.files import cache_dir
from zoo.recipe import Tokenizer

KINDS = [Tokenizer.BYTE_BPE, Tokenizer.SENTENCEPIECE, Tokenizer.SENTENCEPIECE_UNIGRAM]
# Unseen characters, runs of spaces and newlines, tabs, digits and the end-of-text string itself.
SAMPLE = "  Thou art\tthe king.\n\n\nCafé 1599 — ★ 漢字 😀\r\nend  \n <|endoftext|> x"


@pytest.fixture
def corpus(text_corpus_dir):
    return load_corpus(str(text_corpus_dir))


@pytest.mark.parametrize("kind", KINDS)
def test_trains_and_round_trips_through_keras_hub(corpus, kind):
    assets = prepare_tokenizer(corpus, kind, 512)
    assert assets.kind is kind and 257 <= assets.vocabulary_size <= 512
    tokenizer = assets.load()
    assert tokenizer.vocabulary_size() == assets.vocabulary_size
    texts = [d.text for d in corpus.validation] + [SAMPLE]
    if kind is not Tokenizer.BYTE_BPE:  # the literal string is text to SentencePiece
        texts[-1] = SAMPLE.replace("<|endoftext|>", "</s>")
    for text in texts:
        ids = np.asarray(tokenizer.tokenize(text))
        assert ids.max() < assets.vocabulary_size
        assert tokenizer.detokenize(ids) == text
    metadata = json.loads((assets.path / "tokenizer.json").read_text())
    assert metadata["kind"] == kind.value and metadata["requested_vocabulary_size"] == 512
    assert metadata["vocabulary_size"] == assets.vocabulary_size
    assert metadata["corpus_fingerprint"] == corpus.fingerprint
    assert set(metadata["versions"]) == {"keras_hub", "tokenizers", "sentencepiece"}
    if kind is not Tokenizer.BYTE_BPE:  # the model SentencePiece was asked for
        model_type = {Tokenizer.SENTENCEPIECE: "bpe", Tokenizer.SENTENCEPIECE_UNIGRAM: "unigram"}
        assert metadata["settings"]["model_type"] == model_type[kind]


def test_end_of_text_ids(corpus):
    bpe = prepare_tokenizer(corpus, "byte_bpe", 512)
    assert bpe.end_of_text_id == 0 == bpe.load().token_to_id("<|endoftext|>")
    assert list(np.asarray(bpe.load().tokenize("a<|endoftext|>b"))).count(0) == 1  # unsplittable
    spm = prepare_tokenizer(corpus, "sentencepiece", 512)
    assert spm.end_of_text_id == 2 and spm.load().id_to_token(2) == "</s>"
    assert 2 not in np.asarray(spm.load().tokenize("a</s>b"))  # control piece: never from text


@pytest.mark.parametrize("kind", KINDS)
def test_encoded_stream_separates_and_ends_documents(corpus, kind):
    assets = prepare_tokenizer(corpus, kind, 512)
    data = encode_corpus(corpus, assets)
    assert data.train.dtype == np.int32 and data.validation.dtype == np.int32
    eot = assets.end_of_text_id
    assert data.validation[-1] == eot
    pieces = np.split(data.validation, np.flatnonzero(data.validation == eot) + 1)[:-1]
    tokenizer = assets.load()
    assert [tokenizer.detokenize(p[:-1]) for p in pieces] == [d.text for d in corpus.validation]
    assert (data.train == eot).sum() == len(corpus.train)
    assert data.validation_bytes == corpus.validation_bytes


@pytest.mark.parametrize("kind", KINDS)
def test_second_call_hits_the_cache(corpus, kind, monkeypatch):
    first = prepare_tokenizer(corpus, kind, 400)
    assert first.path.parent == cache_dir("tokenizers")
    assert first.path.name == f"{kind.value}-400-{corpus.fingerprint[:16]}"
    stamp = (first.path / "tokenizer.json").stat().st_mtime_ns

    def refuse(*args):
        raise AssertionError("retrained")

    monkeypatch.setattr(tokenizer_module, "_train_byte_bpe", refuse)
    monkeypatch.setattr(tokenizer_module, "_train_sentencepiece", refuse)
    again = prepare_tokenizer(corpus, kind.value, 400)
    assert again == first and (again.path / "tokenizer.json").stat().st_mtime_ns == stamp
    data = encode_corpus(corpus, again)
    monkeypatch.setattr(type(again), "load", refuse)  # the encoded arrays are cached as well
    assert np.array_equal(encode_corpus(corpus, again).train, data.train)


def test_processes_starting_together_build_the_entry_once(corpus, monkeypatch):
    """Three callers ask for the same absent entry at once (the workers of one run do): one
    trains it while the others wait, and none finds it removed under them (the race of a
    two-process run in CI, where a worker's rebuild replaced the entry another was copying).
    Threads stand for the processes: each takes the lock through its own open file, which
    `flock` serialises within one process as it does between processes."""
    trained = []
    real = tokenizer_module._train_byte_bpe

    def slow(*args):
        trained.append(threading.get_ident())
        time.sleep(0.5)  # long enough for the other callers to arrive while it trains
        return real(*args)

    monkeypatch.setattr(tokenizer_module, "_train_byte_bpe", slow)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        found = list(
            pool.map(lambda _: prepare_tokenizer(corpus, Tokenizer.BYTE_BPE, 400), range(3))
        )
    assert len(trained) == 1
    assert all(f == found[0] for f in found) and (found[0].path / "tokenizer.json").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_training_is_deterministic(corpus, kind, tmp_path, monkeypatch):
    first = prepare_tokenizer(corpus, kind, 400)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "other"))
    second = prepare_tokenizer(corpus, kind, 400)
    assert second.path != first.path
    for name in tokenizer_module.ASSET_FILES[kind]:
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name


@pytest.mark.parametrize("kind", KINDS)
def test_copy_to_a_run_directory_and_load_back(corpus, kind, tmp_path):
    assets = prepare_tokenizer(corpus, kind, 512)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    copied = assets.copy_to(run)
    assert (run / "config.json").read_text() == "{}"  # a run directory's files stay
    loaded = load_tokenizer(run)
    assert loaded == copied and loaded.path == run
    assert (loaded.kind, loaded.vocabulary_size, loaded.end_of_text_id) == (
        assets.kind, assets.vocabulary_size, assets.end_of_text_id)  # fmt: skip
    described = loaded.describe()
    assert described["kind"] == kind.value and described == json.loads(json.dumps(described))
    assert described["vocabulary_size"] == assets.vocabulary_size
    assert np.array_equal(loaded.load().tokenize(SAMPLE), assets.load().tokenize(SAMPLE))
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_bad_kind_and_too_small_vocabularies(corpus, tmp_path):
    for kind, size, fragment in [
        ("wordpiece", 512, "unknown tokenizer kind"),
        ("byte_bpe", 100, "too small for byte-level BPE"),
        ("sentencepiece", 64, "sentencepiece could not train"),
    ]:
        with pytest.raises(ZooError) as error:
            prepare_tokenizer(corpus, kind, size)
        assert fragment in str(error.value) and "\n" not in str(error.value)
    assert not list(cache_dir("tokenizers").iterdir())  # nothing half-written
    with pytest.raises(ZooError, match="no tokenizer here"):
        load_tokenizer(tmp_path)


def test_training_pieces_match_keras_hub_split_pattern():
    from keras_hub.src.tokenizers.byte_pair_tokenizer import SPLIT_PATTERN_TOKENIZERS

    assert tokenizer_module.KERAS_HUB_SPLIT_PATTERN == SPLIT_PATTERN_TOKENIZERS


def test_assets_in_a_run_directory_are_never_written_to(corpus, tmp_path):
    assets = prepare_tokenizer(corpus, "byte_bpe", 512).copy_to(tmp_path / "run")
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    data = encode_corpus(corpus, assets)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before
    assert (data.train == 0).sum() == len(corpus.train)


@pytest.mark.slow  # a subprocess of its own (the README's rule for the default suite)
def test_a_sentencepiece_tokenizer_trains_and_loads_without_cpp_log_lines(text_corpus_dir):
    """tensorflow_text's SentencePiece op logs `normalizer.cc(51) LOG(INFO) precompiled_charsmap
    is empty` on fd 2 as it loads an identity-normalised model: a fresh process (as a newcomer's
    first `zoo train palm-small`) trains, loads and uses one, and its stderr has no such line."""
    import subprocess
    import sys

    code = (
        "import sys; from zoo.data import load_corpus, prepare_tokenizer\n"
        f"assets = prepare_tokenizer(load_corpus({str(text_corpus_dir)!r}), "
        "'sentencepiece', 512)\n"
        "print(list(assets.load().tokenize('the king')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[")  # the model loaded and tokenized
    assert "precompiled_charsmap" not in out.stderr and "LOG(INFO)" not in out.stderr, out.stderr


def test_only_the_charsmap_notice_is_dropped_from_stderr(capfd):
    """What else reaches fd 2 while a model loads (a real error) is replayed, in order."""
    import os

    with tokenizer_module._charsmap_notice_dropped():
        os.write(
            2,
            b"before\nnormalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. use "
            b"identity normalization.\nafter: a real error\n",
        )
    assert capfd.readouterr().err == "before\nafter: a real error\n"
