"""The command line's contract with the library: what each flag of `zoo train`, `zoo compare`,
`zoo sweep isoflop|compute` and `zoo generate` arrives as.

Each test replaces the one library call the command makes with a recorder that checks the call
binds to the real function's signature, records the resolved arguments and returns something
minimal. Nothing trains, builds or loads a model, so the whole file takes seconds.
"""

import inspect
import json
import os
import types

import pytest

import zoo
import zoo.generation
import zoo.experiments.sweep
from tests.helpers import invoker
from zoo.run_config import Precision
from zoo_cli.main import app

invoke = invoker(app, columns=200)
pytestmark = pytest.mark.usefixtures("isolated")


class Recorder:
    """Stands in for a library function: the call must bind to `real`'s signature (so the CLI
    passes nothing the library does not take); `arguments` is the bound call, and `calls`
    counts them."""

    def __init__(self, real, returns=None, raises=None):
        self.signature = inspect.signature(real)
        self.returns, self.raises = returns, raises
        self.arguments, self.calls = None, 0

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)  # TypeError: a call the library refuses
        self.calls += 1
        self.arguments = dict(bound.arguments)
        if self.raises is not None:
            raise self.raises
        return self.returns(self.arguments) if callable(self.returns) else self.returns

    def fields(self):
        """The `**fields` the call passed (RunConfig fields)."""
        name = next(
            p.name
            for p in self.signature.parameters.values()
            if p.kind is inspect.Parameter.VAR_KEYWORD
        )
        return self.arguments.get(name, {})


def ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# --- zoo train -> zoo.train(name, overrides=, out=, resume=, reporter=, **fields) ---


def fake_record(arguments):
    return types.SimpleNamespace(path="results/fake-run", summary=lambda: {"params": 123_456})


@pytest.fixture
def train(monkeypatch):
    recorder = Recorder(zoo.train, returns=fake_record)
    monkeypatch.setattr(zoo, "train", recorder)
    return recorder


def test_train_flags_arrive_as_run_config_fields(train, tmp_path):
    result = ok(
        invoke(
            "train",
            "gpt2-nano",
            "--tokens",
            "2e6",
            "--batch-size",
            8,
            "--grad-accum",
            2,
            "--precision",
            "mixed_bfloat16",
            "--seed",
            3,
            "--no-spike-guard",
            "--set",
            "normalization=layernorm",
            "--set",
            "learning_rate=1e-3",
            "--out",
            tmp_path / "run",
        )
    )
    assert "run written to results/fake-run" in result.stdout and "123.5K" in result.stdout
    assert train.calls == 1
    args = train.arguments
    assert args["name"] == "gpt2-nano"
    assert list(args["overrides"]) == ["normalization=layernorm", "learning_rate=1e-3"]
    assert args["out"] == str(tmp_path / "run") and args["resume"] is False
    assert args["reporter"] is not None  # the rich progress display
    fields = train.fields()
    assert fields["tokens"] == 2e6 and fields["batch_size"] == 8
    assert fields["gradient_accumulation"] == 2 and fields["seed"] == 3
    assert fields["precision"] == "mixed_bfloat16" and fields["spike_guard"] is False
    config = zoo.RunConfig(**fields)
    assert config.tokens == 2_000_000 and isinstance(config.tokens, int)
    assert config.given_budget == {"tokens": 2_000_000}
    assert config.batch_size == 8 and config.gradient_accumulation == 2 and config.seed == 3
    assert config.precision is Precision.MIXED_BFLOAT16
    assert config.spike_guard is False
    # what the flags did not say stays the default
    assert config.data == "shakespeare" and config.tokenizer.value == "native"
    assert config.eval_interval is None and config.patience is None and config.init_from is None


