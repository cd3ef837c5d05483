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
import math
import pathlib

from zoo.errors import ZooError, unknown

CHOICES = pathlib.Path(__file__).with_name("choices.json")
ROOT = pathlib.Path(__file__).resolve().parents[1]  # the checkout holding results/reference
_ABSENT = object()


class Document:
    """A JSON file whose values are read by JSON pointer and checked as they are read, so a
    damaged file (cut short, a list for an object, a string for a number) is one `ZooError`
    naming the file, the pointer and what is wrong, never a traceback from deep inside."""

    def __init__(self, path):
        self.path = path
        try:
            self.data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ZooError(f"{path} is damaged ({type(error).__name__}: {error})") from None
        if not isinstance(self.data, dict):
            raise self.damaged(f"it holds {_describe(self.data)}, not a JSON object")

    def damaged(self, what):
        return ZooError(f"{self.path} is damaged: {what}")

    def get(self, pointer, kind=None, default=_ABSENT, nullable=False):
        """The value at `pointer` (e.g. '/fits/compute/arms/0/name'), checked to be of `kind`
        ('object', 'list', 'string', 'number': finite, 'bool'; None: anything). `default` is
        returned when the value or an object above it is absent or null; `nullable` accepts
        a null value itself."""
        value, walked = self.data, ""
        for part in pointer.strip("/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            indexed = isinstance(value, list) and part.isdigit()
            if isinstance(value, dict) or indexed:
                present = key in value if isinstance(value, dict) else int(part) < len(value)
                if not present and default is not _ABSENT:
                    return default
                if not present:
                    raise self.damaged(f"{walked}/{part} is missing")
                value = value[key] if isinstance(value, dict) else value[int(part)]
            elif value is None and default is not _ABSENT:
                return default
            else:
                container = "a list" if part.isdigit() else "an object"
                raise self.damaged(f"{walked or '/'} must be {container}; found {_describe(value)}")
            walked += f"/{part}"
        if value is None and (nullable or default is not _ABSENT):
            return None if nullable else default
        if kind is not None and not _KINDS[kind][0](value):
            raise self.damaged(f"{pointer} must be {_KINDS[kind][1]}; found {_describe(value)}")
        return value

    def has(self, pointer):
        """Whether `pointer` is present (null counts: it says something, e.g. 'never')."""
        absent = object()
        return self.get(pointer, default=absent, nullable=True) is not absent


_KINDS = {
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "number": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "a finite number",
    ),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
}


