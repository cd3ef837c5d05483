"""Every command of the README's "Several devices, hosts and backends", run by a test.

`test_every_distribution_command_is_run_by_a_test` (default suite) reads the section's bash
blocks and fails when a command there is not in `COMMANDS`, which names the slow test that runs
it. The slow tests run each through `bash -c` as the README spells it, with these liberties,
each applied by `_as_run` (the README's commands are meant for GPUs, hosts and hours; a test
here has two CPU cores and minutes):

- every `zoo train`, `zoo sweep` and `zoo tune` gets `--data` (the test's verse corpus) and each
  `zoo train` `--steps 4 --eval-interval 2`: under test are its strategy, backend and
  environment, not its default budget (the quick start trains a -small preset with its defaults);
- the GPU commands run on virtual CPU devices, with `ZOO_CPU_DEVICES=2` (4 for model
  parallelism) set, the README's own "try any of them on a laptop"; without it the first refuses
  in one line;
- `host1:12345` and `host2:12345` are 127.0.0.1 at two free ports, `/shared/runs` a scratch
  directory, and the second host's command (the README's comment: index 1, process id 1) runs
  beside the first;
- where no TPU is reachable, the TPU command must refuse in one line (exit 2, nothing written);
- the shared store's sweep and tune keep their options but train at 1e9 FLOPs (`--budgets
  1e12,3e12,1e13 --seeds 3` becomes `--budgets 1e9,2e9 --seeds 1`, `--flops 1e12 ... --trials
  40` becomes `--flops 1e9 ... --trials 3`), the sweep's command runs twice at once (two hosts),
  `zoo bench store` times one round of 10 trials (its defaults, 3 rounds of 50, made the
  committed figure), and the scratch server gets a fresh directory and a free port.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.helpers import free_ports, is_one_line_refusal

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "Several devices, hosts and backends"

HOST_TF = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": '
    '{"type": "worker", "index": 0}}\' zoo train llama-small --strategy multi-worker '
    "--out /shared/runs/llama"
)
HOST_JAX = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES=host1:12345,host2:12345 KERAS_DISTRIBUTION_NUM_PROCESSES=2 "
    "KERAS_DISTRIBUTION_PROCESS_ID=0 zoo train llama-small --backend jax --strategy data-parallel "
    "--out /shared/runs/llama"
)
SWEEP = 'zoo sweep compute --models gpt2,llama --budgets 1e12,3e12,1e13 --seeds 3 --storage "$url"'
TUNE = (
    "zoo tune llama-small --flops 1e12 --space learning_rate=log:1e-4:1e-1 --trials 40 "
    '--storage "$url"'
)
COMMANDS = {
    "zoo train llama-small --strategy mirrored": "test_the_one_host_commands",
    "zoo train llama-small --backend jax --strategy data-parallel": "test_the_one_host_commands",
    "zoo train palm-small --backend jax --strategy model-parallel": "test_the_one_host_commands",
    HOST_TF: "test_the_several_hosts_commands",
    HOST_JAX: "test_the_several_hosts_commands",
    "TPU_NAME=local zoo train palm-small --strategy tpu --precision mixed_bfloat16": "test_the_one_host_commands",
    "ZOO_CPU_DEVICES=2 zoo train gpt2-nano --strategy mirrored": "test_the_one_host_commands",
    "ZOO_CPU_DEVICES=4 zoo train llama-nano --backend jax --strategy model-parallel": "test_the_one_host_commands",
    "ZOO_CPU_DEVICES=4 zoo train llama-nano --backend jax --strategy data-parallel --shard-optimizer": "test_the_one_host_commands",
    "url=$(bash scripts/scratch_postgres.sh start /tmp/zoo-pg)": "test_the_shared_store_commands",
    SWEEP: "test_the_shared_store_commands",
    TUNE: "test_the_shared_store_commands",
    'zoo bench store --storage "$url"': "test_the_shared_store_commands",
}
# The GPU commands, and the virtual CPU devices each runs on here.
VIRTUAL_DEVICES = {
    "zoo train llama-small --strategy mirrored": 2,
    "zoo train llama-small --backend jax --strategy data-parallel": 2,
    "zoo train palm-small --backend jax --strategy model-parallel": 4,
}
SMALLER = {  # the store's commands at 1e9 FLOPs, and its bench one short round
    "--budgets 1e12,3e12,1e13 --seeds 3": "--budgets 1e9,2e9 --seeds 1",
    "--flops 1e12": "--flops 1e9",
    "--trials 40": "--trials 3",
    'bench store --storage "$url"': 'bench store --storage "$url" --trials 10 --rounds 1',
}


def _commands():
    """The section's bash commands, continuation lines joined, comments dropped."""
    text = README.read_text()
    start = text.index(f"\n## {SECTION}")
    section = text[start : text.find("\n## ", start + 1)]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(re.sub(r"\s+", " ", command))
    return commands


def test_every_distribution_command_is_run_by_a_test():
    found = _commands()
    assert sorted(found) == sorted(COMMANDS), sorted(set(found) ^ set(COMMANDS))
    names = {name for name in globals() if name.startswith("test_")}
    assert set(COMMANDS.values()) <= names
    assert set(VIRTUAL_DEVICES) <= set(COMMANDS)
    assert all(any(old in c for c in COMMANDS) for old in SMALLER)


# --- running them ---


def _as_run(command, corpus, shared=None, hosts=None):
    """`command` with the liberties of the module docstring."""
    for old, new in SMALLER.items():
        command = command.replace(old, new)
    if hosts:
        command = command.replace("host1:12345", hosts[0]).replace("host2:12345", hosts[1])
    if shared:
        command = command.replace("/shared/runs", str(shared))
    if re.search(r"\bzoo (train|sweep|tune)\b", command):
        command += f" --data {corpus}"
    if re.search(r"\bzoo train\b", command):
        command += " --steps 4 --eval-interval 2"
    return command