def test_train_defaults_arrive_as_the_run_config_defaults(train):
    ok(invoke("train", "llama-nano"))
    args = train.arguments
    assert args["name"] == "llama-nano"
    assert tuple(args["overrides"]) == () and args["out"] is None and args["resume"] is False
    fields = train.fields()
    # unset options are left out, not passed as None
    assert set(fields) == {
        "data",
        "precision",
        "tokenizer",
        "gradient_accumulation",
        "spike_guard",
        "seed",
    }
    assert zoo.RunConfig(**fields) == zoo.RunConfig()
    assert zoo.RunConfig(**fields).given_budget == {}  # the recipe's own training_tokens


@pytest.mark.parametrize("flags, field, value", [
    (["--flops", "1e12"], "flops", 1e12),
    (["--chinchilla", "0.5"], "chinchilla", 0.5),
    (["--steps", "7"], "steps", 7),
])  # fmt: skip
def test_train_budget_flags(train, flags, field, value):
    ok(invoke("train", "gpt2-nano", *flags))
    config = zoo.RunConfig(**train.fields())
    assert config.given_budget == {field: value}


def test_train_remaining_flags(train, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # --backend sets it; restored after
    init = tmp_path / "start.keras"
    ok(
        invoke(
            "train",
            "gpt2-nano",
            "--data",
            tmp_path,
            "--tokenizer",
            "shared",
            "--eval-interval",
            5,
            "--patience",
            2,
            "--rewind-after-spikes",
            3,
            "--init-from",
            init,
            "--strategy",
            "none",
            "--backend",
            "tensorflow",
        )
    )
    config = zoo.RunConfig(**train.fields())
    assert config.data == str(tmp_path) and config.tokenizer.value == "shared"
    assert config.eval_interval == 5 and config.patience == 2
    assert config.rewind_after_spikes == 3 and config.spike_guard is True
    assert config.init_from == str(init)
    assert config.strategy.value == "none" and config.backend.value == "tensorflow"


def test_train_backend_auto_arrives_as_auto(train, tmp_path, monkeypatch):
    """The library resolves and records `auto` (Keras runs already here, so the command leaves
    KERAS_BACKEND alone); a resumed run may change to it, as to any backend."""
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    ok(invoke("train", "gpt2-nano", "--backend", "auto"))
    assert zoo.RunConfig(**train.fields()).backend.value == "auto"
    ok(invoke("train", "gpt2-nano", "--resume", "--out", tmp_path / "run", "--backend", "auto"))
    assert train.fields() == {"backend": "auto"}
    assert os.environ["KERAS_BACKEND"] == "tensorflow"


def test_train_resume_passes_only_what_changed(train, tmp_path):
    ok(invoke("train", "gpt2-nano", "--resume", "--out", tmp_path / "run"))
    assert train.arguments["resume"] is True and train.arguments["out"] == str(tmp_path / "run")
    assert train.fields() == {}  # the recorded run's settings apply
    ok(invoke("train", "gpt2-nano", "--resume", "--strategy", "none"))
    assert train.fields() == {"strategy": "none"}


def test_train_run_failed_exits_3_and_bad_input_exits_2(monkeypatch):
    monkeypatch.setattr(zoo, "train", Recorder(zoo.train, raises=zoo.RunFailed("loss is nan", 4)))
    result = invoke("train", "gpt2-nano", "--steps", 5)
    assert result.exit_code == 3 and "error: loss is nan" in result.stderr
    monkeypatch.setattr(zoo, "train", Recorder(zoo.train, raises=zoo.ZooError("no such corpus")))
    result = invoke("train", "gpt2-nano")
    assert result.exit_code == 2 and result.stderr.strip() == "error: no such corpus"


def test_train_field_errors_name_the_flag(monkeypatch):
    def strict(name, **kwargs):  # the real zoo.train builds a RunConfig from the fields
        zoo.RunConfig(
            **{
                k: v
                for k, v in kwargs.items()
                if k not in ("overrides", "out", "resume", "reporter")
            }
        )

    monkeypatch.setattr(zoo, "train", strict)
    result = invoke("train", "gpt2-nano", "--grad-accum", 0)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --grad-accum must be an integer at least 1")


def test_train_errors_name_other_fields_as_flags(monkeypatch):
    """A library message that points at another field (`use backend='jax'`) names its flag."""
    from zoo.training.distribution import check_strategy

    def strict(name, **kwargs):
        check_strategy("data-parallel", "tensorflow")

    monkeypatch.setattr(zoo, "train", strict)
    result = invoke("train", "gpt2-nano")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: --strategy data-parallel is Keras's JAX distribution API: use --backend jax "
        "(on tensorflow: mirrored, multi-worker, tpu)"
    )


