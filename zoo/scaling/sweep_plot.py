"""A sweep's figures: the fitted law's own plot, with the n-gram baseline as a horizontal line.

An IsoFLOP sweep writes two files: the valleys with N_opt against C at `path`, and the
parametric law's loss-against-tokens curves beside it (`<stem>-parametric<suffix>`). A law the
sweep could not fit (too few budgets, failed cells) is drawn as its points alone; a sweep with
no finished run has nothing to draw, and writes no figure.
"""

import pathlib

from zoo.scaling.fit_plot import check_plot_path, plot_compute, plot_fit


def plot_sweep(sweep, path):
    """Write `sweep`'s figures (from `zoo.sweep_isoflop` or `zoo.sweep_compute`).

    Returns `(paths written, notes)`: one note for each figure drawn without its fit, or for
    the figures not written, each saying why.
    """
    path = check_plot_path(path)
    if not sweep["points"]:
        return [], [f"no plot written to {path}: no run finished, so there is no point to draw"]
    baseline = sweep.get("baseline")
    bits = sweep.get("metric") == "bits_per_byte"  # tokenizers differ: the fit is per byte
    points = (
        [{**p, "loss": p["bits_per_byte"]} for p in sweep["points"]] if bits else sweep["points"]
    )
    line = (
        {
            "loss": baseline["bits_per_byte" if bits else "loss"],
            "label": f"{baseline['name']} baseline, {baseline['bits_per_byte']:.3f} bits/byte",
        }
        if baseline
        else None
    )
    figures = (
        [("compute", path)]
        if sweep["kind"] == "compute"
        else [
            ("isoflop", path),
            ("parametric", path.with_name(f"{path.stem}-parametric{path.suffix}")),
        ]
    )
    notes = []
    for law, target in figures:
        fit = sweep["fits"][law]
        if "error" in fit:  # the points' N as the sweep asked it counted, as a fit would have
            fit = {**fit, "params_convention": sweep.get("params_convention", "total")}
        if law == "compute":
            unit = "bits per byte" if bits else "nats per token"
            plot_compute(fit, points, target, baseline=line, unit=unit)
        else:
            plot_fit(law, fit, points, target, baseline=line)
        if "error" in fit:
            notes.append(f"{target}: the points alone, without the {law} fit ({fit['error']})")
    return [pathlib.Path(target) for _, target in figures], notes