def _env(tmp_path, **extra):
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "ZOO_CACHE": str(tmp_path / "cache"),
        "ZOO_RESULTS": str(tmp_path / "results"),
        "COLUMNS": "160",
        **extra,
    }


def _bash(command, env, **kwargs):
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=900, **kwargs,
    )  # fmt: skip


@pytest.mark.slow
def test_the_one_host_commands(tmp_path, corpus):
    env = _env(tmp_path)
    results = tmp_path / "results"
    for command, devices in VIRTUAL_DEVICES.items():
        if command == "zoo train llama-small --strategy mirrored":  # as a GPU-less host runs it
            refused = _bash(_as_run(command, corpus), env)
            assert is_one_line_refusal(refused), refused.stderr[-2000:]
            assert "set ZOO_CPU_DEVICES=2" in refused.stderr
        done = _bash(_as_run(command, corpus), {**env, "ZOO_CPU_DEVICES": str(devices)})
        assert done.returncode == 0, (command, done.stderr[-3000:])
    for command in COMMANDS:
        if command.startswith("ZOO_CPU_DEVICES="):  # the README's own laptop commands
            done = _bash(_as_run(command, corpus), env)
            assert done.returncode == 0, (command, done.stderr[-3000:])
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*/config.json"))]
    used = sorted((r["distribution"]["strategy"], r["distribution"]["replicas"]) for r in runs)
    assert used == sorted(
        [("mirrored", 2), ("data-parallel", 2), ("model-parallel", 1), ("mirrored", 2),
         ("model-parallel", 1), ("data-parallel", 4)]
    ), used  # fmt: skip
    zero = [r for r in runs if r["distribution"].get("shard_optimizer")]
    assert len(zero) == 1 and zero[0]["distribution"]["sharded"]  # slots divided over 4
    tpu = next(c for c in COMMANDS if c.startswith("TPU_NAME="))
    before = sorted(results.iterdir())
    refused = _bash(_as_run(tpu, corpus), env)
    assert is_one_line_refusal(refused), refused.stderr[-2000:]
    assert "no TPU reachable as TPU_NAME=local" in refused.stderr
    assert sorted(results.iterdir()) == before  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("command", [HOST_TF, HOST_JAX], ids=["tensorflow", "jax"])
def test_the_several_hosts_commands(tmp_path, corpus, command):
    """The first host's command and, beside it, the second's (index 1, process id 1)."""
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    first = _as_run(command, corpus, shared=tmp_path / "shared", hosts=hosts)
    second = first.replace('"index": 0', '"index": 1').replace(
        "KERAS_DISTRIBUTION_PROCESS_ID=0", "KERAS_DISTRIBUTION_PROCESS_ID=1"
    )
    assert second != first
    env = _env(tmp_path)
    processes = [
        subprocess.Popen(["bash", "-c", c], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for c in (first, second)
    ]  # fmt: skip
    for process in processes:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
    chief = tmp_path / "shared" / "llama"
    config = json.loads((chief / "config.json").read_text())
    assert config["distribution"]["replicas"] == 2
    assert (chief / "summary.json").is_file()
    assert (tmp_path / "shared" / "llama.worker-1" / "summary.json").is_file()


def _postgres_installed():
    return shutil.which("pg_ctl") or any(pathlib.Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


@pytest.mark.slow
def test_the_shared_store_commands(tmp_path, corpus):
    if not _postgres_installed():  # .ci/run installs Debian's postgresql where it is missing
        pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
    # The server refuses to run as root, and pytest's directories are root's only: its own.
    directory = tempfile.mkdtemp(prefix="zoo-pg-")
    (port,) = free_ports(1)
    start = next(c for c in COMMANDS if c.startswith("url="))
    start = start.replace("/tmp/zoo-pg", directory).replace(")", f" {port})")
    env = _env(tmp_path)
    try:
        commands = [c for c in COMMANDS if c.startswith("zoo") and '"$url"' in c]
        script = "\n".join(
            [f"set -e; {start}", "echo url=$url",
             # the same sweep on two hosts at once, then the tune, then the bench
             f"{_as_run(SWEEP, corpus)} --json > sweep-a.json &",
             f"{_as_run(SWEEP, corpus)} --json > sweep-b.json",
             "wait $!",
             *(_as_run(c, corpus) + (" --json > tune.json" if c == TUNE else " --json > bench.json")
               for c in commands if c != SWEEP)]
        )  # fmt: skip
        done = subprocess.run(
            ["bash", "-c", script.replace("> ", f"> {tmp_path}/")], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        subprocess.run(["bash", "scripts/scratch_postgres.sh", "stop", directory], cwd=ROOT,
                       capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(directory, ignore_errors=True)
    sweeps = [json.loads((tmp_path / f"sweep-{x}.json").read_text()) for x in "ab"]
    losses = [sorted((p["arm"], p["budget"], p["final_train_loss"]) for p in s["points"])
              for s in sweeps]  # fmt: skip
    assert losses[0] == losses[1] and len(losses[0]) == 4  # 2 models x 2 budgets, each once
    tune = json.loads((tmp_path / "tune.json").read_text())
    assert len(tune["trials"]) == 3
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert [store["backend"] for store in bench["stores"]] == ["sqlite", "postgresql"]
    assert all(store["tune_ms_per_trial"]["median"] > 0 for store in bench["stores"])