def test_strategy_help_is_read_from_the_run_config():
    from zoo_cli.options import STRATEGY_HELP

    assert STRATEGY_HELP.startswith(
        "none (either backend); mirrored, multi-worker or tpu (tensorflow only); "
        "data-parallel or model-parallel (jax only); auto (default) picks by the visible devices."
    )


# --- zoo compare -> zoo.compare(models, budget=, seeds=, ablate=, overrides=, tune_lr=,
#     reporter=, **fields) ---


COMPARISON = {
    "rows": [],
    "budget_flops": 1e12,
    "data": "shakespeare",
    "tokenizer": "shared",
    "seeds": 1,
}


@pytest.fixture
def compare(monkeypatch):
    recorder = Recorder(zoo.compare, returns=COMPARISON)
    monkeypatch.setattr(zoo, "compare", recorder)
    return recorder


def test_compare_flags(compare):
    result = ok(
        invoke(
            "compare",
            "--models",
            "gpt2-nano,llama-nano",
            "--budget",
            "1e12",
            "--seeds",
            2,
            "--ablate",
            "position=learned,normalization=layernorm",
            "--set",
            "dropout=0.1",
            "--tune-lr",
            "--tokenizer",
            "native",
            "--precision",
            "mixed_bfloat16",
            "--batch-size",
            4,
            "--grad-accum",
            2,
            "--eval-interval",
            5,
            "--patience",
            3,
            "--no-spike-guard",
            "--json",
        )
    )
    assert json.loads(result.stdout) == COMPARISON  # --json: the library's dict, as is
    args = compare.arguments
    assert args["models"] == "gpt2-nano,llama-nano"  # split by the library, not the CLI
    assert args["budget"] == 1e12 and args["seeds"] == 2 and args["tune_lr"] is True
    assert args["ablate"] == "position=learned,normalization=layernorm"
    assert list(args["overrides"]) == ["dropout=0.1"]
    config = zoo.RunConfig(**compare.fields())
    assert config.tokenizer.value == "native"
    assert config.precision.value == "mixed_bfloat16"
    assert config.batch_size == 4 and config.gradient_accumulation == 2
    assert config.eval_interval == 5 and config.patience == 3 and config.spike_guard is False
    assert config.given_budget == {}  # the comparison's budget is its own argument, not a field
    assert "seed" not in compare.fields()  # seeds are the comparison's: 0 .. seeds - 1


def test_compare_defaults(compare):
    ok(invoke("compare", "--models", "gpt2-nano", "--json"))
    args = compare.arguments
    assert args["budget"] is None  # the library's DEFAULT_BUDGET applies
    assert args["seeds"] == 1 and args["ablate"] is None and args["tune_lr"] is False
    assert tuple(args["overrides"]) == ()
    fields = compare.fields()
    assert fields["tokenizer"] == "shared"  # compare's default, unlike train's native
    assert zoo.RunConfig(**fields) == zoo.RunConfig(tokenizer="shared")


def test_compare_plot_is_checked_first_and_written_after(compare, monkeypatch, tmp_path):
    plots = Recorder(zoo.plot_comparison)
    monkeypatch.setattr(zoo, "plot_comparison", plots)
    ok(invoke("compare", "--models", "gpt2-nano", "--plot", tmp_path / "c.png", "--json"))
    assert plots.arguments == {"comparison": COMPARISON, "path": str(tmp_path / "c.png")}
    result = invoke("compare", "--models", "gpt2-nano", "--plot", tmp_path / "c.gif")
    assert result.exit_code == 2 and "--plot must end in" in result.stderr
    assert compare.calls == 1  # the bad path stopped it before the comparison


