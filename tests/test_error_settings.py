"""Library errors name fields, never the command line's flags: a message that points at another
input holds a `Setting`, which `str(error)` writes as a Python caller passes it (`force=True`)
and each front end writes its own way (the command line's: tests/cli/test_errors.py)."""

import pickle

import pytest

import zoo
from zoo.errors import FieldError, Placeholder, Setting, ZooError
from zoo.run_config import Backend, RunConfigError


def test_an_existing_out_names_force_as_a_python_caller_passes_it(tmp_path):
    from zoo.storage.models import export_model

    out = tmp_path / "theirs.keras"
    out.write_bytes(b"someone else's model")
    with pytest.raises(FieldError) as refused:
        export_model("no-such-run", out)  # `out` is checked before the run is looked up
    assert refused.value.field == "out"
    assert str(refused.value) == f"out {str(out)!r} already exists; pass force=True to replace it"


def test_settings_read_as_keyword_arguments():
    error = ZooError(
        "pass ",
        Setting("force"),
        ", ",
        Setting("spike_guard", False),
        ", ",
        Setting("backend", Backend.JAX),  # an enum reads as its value
        " or ",
        Setting("tokenizer", Placeholder("DIR")),  # a value the user chooses: bare
    )
    assert str(error) == "pass force=True, spike_guard=False, backend='jax' or tokenizer=DIR"
    assert (
        error.render(lambda s: f"<{s.field}>")
        == "pass <force>, <spike_guard>, <backend> or <tokenizer>"
    )


@pytest.mark.parametrize("error", [
    ZooError("plain text"),
    FieldError("out", "'m.keras' already exists; pass ", Setting("force"), " to replace it"),
    RunConfigError("strategy", "tpu is a tf.distribute strategy: use ", Setting("backend", "tensorflow")),
    zoo.ConfigError("bad ", Setting("num_layers", 2)),
])  # fmt: skip
def test_errors_survive_pickling_whole(error):
    """Worker processes send errors back pickled: the type, field and parts must arrive."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.parts == error.parts and getattr(copy, "field", None) == getattr(
        error, "field", None
    )
