"""`zoo explain [CHOICE]`: what each architectural choice is, and what the zoo measured it bought.

Reads the cards (`zoo/choices.json`) and the committed studies (`results/reference/`) only: no
Keras, no training, so it answers at once. The figures come formatted from `zoo.explain`, which
records each one's source, so this module adds words and layout, never a number.
"""

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from zoo_cli import options
from zoo_cli.output import console, print_json, user_errors

app = typer.Typer()


def _complete_choice(incomplete: str):
    from zoo.errors import ZooError
    from zoo.explain import choice_names

    try:
        names = choice_names()
    except ZooError:  # a damaged cards file: offer nothing; running the command says why
        return []
    return [n for n in names if n.startswith(incomplete.lower())]


@app.command("explain")
def explain(
    choice: Annotated[
        Optional[str],
        typer.Argument(
            help="A choice (position, normalization, feedforward, num_key_value_heads, block, "
            "attention_pattern, allocation, context, tokenizer, z_loss, biases, "
            "tie_embeddings, recipes) or an alias such as rotary, swiglu, multi-query; "
            "without it, every choice with its measured verdict.",
            autocompletion=_complete_choice,
            metavar="CHOICE",
        ),
    ] = None,
    json: options.Json = False,
):
    """What a choice is, who made it when, what its paper claimed, and what the zoo measured:
    the compute multiplier with its interval from the committed reference studies, and the
    command that reproduces it."""
    with user_errors(keras=False):
        from zoo.explain import explain as explain_choices

        result = explain_choices(choice)
    if json:
        print_json(result)
        return
    out = console()
    if choice is None:
        table = Table(
            title="what each choice bought, as the committed studies measured it",
            caption="zoo explain CHOICE for the card; " + escape(result["legend"]),
        )
        table.add_column("choice")
        table.add_column("measured verdict")
        for card in result["cards"]:
            table.add_row(card["id"], escape(card["verdict_line"]))
        out.print(table)
        return
    out.print(render_card(result["cards"][0]))
    out.print(f"[dim]{escape(result['legend'])}[/]")


def render_card(card):
    """The card as rich markup: the words from the cards file, the figures from the studies."""
    e = escape
    lines = [
        f"[bold]{e(card['id'])}[/]: {e(card['title'])}",
        "",
        e(card["what"]),
        "",
        "[bold]who chose what[/]",
    ]
    lines += [f"  {e(model)} ({e(year)}): {e(what)}" for model, year, what in card["history"]]
    lines += [
        "",
        "[bold]what its paper claimed[/]",
        f"  {e(card['claim'])}",
        "",
        "[bold]what the zoo measured[/]",
    ]
    if not card["measurements"]:
        lines.append(f"  not measured: {e(card.get('unmeasured', 'no study'))}")
    for m in card["measurements"]:
        lines.append(f"  {e(m['reads'])}:")
        lines += _measured_lines(m, "    ")
    inference = card.get("inference")
    if inference:
        lines += ["", "[bold]at inference[/]"] + _measured_lines(inference, "  ")
    lines += [
        "",
        "[dim]what the studies show and do not show, and how they were set up: docs/findings.md[/]",
    ]
    return "\n".join(lines)


def _measured_lines(entry, indent):
    """A measurement or the inference figures: the summary and its file, or why there is none;
    then the command that reproduces it."""
    e = escape
    lines = (
        [f"{indent}not measured yet: {e(entry['missing'])}"]
        if "missing" in entry
        else [
            f"{indent}{e(entry['summary'])}",
            *(f"{indent}{e(entry[key])}" for key in ("scale", "trend", "papers") if entry.get(key)),
            f"{indent}from {e(entry['source'])}",
        ]
    )
    return lines + [f"{indent}reproduce: [cyan]{e(entry['command'])}[/]"]
