"""Experiments: grids of ordinary runs, between training and the front-ends.

- `store`: `RunStore`, the runs under a results root by key, read once; `obtain(plan)` reuses,
  resumes or trains.
- `grid`: cells (arm, budget, seed, shape) into `RunPlan`s, sharing each data spec's materials.
- `tuning`: learning-rate tuning, a small grid of its own around a cell.
- `comparison`: `zoo.compare`, one budget, a table.
- `sweep`: `zoo.sweep_isoflop` / `zoo.sweep_compute`, budgets, then the fits of `zoo.scaling`.
- `pool`: training a grid's runs side by side in worker processes; `estimate`: wall time.
"""
