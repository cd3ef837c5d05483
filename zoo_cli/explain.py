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
    findings: Annotated[
        bool,
        typer.Option(
            "--findings",
            help="The findings table instead: per question, the zoo's answer at each rung of "
            "budgets (3e10–1e12, 1e12–3e13) beside the paper's.",
        ),
    ] = False,
    json: options.Json = False,
):
    """What a choice is, who made it when, what its paper claimed, and what the zoo measured:
    the compute multiplier with its interval from the committed reference studies, and the
    command that reproduces it."""
    with user_errors(keras=False):
        from zoo.explain import explain as explain_choices, findings as findings_table

        result = explain_choices(choice)
        if findings:
            result = findings_table(result)
    if json:
        print_json(result)
        return
    out = console()
    if findings:
        out.print(render_findings(result))
        out.print(f"[dim]{escape(result['legend'])}[/]")
        return
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


def render_findings(table):
    """The findings table as a rich `Table`: one row per question, a column per rung."""
    out = Table(title="what each choice bought, at each rung of budgets, beside the papers")
    out.add_column("choice")
    out.add_column("question")
    for rung in table["rungs"]:
        out.add_column(f"zoo at {rung} FLOPs")
    out.add_column("papers")
    for row in table["rows"]:
        out.add_row(
            row["choice"],
            escape(row["reads"]),
            *(escape(row["cells"].get(rung, "not in this rung")) for rung in table["rungs"]),
            escape(row["papers"] or "—"),
        )
    return out


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
    reads = None
    for m in card["measurements"]:
        if m["reads"] != reads:  # one question, then its answer at each rung of budgets
            reads = m["reads"]
            lines.append(f"  {e(m['reads'])}:")
        if m.get("rung"):
            lines.append(f"    [bold]at {e(m['rung'])} FLOPs[/] ({e(m['study'])}):")
        lines += _measured_lines(m, "      " if m.get("rung") else "    ")
    for key, title in (("inference", "at inference"), ("search", "the samplers compared"),
                       ("laws", "the laws behind the optimum"),
                       ("gradients", "the gradient through depth"),
                       ("cost", "time and memory against length"),
                       ("memory", "memory per device"),
                       ("epochs", "repetition against fresh data"),
                       ("continued", "continuing against starting over"),
                       ("logits", "the output logits at high learning rates"),
                       ("valleys", "the compute-optimal size against compute (IsoFLOP)")):  # fmt: skip
        entries = card.get(key)
        if entries:
            lines += ["", f"[bold]{title}[/]"]
            for entry in entries if isinstance(entries, list) else [entries]:
                lines += _measured_lines(entry, "  ")
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
            *(
                f"{indent}{e(entry[key])}"
                for key in ("scale", "trend", "loss_change", "papers")
                if entry.get(key)
            ),
            *(f"{indent}{e(line)}" for line in entry.get("lines", ())),
            f"{indent}from {e(entry['source'])}",
        ]
    )
    return lines + [f"{indent}reproduce: [cyan]{e(entry['command'])}[/]"]
