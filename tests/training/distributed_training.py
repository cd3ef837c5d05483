"""Train one tiny preset under several strategies in one process; print a JSON line per run.

Run by tests/training/test_distribution.py in a fresh process, because the backend and the
virtual devices (ZOO_CPU_DEVICES) are fixed when the backend starts:

    ZOO_CPU_DEVICES=2 KERAS_BACKEND=jax python distributed_training.py CORPUS OUT PRESET none data-parallel
"""

import json
import pathlib
import sys

import zoo
from zoo.training.loop import Reporter


class StepLosses(Reporter):
    def __init__(self):
        self.losses = []

    def step(self, progress):
        self.losses.append(progress["loss"])


def main(corpus, out, preset, *strategies):
    for strategy in strategies:
        reporter = StepLosses()
        record = zoo.train(preset, data=corpus, steps=6, eval_interval=3, batch_size=4,
                           strategy=strategy, out=pathlib.Path(out) / strategy, reporter=reporter)
        config, summary = record.config(), record.summary()
        print(json.dumps({
            "strategy": strategy,
            "losses": reporter.losses,
            "validation_loss": summary["validation_loss"],
            "xla": config["xla"],
            "distribution": config["distribution"],
        }), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