# --- zoo sweep isoflop|compute -> zoo.experiments.sweep.sweep_isoflop / sweep_compute ---


SWEEP = {"kind": "fake", "plan": []}


@pytest.fixture
def isoflop(monkeypatch):
    recorder = Recorder(zoo.experiments.sweep.sweep_isoflop, returns=SWEEP)
    monkeypatch.setattr(zoo.experiments.sweep, "sweep_isoflop", recorder)
    return recorder


@pytest.fixture
def compute(monkeypatch):
    recorder = Recorder(zoo.experiments.sweep.sweep_compute, returns=SWEEP)
    monkeypatch.setattr(zoo.experiments.sweep, "sweep_compute", recorder)
    return recorder


def test_sweep_isoflop_flags(isoflop, tmp_path):
    result = ok(
        invoke(
            "sweep",
            "isoflop",
            "--model",
            "llama-nano",
            "--budgets",
            "1e10,3e10",
            "--sizes",
            3,
            "--seeds",
            2,
            "--params",
            "non-embedding",
            "--set",
            "normalization=layernorm",
            "--tune-lr",
            "--bootstrap",
            50,
            "--data",
            tmp_path,
            "--precision",
            "mixed_bfloat16",
            "--spike-guard",
            "--jobs",
            1,
            "--dry-run",
            "--json",
        )
    )
    assert json.loads(result.stdout) == SWEEP
    args = isoflop.arguments
    assert args["jobs"] == 1
    assert args["model"] == "llama-nano" and args["budgets"] == "1e10,3e10"
    assert args["sizes"] == 3 and args["seeds"] == 2 and args["params"] == "non-embedding"
    assert list(args["overrides"]) == ["normalization=layernorm"]
    assert args["tune_lr"] is True and args["bootstrap"] == 50 and args["dry_run"] is True
    config = zoo.RunConfig(**isoflop.fields())
    assert config.data == str(tmp_path) and config.precision.value == "mixed_bfloat16"
    assert config.spike_guard is True


def test_sweep_isoflop_defaults(isoflop):
    ok(invoke("sweep", "isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--json"))
    args = isoflop.arguments
    assert args["sizes"] == 5 and args["seeds"] == 1 and args["params"] == "total"
    assert args["tune_lr"] is False and args["bootstrap"] == 200 and args["dry_run"] is False
    assert tuple(args["overrides"]) == ()
    from zoo.experiments.pool import default_jobs

    assert args["jobs"] == default_jobs()
    fields = isoflop.fields()
    assert fields == {"data": "shakespeare", "precision": "float32", "spike_guard": False}
    assert zoo.RunConfig(**fields).spike_guard is False  # off in sweeps, unlike zoo train


