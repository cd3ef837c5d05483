import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

from tests.helpers import write_verse  # noqa: E402

# No backend is imported here: collecting a test file that needs none loads none
# (tests/test_test_helpers.py checks it). Keras comes in with the first test that runs.


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture
def corpus(tmp_path):
    """Twelve small works of random verse: validation holds out works 00 and 10."""
    return write_verse(tmp_path / "works")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A private cache and results directory, so tests never share runs or tokenizers."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_RESULTS", str(tmp_path / "results"))
