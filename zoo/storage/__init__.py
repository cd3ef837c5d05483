"""Run and model storage: the on-disk record of a run: `results/<run-id>/`.

    config.json       everything resolved: model, training, budget, data, tokenizer, versions,
                      git revision, machine, effective XLA setting
    metrics.jsonl     one JSON object per evaluation (see `zoo.storage.runs.METRIC_FIELDS`)
    summary.json      written once, when the run finishes
    failure.json      why it stopped, when training turned non-finite (step, reason)
    tokenizer/        the tokenizer assets (keras-hub loadable)
    model.keras       the trained model (no optimizer), loadable with keras.models.load_model
    probe.npz         a fixed probe batch and the logits the run computed for it
    checkpoint.keras  the last commit: model + optimizer at the last evaluation, with the state
                      that says which step it holds inside the same file (zoo.storage.commits)
    state.json        a readable copy of that state (never trusted on resume)
    best.weights.h5   weights at the best validation loss (for --patience; written at the end)
    tensorboard/      TensorBoard event files
    run.lock          the writer's lock (zoo.storage.commits.RunLock)

Every file is written atomically (zoo.files), so a killed run never leaves a half-written file,
and every JSON file is strict JSON (non-finite numbers are written as null and listed).

Modules: `runs` (the run directory and its JSON records), `commits` (the checkpoint commit
protocol and the writer's lock), `models` (reading, loading and exporting model files) and
`environment` (versions and machine, for config.json). Training writes through them; generation,
importing, comparison and sweeps read through them.
"""