def test_sweep_compute_flags_and_defaults(compute, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    ok(
        invoke(
            "sweep",
            "compute",
            "--models",
            "gpt2-nano,llama-nano",
            "--budgets",
            "1e10,3e10",
            "--seeds",
            3,
            "--ablate",
            "position=learned",
            "--allocation",
            "fixed",
            "--bootstrap",
            10,
            "--strategy",
            "none",
            "--backend",
            "tensorflow",
            "--dry-run",
            "--json",
        )
    )
    args = compute.arguments
    assert args["models"] == "gpt2-nano,llama-nano" and args["budgets"] == "1e10,3e10"
    assert args["seeds"] == 3 and args["ablate"] == "position=learned"
    assert args["allocation"] == "fixed" and args["bootstrap"] == 10 and args["dry_run"] is True
    config = zoo.RunConfig(**compute.fields())
    assert config.strategy.value == "none" and config.backend.value == "tensorflow"

    ok(invoke("sweep", "compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--dry-run"))
    args = compute.arguments
    assert args["seeds"] == 1 and args["ablate"] is None and args["tune_lr"] is False
    assert args["allocation"] == "compute-optimal" and args["bootstrap"] == 1000
    assert compute.fields() == {"data": "shakespeare", "precision": "float32", "spike_guard": False}


def test_sweep_plot_path_is_checked_before_the_sweep(isoflop, compute):
    result = invoke(
        "sweep", "compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--plot", "sweep.gif"
    )
    assert result.exit_code == 2 and "--plot must end in" in result.stderr
    assert compute.calls == 0 and isoflop.calls == 0


# --- zoo generate -> zoo.load_for_generation(source, tokenizer), then
#     zoo.generation.make_sampler(...) and zoo.generation.generate(model, tokenizer, ...) ---


class FakeGeneration:
    text = " and more"
    prompt_tokens, new_tokens = 3, 2
    seconds, tokens_per_second, compile_seconds = 0.5, 4.0, 0.1
    cache_bytes, cache_bytes_per_token, xla = 1024, 64.0, False


@pytest.fixture
def generation(monkeypatch):
    model, tokenizer, sampler = object(), object(), object()
    assets = types.SimpleNamespace(load=lambda: tokenizer, end_of_text_id=7)
    load = Recorder(zoo.load_for_generation, returns=(model, assets))
    samplers = Recorder(zoo.generation.make_sampler, returns=sampler)

    def produce(arguments):
        if arguments.get("on_text"):
            arguments["on_text"](FakeGeneration.text)
        return FakeGeneration()

    run = Recorder(zoo.generation.generate, returns=produce)
    monkeypatch.setattr(zoo, "load_for_generation", load)
    monkeypatch.setattr(zoo.generation, "make_sampler", samplers)
    monkeypatch.setattr(zoo.generation, "generate", run)
    return types.SimpleNamespace(
        load=load, samplers=samplers, run=run, model=model, tokenizer=tokenizer, sampler=sampler
    )


def test_generate_flags(generation, tmp_path):
    result = ok(
        invoke(
            "generate",
            tmp_path / "model.keras",
            "--prompt",
            "ROMEO:",
            "-n",
            12,
            "--sampler",
            "top-k",
            "--top-k",
            5,
            "--top-p",
            0.5,
            "--temperature",
            0.7,
            "--seed",
            9,
            "--tokenizer",
            tmp_path / "tok",
            "--no-cache",
            "--no-stop",
            "--no-stream",
            "--json",
        )
    )
    assert generation.load.arguments == {
        "source": str(tmp_path / "model.keras"),
        "tokenizer": str(tmp_path / "tok"),
    }
    sampler = generation.samplers.arguments
    assert sampler["name"] == "top-k" and sampler["k"] == 5 and sampler["p"] == 0.5
    assert sampler["temperature"] == 0.7 and sampler["seed"] == 9
    run = generation.run.arguments
    assert run["model"] is generation.model and run["tokenizer"] is generation.tokenizer
    assert run["prompt"] == "ROMEO:" and run["max_new_tokens"] == 12
    assert run["sampler"] is generation.sampler
    assert run["use_cache"] is False and run["stop_token_id"] is None
    assert run.get("on_text") is None  # --json (and --no-stream): nothing streamed
    facts = json.loads(result.stdout)
    assert facts["prompt"] == "ROMEO:" and facts["text"] == " and more"
    assert facts["new_tokens"] == 2 and facts["cache_bytes_per_token"] == 64.0


def test_generate_defaults_stream_and_stop_at_end_of_text(generation):
    result = ok(invoke("generate", "some-run", "--prompt", "ROMEO:"))
    assert generation.load.arguments == {"source": "some-run", "tokenizer": None}
    sampler = generation.samplers.arguments
    assert sampler["name"] == "greedy" and sampler["temperature"] == 1.0
    assert sampler["k"] == 50 and sampler["p"] == 0.9 and sampler["seed"] is None
    run = generation.run.arguments
    assert run["max_new_tokens"] == 100 and run["use_cache"] is True
    assert run["stop_token_id"] == 7  # the tokenizer's end of text
    assert callable(run["on_text"])  # streamed
    assert result.stdout.startswith("ROMEO: and more")
    assert (
        "2 tokens in 0.50 s" in result.stdout and "key/value cache 64 bytes/token" in result.stdout
    )
