"""Each text source, the whole-document validation split, and bad text input."""

import json

import pytest

from zoo.data.corpus import load_corpus
from zoo.errors import ZooError

from .conftest import make_text


def one_line_error(spec, *fragments):
    with pytest.raises(ZooError) as error:
        load_corpus(str(spec))
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_directory_of_txt_and_md_holds_out_every_tenth_work(text_corpus_dir):
    corpus = load_corpus(str(text_corpus_dir))
    assert [d.name for d in corpus.validation] == ["work_00.md", "work_10.txt"]
    assert len(corpus.train) == 10 and all(d.name.startswith("work_") for d in corpus.train)
    assert {d.name[-3:] for d in corpus.train} == {".md", "txt"}
    assert corpus.validation_bytes == sum(len(d.text.encode()) for d in corpus.validation)


def test_split_is_deterministic_and_independent_of_the_path_spelling(text_corpus_dir, monkeypatch):
    first = load_corpus(str(text_corpus_dir))
    monkeypatch.chdir(text_corpus_dir.parent)
    again = load_corpus("./works/")
    assert again.validation == first.validation and again.train == first.train
    assert again.fingerprint == first.fingerprint


def test_glob_selects_matching_files(text_corpus_dir):
    corpus = load_corpus(str(text_corpus_dir / "*.txt"))
    names = [d.name for d in corpus.train + corpus.validation]
    assert len(names) == 8 and all(n.endswith(".txt") for n in names)
    assert corpus.validation[0].name == "work_01.txt"  # the first .txt by name


def test_single_file_holds_out_its_last_tenth_at_a_line_break(tmp_path):
    text = make_text(0, lines=200)
    (tmp_path / "book.txt").write_text(text, "utf-8")
    corpus = load_corpus(str(tmp_path / "book.txt"))
    (train,), (validation,) = corpus.train, corpus.validation
    assert train.text + validation.text == text
    assert train.text.endswith("\n")
    assert 0.05 < len(validation.text) / len(text) < 0.15


def test_jsonl_text_field(tmp_path):
    lines = [json.dumps({"text": make_text(i, lines=3), "id": i}) for i in range(11)]
    lines.insert(3, "")  # blank lines are skipped
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    corpus = load_corpus(str(tmp_path / "docs.jsonl"))
    assert len(corpus.train) + len(corpus.validation) == 11
    assert len(corpus.validation) == 2
    assert corpus.validation[0].text == make_text(0, lines=3)


def test_empty_corpus(tmp_path):
    (tmp_path / "a.txt").write_text("", "utf-8")
    (tmp_path / "b.md").write_text("  \n\n", "utf-8")
    one_line_error(tmp_path, "is empty")


def test_undecodable_bytes_name_the_file(tmp_path):
    (tmp_path / "good.txt").write_text("fine\n", "utf-8")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 au lait\n")
    one_line_error(tmp_path, "bad.txt", "not UTF-8", "0xe9")


def test_jsonl_without_text(tmp_path):
    (tmp_path / "docs.jsonl").write_text('{"text": "ok"}\n{"body": "no text"}\n', "utf-8")
    one_line_error(tmp_path / "docs.jsonl", "docs.jsonl:2", "'text'")


def test_jsonl_bad_json(tmp_path):
    (tmp_path / "docs.jsonl").write_text('{"text": "ok"}\n{"text": \n', "utf-8")
    one_line_error(tmp_path / "docs.jsonl", "docs.jsonl:2", "not valid JSON")


def test_missing_path_and_empty_directory(tmp_path):
    one_line_error(tmp_path / "nowhere" / "*.txt", "no corpus at")
    (tmp_path / "empty").mkdir()
    one_line_error(tmp_path / "empty", "holds no .txt")