def _describe(value):
    """A JSON value in a few words: 'the string "abc"', 'a list', 'null'."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        text = json.dumps(value)
        return "the string " + (text if len(text) <= 40 else text[:36] + '…"')
    if isinstance(value, (int, float)):
        return json.dumps(value)  # Infinity and NaN as JSON writes them
    return "a list" if isinstance(value, list) else "an object"


def _escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def load_cards():
    """The cards file: {'cards': [...], 'studies': {name: {file, command, question (optional:
    the study's question, which `zoo report` shows), rung (optional: the range of budgets it
    was designed for, e.g. '1e12–3e13')}}}, checked whole (every field a card shows), so a
    damaged file is one `ZooError` naming what is wrong. A card's measured entry may name a
    `higher` {study, arm}: the same question asked again at a higher rung of budgets."""
    document = Document(CHOICES)
    studies = document.get("/studies", "object")
    for name in studies:
        for key in ("file", "command"):
            document.get(f"/studies/{_escape(name)}/{key}", "string")
        document.get(f"/studies/{_escape(name)}/question", "string", default=None)
        document.get(f"/studies/{_escape(name)}/rung", "string", default=None)
    for i in range(len(document.get("/cards", "list"))):
        _check_card(document, f"/cards/{i}", studies)
    return document.data


def _check_card(document, at, studies):
    for key in ("id", "title", "what", "claim"):
        document.get(f"{at}/{key}", "string")
    document.get(f"{at}/unmeasured", "string", default=None)
    for j in range(len(document.get(f"{at}/aliases", "list"))):
        document.get(f"{at}/aliases/{j}", "string")
    for j, entry in enumerate(document.get(f"{at}/history", "list")):
        if len(document.get(f"{at}/history/{j}", "list")) != 3:
            raise document.damaged(
                f"{at}/history/{j} must be [model, year, what]; found {len(entry)} entries"
            )
        for k in range(3):
            document.get(f"{at}/history/{j}/{k}", "string")
    for j in range(len(document.get(f"{at}/measured", "list"))):
        _check_study_name(document, f"{at}/measured/{j}/study", studies)
        for key in ("arm", "reads"):
            document.get(f"{at}/measured/{j}/{key}", "string")
        document.get(f"{at}/measured/{j}/crossing", "bool", default=False)
        if document.get(f"{at}/measured/{j}/higher", "object", default=None) is not None:
            _check_study_name(document, f"{at}/measured/{j}/higher/study", studies)
            document.get(f"{at}/measured/{j}/higher/arm", "string")
        if document.get(f"{at}/measured/{j}/papers", "object", default=None) is not None:
            for key in ("effect", "scale", "source", "direction"):
                document.get(f"{at}/measured/{j}/papers/{key}", "string")
            direction = document.get(f"{at}/measured/{j}/papers/direction", "string")
            if direction not in PAPER_DIRECTIONS:
                raise document.damaged(
                    f"{at}/measured/{j}/papers/direction must be one of "
                    f"{', '.join(PAPER_DIRECTIONS)}; found {direction!r}"
                )
    if document.get(f"{at}/inference", "object", default=None) is not None:
        _check_study_name(document, f"{at}/inference/study", studies)
        for j in range(len(document.get(f"{at}/inference/rows", "list"))):
            document.get(f"{at}/inference/rows/{j}", "string")
    if document.get(f"{at}/search", "object", default=None) is not None:
        _check_study_name(document, f"{at}/search/study", studies)
    if document.get(f"{at}/gradients", "object", default=None) is not None:
        named = document.get(f"{at}/gradients/studies", "list")
        for j in range(len(named)):
            _check_study_name(document, f"{at}/gradients/studies/{j}", studies)
        for j, name in enumerate(document.get(f"{at}/gradients/headline", "list", default=[])):
            if name not in named:
                raise document.damaged(f"{at}/gradients/headline/{j} is not one of its studies")
    for key in ("cost", "memory", "epochs", "continued", "logits"):  # the readers' studies
        if document.get(f"{at}/{key}", "object", default=None) is not None:
            _check_study_name(document, f"{at}/{key}/study", studies)
    if document.get(f"{at}/valleys", "object", default=None) is not None:
        for j in range(len(document.get(f"{at}/valleys/studies", "list"))):
            _check_study_name(document, f"{at}/valleys/studies/{j}", studies)
        for j in range(len(document.get(f"{at}/valleys/papers", "list"))):
            for key in ("law", "source"):
                document.get(f"{at}/valleys/papers/{j}/{key}", "string")
            document.get(f"{at}/valleys/papers/{j}/exponent", "number")
    if document.get(f"{at}/laws", "object", default=None) is not None:
        _check_study_name(document, f"{at}/laws/study", studies)
        for j in range(len(document.get(f"{at}/laws/papers", "list"))):
            for key in ("law", "source"):
                document.get(f"{at}/laws/papers/{j}/{key}", "string")
            if document.get(f"{at}/laws/papers/{j}/against", "string") not in LAW_AXES:
                raise document.damaged(
                    f"{at}/laws/papers/{j}/against must be one of {', '.join(LAW_AXES)}"
                )
            document.get(f"{at}/laws/papers/{j}/exponent", "number")


def _check_study_name(document, pointer, studies):
    name = document.get(pointer, "string")
    if name not in studies:
        raise document.damaged(
            f"{pointer} names the study {name!r}, which /studies does not "
            f"list (studies: {', '.join(studies)})"
        )


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


def explain(name=None, root=None):
    """One card (`name`) or all, each with its measurements read from the committed studies.

    Returns {'cards': [card + 'measurements' (+ 'inference')], 'legend'}. A measurement is
    {'study', 'arm', 'reads', 'rung', 'source', 'command', 'measured' (the index of its entry
    in the card's `measured`)} and either 'figures' (each {'key',
    'text', 'value', 'pointer', 'kind'}: the figure as printed, its exact value, its JSON path
    in `source`, how it is formatted), 'verdict', 'against', 'summary' (one line), or
    'missing' (why not). A measured entry with a `higher` study gives two measurements, one
    per rung, lowest first, with the same 'reads'.
    """
    root = ROOT if root is None else pathlib.Path(root)
    data = load_cards()
    cards = [find_card(name, data)] if name else data["cards"]
    cache = {}
    out = []
    for card in cards:
        entry = dict(card)
        entry["measurements"] = [
            {**_measurement(rung, data["studies"], root, cache), "measured": k}
            for k, m in enumerate(card["measured"])
            for rung in _rungs(m)
        ]
        readers = (("inference", _inference), ("search", _search), ("laws", _laws),
                   ("gradients", _gradients), ("cost", _attention_cost),
                   ("memory", _parallel_memory), ("epochs", _epochs),
                   ("continued", _continued), ("logits", _logits),
                   ("valleys", _valleys))  # fmt: skip
        for key, read in readers:
            if card.get(key):
                entry[key] = read(card[key], data["studies"], root, cache)
        if card.get("gradients"):  # the variants the list's one line shows side by side
            entry["gradients_headline"] = card["gradients"].get("headline", [])
        entry["verdict_line"] = _verdict_line(entry)
        out.append(entry)
    return {"cards": out, "legend": LEGEND}


LEGEND = (
    "compute multiplier: the compute the study's baseline arm needs to reach the loss this "
    "arm reaches at the largest budget both trained, as a multiple of that budget (above 1 "
    "the change helped); [low, high] is its bootstrap interval over seeds and budgets; "
    "'within noise' when the interval contains 1"
)


def fmt(value, kind):
    """The printed text of a figure: `kind` multiplier or number (a fitted exponent, a ratio:
    3 significant digits), flops (2), loss (bits or nats per byte: 3 decimals), percent,
    crossing (FLOPs, or never), megabytes (1 decimal) and gigabytes (integers) of a value in
    bytes, or count, length, bytes, rate (tokens/s): integers."""
    if kind == "crossing":  # None: the curve never reaches the baseline (its E lies above)
        return "never" if value is None else f"{value:.2g}"
    if value is None:
        return "unbounded"
    if kind in ("multiplier", "number"):
        return f"{value:.3g}"
    if kind == "loss":
        return f"{value:.3f}"
    if kind == "flops":
        return f"{value:.2g}"
    if kind == "percent":
        return f"{100 * value:.0f}%"
    if kind == LOSS_CHANGE:
        return f"{100 * value:+.2f}%"
    if kind == PERCENT_CHANGE:
        return f"{value:+.2f}%"
    if kind == "megabytes":  # the sentence around it says MB
        return f"{value / 1e6:,.1f}"
    if kind == "gigabytes":
        return f"{value / 1e9:,.0f}"
    return f"{round(value):,}"


def figure(document, key, pointer, kind):
    """The figure at `pointer` of a study (a `Document`), checked to be a number (or a list,
    for a length): {'key', 'value', 'pointer', 'kind', 'text'}, `text` being `fmt`'s. `zoo
    report` makes every number on its page with this too."""
    if kind == "length":
        value = len(document.get(pointer, "list"))
    else:  # a multiplier or a crossing may be null: unbounded, or never reached
        value = document.get(pointer, "number", nullable=kind in ("multiplier", "crossing"))
    return {"key": key, "value": value, "pointer": pointer, "kind": kind, "text": fmt(value, kind)}


def _pair(document, pointer):
    """A [low, high] interval at `pointer`, or None when the study has none."""
    pair = document.get(pointer, "list", default=None)
    if pair and len(pair) != 2:
        raise document.damaged(f"{pointer} must be [low, high]; found {len(pair)} entries")
    return pair


def _study(name, studies, root, cache):
    """(the study's `Document` or None, its path relative to the checkout, its command)."""
    study = studies[name]
    path = root / study["file"]
    if study["file"] not in cache:
        cache[study["file"]] = Document(path) if path.exists() else None
    return cache[study["file"]], study["file"], study["command"]


def _opened(name, studies, root, cache):
    """(the study's `Document` or None, the row a reader's entries start from: the study's
    name, file and command, and why there is nothing when it is not committed)."""
    study, source, command = _study(name, studies, root, cache)
    row = {"study": name, "source": source, "command": command}
    if study is None:
        row["missing"] = f"{source} is not committed yet"
    return study, row


def _rungs(measured):
    """The measured entry as asked at each rung of budgets: itself, then its `higher` study
    and arm (the same question, the same papers line)."""
    higher = measured.get("higher")
    return [measured] + ([{**measured, **higher}] if higher else [])


def _measurement(measured, studies, root, cache):
    sweep, source, command = _study(measured["study"], studies, root, cache)
    row = {
        "study": measured["study"],
        "arm": measured["arm"],
        "reads": measured["reads"],
        "rung": studies[measured["study"]].get("rung"),
        "source": source,
        "command": command,
    }
    if sweep is None:
        return {**row, "missing": f"{source} is not committed yet"}
    fit = sweep.get("/fits/compute", "object", default={})
    if "arms" not in fit:
        error = sweep.get("/fits/compute/error", "string", default="no fit")
        return {**row, "missing": f"{source} holds no fit ({error})"}
    arms = sweep.get("/fits/compute/arms", "list")
    names = [sweep.get(f"/fits/compute/arms/{i}/name", "string") for i in range(len(arms))]
    if measured["arm"] not in names:
        return {
            **row,
            "missing": f"{source} has no arm {measured['arm']!r} (arms: {', '.join(names)})",
        }
    k = names.index(measured["arm"])
    at = f"/fits/compute/arms/{k}"
    figures = [figure(sweep, "multiplier", f"{at}/multiplier", "multiplier")]
    ci = _pair(sweep, f"{at}/multiplier_ci")
    if ci:
        figures += [
            figure(sweep, "low", f"{at}/multiplier_ci/0", "multiplier"),
            figure(sweep, "high", f"{at}/multiplier_ci/1", "multiplier"),
            figure(sweep, "level", "/fits/compute/level", "percent"),
        ]
    last = len(sweep.get("/budgets", "list")) - 1
    if last < 0:
        raise sweep.damaged("/budgets is empty")
    figures += [
        figure(sweep, "seeds", "/seeds", "count"),
        figure(sweep, "budgets", "/budgets", "length"),
        figure(sweep, "lowest", "/budgets/0", "flops"),
        figure(sweep, "highest", f"/budgets/{last}", "flops"),
    ]
    verdict = sweep.get(f"{at}/verdict", "string")
    baseline = sweep.get("/fits/compute/baseline", "string")
    text = {f["key"]: f["text"] for f in figures}
    interval = f" [{text['low']}, {text['high']}] ({text['level']} bootstrap)" if ci else ""
    if sweep.get("/tune_lr", "bool", default=False):
        tuned = "rate tuned per arm and budget"
    elif sweep.get("/rates", "string", default=None):  # zoo sweep compute --rates RULE.json
        tuned = "rate from a fitted law in compute"
    else:
        tuned = "rate by the size rule"
    summary = (
        f"{text['multiplier']}×{interval} against {baseline}: {verdict}"
        + (" (extrapolated)" if sweep.get(f"{at}/extrapolated", "bool", default=False) else "")
        + f" · {text['seeds']} seeds × {text['budgets']} budgets, {text['lowest']} to "
        f"{text['highest']} FLOPs, {tuned}"
    )
    if measured.get("crossing") and sweep.has(f"{at}/reference_crossing"):
        crossing = [figure(sweep, "crossing", f"{at}/reference_crossing", "crossing")]
        reference = "the n-gram baseline"
        if sweep.get("/baseline/order", "number", default=None):
            order = figure(sweep, "order", "/baseline/order", "count")
            figures.append(order)
            reference = f"the Kneser-Ney {order['text']}-gram baseline"
        if _pair(sweep, f"{at}/reference_crossing_ci"):
            crossing += [
                figure(sweep, f"crossing {end}", f"{at}/reference_crossing_ci/{i}", "crossing")
                for i, end in enumerate(("low", "high"))
            ]
        figures += crossing
        texts = [f["text"] for f in crossing]
        interval = f" [{texts[1]}, {texts[2]}]" if len(texts) == 3 else ""
        where = (
            f"levels off above {reference} (never reaches it)"
            if crossing[0]["value"] is None
            else f"reaches {reference} at {texts[0]} FLOPs"
        )
        extrapolated = sweep.get(f"{at}/reference_crossing_extrapolated", "bool", default=False)
        summary += f" · its fitted curve {where}{interval}" + (
            " (extrapolated)" if extrapolated else ""
        )
    scale_figures, scale = _scale(sweep)
    trend_figures, trend = _trend(sweep, at)
    change_figures, change = _loss_change(sweep, at, baseline)
    figures += scale_figures + trend_figures + change_figures
    papers = measured.get("papers")
    return {**row, "figures": figures, "verdict": verdict, "against": baseline,
            "summary": summary, "scale": scale, "trend": trend, "loss_change": change,
            "trend_verdict": sweep.get(f"{at}/trend/verdict", "string", default=None),
            "papers": _papers(papers, verdict, _interval(figures), _change(change_figures)),
            "agreement": _agreement(papers, verdict, _interval(figures)),
            "loss_place": _loss_place(papers, _change(change_figures))}  # fmt: skip


PAPER_DIRECTIONS = ("better", "worse", "neutral")  # the published effect of the arm's change


def _papers(papers, verdict, interval=None, change=None):
    """The published effect at its published scale, and whether the zoo's verdict agrees: the
    same direction (or within noise where the paper found none) agrees; within noise where the
    paper found an effect cannot tell; the other direction disagrees. Where the paper gives two
    losses (its `loss_change_percent`) and the zoo has the top budget's paired loss change
    (`change`: (low, high) as fractions), the paper's change is placed against that interval:
    the same effect in the paper's own unit, so 'cannot tell' can say whether the paper's size
    was even within reach."""
    if papers is None:
        return None
    line = (
        f"papers: {papers['effect']} ({papers['scale']}; {papers['source']}): "
        f"{papers['direction']}; the zoo's direction {_agreement(papers, verdict, interval)}"
    )
    where = _loss_place(papers, change)
    if where:
        line += (
            f"; the paper's {fmt(papers['loss_change_percent'], PERCENT_CHANGE)} in loss lies "
            f"{where} the zoo's "
            "interval at the top budget"
        )
    return line


def _place(value, low, high):
    """Where `value` lies against the interval [low, high]: 'inside', 'below' or 'above'."""
    return "inside" if low <= value <= high else "below" if value < low else "above"


def _loss_place(papers, change):
    """Where the paper's loss change (percent) lies against the zoo's paired interval at the
    top budget: 'inside', 'below' or 'above'; None without both."""
    published = (papers or {}).get("loss_change_percent")
    if published is None or change is None:
        return None
    low, high = (100 * v for v in change)
    return _place(published, low, high)


LOSS_CHANGE = "change"  # a figure's kind: a relative change of loss, printed as a signed percent
PERCENT_CHANGE = "percent change"  # the same, given in percent (a paper's, in the cards file)


def _loss_change(sweep, at, baseline):
    """(figures, line) of the arm's loss against the baseline's runs of the same seeds at the
    top budget (`fit_compute`'s `loss_change` per budget); ([], None) for a fit without it."""
    count = len(sweep.get(f"{at}/by_budget", "list", default=[]))
    if not count:
        return [], None
    top = f"{at}/by_budget/{count - 1}"
    if sweep.get(f"{top}/loss_change", "number", default=None) is None:
        return [], None
    figures = [
        figure(sweep, "loss change", f"{top}/loss_change", LOSS_CHANGE),
        figure(sweep, "loss budget", f"{top}/budget", "flops"),
        figure(sweep, "pairs", f"{top}/pairs", "count"),
    ]
    text = {f["key"]: f["text"] for f in figures}
    line = f"loss at {text['loss budget']} FLOPs: {text['loss change']}"
    if _pair(sweep, f"{top}/loss_change_ci"):
        figures += [
            figure(sweep, "loss change low", f"{top}/loss_change_ci/0", LOSS_CHANGE),
            figure(sweep, "loss change high", f"{top}/loss_change_ci/1", LOSS_CHANGE),
        ]
        line += f" [{figures[-2]['text']}, {figures[-1]['text']}]"
    line += f" against {baseline}'s runs of the same seeds ({text['pairs']} pairs)"
    return figures, line


def _change(figures):
    """(low, high) of the top budget's loss-change interval, or None."""
    values = {f["key"]: f["value"] for f in figures}
    if "loss change low" not in values:
        return None
    return values["loss change low"], values["loss change high"]


def _interval(figures):
    """(low, high) of a measurement's multiplier interval from its figures, or None."""
    values = {f["key"]: f["value"] for f in figures}
    return (values["low"], values["high"]) if "low" in values else None


def _agreement(papers, verdict, interval=None):
    """Direction first. Where the paper's effect is itself a compute multiplier (its
    `multiplier`, rare: most papers report a loss at one size), a direction that agrees is also
    read against the zoo's interval, since 7,000x and 2x 'agree' in direction alone."""
    if papers is None:
        return None
    direction = papers["direction"]
    if verdict == "within noise":
        return "agrees" if direction == "neutral" else "cannot tell (within noise here)"
    if direction == "neutral":
        return f"disagrees (the zoo finds it {verdict}; the paper, no clear effect)"
    if verdict != direction:
        return "disagrees"
    published = papers.get("multiplier")
    if published is None or interval is None:
        return "agrees"
    side = _place(published, *interval)
    if side == "inside":
        return f"agrees, and so does the size (the paper's {published:g}× lies inside the interval)"
    return f"agrees; the size does not (the paper's {published:g}× lies {side} the interval)"


def findings(result):
    """The table 'zoo at each rung · papers' from `explain`'s result: one row per question a
    card asks (a measured entry), with per rung the multiplier, its interval and verdict, the
    trend across that rung's budgets and whether its direction agrees with the paper's; then
    the published effect. Every number is a figure's text (so sourced as the cards' are).

    Returns {'rungs': [rung labels, lowest first], 'rows': [{'choice', 'reads', 'cells':
    {rung: text}, 'papers'}]}."""
    rungs, rows = [], []
    for card in result["cards"]:
        for m in card["measurements"]:
            rung = m.get("rung") or m["study"]
            if rung not in rungs:
                rungs.append(rung)
            if not rows or (rows[-1]["choice"], rows[-1]["reads"]) != (card["id"], m["reads"]):
                rows.append({"choice": card["id"], "reads": m["reads"], "cells": {},
                             "papers": None, "figures": []})  # fmt: skip
            row = rows[-1]
            row["cells"][rung] = finding_cell(m)
            row["figures"] += m.get("figures", [])
            papers = card["measured"][m["measured"]].get("papers")
            if papers:
                change = papers.get("loss_change_percent")
                row["papers"] = (
                    f"{papers['effect']} ({papers['scale']}; {papers['source']}): "
                    f"{papers['direction']}"
                    + ("" if change is None else f" ({fmt(change, PERCENT_CHANGE)} in loss)")
                )
    return {"rungs": sorted(rungs, key=_rung_start), "rows": rows, "legend": result["legend"]}


def finding_cell(m, number=lambda figure: figure["text"], word=lambda text, pointer: text):
    """One cell of the findings table: a measurement in a few words. `number(figure)` and
    `word(text, pointer)` make its figures and its fit's words (`zoo report` makes them
    elements naming their source; the pointer is within the measurement's source)."""
    if "missing" in m:
        return "not measured yet"
    text = {f["key"]: number(f) for f in m["figures"]}
    at = m["figures"][0]["pointer"].rsplit("/", 1)[0]  # the arm's entry in the fit
    cell = f"{text['multiplier']}×"
    if "low" in text:
        cell += f" [{text['low']}, {text['high']}]"
    cell += " " + word(m["verdict"], f"{at}/verdict")
    if m.get("trend_verdict"):
        cell += "; trend " + word(m["trend_verdict"], f"{at}/trend/verdict")
        if "at top" in text:
            cell += f", {text['at top']}× at the top budget"
    if "loss change" in text:
        cell += f"; loss at the top {text['loss change']}"
        if "loss change low" in text:
            cell += f" [{text['loss change low']}, {text['loss change high']}]"
    if m.get("agreement"):
        cell += f"; the paper: {m['agreement'].split(' (')[0]}"
    if m.get("loss_place"):
        cell += f", its loss change {m['loss_place']} this interval"
    return cell


def _rung_start(rung):
    """'3e10–1e12' -> 3e10, for ordering rungs (a label that is not a range goes last)."""
    try:
        return float(rung.split("–")[0])
    except ValueError:
        return math.inf


def _scale(sweep):
    """(figures, line) of the scale a study's numbers come from: its runs' parameters, layers,
    tokens and epochs, smallest to largest, and where its best run stands against the n-gram
    baseline; ([], None) for a study without points. A multiplier means little without it: at
    10^4 parameters an effect can be an artefact of the budget (docs/findings.md)."""
    count = len(sweep.get("/points", "list", default=[]))
    if not count:
        return [], None
    figures, parts = [], []
    for key, what, kind in (("params", "parameters", "count"), ("num_layers", "layers", "count"),
                            ("tokens", "tokens", "count"), ("epochs", "epochs", "number")):  # fmt: skip
        known = [
            (value, i)
            for i in range(count)
            if (value := sweep.get(f"/points/{i}/{key}", "number", default=None)) is not None
        ]
        if not known:
            continue
        low = figure(sweep, f"{key} low", f"/points/{min(known)[1]}/{key}", kind)
        high = figure(sweep, f"{key} high", f"/points/{max(known)[1]}/{key}", kind)
        figures += [low, high]
        same = low["text"] == high["text"]
        parts.append(f"{what} {low['text']}" + ("" if same else f" to {high['text']}"))
    line = "scale: " + ", ".join(parts)
    scored = [
        (value, i)
        for i in range(count)
        if (value := sweep.get(f"/points/{i}/bits_per_byte", "number", default=None)) is not None
    ]
    if scored:
        best = figure(
            sweep, "best bits per byte", f"/points/{min(scored)[1]}/bits_per_byte", "loss"
        )
        figures.append(best)
        line += f"; its best run scores {best['text']} bits per byte"
        if sweep.get("/baseline/bits_per_byte", "number", default=None) is not None:
            ngram = figure(sweep, "n-gram bits per byte", "/baseline/bits_per_byte", "loss")
            figures.append(ngram)
            beaten = best["value"] < ngram["value"]
            line += f", the n-gram baseline {ngram['text']}: " + (
                "it beats counting" if beaten else "no run beats counting"
            )
    return figures, line


def _trend(sweep, at):
    """(figures, line) of the arm's multiplier across budgets, where its fit has one."""
    if sweep.get(f"{at}/trend", "object", default=None) is None:
        return [], (
            "trend: none in this study's fit (fitted before per-budget multipliers; "
            "`zoo fit FILE --law compute` refits its points with them)"
        )
    verdict = sweep.get(f"{at}/trend/verdict", "string")
    if sweep.get(f"{at}/trend/at_top", "number", default=None) is None:
        return [], f"trend across budgets: {verdict}"
    top = figure(sweep, "at top", f"{at}/trend/at_top", "multiplier")
    figures = [top]
    line = f"trend across budgets: {verdict}; the fitted line gives {top['text']}×"
    if _pair(sweep, f"{at}/trend/at_top_ci"):
        low = figure(sweep, "at top low", f"{at}/trend/at_top_ci/0", "multiplier")
        high = figure(sweep, "at top high", f"{at}/trend/at_top_ci/1", "multiplier")
        figures += [low, high]
        line += f" [{low['text']}, {high['text']}]"
    return figures, line + " at the top budget"


def _inference(inference, studies, root, cache):
    report, row = _opened(inference["study"], studies, root, cache)
    if report is None:
        return row
    source = row["source"]
    rows = report.get("/generate/rows", "list", default=[])
    names = [report.get(f"/generate/rows/{i}/name", "string") for i in range(len(rows))]
    if not all(n in names for n in inference["rows"]):
        return {**row, "missing": f"{source} lacks the rows " + ", ".join(inference["rows"])}
    lines, figures = [], []
    for name in inference["rows"]:
        at = f"/generate/rows/{names.index(name)}"
        cache_bytes = figure(report, f"{name} cache", f"{at}/cache_bytes_per_token", "bytes")
        speed = figure(report, f"{name} speed", f"{at}/tokens_per_second/median", "rate")
        figures += [cache_bytes, speed]
        lines.append(
            f"{name}: {cache_bytes['text']} cache bytes per token, decodes "
            f"{speed['text']} tokens/s (median)"
        )
    return {**row, "figures": figures, "summary": "; ".join(lines)}


def _search(search, studies, root, cache):
    """A samplers study (`zoo tune --sampler a,b,... --sampler-seeds N`): each sampler's mean
    best loss after every trial, the trials it needed to come within the tolerance of the best
    any search found, the best setting found and the fields' importance."""
    report, row = _opened(search["study"], studies, root, cache)
    if report is None:
        return row
    c = "/comparison"
    trials = figure(report, "trials", f"{c}/trials", "count")
    seeds = figure(report, "seeds", f"{c}/samplers/0/seeds", "count")
    tolerance = figure(report, "tolerance", f"{c}/tolerance", "number")
    reference = figure(report, "reference", f"{c}/reference", "loss")
    level = figure(report, "level", f"{c}/level", "percent")
    figures, finals, needs = [trials, seeds, tolerance, reference, level], [], []
    last = trials["value"] - 1
    for i in range(len(report.get(f"{c}/samplers", "list"))):
        at = f"{c}/samplers/{i}"
        name = report.get(f"{at}/name", "string")
        final = [figure(report, f"{name} best", f"{at}/best_after/{last}/mean", "loss")]
        if _pair(report, f"{at}/best_after/{last}/ci"):
            final += [figure(report, f"{name} best {end}", f"{at}/best_after/{last}/ci/{j}",
                             "loss") for j, end in enumerate(("low", "high"))]  # fmt: skip
        need = [figure(report, f"{name} trials", f"{at}/trials_to_tolerance/median", "number"),
                figure(report, f"{name} reached", f"{at}/trials_to_tolerance/reached", "count")]  # fmt: skip
        figures += final + need
        texts = [f["text"] for f in final]
        finals.append(
            f"{name} {texts[0]}" + (f" [{texts[1]}, {texts[2]}]" if len(texts) > 1 else "")
        )
        needs.append(f"{name} {need[0]['text']} ({need[1]['text']} of {seeds['text']} seeds)")
    summary = (
        f"mean best validation loss after {trials['text']} trials, over {seeds['text']} "
        f"sampler seeds ({level['text']} bootstrap): " + ", ".join(finals)
    )
    lines = [
        f"trials until within {tolerance['text']} (a fraction) of the best any search found "
        f"({reference['text']}), median over seeds (a seed that never came within counts "
        "one more than the trials): " + ", ".join(needs)
    ]
    if report.get("/best", "object", default=None) is not None:
        params = report.get("/best/params", "object")
        found = [figure(report, name, f"/best/params/{_escape(name)}", "number") for name in params]
        figures += found
        seed = figure(report, "best seed", "/best/seed", "count")
        loss = figure(report, "best loss", "/best/loss", "loss")
        figures += [seed, loss]
        by = f"{report.get('/best/sampler', 'string')}, seed {seed['text']}"
        lines.append(f"the best found ({by}; loss {loss['text']}): "
                     + ", ".join(f"{f['key']}={f['text']}" for f in found))  # fmt: skip
    importance = report.get("/importance", "object", default={}) or {}
    if importance:
        scores = [figure(report, f"{name} importance", f"/importance/{_escape(name)}/mean",
                         "number") for name in importance]  # fmt: skip
        figures += scores
        lines.append(
            "importance of each field (Optuna's evaluator, mean over the searches): "
            + ", ".join(f"{name} {f['text']}" for name, f in zip(importance, scores))
        )
    return {**row, "figures": figures, "summary": summary, "lines": lines}


LAW_AXES = ("compute", "parameters")  # what a published rate law is a power of


def _laws(laws, studies, root, cache):
    """A learning-rate rule (`zoo fit ... --law rates`): each arm's exponent of the best rate
    in compute and in parameters with its interval, and whether each published exponent
    (`laws['papers']`) lies inside it."""
    rule, row = _opened(laws["study"], studies, root, cache)
    if rule is None:
        return row
    source = row["source"]
    fit = "/fits/rates"
    keys = {"compute": "learning_rate", "parameters": "learning_rate_in_params"}
    symbol = {"compute": "C", "parameters": "N"}
    level = figure(rule, "level", f"{fit}/level", "percent")
    figures, lines = [level], []
    for axis in LAW_AXES:
        papers = [p for p in laws.get("papers", []) if p["against"] == axis]
        cells = []
        for i in range(len(rule.get(f"{fit}/arms", "list"))):
            at = f"{fit}/arms/{i}/{keys[axis]}"
            if rule.get(at, "object", default=None) is None:
                continue
            name = rule.get(f"{fit}/arms/{i}/name", "string")
            b = figure(rule, f"{name} {axis}", f"{at}/b", "number")
            cell, ci = f"{name} {b['text']}", _pair(rule, f"{at}/b_ci")
            figures.append(b)
            if ci:
                low = figure(rule, f"{name} {axis} low", f"{at}/b_ci/0", "number")
                high = figure(rule, f"{name} {axis} high", f"{at}/b_ci/1", "number")
                figures += [low, high]
                cell += f" [{low['text']}, {high['text']}]"
                inside = [
                    f"{p['source'].split(' (')[0]}'s "
                    + ("inside" if low["value"] <= p["exponent"] <= high["value"] else "outside")
                    for p in papers
                ]
                cell += f" ({', '.join(inside)})" if inside else ""
            cells.append(cell)
        if not cells:
            continue
        published = "; ".join(f"{p['source']}: {p['law']}" for p in papers)
        lines.append(
            f"η_opt ∝ {symbol[axis]}^b, b per arm with its {level['text']} interval: "
            + "; ".join(cells)
            + (f" · the papers: {published}" if published else "")
        )
    if not lines:
        return {**row, "missing": f"{source} holds no rule"}
    arms = range(len(rule.get(f"{fit}/arms", "list")))
    if all(rule.get(f"{fit}/arms/{i}/batch_tokens", "object", default=None) is None for i in arms):
        batch = figure(rule, "batch", f"{fit}/arms/0/near_optimal/0/batch_tokens", "count")
        figures.append(batch)
        lines.append(f"B_opt: no law here, the grids held the batch ({batch['text']} tokens)")
    tolerance = figure(rule, "tolerance", f"{fit}/tolerance", "number")
    figures.append(tolerance)
    summary = (
        f"the best peak learning rate per arm, fitted through the runs within {tolerance['text']} "
        "(a fraction) of each budget's best loss on full-length grids (DeepSeek LLM's procedure)"
    )
    return {**row, "figures": figures, "summary": summary, "lines": lines}


def _per_study(spec, studies, root, cache, read):
    """`read(study, row)` of each study `spec['studies']` names, in order; a study that is not
    committed gives its row saying why."""
    rows = []
    for name in spec["studies"]:
        study, row = _opened(name, studies, root, cache)
        rows.append(row if study is None else read(study, row))
    return rows


def _gradients(spec, studies, root, cache):
    """Per-layer gradient norms (`zoo gradients --json`), one study per model variant: for each,
    the first block's gradient norm over the last's at initialisation and after the study's
    last update. A list of rows, each as an inference row: a summary with its figures, or why
    there is none."""

    def read(study, row):
        last = len(study.get("/rows", "list")) - 1
        start = figure(study, "at initialisation", "/first_to_last/0", "number")
        end = figure(study, "at the end", f"/first_to_last/{last}", "number")
        steps = figure(study, "steps", f"/rows/{last}/step", "count")
        layers = figure(study, "layers", "/num_layers", "count")
        summary = (
            f"{layers['text']} blocks, {study.get('/norm_placement', 'string')}-norm, "
            f"{study.get('/feedforward', 'string')}: the first block's gradient norm over the "
            f"last's is {start['text']} at initialisation, {end['text']} after "
            f"{steps['text']} updates"
        )
        return {**row, "figures": [start, end, steps, layers], "summary": summary}

    return _per_study(spec, studies, root, cache, read)


def _attention_cost(spec, studies, root, cache):
    """`zoo bench attention`'s report: for each kernel, a training step's time and peak memory
    at the longest length in each scope, the fitted quadratic term's share there and the local
    exponent (d log y / d log T between the two longest lengths)."""
    study, row = _opened(spec["study"], studies, root, cache)
    if study is None:
        return [row]
    rows = []
    cells = study.get("/attention/rows", "list")
    for scope in spec["scopes"]:
        longest = max(c["seq_len"] for c in cells if c["scope"] == scope)
        figures, parts = [], []
        for kind in study.get("/attention/kinds", "list"):
            i = next(
                k
                for k, c in enumerate(cells)
                if (c["scope"], c["kind"], c["seq_len"]) == (scope, kind, longest)
            )
            fits = f"/attention/fits/{scope}/{kind}"
            ms = figure(study, f"{kind} ms", f"/attention/rows/{i}/ms", "count")
            memory = figure(study, f"{kind} MB", f"/attention/rows/{i}/peak_bytes", "megabytes")
            time_exponent = figure(
                study, f"{kind} time exponent", f"{fits}/ms/local_exponent", "number"
            )
            memory_exponent = figure(
                study, f"{kind} memory exponent", f"{fits}/peak_bytes/local_exponent", "number"
            )
            figures += [ms, memory, time_exponent, memory_exponent]
            parts.append(
                f"{kind} {ms['text']} ms and {memory['text']} MB (growing as "
                f"T^{time_exponent['text']} and T^{memory_exponent['text']})"
            )
        length = figure(study, f"{scope} length", f"/attention/rows/{i}/seq_len", "count")
        what = "one attention layer" if scope == "layer" else "a small model"
        summary = f"{what}, forward and backward at {length['text']} tokens: " + "; ".join(parts)
        rows.append({**row, "figures": [length, *figures], "summary": summary})
    return rows


def _parallel_memory(spec, studies, root, cache):
    """`zoo bench parallel`'s report: the small model's measured bytes per device (weights,
    gradients and optimizer state) on the most devices under each layout, and the accounting
    for the large models on the same layouts."""
    study, row = _opened(spec["study"], studies, root, cache)
    if study is None:
        return [row]
    rows = []
    measured = study.get("/parallel/measured", "list")
    most = max(r["devices"] for r in measured)
    first = next(i for i, r in enumerate(measured) if r["devices"] == most)
    devices = figure(study, "devices", f"/parallel/measured/{first}/devices", "count")
    figures, parts = [devices], []
    for i, r in enumerate(measured):
        if r["devices"] != most:
            continue
        at = f"/parallel/measured/{i}"
        held = [figure(study, f"{r['layout']} {k}", f"{at}/{k}", "megabytes") for k in PARTS]
        step = figure(study, f"{r['layout']} step", f"{at}/step_seconds", "number")
        figures += [*held, step]
        parts.append(
            f"{r['layout']} " + " + ".join(f["text"] for f in held) + f" MB, step {step['text']} s"
        )
    rows = [{
        **row,
        "figures": figures,
        "summary": f"a small model on {devices['text']} virtual devices, weights + gradients + "
        "optimizer state per device, measured from each device's shards: " + "; ".join(parts),
    }]  # fmt: skip
    accounted = study.get("/parallel/accounted", "list")
    for name in spec["accounted"]:
        figures, parts = [], []
        for i, r in enumerate(accounted):
            if r["model"] == name and r["devices"] == most:
                at = f"/parallel/accounted/{i}/total"
                total = figure(study, f"{name} {r['layout']}", at, "gigabytes")
                figures.append(total)
                parts.append(f"{r['layout']} {total['text']} GB")
        rows.append({
            **row,
            "figures": figures,
            "summary": f"{name} on {devices['text']} devices, accounted (float32 weights, "
            "gradients and two optimizer slots) per device: " + "; ".join(parts),
        })  # fmt: skip
    return rows


def _epochs(spec, studies, root, cache):
    """`zoo sweep epochs`' study: per budget, what each pass count is worth in fresh data
    (measured, and Muennighoff et al.'s prediction), and what patience did at the most passes."""
    study, row = _opened(spec["study"], studies, root, cache)
    if study is None:
        return [row]
    rows = []
    for i in range(len(study.get("/epochs", "list"))):
        at = f"/epochs/{i}"
        budget = figure(study, "budget", f"{at}/budget", "flops")
        figures, parts = [budget], []
        passes = study.get(f"{at}/passes", "list")
        for j, entry in enumerate(passes):
            if entry["passes"] == 1:
                continue
            count = figure(study, "passes", f"{at}/passes/{j}/passes", "count")
            loss = figure(study, "loss", f"{at}/passes/{j}/mean", "loss")
            predicted = figure(study, "predicted", f"{at}/passes/{j}/predicted_fraction", "percent")
            figures += [count, loss, predicted]
            if entry["effective_fraction"] is None:
                worth = "outside the fresh-data curve"
            else:
                measured = figure(study, "worth", f"{at}/passes/{j}/effective_fraction", "percent")
                figures.append(measured)
                worth = f"worth {measured['text']} of fresh data"
            parts.append(
                f"{count['text']} passes {loss['text']} ({worth}; Muennighoff {predicted['text']})"
            )
        most = len(passes) - 1
        if passes and passes[most].get("patience"):
            stopped = figure(study, "stopped", f"{at}/passes/{most}/patience/stopped", "count")
            seeds = figure(study, "seeds", f"{at}/passes/{most}/patience/seeds", "count")
            steps = figure(study, "steps", f"{at}/passes/{most}/patience/steps_fraction", "percent")
            change = figure(
                study, "change", f"{at}/passes/{most}/patience/loss_minus_full", "number"
            )
            figures += [stopped, seeds, steps, change]
            parts.append(
                f"patience stopped {stopped['text']} of {seeds['text']} runs at the most passes "
                f"after {steps['text']} of the steps, loss {change['text']} against the full run"
            )
        summary = f"at {budget['text']} FLOPs (loss in nats/token): " + "; ".join(parts)
        rows.append({**row, "figures": figures, "summary": summary})
    return rows


def _valleys(spec, studies, root, cache):
    """IsoFLOP fits (`zoo sweep isoflop`, or `zoo fit --law isoflop` refits of one): each
    study's exponent a of N_opt ∝ C^a with its interval, b, the tokens per parameter at the
    optimum, over which budgets and parameter convention, and where each published exponent
    (`spec['papers']`) lies against the interval."""

    def read(study, row):
        fit = "/fits/isoflop"
        used = [i for i in range(len(study.get(f"{fit}/budgets", "list")))
                if study.get(f"{fit}/budgets/{i}/used", "bool")]  # fmt: skip
        if len(used) < 2:
            raise study.damaged(f"{fit}/budgets has fewer than 2 budgets used by the fit")
        figures = [
            figure(study, "a", f"{fit}/a", "number"),
            figure(study, "b", f"{fit}/b", "number"),
            figure(study, "per", f"{fit}/tokens_per_parameter", "count"),
            figure(study, "budgets", f"{fit}/budgets", "length"),
            figure(study, "lowest", f"{fit}/budgets/{used[0]}/budget", "flops"),
            figure(study, "highest", f"{fit}/budgets/{used[-1]}/budget", "flops"),
        ]
        text = {f["key"]: f["text"] for f in figures}
        intervals = {}
        for key, kind in (("a", "number"), ("b", "number"), ("per", "count")):
            pointer = f"{fit}/{'tokens_per_parameter' if key == 'per' else key}_ci"
            if _pair(study, pointer):
                low = figure(study, f"{key} low", f"{pointer}/0", kind)
                high = figure(study, f"{key} high", f"{pointer}/1", kind)
                figures += [low, high]
                intervals[key] = (low, high)
        shown = {k: f" [{lo['text']}, {hi['text']}]" for k, (lo, hi) in intervals.items()}
        convention = study.get(f"{fit}/params_convention", "string")
        how = ""
        if study.get(f"{fit}/noise", "number", default=None) is not None:
            sigma = figure(study, "noise", f"{fit}/noise", "number")
            figures.append(sigma)
            how = f", the bootstrap drawn with the seed noise σ {sigma['text']}"
        summary = (
            f"{convention} parameters, {len(used)} budgets from {text['lowest']} to "
            f"{text['highest']} FLOPs{how}: N_opt ∝ C^a with a = {text['a']}{shown.get('a', '')}, "
            f"D_opt ∝ C^b with b = {text['b']}{shown.get('b', '')}, {text['per']}"
            f"{shown.get('per', '')} tokens per parameter at the optimum"
        )
        if "a" in intervals:
            low, high = (v["value"] for v in intervals["a"])
            places = []
            for paper in spec.get("papers", []):
                where = _place(paper["exponent"], low, high)
                places.append(f"{paper['law']} ({paper['source']}) lies {where} it")
            if places:
                summary += "; " + "; ".join(places)
        return {**row, "figures": figures, "summary": summary}

    return _per_study(spec, studies, root, cache, read)


def _continued(spec, studies, root, cache):
    """`zoo sweep continued`'s study: per budget, the continued run's loss against one
    uninterrupted run and a fresh model on the same compute, as paired differences."""
    study, row = _opened(spec["study"], studies, root, cache)
    if study is None:
        return [row]
    rows = []
    for i in range(len(study.get("/continued", "list"))):
        at = f"/continued/{i}"
        budget = figure(study, "budget", f"{at}/budget", "flops")
        share = figure(study, "fraction", "/fraction", "percent")
        figures, parts = [budget, share], []
        for role in ("first", "continued", "scratch", "whole"):
            loss = figure(study, role, f"{at}/{role}/mean", "loss")
            figures.append(loss)
            parts.append(f"{role} {loss['text']}")
        for other in ("whole", "scratch"):
            d = figure(study, f"- {other}", f"{at}/continued_minus_{other}/mean", "number")
            figures.append(d)
            interval = ""
            if study.get(f"{at}/continued_minus_{other}/interval", "list", default=None):
                low, high = (
                    figure(
                        study,
                        f"- {other} {k}",
                        f"{at}/continued_minus_{other}/interval/{k}",
                        "number",
                    )
                    for k in (0, 1)
                )
                figures += [low, high]
                interval = f" [{low['text']}, {high['text']}]"
            parts.append(f"continued − {other} {d['text']}{interval}")
        summary = (
            f"at {budget['text']} FLOPs, the first run on {share['text']} of it (loss in "
            "nats/token): " + "; ".join(parts)
        )
        rows.append({**row, "figures": figures, "summary": summary})
    return rows


def _logits(spec, studies, root, cache):
    """A rates grid of a baseline and the same model with z-loss (`zoo sweep rates`, whose
    points carry the final output log Z on the probe batch): per learning rate, seed 0's loss
    and mean |log Z| without and with z-loss."""
    study, row = _opened(spec["study"], studies, root, cache)
    if study is None:
        return [row]
    points = study.get("/points", "list")
    at = {(p["arm"], p["learning_rate"], p["seed"]): i for i, p in enumerate(points)}
    rows = []
    for rate in sorted({p["learning_rate"] for p in points if p["arm"] == spec["baseline"]}):
        figures, parts = [], []
        for name, arm in (("without", spec["baseline"]), ("with z-loss", spec["arm"])):
            i = at.get((arm, rate, 0))
            if i is None:
                continue
            lr = figure(study, "rate", f"/points/{i}/learning_rate", "number")
            loss = figure(study, f"{name} loss", f"/points/{i}/loss", "loss")
            log_z = figure(study, f"{name} log Z", f"/points/{i}/output_abs_log_z", "number")
            figures += [lr, loss, log_z]
            parts.append(f"{name}: loss {loss['text']}, mean |log Z| {log_z['text']}")
        if parts:
            summary = f"peak rate {figures[0]['text']} (seed 0): " + "; ".join(parts)
            rows.append({**row, "figures": figures, "summary": summary})
    return rows


PARTS = ("parameters", "gradients", "optimizer")


def _verdict_line(card):
    """The card's one line for the list: its first question at the highest rung measured so
    far (its summary states the budgets), or why there is none."""
    if not card["measurements"]:
        search, gradients = card.get("search"), card.get("gradients")
        if search and "missing" not in search:
            return search["summary"]
        for key in ("cost", "memory", "epochs", "continued", "logits"):
            rows = [row for row in card.get(key) or () if "missing" not in row]
            if rows:  # a study by budget: its highest; a benchmark: its first table
                return rows[-1 if key in ("epochs", "continued") else 0]["summary"]
        measured = [row for row in gradients or () if "missing" not in row]
        if measured:  # the card's headline variants side by side (default: the first)
            headline = card.get("gradients_headline", [])
            shown = [row for row in measured if row["study"] in headline] or measured[:1]
            return "; ".join(row["summary"] for row in shown)
        return "not measured: " + card.get("unmeasured", "no study")
    first = [m for m in card["measurements"] if m["reads"] == card["measurements"][0]["reads"]]
    measured = [m for m in first if "missing" not in m]
    if not measured:
        return "not measured yet: " + first[0]["missing"]
    return f"{measured[-1]['reads']}: {measured[-1]['summary']}"


def _normal(name):
    return name.strip().lower().replace("_", "-")


__all__ = [
    "Document",
    "choice_names",
    "explain",
    "figure",
    "find_card",
    "finding_cell",
    "findings",
    "fmt",
]
