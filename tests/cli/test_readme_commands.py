"""Every command of the README's quick start and "First commands", run as written.

`test_every_readme_command_is_run_by_a_test` reads the README's code blocks and fails when a
command there is not one this module (or `.ci/run`, for the quick start) runs: a README command
that no test runs is a defect. The slow tests run each one through `bash -c`, exactly as the
README spells it, in a scratch home (`~/texts/` is there) whose results directory starts empty;
the default corpus is fetched once into that home's cache. Two liberties, each said where taken:
the README's example run id (`palm-small-20261128-190000`) is replaced by the id of the run the
test trained, and `zoo import ./gpt2-hf/` reads a checkpoint `scripts/tiny_hf_checkpoint.py`
wrote first (the README's own way to get one offline).
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE_RUN_ID = "palm-small-20261128-190000"

# The quick start's commands: `.ci/run` runs each of them as written.
QUICK_START = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
    "zoo train palm-small",
    "python -m pytest -q",
    "bash scripts/slow_suite.sh --deselect tests/faults/test_kill_points.py::test_kill_at_every_write",
]

# "First commands", each with the test below that runs it.
FIRST_COMMANDS = {
    "zoo train palm-small": "test_palm_small_interrupted_resumed_exported_and_generated",
    "zoo train llama --tokens 1e6 --set normalization=layernorm --set norm_bias=true": "test_a_llama_ablation_with_a_token_budget",
    "zoo train gpt2-small --data ~/texts/ --precision mixed_bfloat16 --patience 3": "test_gpt2_small_on_a_directory_of_texts_in_bfloat16_with_patience",
    "zoo train palm-small --resume": "test_palm_small_interrupted_resumed_exported_and_generated",
    "zoo compare --models gpt2,llama": "test_compare_gpt2_and_llama_with_the_defaults",
    "zoo runs": "test_palm_small_interrupted_resumed_exported_and_generated",
    f"zoo export {EXAMPLE_RUN_ID} --out palm.keras": "test_palm_small_interrupted_resumed_exported_and_generated",
    f'zoo generate {EXAMPLE_RUN_ID} --prompt "ROMEO:" -n 200 --sampler top-p --seed 1': "test_palm_small_interrupted_resumed_exported_and_generated",
    "zoo import ./gpt2-hf/ --out gpt2.keras": "test_import_a_local_hugging_face_checkpoint",
    "zoo list": "test_the_commands_that_read_presets_and_studies",
    "zoo list --scale small": "test_the_commands_that_read_presets_and_studies",
    "zoo info palm-540b": "test_the_commands_that_read_presets_and_studies",
    "zoo info llama-7b --json": "test_the_commands_that_read_presets_and_studies",
    "zoo explain": "test_the_commands_that_read_presets_and_studies",
    "zoo explain swiglu": "test_the_commands_that_read_presets_and_studies",
    "zoo report": "test_the_commands_that_read_presets_and_studies",
}


def _section(title):
    """The README's text under the heading that starts with `## {title}`."""
    text = README.read_text()
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _blocks(section, language):
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _commands(section):
    """The bash commands of a README section, without their comments."""
    commands = []
    for block in _blocks(section, "bash"):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_readme_command_is_run_by_a_test():
    quick_start = _commands(_section("Quick start"))
    first = _commands(_section("First commands"))
    assert quick_start == QUICK_START
    ci = (ROOT / ".ci" / "run").read_text()
    for command in QUICK_START:
        assert command in ci, f".ci/run does not run the README's {command!r}"
    assert first == [c for c in FIRST_COMMANDS if c in first] and set(first) == set(
        FIRST_COMMANDS
    ), sorted(set(first) ^ set(FIRST_COMMANDS))
    names = {name for name, value in globals().items() if name.startswith("test_")}
    assert set(FIRST_COMMANDS.values()) <= names
    assert len(_blocks(_section("First commands"), "python")) == 1  # run by test_the_python_api


