import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

import zoo  # noqa: E402

FAMILIES = zoo.list_families()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
