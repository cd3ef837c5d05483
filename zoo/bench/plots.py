"""The benchmarks' figures, drawn from a report (`zoo bench attention|parallel --plot`, or
`zoo bench show REPORT --plot` for a report measured earlier): nothing here measures.

- attention: time and peak memory of each kernel against sequence length, for one layer and for
  the small model, log-log, each measured point beside its fitted c0 + c1·T + c2·T² (dashed), with
  slopes 1 and 2 drawn as guides, so quadratic and linear growth read off the figure;
- parallel: bytes per device against the device count, one line per layout: the measured model
  beside its accounting, the accounting alone for the large models, and at the largest count
  what each layout keeps (weights, gradients, optimizer state) as stacked bars.
"""

from zoo.scaling.fit_plot import _pyplot, _save, check_plot_path

KIND_COLOURS = {"dense": "C0", "banded": "C1", "fused": "C2"}
QUANTITIES = (("ms", "time per forward+backward (ms)"), ("peak_bytes", "peak memory (MB)"))
PARTS = (("parameters", "weights"), ("gradients", "gradients"), ("optimizer", "optimizer state"))


def plot_report(report, path):
    """Draw whichever figure `report` has the measurements for; returns the path written.
    A report with neither attention nor parallel rows is refused (ZooError), nothing written."""
    from zoo.errors import ZooError

    if isinstance(report.get("attention"), dict) and report["attention"].get("rows"):
        return plot_attention(report["attention"], path, device=report.get("device"))
    if isinstance(report.get("parallel"), dict) and report["parallel"].get("measured"):
        return plot_parallel(report["parallel"], path)
    raise ZooError(
        "--plot draws zoo bench attention's and zoo bench parallel's reports; this report has "
        f"neither (its parts: {', '.join(sorted(k for k in report if k != 'environment'))})"
    )


def plot_attention(attention, path, device=None):
    import numpy as np

    path = check_plot_path(path)
    plt = _pyplot()
    scopes = list(dict.fromkeys(r["scope"] for r in attention["rows"]))
    shape = attention["shape"]
    figure, axes = plt.subplots(2, len(scopes), figsize=(6 * len(scopes), 8.5), squeeze=False)
    for column, scope in enumerate(scopes):
        rows = [r for r in attention["rows"] if r["scope"] == scope]
        fits = attention["fits"].get(scope, {})
        lengths = sorted({r["seq_len"] for r in rows})
        span = np.geomspace(lengths[0], lengths[-1], 60)
        for row_index, (quantity, label) in enumerate(QUANTITIES):
            ax = axes[row_index][column]
            scale = 1e-6 if quantity == "peak_bytes" else 1.0
            for kind in attention["kinds"]:
                colour = KIND_COLOURS.get(kind)
                mine = [r for r in rows if r["kind"] == kind and r.get(quantity) is not None]
                if mine:
                    ax.plot([r["seq_len"] for r in mine], [r[quantity] * scale for r in mine],
                            "o", color=colour, label=f"{kind}{_exponent(fits, kind, quantity)}")  # fmt: skip
                # Memory's curve is drawn through XLA's buffer plan where there is one: the
                # resident mark has a page-level floor at short lengths that no c0 + c1·T +
                # c2·T² follows (its fit's worst relative error is in the report).
                drawn = "xla_bytes" if quantity == "peak_bytes" else quantity
                planned = [r for r in rows if r["kind"] == kind and r.get(drawn) is not None]
                if drawn != quantity and planned:
                    ax.plot([r["seq_len"] for r in planned], [r[drawn] * scale for r in planned],
                            "s", mfc="none", color=colour, label=f"{kind}, XLA's plan")  # fmt: skip
                fit = fits.get(kind, {}).get(drawn if planned else quantity)
                if fit:
                    curve = fit["constant"] + fit["linear"] * span + fit["quadratic"] * span**2
                    ax.plot(span, curve * scale, "--", color=colour, linewidth=1)
            _slope_guides(ax, rows, quantity, scale, span)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length T (tokens)")
            ax.set_ylabel(label)
            what = (
                "one attention layer" if scope == "layer" else f"{shape['num_layers']}-layer model"
            )
            ax.set_title(f"{what}: {label.split(' (')[0]}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    figure.suptitle(
        f"causal attention, {shape['hidden_dim']} wide, {shape['num_heads']} heads, batch 1, "
        f"banded window {shape['window']}\npoints measured (memory: ● resident peak, □ XLA's "
        "buffer plan); dashed: c0 + c1·T + c2·T² fitted (memory: to the plan)"
        + (f"\n{device}" if device else ""),
        fontsize=10,
    )
    return _save(plt, figure, path)


