"""`zoo explain`: a card per architectural choice, with what the zoo measured about it.

The cards' words (what the choice is, who made it when, what the paper claimed) are data, in
`choices.json` beside this module. What the zoo measured is read, each time, from the committed
studies under `results/reference/` (`scripts/reference_studies.sh` writes them), so rerunning a
study updates the cards, and a card whose study is not committed says so instead of showing a
number. Every measured figure is returned with the file and JSON path it came from, and its text
is made here, so a test can check each printed figure against its source.

Reading only JSON, this module imports nothing heavy: `zoo explain` takes 0.7–1.2 s (measured
from a fresh clone on 2 busy cores), nearly all of it Python and Typer starting. The studies
are found beside the package (a source checkout, as `pip install -e .` leaves it); an installed
wheel has no `results/` and every card says its study is missing.
"""

import json
import pathlib

from zoo.errors import unknown

CHOICES = pathlib.Path(__file__).with_name("choices.json")
ROOT = pathlib.Path(__file__).resolve().parents[1]  # the checkout holding results/reference


def load_cards():
    """The cards file: {'cards': [...], 'studies': {name: {file, command}}}."""
    return json.loads(CHOICES.read_text())


def choice_names(cards=None):
    """Every name `explain` accepts: card ids and their aliases."""
    cards = cards or load_cards()
    return [name for card in cards["cards"] for name in (card["id"], *card["aliases"])]


def find_card(name, cards=None):
    """The card called `name` (an id or alias, case and -/_ insensitive); `UnknownNameError`
    with the nearest names otherwise."""
    cards = cards or load_cards()
    wanted = _normal(name)
    for card in cards["cards"]:
        if wanted in {_normal(n) for n in (card["id"], *card["aliases"])}:
            return card
    raise unknown("choice", name, choice_names(cards))


def explain(name=None, root=ROOT):
    """One card (`name`) or all, each with its measurements read from the committed studies.

    Returns {'cards': [card + 'measurements' (+ 'inference')], 'legend'}. A measurement is
    {'study', 'arm', 'reads', 'source', 'command'} and either 'figures' (each {'key', 'text',
    'value', 'pointer', 'kind'}: the figure as printed, its exact value, its JSON path in
    `source`, how it is formatted), 'verdict', 'against', 'summary' (one line), or 'missing'
    (why not).
    """
    data = load_cards()
    cards = [find_card(name, data)] if name else data["cards"]
    cache = {}
    out = []
    for card in cards:
        entry = dict(card)
        entry["measurements"] = [_measurement(m, data["studies"], root, cache)
                                 for m in card["measured"]]
        if card.get("inference"):
            entry["inference"] = _inference(card["inference"], data["studies"], root, cache)
        entry["verdict_line"] = _verdict_line(entry)
        out.append(entry)
    return {"cards": out, "legend": LEGEND}


LEGEND = ("compute multiplier: the compute the study's baseline arm needs to reach the loss this "
          "arm reaches at the largest budget both trained, as a multiple of that budget (above 1 "
          "the change helped); [low, high] is its bootstrap interval over seeds and budgets; "
          "'within noise' when the interval contains 1")


def fmt(value, kind):
    """The printed text of a figure: `kind` multiplier (3 significant digits), flops (2),
    percent, crossing (FLOPs, or never), or count, length, bytes, rate (tokens/s): integers."""
    if kind == "crossing":  # None: the curve never reaches the baseline (its E lies above)
        return "never" if value is None else f"{value:.2g}"
    if value is None:
        return "unbounded"
    if kind == "multiplier":
        return f"{value:.3g}"
    if kind == "flops":
        return f"{value:.2g}"
    if kind == "percent":
        return f"{100 * value:.0f}%"
    return f"{round(value):,}"


def _figure(key, value, pointer, kind):
    return {"key": key, "value": value, "pointer": pointer, "kind": kind,
            "text": fmt(value, kind)}


def _study(name, studies, root, cache):
    """(the study's JSON or None, its path relative to the checkout, its command)."""
    study = studies[name]
    path = root / study["file"]
    if study["file"] not in cache:
        cache[study["file"]] = json.loads(path.read_text()) if path.exists() else None
    return cache[study["file"]], study["file"], study["command"]


