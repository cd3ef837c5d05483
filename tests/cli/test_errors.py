"""Every user error is one line, `error: <reason>` on stderr, exit status 2, no traceback, and
nothing written (design guide): click's usage errors, filesystem errors on write, a backend that
cannot start, bad `--set` values. Bugs keep their tracebacks."""

import errno
import io
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

import zoo
from tests.helpers import assert_one_line, write_verse
from zoo.errors import Placeholder, Setting
from zoo_cli.main import app

runner = CliRunner(env={"COLUMNS": "120"})


def written(root):
    """Every path under `root` (an empty list when nothing was written there)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- 1. click's usage errors: one line, not Typer's usage line, hint and boxed message ---


@pytest.mark.parametrize("args, fragment", [
    (["train", "gpt2-nano", "--tokens", "abc"], "Invalid value for '--tokens'"),
    (["info"], "Missing argument 'NAME'"),
    (["list", "--bogus"], "No such option: --bogus"),
    (["list", "--scale", "huge"], "'huge' is not one of 'paper', 'small', 'nano'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["lst"], "Did you mean 'list'?"),
    (["generate", "model.keras"], "Missing option '--prompt'"),
    (["bench", "anchor", "--steps", "x"], "Invalid value for '--steps'"),  # a nested group
    (["train", "gpt2-nano", "--backend", "foo"],
     "'foo' is not one of 'tensorflow', 'jax', 'auto'"),
])  # fmt: skip
def test_usage_errors_are_one_line(isolated, tmp_path, args, fragment):
    result = runner.invoke(app, args)
    line = assert_one_line(result, fragment)
    assert "╭" not in line and "Usage:" not in result.output
    assert result.stdout == ""
    assert written(tmp_path / "results") == []


def test_help_is_unchanged():
    """`--help` (and `zoo` alone) print exactly what Typer's own group prints."""
    import copy

    import typer.core

    plain = copy.copy(app)
    plain.info = copy.copy(app.info)
    plain.info.cls = typer.core.TyperGroup
    assert "╭─ Error" in runner.invoke(plain, ["info"]).stderr  # what the app's group replaces
    for args in (["--help"], ["train", "--help"], ["bench", "-h"], ["bench", "anchor", "-h"], []):
        ours, typers = runner.invoke(app, args), runner.invoke(plain, args)
        assert (ours.exit_code, ours.stdout, ours.stderr) == (
            typers.exit_code,
            typers.stdout,
            typers.stderr,
        ), args
        assert "Usage: zoo" in ours.stdout and "error:" not in ours.output


@pytest.mark.slow
def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(name):
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr(zoo, "architecture_card", broken)
    result = runner.invoke(app, ["info", "palm"])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    code = (
        "import sys, zoo; zoo.architecture_card = lambda name: 1 / 0; sys.argv = ['zoo', "
        "'info', 'palm']; from zoo_cli.main import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError" in done.stderr


# --- 2. filesystem errors on write ---


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """Twelve small works of random verse (as conftest's `corpus`, once for the module)."""
    words = "the king queen lord lady speak hath thou night day love death sword crown".split()
    return write_verse(tmp_path_factory.mktemp("works"), words=words)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, corpus_dir):
    """A finished gpt2-nano run, for `zoo export`."""
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE", str(root / "cache"))
        zoo.train(
            "gpt2-nano", data=str(corpus_dir), steps=1, eval_interval=1, out=str(root / "run")
        )
    return root / "run"


def writer(request, kind, out):
    """The arguments of a `zoo train`, `zoo export` or `zoo import` that writes to `out`."""
    corpus_dir = request.getfixturevalue("corpus_dir")
    if kind == "train":
        return ["train", "gpt2-nano", "--data", str(corpus_dir), "--steps", "1", "--out", str(out)]
    if kind == "export":
        return ["export", str(request.getfixturevalue("trained_run")), "--out", str(out)]
    request.getfixturevalue("imported")
    return ["import", str(corpus_dir), "--out", str(out)]


# `export` needs a trained run (the module's `trained_run`, a training of its own): slow suite.
EXPORT = pytest.param("export", "m.keras", marks=pytest.mark.slow)
WRITERS = [("train", "run"), EXPORT, ("import", "m.keras"), ("import", "run")]


