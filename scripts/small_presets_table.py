"""`zoo train NAME` for every family's `-small` preset with its defaults, as a table.

    python scripts/small_presets_table.py --out results/reference/small-presets-defaults.json
    python scripts/small_presets_table.py --out before.json --checkout /tmp/old --label before

Each preset is trained by the command line exactly as a user types it (only `--out`, which
does not change the result, puts the run in a scratch directory), one after another; the JSON
gets, per preset under `--label`: the exit status, the wall time of the whole command (process
start, corpus, tokenizer and baselines included), the steps reached, the spike guard's skipped
steps and restarts, and the final validation bits per byte beside the unigram baseline (or the
last evaluation's, and the error line, for a run that failed). Presets already in the file under
the label are kept, so an interrupted table resumes. `--checkout` runs another checkout's code
(the same environment, its directory first on `PYTHONPATH`), for a before/after comparison.
"""

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILIES = [
    "gpt2",
    "gpt3",
    "mt-nlg",
    "jurassic1",
    "gopher",
    "chinchilla",
    "palm",
    "llama",
    "mistral",
]


def train(name, checkout, scratch):
    out = scratch / name
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "zoo_cli.main", "train", name, "--out", str(out)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    row = {"exit": result.returncode, "wall_seconds": round(wall, 1)}
    metrics = (
        [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        if (out / "metrics.jsonl").exists()
        else []
    )
    config = json.loads((out / "config.json").read_text()) if (out / "config.json").exists() else {}
    row["unigram_bits_per_byte"] = config.get("data", {}).get("unigram_bits_per_byte")
    row["device"] = config.get("device")
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text())
        row.update(
            steps=summary["steps"],
            skipped_steps=summary["skipped_steps"],
            spike_guard_restarts=summary.get("spike_guard_restarts"),
            validation_bits_per_byte=summary["validation_bits_per_byte"],
        )
    else:
        last = metrics[-1] if metrics else {}
        lines = result.stderr.strip().splitlines()
        row.update(
            steps=last.get("step", 0),
            skipped_steps=last.get("skipped_steps"),
            last_validation_bits_per_byte=last.get("validation_bits_per_byte"),
            error=lines[-1] if lines else None,
        )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--checkout", type=pathlib.Path, default=ROOT)
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    table = json.loads(args.out.read_text()) if args.out.exists() else {}
    revision = subprocess.run(
        ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    section = table.setdefault(args.label, {"command": "zoo train NAME-small", "rows": {}})
    section.update(revision=revision, date=datetime.date.today().isoformat())
    with tempfile.TemporaryDirectory() as scratch:
        for family in FAMILIES:
            name = f"{family}-small"
            if name in section["rows"]:
                continue
            section["rows"][name] = train(name, args.checkout.resolve(), pathlib.Path(scratch))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(table, indent=1) + "\n")
            print(name, section["rows"][name], flush=True)


if __name__ == "__main__":
    main()
