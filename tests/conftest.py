import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import random  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402

import zoo  # noqa: E402

FAMILIES = zoo.list_families()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


WORDS = ("the king queen lord lady speak hath thou thee thy night day love death sword crown "
         "france england gentle noble sweet good fair heaven earth blood honour").split()


@pytest.fixture
def corpus(tmp_path):
    """Twelve small works of random verse: validation holds out works 00 and 10."""
    root = tmp_path / "works"
    root.mkdir()
    for i in range(12):
        rng = random.Random(i)
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(120)]
        (root / f"work_{i:02d}.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A private cache and results directory, so tests never share runs or tokenizers."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_RESULTS", str(tmp_path / "results"))
