"""Rich renderings of the plain-data views in `zoo.describe` (tables for humans; see --json)."""

from rich import box
from rich.columns import Columns
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zoo_cli.output import human, scientific, yes_no

# Short forms keep all 16 columns inside 120 terminal columns; --json carries the config values.
_SHORT = {
    "learned": "abs",
    "rotary": "RoPE",
    "relative": "rel",
    "layernorm": "LN",
    "rmsnorm": "RMS",
    "serial": "ser",
    "parallel": "par",
}
LIST_LEGEND = (
    "L layers · d width · H/KV query heads / key-value heads (where fewer) · ctx context\n"
    "non-emb: parameters outside token/position embeddings and an untied output head\n"
    "pos: abs learned absolute, RoPE rotary, rel relative (Transformer-XL) · norm: LN LayerNorm, "
    "RMS RMSNorm\nresidual: ser serial, par parallel (attention and FF side by side) · "
    "exact values: zoo list --json"
)
# SIMPLE_HEAD with the header rule broken between columns, so one-space gaps still read as columns.
_BOX = box.Box("    \n    \n ─  \n    \n    \n    \n    \n    \n")


def _heads(row):
    heads, kv = row["num_query_heads"], row["num_key_value_heads"]
    return str(heads) if kv == heads else f"{heads}/{kv}"


# (header, key of a row or function of it, justify)
_LIST_COLUMNS = (
    ("name", "name", "left"),
    ("family", "family", "left"),
    ("scale", "scale", "left"),
    ("params", lambda r: human(r["params"]), "right"),
    ("non-\nemb", lambda r: human(r["non_embedding_params"]), "right"),
    ("L", "num_layers", "right"),
    ("d", "hidden_dim", "right"),
    ("H/KV", _heads, "right"),
    ("ctx", "max_sequence_length", "right"),
    ("pos", lambda r: _SHORT.get(r["position"], r["position"]), "left"),
    ("norm", lambda r: _SHORT.get(r["normalization"], r["normalization"]), "left"),
    ("ffn", "feedforward", "left"),
    ("attention", lambda r: attention_summary(r["attention_pattern"], r["local_window"]), "left"),
    ("residual", lambda r: _SHORT.get(r["residual"], r["residual"]), "left"),
    ("bias", lambda r: yes_no(r["use_bias"]), "left"),
    ("tied", lambda r: yes_no(r["tie_embeddings"]), "left"),
)


def list_view(rows):
    """The `zoo list` table followed by its legend."""
    return Group(list_table(rows), Text(LIST_LEGEND, style="dim"))


def list_table(rows):
    """Every preset on one line each, families separated by a blank line."""
    table = Table(box=_BOX, padding=(0, 0), pad_edge=False, show_edge=False)
    for header, _, justify in _LIST_COLUMNS:
        table.add_column(header, justify=justify, no_wrap=True, vertical="bottom")
    for i, row in enumerate(rows):
        last_of_family = i + 1 == len(rows) or rows[i + 1]["family"] != row["family"]
        cells = [_cell(row, value) for _, value, _ in _LIST_COLUMNS]
        table.add_row(*cells, end_section=last_of_family and i + 1 < len(rows))
    return table


def _cell(row, value):
    return Text(str(value(row) if callable(value) else row[value]))


# --- zoo info ---


def print_card(console, card):
    """The architecture card: identity, config, parameters, FLOPs, training recipe, choices."""
    title = Text.assemble(
        (card["name"], "bold"), f"  ·  family {card['family']}  ·  scale {card['scale']}\n"
    )
    title.append(card["citation"], style="dim")
    console.print(Panel(title, box=box.ROUNDED, expand=False))
    numbers = Group(_params_panel(card), _flops_panel(card))
    console.print(Columns([_panel("Config", _pairs(card["config"])), numbers]))
    # Scaled twins keep the paper's optimizer but use shared small-scale settings (see choices).
    recipe_title = "Training recipe (paper)" if card["scale"] == "paper" else "Training recipe"
    sections = [_panel(recipe_title, _pairs(card["training"]))]
    if card["choices"]:
        choices = Table.grid(padding=(0, 1))  # a bullet column, so wrapped lines hang
        choices.add_column()
        choices.add_column()
        for choice in card["choices"]:
            choices.add_row("•", Text(choice))
        sections.append(_panel("Our choices (values the paper does not publish)", choices))
    console.print(Columns(sections))


def _panel(title, body):
    return Panel(body, title=title, title_align="left", box=box.ROUNDED, expand=False)


def _grid(*justify):
    grid = Table.grid(padding=(0, 2))
    for j in justify:
        grid.add_column(justify=j)
    return grid


def _pairs(mapping):
    grid = _grid("left", "left")
    for key, value in mapping.items():
        grid.add_row(Text(key, style="dim"), Text(_value(value)))
    return grid


def _value(value):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def _params_panel(card):
    total = card["params"]
    grid = _grid("left", "right", "right")
    for component, count in card["params_by_component"].items():
        grid.add_row(Text(component, style="dim"), f"{count:,}", f"{count / total:.1%}")
    grid.add_row(Text("total", style="bold"), Text(f"{total:,}", style="bold"), human(total))
    non_embedding = card["non_embedding_params"]
    grid.add_row(Text("non-embedding"), f"{non_embedding:,}", human(non_embedding))
    reported = card["reported_params"]
    if reported is not None:
        grid.add_row(Text("paper reports"), f"{reported:,}", human(reported))
        grid.add_row(Text("ours vs paper"), f"{card['reported_params_difference']:+.3%}", "")
    tokens = card["chinchilla_optimal_tokens"]
    grid.add_row(Text("Chinchilla-optimal tokens"), f"{tokens:,}", human(tokens))
    return _panel("Parameters", grid)


def _flops_panel(card):
    flops = card["flops_per_token"]
    grid = _grid("left", "right", "right")
    grid.add_row(Text("6N + 12·L·H·Q·T (PaLM)", style="bold"), scientific(flops["palm"]), "")
    grid.add_row(Text("training, exact", style="bold"), scientific(flops["training"]), "")
    grid.add_row(Text("forward, exact", style="bold"), scientific(flops["forward"]), "")
    for component, value in flops["components"].items():
        grid.add_row(
            Text(f"  {component}", style="dim"),
            scientific(value),
            f"{value / flops['forward']:.1%}",
        )
    return _panel(f"FLOPs per token at T = {flops['seq_len']:,}", grid)


def attention_summary(pattern, local_window):
    """('dense', 'local'), 256 -> 'dense/local(256)'."""
    return "/".join(f"local({local_window})" if a == "local" else a for a in pattern)
