"""`zoo gradients`: the gradient norm of every layer at initialisation and over the first steps."""

from typing import Annotated, Optional

import typer
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, print_json, user_errors

app = typer.Typer()


@app.command("gradients")
def gradients(
    name: options.ModelName,
    steps: Annotated[
        int, typer.Option(help="Updates to take (the recipe's optimizer), measuring before each.")
    ] = 0,
    set_: options.Overrides = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    batch_size: run_options.BatchSize = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data order.")] = 0,
    init_from: Annotated[
        Optional[str], typer.Option(help="Start from the weights of a run or a .keras file.")
    ] = None,
    plot: Annotated[
        Optional[str],
        typer.Option(help="Write the figure (norm against depth, one line per step) here."),
    ] = None,
    backend: run_options.BackendOption = None,
    json: options.Json = False,
):
    """The L2 norm of the loss's gradient for each layer's weights (embedding, every block,
    the final norm), input side first, at initialisation and after each of --steps updates:
    the vanishing (or exploding) gradient, e.g. of a deep narrow model under post- and
    pre-norm (--set num_layers=24 --set norm_placement=post). Nothing is written but --plot."""
    options.use_backend(run_options.backend_name(backend))
    with user_errors() as zoo, run_options.flags_for_fields(zoo):
        if plot:
            from zoo.files import check_plot_path

            check_plot_path(plot)
        from zoo.training.gradients import gradient_norms
        from zoo.training.trainer import plan_run

        if steps < 0:  # before the data is read
            raise zoo.FieldError("steps", f"must be 0 or more; received {steps}")
        fields = run_options.values(
            data=data, batch_size=batch_size, seed=seed, init_from=init_from
        )
        plan = plan_run(name, overrides=set_ or (), steps=max(steps, 1), **fields)
        result = gradient_norms(plan, steps=steps)
        if plot:
            from zoo.training.gradients_plot import plot_gradients

            plot_gradients(result, plot)
    if json:
        print_json(result)
        return
    out = console()
    out.print(gradients_table(result))
    ratios = ", ".join("—" if r is None else f"{r:.3g}" for r in result["first_to_last"])
    out.print(f"first block's norm over the last block's, by step: {ratios}")
    if plot:
        out.print(f"plot written to {plot}")


def gradients_table(result):
    rows = result["rows"]
    table = Table(
        title=f"{result['model']}: gradient norm per layer · {result['num_layers']} layers, "
        f"{result['norm_placement']}-norm, {result['feedforward']} · batch "
        f"{result['batch_size']}, seed {result['seed']}",
        caption="L2 norm of d(loss)/d(weights) of each layer, before the update of each step "
        "(step 0: at initialisation)",
    )
    table.add_column("layer")
    for row in rows:
        table.add_column(f"step {row['step']}", justify="right")
    for i, layer in enumerate(result["layers"]):
        table.add_row(layer, *(f"{row['norms'][i]:.3g}" for row in rows))
    table.add_row("loss", *(f"{row['loss']:.4f}" for row in rows), style="dim")
    return table