def _under(path, root):
    if isinstance(path, int):  # a file descriptor
        return False
    return os.path.commonpath([os.path.abspath(os.fsdecode(path)), str(root)]) == str(root)


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """(a directory nothing can be created in, the reason the system gives): mode 0o555, and
    where that does not stop us (root ignores permissions), creating anything inside raises
    EROFS as on a read-only mount."""
    root = tmp_path / "read-only"
    root.mkdir()
    root.chmod(0o555)
    try:
        (root / "probe").touch()
    except PermissionError:
        yield root, os.strerror(errno.EACCES)
        root.chmod(0o755)
        return
    (root / "probe").unlink()
    reason = os.strerror(errno.EROFS)

    def refuse(path):
        raise OSError(errno.EROFS, reason, os.fsdecode(path))

    real_mkdir, real_os_open, real_open = os.mkdir, os.open, io.open

    def mkdir(path, *args, **kwargs):
        return refuse(path) if _under(path, root) else real_mkdir(path, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and _under(path, root):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and _under(file, root):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr("builtins.open", open_)
    yield root, reason
    root.chmod(0o755)


@pytest.mark.parametrize("kind, name", WRITERS)
def test_read_only_out_is_one_line(kind, name, read_only, request, isolated):
    root, reason = read_only
    result = runner.invoke(app, writer(request, kind, root / name))
    line = assert_one_line(result, reason)
    assert line.startswith(f"error: {root}")  # the path first, then the system's reason
    assert written(root) == []


@pytest.fixture
def existing_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


@pytest.mark.parametrize("kind, name", WRITERS)
def test_out_below_an_existing_file_is_one_line(kind, name, existing_file, request, isolated):
    result = runner.invoke(app, writer(request, kind, existing_file / name))
    assert_one_line(result, str(existing_file))
    assert existing_file.read_text() == "not a directory\n"


def test_train_out_naming_an_existing_file_is_one_line(existing_file, request, isolated, tmp_path):
    result = runner.invoke(app, writer(request, "train", existing_file))
    assert_one_line(result, str(existing_file))
    assert existing_file.read_text() == "not a directory\n"
    assert written(tmp_path / "results") == []


@pytest.mark.parametrize("kind", [pytest.param("export", marks=pytest.mark.slow), "import"])
def test_full_disk_is_one_line(kind, tmp_path, monkeypatch, request, isolated):
    import keras

    def full(self, filepath, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))

    out = tmp_path / "out"
    args = writer(request, kind, out / "m.keras")  # (the run to export is trained first)
    monkeypatch.setattr(keras.Model, "save", full)
    result = runner.invoke(app, args)
    assert_one_line(result, str(out), "No space left on device")
    assert written(out) == []


@pytest.fixture
def full_disk_under(monkeypatch):
    """`full_disk_under(root)`: every `Path.write_bytes` below `root` fails with ENOSPC."""
    import pathlib

    real = pathlib.Path.write_bytes

    def arm(root):
        def write_bytes(self, data):
            if _under(self, root):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
            return real(self, data)

        monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)

    return arm


def test_full_disk_in_train_is_one_line(tmp_path, full_disk_under, request, isolated):
    out = tmp_path / "results" / "full"
    full_disk_under(out.parent)
    result = runner.invoke(app, writer(request, "train", out))
    assert_one_line(result, str(out), "No space left on device")


def test_full_disk_in_train_leaves_nothing(tmp_path, full_disk_under, request, isolated):
    out = tmp_path / "results" / "full"
    full_disk_under(out.parent)
    assert runner.invoke(app, writer(request, "train", out)).exit_code == 2
    assert written(out) == []


def test_os_error_reason_names_the_path_and_the_system_reason():
    from zoo_cli.output import os_error_reason

    assert os_error_reason(OSError(errno.EROFS, "Read-only file system", "/x/run")) == (
        "/x/run: Read-only file system"
    )
    assert os_error_reason(OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")) == (
        "/a -> /b: Invalid cross-device link"
    )
    assert os_error_reason(OSError(errno.ENOSPC, "No space left on device")) == (
        "No space left on device"
    )  # a write() names no path