# --- running them ---


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A scratch home and working directory: `results/` starts empty, and the cache (the
    corpus, tokenizers, baselines) lives under it for this module."""
    return tmp_path_factory.mktemp("home")


def _env(home):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ZOO_CACHE", "ZOO_RESULTS", "XDG_CACHE_HOME", "MPLCONFIGDIR")
    }
    return {
        **env,
        "HOME": str(home),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }


def run(home, command, timeout=1800):
    """`command` through bash in `home`, as a user types it; returns the finished process."""
    started = time.perf_counter()
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=home,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result.wall = time.perf_counter() - started
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


def _runs(home):
    return sorted(p for p in (home / "results").iterdir() if (p / "config.json").exists())


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def _assert_trained_well(run_dir):
    summary = _summary(run_dir)
    assert summary["skipped_steps"] == 0, summary
    # Well under the unigram baseline (about 4.8 bits/byte on the default corpus).
    assert summary["validation_bits_per_byte"] < summary["unigram_bits_per_byte"] - 1.5, summary
    return summary


@pytest.mark.slow
def test_palm_small_interrupted_resumed_exported_and_generated(home):
    """`zoo train palm-small` stopped with Ctrl-C after its second commit, then `zoo train
    palm-small --resume` finishes it (the uninterrupted command is the quick start's, which
    `.ci/run` runs); then `zoo runs`, `zoo export` and `zoo generate` on that run."""
    # Ctrl-C must reach it even when this test runs in a background job, where the shell has
    # set SIGINT to ignored (which Python would then keep): the child gets the default back.
    log = (home / "interrupted.log").open("w")  # a file, not a pipe nobody reads
    process = subprocess.Popen(
        ["bash", "-c", "exec zoo train palm-small"],
        cwd=home,
        env=_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 1800
    metrics = None
    while True:
        assert process.poll() is None and time.time() < deadline, (
            home / "interrupted.log"
        ).read_text()[-3000:]
        found = list((home / "results").glob("palm-small-*/metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 2:
            metrics = found[0]
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=300)
    log.close()
    assert process.returncode != 0
    run_dir = metrics.parent
    assert json.loads((run_dir / "state.json").read_text())["step"] < 300

    resumed = run(home, "zoo train palm-small --resume")
    assert "resuming at step" in resumed.stdout + resumed.stderr
    summary = _assert_trained_well(run_dir)
    assert summary["steps"] == 300

    listed = run(home, "zoo runs")
    assert run_dir.name in listed.stdout
    by_id = lambda command: command.replace(EXAMPLE_RUN_ID, run_dir.name)  # noqa: E731
    run(home, by_id(f"zoo export {EXAMPLE_RUN_ID} --out palm.keras"))
    assert (home / "palm.keras").stat().st_size > 0
    generated = run(
        home,
        by_id(f'zoo generate {EXAMPLE_RUN_ID} --prompt "ROMEO:" -n 200 --sampler top-p --seed 1'),
    )
    assert "ROMEO:" in generated.stdout and "tokens/s" in generated.stdout + generated.stderr


@pytest.mark.slow
def test_a_llama_ablation_with_a_token_budget(home):
    result = run(
        home, "zoo train llama --tokens 1e6 --set normalization=layernorm --set norm_bias=true"
    )
    run_dir = [p for p in _runs(home) if p.name.startswith("llama-small-")][-1]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["normalization"] == "layernorm" and config["model"]["norm_bias"]
    summary = _assert_trained_well(run_dir)
    assert summary["tokens"] >= 1e6 and "validation bits/byte" in result.stdout


@pytest.mark.slow
def test_gpt2_small_on_a_directory_of_texts_in_bfloat16_with_patience(home):
    from zoo.data.shakespeare import shakespeare_documents

    texts = home / "texts"
    texts.mkdir(exist_ok=True)
    for document in shakespeare_documents()[:6]:  # six works as a user's own texts
        (texts / document.name).write_text(document.text)
    result = run(
        home, "zoo train gpt2-small --data ~/texts/ --precision mixed_bfloat16 --patience 3"
    )
    run_dir = [p for p in _runs(home) if p.name.startswith("gpt2-small-")][-1]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run"]["data"] == f"{texts}/" and config["run"]["precision"] == "mixed_bfloat16"
    assert config["run"]["patience"] == 3
    summary = _summary(run_dir)  # six works: patience may stop it early, not before it learns
    assert summary["validation_bits_per_byte"] < summary["unigram_bits_per_byte"] - 1.0, summary
    assert "validation bits/byte" in result.stdout


@pytest.mark.slow
def test_import_a_local_hugging_face_checkpoint(home):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "tiny_hf_checkpoint.py"), "gpt2-hf"],
        cwd=home,
        env=_env(home),
        check=True,
        capture_output=True,
        timeout=900,
    )
    run(home, "zoo import ./gpt2-hf/ --out gpt2.keras")
    assert (home / "gpt2.keras").stat().st_size > 0


@pytest.mark.slow
def test_compare_gpt2_and_llama_with_the_defaults(home):
    """The command the project is described by, with its defaults: both models train to the
    end (1.5e13 FLOPs each) and the table names both, each well under the unigram baseline."""
    result = run(home, "zoo compare --models gpt2,llama")
    out = result.stdout
    assert "gpt2" in out and "llama" in out and "bits/byte" in out, out
    rows = [
        p
        for p in _runs(home)
        if p.name.startswith(("gpt2-small-", "llama-small-"))
        and json.loads((p / "config.json").read_text())["tokenizer"]["mode"] == "shared"
    ]
    assert len(rows) == 2
    for run_dir in rows:
        _assert_trained_well(run_dir)
    print(f"zoo compare --models gpt2,llama: {result.wall:.0f} s\n{out}")


@pytest.mark.slow
def test_the_python_api(home):
    """The README's Python block, as written (it saves palm.keras in the working directory)."""
    (code,) = _blocks(_section("First commands"), "python")
    run(home, f"python - <<'EOF'\n{code}EOF")


def test_the_commands_that_read_presets_and_studies(tmp_path):
    for command in (
        "zoo list",
        "zoo list --scale small",
        "zoo info palm-540b",
        "zoo explain",
        "zoo explain swiglu",
    ):
        assert run(tmp_path, command).stdout.strip(), command
    info = json.loads(run(tmp_path, "zoo info llama-7b --json").stdout)
    assert info["params"] == 6738415616
    written = run(tmp_path, "zoo report")  # into results/report/ under the working directory
    page = tmp_path / "results" / "report" / "index.html"
    assert f"wrote {page.relative_to(tmp_path)}" in written.stdout and page.stat().st_size > 0
