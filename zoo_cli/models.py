"""`zoo list` and `zoo info`: what each preset is, from the config alone (no model is built)."""

import typer

from zoo_cli import options, views
from zoo_cli.output import console, print_json, user_errors

app = typer.Typer()


@app.command("list")
def list_models(
    family: options.Family = None,
    scale: options.ScaleFilter = None,
    json: options.Json = False,
):
    """Every preset with its size and architectural choices, oldest family first."""
    with user_errors(keras=False) as zoo:
        recipes = zoo.list_recipes(family=family, scale=scale.value if scale else None)
        rows = [zoo.preset_summary(recipe) for recipe in recipes]
    if json:
        print_json(rows)
    else:
        console().print(views.list_view(rows))


@app.command("info")
def info(name: options.ModelName, json: options.Json = False):
    """The architecture card of one preset: config, parameters, FLOPs, training recipe, sources.

    A bare family name (palm) means its CPU replica (palm-small).
    """
    with user_errors(keras=False) as zoo:
        card = zoo.architecture_card(name)
    if json:
        print_json(card)
    else:
        views.print_card(console(), card)