def _exponent(fits, kind, quantity):
    fit = fits.get(kind, {}).get(quantity)
    return f", T^{fit['local_exponent']:.2f} at the longest" if fit else ""


def _slope_guides(ax, rows, quantity, scale, span):
    """Grey lines of slope 1 and 2 through the shortest length's smallest value: what linear
    and quadratic growth look like on these axes."""
    values = [r[quantity] for r in rows if r.get(quantity) and r["seq_len"] == span[0]]
    if not values:
        return
    start = min(values) * scale
    for power, style in ((1, ":"), (2, "-.")):
        ax.plot(span, start * (span / span[0]) ** power, style, color="grey", linewidth=0.8,
                label=f"∝ T{'²' if power == 2 else ''}")  # fmt: skip


def plot_parallel(parallel, path):
    path = check_plot_path(path)
    plt = _pyplot()
    names = list(dict.fromkeys(r["model"] for r in parallel["accounted"]))
    columns = (3 + len(names)) // 2
    figure, grid = plt.subplots(2, columns, figsize=(6 * columns, 9.5), squeeze=False)
    axes = grid.flatten()
    layouts = list(dict.fromkeys(r["layout"] for r in parallel["measured"]))
    colours = {layout: f"C{i % 10}" for i, layout in enumerate(layouts)}
    model = parallel["model"]

    ax = axes[0]
    for layout in layouts:
        mine = [r for r in parallel["measured"] if r["layout"] == layout]
        devices = [r["devices"] for r in mine]
        ax.plot(devices, [_total(r) / 1e6 for r in mine], "o-", color=colours[layout],
                label=layout)  # fmt: skip
        ax.plot(devices, [r["accounted"]["total"] / 1e6 for r in mine], "x", markersize=9,
                color=colours[layout])  # fmt: skip
    ax.set_title(
        f"measured (o) and accounted (x): {model['num_layers']}×{model['hidden_dim']} LLaMA, "
        f"{model['params'] / 1e6:.1f}M parameters",
        fontsize=9,
    )
    ax.set_ylabel("weights + gradients + optimizer state per device (MB)")
    _devices_axis(ax)
    ax.legend(fontsize=7)

    for ax, name in zip(axes[1:], names):
        for layout in layouts:
            mine = [
                r for r in parallel["accounted"] if r["model"] == name and r["layout"] == layout
            ]
            ax.plot([r["devices"] for r in mine], [r["total"] / 1e9 for r in mine], "o-",
                    color=colours.get(layout), label=layout)  # fmt: skip
        ax.set_title(f"{name}, accounted (float32, AdamW's 2 slots)", fontsize=9)
        ax.set_ylabel("bytes per device (GB)")
        ax.set_yscale("log")
        _devices_axis(ax)
        ax.legend(fontsize=7)

    ax = axes[1 + len(names)]
    most = max(r["devices"] for r in parallel["measured"])
    rows = [r for r in parallel["measured"] if r["devices"] == most]
    bottom = [0.0] * len(rows)
    for key, label in PARTS:
        heights = [r[key] / 1e6 for r in rows]
        ax.bar(range(len(rows)), heights, bottom=bottom, label=label)
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(range(len(rows)), [r["layout"].replace(" + ", "\n+ ") for r in rows], fontsize=7)
    ax.set_ylabel("MB per device, measured")
    ax.set_title(f"what each device keeps, {most} devices", fontsize=9)
    ax.legend(fontsize=7)
    figure.suptitle("memory per device under data, tensor and optimizer-sharded (ZeRO-1) layouts",
                    fontsize=10)  # fmt: skip
    return _save(plt, figure, path)


def _total(row):
    return sum(row[key] for key, _ in PARTS)


def _devices_axis(ax):
    ax.set_xscale("log", base=2)
    ticks = [2**k for k in range(4)]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("devices")
    ax.grid(True, which="both", alpha=0.3)


__all__ = ["plot_attention", "plot_parallel", "plot_report"]
