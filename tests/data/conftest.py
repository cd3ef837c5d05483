"""Tiny corpora built in tmp_path, and a private cache per test: no network, no shared state."""

import random

import pytest

WORDS = (
    "the king queen lord lady speak hath thou thee thy night day love death sword crown "
    "france england gentle noble sweet good fair heaven earth blood honour father son "
    "brother come go stay fly weep laugh answer tell know think 1599 42 café naïve"
).split()


@pytest.fixture(autouse=True)
def _private_cache(request, tmp_path_factory, monkeypatch):
    # Slow tests use the real user cache (the Shakespeare texts live there).
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setenv("ZOO_CACHE", str(tmp_path_factory.mktemp("cache")))


def make_text(seed, lines=40):
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
        line = " ".join(words).capitalize() + rng.choice([".", ",", "!", "?", ";"])
        out.append(("    " if rng.random() < 0.2 else "") + line)
        if rng.random() < 0.15:
            out.append("")  # blank lines, so "\n\n" occurs
    return "\n".join(out) + "\n"


@pytest.fixture
def text_corpus_dir(tmp_path):
    """A directory of 12 small works (.txt and .md): validation is works 00 and 10."""
    root = tmp_path / "works"
    root.mkdir()
    for i in range(12):
        (root / f"work_{i:02d}{'.md' if i % 3 == 0 else '.txt'}").write_text(make_text(i), "utf-8")
    return root
