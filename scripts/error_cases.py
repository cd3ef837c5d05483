"""Run each user mistake and fault case of the run-store work and print what `zoo` says.

    python scripts/error_cases.py            # a markdown table: case, exit status, the line

Every case runs the real `zoo` command in a fresh process, in a scratch directory with a small
generated corpus (nothing outside it is touched). The table is what the closing note of the run
store work quotes; the tests under tests/ assert the same behaviour case by case.
"""

import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile

WORDS = (
    "the king queen lord lady speak hath thou thee thy night day love death sword crown "
    "france england gentle noble sweet good fair heaven earth blood honour"
).split()


def main():
    root = pathlib.Path(tempfile.mkdtemp(prefix="zoo-error-cases-"))
    corpus = root / "works"
    corpus.mkdir()
    for i in range(12):
        rng = random.Random(i)
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(120)]
        (corpus / f"work_{i:02d}.txt").write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "ZOO_CACHE": str(root / "cache"),
        "ZOO_RESULTS": str(root / "results"),
        "KERAS_BACKEND": "tensorflow",
    }
    data = ["--data", str(corpus)]
    rows = []

    def zoo(*args, extra_env=None, prefix=()):
        command = [*prefix, sys.executable, "-m", "zoo_cli.main", *args]
        return subprocess.run(
            command, env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=900
        )

    def case(name, result):
        lines = result.stderr.strip().splitlines()
        said = lines[-1] if lines else "(nothing on stderr)"
        if result.returncode == 0:
            said = (result.stdout.strip().splitlines() or [""])[-1]
        rows.append(
            (
                name,
                result.returncode,
                len(lines) if result.returncode else 0,
                said.replace(str(root), "…").replace("|", "\\|"),
            )
        )

    # Faults.
    torn = root / "results" / "torn"
    zoo("train", "gpt2-nano", *data, "--steps", "9", "--eval-interval", "3", "--out", str(torn))
    _make_legacy_torn_commit(torn)
    case(
        "checkpoint at step 9, state at step 6 (a torn commit of an old run): --resume",
        zoo("train", "gpt2-nano", "--resume", "--out", str(torn)),
    )
    stopped = root / "results" / "stopped"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo_cli.main",
            "train",
            "llama-nano",
            *data,
            "--steps",
            "40",
            "--eval-interval",
            "20",
            "--out",
            str(stopped),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (stopped / "config.json").exists():
        time.sleep(0.05)
    process.kill()
    process.wait()
    case(
        "killed before its first checkpoint: --resume (restarts from step 0)",
        zoo("train", "llama-nano", "--resume", "--out", str(stopped)),
    )
    case(
        "diverged: --set learning_rate=1e6",
        zoo(
            "train",
            "gpt2-nano",
            *data,
            "--steps",
            "12",
            "--eval-interval",
            "2",
            "--set",
            "learning_rate=1e6",
            "--out",
            str(root / "results" / "nan"),
        ),
    )
    busy = root / "results" / "busy"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo_cli.main",
            "train",
            "gpt2-nano",
            *data,
            "--steps",
            "60",
            "--out",
            str(busy),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (busy / "run.lock").exists() or not (busy / "run.lock").read_text().strip():
        time.sleep(0.05)
    case(
        "a second zoo train on the same --out",
        zoo("train", "gpt2-nano", *data, "--steps", "60", "--out", str(busy)),
    )
    first.wait()
    damaged = root / "results" / "damaged"
    damaged.mkdir(parents=True)
    (damaged / "config.json").write_text('{"preset": "gpt2-na')
    case("a damaged config.json under results/: zoo runs", zoo("runs"))

    # Bad input.
    existing = root / "a-file"
    existing.write_text("")
    read_only = textwrap.dedent("""
        import errno, os, sys
        real = os.mkdir
        def refuse(path, *args, **kwargs):
            if "read-only" in str(path):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real(path, *args, **kwargs)
        os.mkdir = refuse
        sys.argv = ["zoo", *sys.argv[1:]]
        from zoo_cli.main import main
        main()
    """)
    for name, args, extra in [
        (
            "read-only --out (train; injected EROFS, since root ignores modes)",
            ["train", "gpt2-nano", *data, "--steps", "1", "--out", str(root / "read-only" / "r")],
            "ro",
        ),
        (
            "--out naming an existing file (train)",
            ["train", "gpt2-nano", *data, "--steps", "1", "--out", str(existing)],
            None,
        ),
        (
            "--out below an existing file (export)",
            ["export", str(torn), "--out", str(existing / "m.keras")],
            None,
        ),
        (
            "unwritable cache directory (HOME on a read-only file system)",
            ["train", "gpt2-nano", *data, "--steps", "1"],
            "home",
        ),
        ("KERAS_BACKEND=bogus", ["info", "palm"], "backend"),
        ("unknown --backend", ["train", "gpt2-nano", *data, "--backend", "bogus"], None),
        ("--flops 1e999", ["train", "gpt2-nano", *data, "--flops", "1e999"], None),
        (
            "--set warmup_steps=abc",
            ["train", "gpt2-nano", *data, "--set", "warmup_steps=abc"],
            None,
        ),
        (
            "--set learning_rate=fast",
            ["train", "gpt2-nano", *data, "--set", "learning_rate=fast"],
            None,
        ),
        ("--tokens abc", ["train", "gpt2-nano", *data, "--tokens", "abc"], None),
        ("zoo info without a name", ["info"], None),
        (
            "prompt longer than the context",
            ["generate", str(torn), "--prompt", "the king " * 200, "-n", "4"],
            None,
        ),
        (
            "--steps 8 given with --resume",
            ["train", "gpt2-nano", "--resume", "--out", str(stopped), "--steps", "8"],
            None,
        ),
    ]:
        if extra == "ro":
            result = subprocess.run(
                [sys.executable, "-c", read_only, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        elif extra == "home":
            result = zoo(*args, extra_env={"ZOO_CACHE": "", "XDG_CACHE_HOME": "", "HOME": "/proc"})
        elif extra == "backend":
            result = zoo(*args, extra_env={"KERAS_BACKEND": "bogus"})
        else:
            result = zoo(*args)
        case(name, result)
    hide_jax = (
        "import importlib.util, sys; real = importlib.util.find_spec; "
        "importlib.util.find_spec = lambda n, *a, **k: None if n.split('.')[0] == 'jax' "
        "else real(n, *a, **k); sys.argv = ['zoo', *sys.argv[1:]]; "
        "from zoo_cli.main import main; main()"
    )
    case(
        "--backend jax without jax installed",
        subprocess.run(
            [sys.executable, "-c", hide_jax, "train", "gpt2-nano", *data, "--backend", "jax"],
            env=env,
            capture_output=True,
            text=True,
        ),
    )
    print("| case | exit | stderr lines | what it prints (last line) |")
    print("|---|---:|---:|---|")
    for name, status, count, said in rows:
        print(f"| {name} | {status} | {count} | `{said[:220]}` |")
    shutil.rmtree(root, ignore_errors=True)


def _make_legacy_torn_commit(run):
    """The state a SIGKILL between the two writes of the old layout left: a step-9 checkpoint
    without its state inside, and state.json still at step 6."""
    with (
        zipfile.ZipFile(run / "checkpoint.keras") as old,
        zipfile.ZipFile(run / "legacy.keras", "w") as new,
    ):
        for name in old.namelist():
            if not name.startswith("zoo/"):
                new.writestr(name, old.read(name))
    os.replace(run / "legacy.keras", run / "checkpoint.keras")
    state = json.loads((run / "state.json").read_text())
    state.pop("optimizer_iterations")
    (run / "state.json").write_text(json.dumps({**state, "step": 6, "evaluations": 2}))
    (run / "summary.json").unlink()


if __name__ == "__main__":
    main()