def _measurement(measured, studies, root, cache):
    sweep, source, command = _study(measured["study"], studies, root, cache)
    row = {"study": measured["study"], "arm": measured["arm"], "reads": measured["reads"],
           "source": source, "command": command}
    if sweep is None:
        return {**row, "missing": f"{source} is not committed yet"}
    fit = (sweep.get("fits") or {}).get("compute") or {}
    if "arms" not in fit:
        return {**row, "missing": f"{source} holds no fit ({fit.get('error', 'no fit')})"}
    names = [a["name"] for a in fit["arms"]]
    if measured["arm"] not in names:
        return {**row, "missing": f"{source} has no arm {measured['arm']!r} (arms: "
                                  f"{', '.join(names)})"}
    k = names.index(measured["arm"])
    arm = fit["arms"][k]
    at = f"/fits/compute/arms/{k}"
    figures = [_figure("multiplier", arm["multiplier"], f"{at}/multiplier", "multiplier")]
    ci = arm.get("multiplier_ci")
    if ci:
        figures += [_figure("low", ci[0], f"{at}/multiplier_ci/0", "multiplier"),
                    _figure("high", ci[1], f"{at}/multiplier_ci/1", "multiplier"),
                    _figure("level", fit["level"], "/fits/compute/level", "percent")]
    budgets = sweep["budgets"]
    figures += [_figure("seeds", sweep["seeds"], "/seeds", "count"),
                _figure("budgets", len(budgets), "/budgets", "length"),
                _figure("lowest", budgets[0], "/budgets/0", "flops"),
                _figure("highest", budgets[-1], f"/budgets/{len(budgets) - 1}", "flops")]
    text = {f["key"]: f["text"] for f in figures}
    interval = f" [{text['low']}, {text['high']}] ({text['level']} bootstrap)" if ci else ""
    tuned = "rate tuned per arm and budget" if sweep.get("tune_lr") else "rate by the size rule"
    summary = (f"{text['multiplier']}×{interval} against {fit['baseline']}: {arm['verdict']}"
               + (" (extrapolated)" if arm.get("extrapolated") else "")
               + f" · {text['seeds']} seeds × {text['budgets']} budgets, {text['lowest']} to "
                 f"{text['highest']} FLOPs, {tuned}")
    if measured.get("crossing") and "reference_crossing" in arm:
        crossing = [_figure("crossing", arm["reference_crossing"], f"{at}/reference_crossing",
                            "crossing")]
        reference = "the n-gram baseline"
        if (sweep.get("baseline") or {}).get("order"):
            order = _figure("order", sweep["baseline"]["order"], "/baseline/order", "count")
            figures.append(order)
            reference = f"the Kneser-Ney {order['text']}-gram baseline"
        if arm.get("reference_crossing_ci"):
            crossing += [_figure(f"crossing {end}", value, f"{at}/reference_crossing_ci/{i}",
                                 "crossing")
                         for i, (end, value) in enumerate(zip(("low", "high"),
                                                              arm["reference_crossing_ci"]))]
        figures += crossing
        texts = [f["text"] for f in crossing]
        interval = f" [{texts[1]}, {texts[2]}]" if len(texts) == 3 else ""
        where = (f"levels off above {reference} (never reaches it)"
                 if arm["reference_crossing"] is None else
                 f"reaches {reference} at {texts[0]} FLOPs")
        summary += (f" · its fitted curve {where}{interval}"
                    + (" (extrapolated)" if arm.get("reference_crossing_extrapolated") else ""))
    return {**row, "figures": figures, "verdict": arm["verdict"], "against": fit["baseline"],
            "summary": summary}


def _inference(inference, studies, root, cache):
    report, source, command = _study(inference["study"], studies, root, cache)
    row = {"study": inference["study"], "source": source, "command": command}
    rows = ((report or {}).get("generate") or {}).get("rows") or []
    names = [r["name"] for r in rows]
    if report is None or not all(n in names for n in inference["rows"]):
        why = "is not committed yet" if report is None else "lacks the rows " + ", ".join(
            inference["rows"])
        return {**row, "missing": f"{source} {why}"}
    lines, figures = [], []
    for name in inference["rows"]:
        k = names.index(name)
        r = rows[k]
        at = f"/generate/rows/{k}"
        cache_bytes = _figure(f"{name} cache", r["cache_bytes_per_token"],
                              f"{at}/cache_bytes_per_token", "bytes")
        speed = _figure(f"{name} speed", r["tokens_per_second"]["median"],
                        f"{at}/tokens_per_second/median", "rate")
        figures += [cache_bytes, speed]
        lines.append(f"{name}: {cache_bytes['text']} cache bytes per token, decodes "
                     f"{speed['text']} tokens/s (median)")
    return {**row, "figures": figures, "summary": "; ".join(lines)}


def _verdict_line(card):
    """The card's one line for the list: its first measurement, or why there is none."""
    if not card["measurements"]:
        return "not measured: " + card.get("unmeasured", "no study")
    first = card["measurements"][0]
    if "missing" in first:
        return "not measured yet: " + first["missing"]
    return f"{first['reads']}: {first['summary']}"


def _normal(name):
    return name.strip().lower().replace("_", "-")


__all__ = ["explain", "find_card", "choice_names", "fmt"]