@pytest.mark.parametrize("setting, flag", [
    (Setting("force"), "--force"),
    (Setting("spike_guard", False), "--no-spike-guard"),
    (Setting("backend", "jax"), "--backend jax"),
    (Setting("gradient_accumulation", 4), "--grad-accum 4"),  # the run field's declared flag
    (Setting("overrides", "dropout=0.1"), "--set dropout=0.1"),
    (Setting("init_from", "/my runs/m.keras"), "--init-from '/my runs/m.keras'"),  # as typed
    (Setting("tokenizer", Placeholder("DIR")), "--tokenizer DIR"),
])  # fmt: skip
def test_library_settings_are_printed_as_flags(setting, flag):
    """The library names fields (`pass force=True`); the command line prints flags."""
    from zoo_cli.output import flag_message

    error = zoo.FieldError("out", "'m.keras' is taken; pass ", setting, " instead")
    assert str(error) == f"out 'm.keras' is taken; pass {setting} instead"
    assert flag_message(error) == f"--out 'm.keras' is taken; pass {flag} instead"
    # a command maps its own fields: zoo generate's `source` is its RUN_OR_FILE argument
    error = zoo.FieldError("source", "'m.keras': see ", setting)
    assert flag_message(error, {"source": "RUN_OR_FILE"}) == f"RUN_OR_FILE 'm.keras': see {flag}"


def test_an_existing_out_is_refused_naming_the_force_flag(tmp_path, isolated):
    out = tmp_path / "theirs.keras"
    out.write_bytes(b"someone else's model")
    result = runner.invoke(app, ["export", "no-such-run", "--out", str(out)])
    assert_one_line(
        result, expected=f"error: --out {str(out)!r} already exists; pass --force to replace it"
    )


# --- 3. the backend, before anything imports Keras ---

MAIN = textwrap.dedent("""
    import importlib.util, os, sys
    if os.environ.pop("HIDE_JAX", None):  # as if jax were not installed
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *args, **kwargs: (
            None if name.partition(".")[0] == "jax" else real(name, *args, **kwargs))
    sys.argv = ["zoo", *sys.argv[1:]]
    from zoo_cli.main import main
    try:
        main()
    finally:
        print("keras imported:", "keras" in sys.modules)
""")


def _fresh_zoo(*args, keras_backend=None, hide_jax=False):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if keras_backend is not None:
        env["KERAS_BACKEND"] = keras_backend
    if hide_jax:
        env["HIDE_JAX"] = "1"
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.parametrize("args, keras_backend, hide_jax, expected", [
    (["train", "palm-nano"], "foo", False,
     "error: KERAS_BACKEND must be one of tensorflow, jax; received 'foo'"),
    (["train", "palm-nano"], "jax", True,
     "error: KERAS_BACKEND=jax needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"),
    (["generate", "m.keras", "-p", "x", "--backend", "foo"], None, False,
     "error: --backend must be one of tensorflow, jax, auto; received 'foo'"),
    (["train", "palm-nano"], "auto", False,
     "error: KERAS_BACKEND must be one of tensorflow, jax; received 'auto' "
     "(auto is a --backend choice)"),
    (["train", "gpt2-nano", "--backend", "auto", "--strategy", "data-parallel"], None, True,
     "error: --backend auto: jax (strategy data-parallel runs on jax only), which needs JAX: "
     "pip install -e '.[jax]' (jax[cuda12] on GPUs)"),
    (["generate", "m.keras", "-p", "x", "--backend", "jax"], None, True,
     "error: --backend jax needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"),
    (["train", "gpt2-nano", "--backend", "jax"], "tensorflow", True,
     "error: --backend jax needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"),
    (["bench", "anchor", "--backend", "jax"], None, True,
     "error: --backend jax needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"),
])  # fmt: skip
def test_backend_errors_come_before_keras(tmp_path, args, keras_backend, hide_jax, expected):
    done = _fresh_zoo(*args, keras_backend=keras_backend, hide_jax=hide_jax)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [expected]
    assert done.stdout == "keras imported: False\n"


