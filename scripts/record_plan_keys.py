"""Record the run key of every cell of the committed reference studies, as planned now.

The keys are the identities under which runs are found and reused (`zoo.training.plan`). A change
to how plans are built must leave them as they are, or every local run trained before it would
be retrained. This script records, for each cell of each committed sweep study and for the
headline comparisons, the request (`preset`, the `RunConfig`, the model and training overrides)
and the key the code plans for it; `tests/training/test_run_identity.py` re-plans every
request and compares; `tests/experiments/test_comparison.py` plans the comparisons again.

The committed studies themselves were trained before trainer result version 2 (docs/scaling.md),
so the keys in their JSON records are, by design, not the keys a plan has now: those runs must
not be reused by code that trains differently. What must stay stable is the key of today's code.

    python scripts/record_plan_keys.py tests/training/data/plan-keys.json
"""

import json
import sys

from zoo.experiments.comparison import DEFAULT_BUDGET, plan_comparison
from zoo.experiments import grid
from zoo.training.trainer import plan_run

STUDIES = "results/reference/sweep-{}.json"


def _sweep_cells(name):
    study = json.load(open(STUDIES.format(name)))
    budgets = grid.parse_budgets(study["budgets"])
    if study["kind"] == "isoflop":
        arm = grid.parse_arms(study["model"])[0]
        return grid.isoflop_cells(arm, budgets, study["sizes"], study["seeds"])
    arms = grid.parse_arms(",".join(study["models"]))
    return grid.compute_cells(arms, budgets, study["seeds"], study["allocation"])


def _record(preset, run, overrides):
    plan = plan_run(preset, run, overrides=overrides)
    return {
        "preset": preset,
        "run": run.identity(),
        "overrides": {
            k: list(v) if isinstance(v, tuple) else v for k, v in dict(overrides).items()
        },
        "key": plan.key,
    }


def main(out):
    records = []
    base = grid.sweep_run_config()
    for name in ("compute-gpt2-llama", "isoflop-llama", "compute-allocation", "compute-recipes"):
        for p in grid.plan_grid(_sweep_cells(name), base):
            records.append({"study": name, **_record(p.plan.preset, p.plan.run, p.changes)})
            print(name, records[-1]["key"], flush=True)
    for models, ablate in (("gpt2,llama", None), ("llama", "position=learned")):
        shared = grid.shared_run_config(None, {}, "comparison", "").replace(flops=DEFAULT_BUDGET)
        arms = grid.parse_arms(models, ablate)
        for p in plan_comparison(arms, DEFAULT_BUDGET, 1, shared):
            records.append(
                {"study": f"compare {models}", **_record(p.plan.preset, shared, p.changes)}
            )
    json.dump(records, open(out, "w"), indent=1)
    print(f"{len(records)} keys -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
