"""A sweep's figures: the fitted law's own plot, with the n-gram baseline as a horizontal line.

An IsoFLOP sweep writes two files: the valleys with N_opt against C at `path`, and the
parametric law's loss-against-tokens curves beside it (`<stem>-parametric<suffix>`).
"""

import pathlib

from zoo.scaling.fit_plot import check_plot_path, plot_compute, plot_isoflop, plot_parametric


def plot_sweep(sweep, path):
    """Write `sweep`'s figures (from `zoo.sweep_isoflop` or `zoo.sweep_compute`); the paths."""
    path = check_plot_path(path)
    baseline = sweep.get("baseline")
    line = {"loss": baseline["loss"], "label": f"{baseline['name']} baseline, "
            f"{baseline['bits_per_byte']:.3f} bits/byte"} if baseline else None
    points = sweep["points"]
    if sweep["kind"] == "compute":
        plot_compute(sweep["fits"]["compute"], points, path, baseline=line)
        return [path]
    parametric = path.with_name(f"{path.stem}-parametric{path.suffix}")
    plot_isoflop(sweep["fits"]["isoflop"], points, path, baseline=line)
    plot_parametric(sweep["fits"]["parametric"], points, parametric, baseline=line)
    return [path, pathlib.Path(parametric)]