@pytest.mark.slow  # a subprocess of its own (the README's rule for the default suite)
def test_backend_auto_is_chosen_before_keras_starts():
    """`--backend auto` passes the backend check and sets KERAS_BACKEND to its choice (what
    this machine's choice is: `zoo.backend_choice.choose_backend`), here for `zoo generate`,
    which then fails on its missing model with its own one-line error."""
    from zoo.backend_choice import choose_backend

    done = _fresh_zoo(
        "generate", "m.keras", "-p", "x", "--backend", "auto", keras_backend="not-read"
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: RUN_OR_FILE 'm.keras' is neither a run nor a .keras file"
    ]
    assert done.stdout == "keras imported: True\n"  # on the chosen backend, not $KERAS_BACKEND
    script = (
        "import os, sys; from zoo_cli.options import use_backend; use_backend('auto'); "
        "print(os.environ['KERAS_BACKEND'], 'keras' in sys.modules)"
    )
    chose = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KERAS_BACKEND": "not-read"},
    )
    assert chose.stdout.split() == [choose_backend()[0], "False"], chose.stderr


def test_commands_without_keras_ignore_the_keras_backend():
    """`zoo info` builds nothing, so a KERAS_BACKEND it would refuse does not concern it."""
    done = _fresh_zoo("info", "palm", "--json", keras_backend="foo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("keras imported: False\n")


def test_backend_check_in_process(monkeypatch, isolated):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "jax" else real(name, *a, **k),
    )
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    result = runner.invoke(app, ["generate", "m.keras", "-p", "x", "--backend", "jax"])
    assert_one_line(result, "--backend jax needs JAX")
    assert os.environ["KERAS_BACKEND"] == "tensorflow"  # a refused backend is not chosen


def test_commands_that_build_nothing_import_neither_keras_nor_tensorflow():
    """`zoo list`, `zoo info`, `zoo runs` and `--help` run on the lazy `import zoo`."""
    code = (
        "import sys; from typer.testing import CliRunner; from zoo_cli.main import app; "
        "runner = CliRunner(); "
        "codes = [runner.invoke(app, args).exit_code for args in "
        "(['list'], ['info', 'palm-540b', '--json'], ['runs'], ['train', '--help'])]; "
        "print(codes, 'keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ZOO_RESULTS": "/nonexistent"},
    )
    assert result.stdout.split() == ["[0,", "0,", "0,", "0]", "False", "False"], result.stderr


# --- 4. `--set` values, checked by the field's declared type as they are parsed ---


@pytest.mark.parametrize("pair, expected", [
    ("warmup_steps=abc", "warmup_steps must be a non-negative integer; received 'abc'"),
    ("warmup_steps=1.5", "warmup_steps must be a non-negative integer; received 1.5"),
    ("warmup_steps=-1", "warmup_steps must be a non-negative integer; received -1"),
    ("warmup_steps=true", "warmup_steps must be a non-negative integer; received True"),
    ("learning_rate=fast", "learning_rate must be a positive number; received 'fast'"),
    ("learning_rate=inf", "learning_rate must be a positive number; received 'inf'"),
    ("learning_rate=nan", "learning_rate must be a positive number; received 'nan'"),
    ("learning_rate=-1", "learning_rate must be a positive number; received -1"),
    ("learning_rate=1e999", "learning_rate must be a finite number; received '1e999'"),
    ("learning_rate=NaN", "learning_rate must be a finite number; received 'NaN'"),
    ("batch_tokens=0", "batch_tokens must be a positive integer; received 0"),
    ("clip_norm=off", "clip_norm must be a positive number or null; received 'off'"),
    ("beta_2=1", "beta_2 must be a number in [0, 1) or null; received 1"),
    ("norm_epsilon=1e999", "norm_epsilon must be a finite number; received '1e999'"),
    ("hidden_dim=abc", "hidden_dim must be a positive integer; received hidden_dim='abc'"),
])  # fmt: skip
def test_bad_set_values_are_one_line_and_write_nothing(pair, expected, corpus, isolated, tmp_path):
    result = runner.invoke(
        app, ["train", "gpt2-nano", "--data", str(corpus), "--steps", "2", "--set", pair]
    )
    assert assert_one_line(result) == f"error: {expected}"
    assert written(tmp_path / "results") == []
