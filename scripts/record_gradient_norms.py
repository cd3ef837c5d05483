"""Record every step's gradient norm of `zoo train NAME` runs, for the spike guard's tests.

    python scripts/record_gradient_norms.py gpt2-small llama-small --out norms.json [--steps N]
        [--never-skip]

Each preset trains as `zoo train NAME` does with its defaults (the spike guard on), in a
temporary run directory; with `--never-skip` the guard measures the norms but skips no finite
one, so they are those of the unguarded run; the JSON holds, per preset, the global gradient norm the guard measured
at every step (before clipping), the learning rate, the training loss, the guard's running
count of skipped steps, and how the run ended (a failed run is recorded up to its failure).
`tests/training/data/gradient-norms-gpt2-small-rule1.json` was written by this script at the
commit before the guard's second rule (`python scripts/record_gradient_norms.py gpt2-small`),
and `gradient-norms-small-presets.json` by `... --never-skip` with the nine `-small` presets.
"""

import argparse
import functools
import json
import pathlib
import tempfile

import zoo
from zoo.training import spike_guard
from zoo.training.loop import Reporter, RunFailed


class NormRecorder(Reporter):
    def __init__(self):
        self.steps = []

    def step(self, progress):
        self.steps.append(progress)


def record(name, steps=None):
    recorder = NormRecorder()
    fields = {} if steps is None else {"steps": steps}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            zoo.train(name, out=pathlib.Path(scratch) / "run", reporter=recorder, **fields)
            ended = "finished"
        except RunFailed as failure:
            ended = f"failed at step {failure.step}: {failure}"
    rows = recorder.steps
    return {
        "ended": ended,
        "steps": [p["step"] for p in rows],
        "gradient_norm": [p["gradient_norm"] for p in rows],
        "learning_rate": [p["learning_rate"] for p in rows],
        "loss": [p["loss"] for p in rows],
        "skipped_steps": [p["skipped_steps"] for p in rows],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--never-skip", action="store_true")
    args = parser.parse_args()
    if args.never_skip:
        # zoo.train turns the guard on or off only; this recording needs one that measures every
        # norm and skips no finite one, so the guard's default threshold is raised out of reach.
        guard = spike_guard.SpikeGuard
        guard.__init__ = functools.partialmethod(guard.__init__, threshold=1e30)
    out = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.names:
        out[name] = record(name, args.steps)
        # One line per preset: the lists are data, not for reading line by line.
        args.out.write_text(
            "{\n"
            + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in out.items())
            + "\n}\n"
        )
        print(name, out[name]["ended"])


if __name__ == "__main__":
    main()
