"""The page: its frame (a little CSS, no external resource, so it opens offline), one section
per study (`sections`), the cards that read each study, and the choices no study measures."""

import pathlib

from zoo import explain
from zoo.report import sections
from zoo.report.studies import (
    CHOICES,
    KINDS,
    anchor,
    choice,
    commands,
    escape,
    file_element,
    sourced,
)


def page(studies, orphans, others, root):
    """index.html, whole."""
    cards = explain.explain(None, root=root)["cards"]
    data = explain.load_cards()
    context = {"studies": data["studies"], "cards": cards, "choices": data["cards"]}
    context["commands"] = commands(root)
    contents = "".join(
        f'<li><a href="#{escape(anchor(s.path))}">{file_element(s.path, s.stem)}</a>: '
        f"{KINDS[s.kind]}</li>"
        for s in studies
    )
    body = [
        "<h1>What the zoo measured: every committed study</h1>",
        (
            "<p>Every study the zoo has committed under <code>results/reference/</code>, "
            "rendered "
            "from its JSON by <code>zoo report</code>. Each number is read from a committed file: "
            "hover over it to see the file and the JSON pointer it came from. The words are the "
            "cards' of <code>zoo explain</code> (<code>zoo/choices.json</code>) or this page's "
            "own. How each study was set up, and what it does and does not show: "
            "<code>docs/findings.md</code>, <code>docs/scaling.md</code> and "
            "<code>docs/comparisons.md</code>.</p>"
        ),
        f'<p class="legend">{sourced(explain.LEGEND, "zoo.explain.LEGEND", "constant")}</p>',
        f"<nav><h2>The studies</h2><ul>{contents}</ul></nav>",
        _findings(context),
        *(_section(study, context) for study in studies),
        _unmeasured(data["cards"]),
        _rest(orphans, others),
    ]
    return FRAME.replace("{body}", "\n".join(part for part in body if part))


FRAME = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zoo report: the committed studies</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 72em; margin: 2em auto;
       padding: 0 1em; color: #222; }
section { border-top: 1px solid #ccc; margin-top: 2.5em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .where { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.n { border-bottom: 1px dotted #999; font-variant-numeric: tabular-nums; }
code { background: #f4f4f4; padding: 0 0.2em; overflow-wrap: anywhere; }
.legend { color: #444; font-size: 0.95em; }
</style>
</head>
<body>
{body}
<script>
// For a headless browser (tests/test_report.py): how many figures finished loading.
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) loaded += 1;
  }
  document.body.dataset.figuresLoaded = loaded + "/" + images.length;
});
</script>
</body>
</html>
"""


def _section(study, context):
    parts = getattr(sections, study.kind)(study, context)
    figures = (
        "".join(
            f'<figure><img src="{escape(anchor(f) + pathlib.PurePath(f).suffix)}" '
            f'alt="{escape(anchor(f))}"><figcaption>{file_element(f, f)}'
            "</figcaption></figure>"
            for f in study.figures
        )
        or '<p class="where">No figure is committed for this one.</p>'
    )
    return (
        f'<section id="{escape(anchor(study.path))}"><h2>{file_element(study.path, study.stem)}</h2>'
        f'<p class="where">{KINDS[study.kind]}, from {file_element(study.path, study.path)}</p>'
        f"<p><b>The question.</b> {parts['question']}</p>"
        f"<p><b>How it was run.</b> {parts['setup']}</p>"
        f"{figures}{parts['table']}{parts.get('trend', '')}"
        + (f"<p><b>The scale.</b> {parts['scale']}</p>" if parts.get("scale") else "")
        + _cards(study, context)
        + _reproduce(context["commands"].get(study.path))
        + "</section>"
    )


def _reproduce(command):
    if command is None:
        return '<p class="where">No command is recorded for this one.</p>'
    text, source = command
    written = source.split("#")[0]
    return (
        f"<p><b>Reproduce it.</b> {sourced(text, source, 'command')} "
        f'<span class="where">(as written in {file_element(written, written)})</span></p>'
    )


def _cards(study, context):
    """The cards that read this study: what each reads, its figures as `zoo explain` made
    them, what its paper claimed, and the command for the whole card."""
    items = []
    for i, (card, words) in enumerate(zip(context["cards"], context["choices"])):
        lines = []
        for m in card["measurements"]:
            if m["source"] != study.path:
                continue
            reads = choice(f"/cards/{i}/measured/{m['measured']}/reads", m["reads"])
            if "missing" not in m:
                text = {f["key"]: _figure(f, m["source"]) for f in m["figures"]}
                arm = m["figures"][0]["pointer"].rsplit("/", 1)[0]  # its entry in the fit
                interval = f" [{text['low']}, {text['high']}]" if "low" in text else ""
                reads += (
                    f": {text['multiplier']}×{interval} against "
                    f"{study.s('/fits/compute/baseline')}: {study.s(arm + '/verdict')}"
                )
            lines.append(reads if "missing" not in m else f"{reads}: not measured yet")
        inference = card.get("inference")
        if inference and inference["source"] == study.path and "figures" in inference:
            for k, name in enumerate(words["inference"]["rows"]):
                cache, speed = (_figure(f, study.path) for f in inference["figures"][2 * k :][:2])
                lines.append(
                    f"{choice(f'/cards/{i}/inference/rows/{k}', name)}: {cache} cache bytes per "
                    f"token, decodes {speed} tokens per second"
                )
        for key, what in (("search", "the samplers compared"),
                          ("laws", "the laws behind the optimum"),
                          ("gradients", "the gradient through depth"),
                          ("cost", "time and memory against length"),
                          ("memory", "memory per device"),
                          ("epochs", "repetition against fresh data"),
                          ("continued", "continuing against starting over"),
                          ("logits", "the output logits at high learning rates"),
                          ("valleys", "the compute-optimal size against compute")):  # fmt: skip
            entries = card.get(key) or []
            for entry in entries if isinstance(entries, list) else [entries]:
                if entry["source"] == study.path and "missing" not in entry:
                    lines.append(f"{what}: the figures above, as the card prints them")
        if lines:
            name = choice(f"/cards/{i}/id", card["id"])
            items.append(
                f"<li>{name}: {choice(f'/cards/{i}/title', card['title'])}<ul>"
                + "".join(f"<li>{line}</li>" for line in lines)
                + f"<li>What its paper claimed: {choice(f'/cards/{i}/claim', card['claim'])}"
                f"</li></ul>The whole card: <code>zoo explain {name}</code></li>"
            )
    return f"<p><b>The cards that read it.</b></p><ul>{''.join(items)}</ul>" if items else ""


def _findings(context):
    """Every question a card asks, the zoo's answer at each rung of budgets beside the
    paper's: `zoo explain --findings` as a table whose every number names its source."""
    studies = context["studies"]
    rungs = {}  # label -> its element (the cards file's `rung` of a study at that rung)
    for name, study in studies.items():
        if study.get("rung"):
            rungs.setdefault(study["rung"], choice(f"/studies/{name}/rung", study["rung"]))
    order = sorted(rungs, key=explain._rung_start)
    rows = []
    for i, (card, words) in enumerate(zip(context["cards"], context["choices"])):
        for k, measured in enumerate(words["measured"]):
            answers = [m for m in card["measurements"] if m["measured"] == k]
            cells = {m.get("rung"): _finding(m) for m in answers}
            papers = measured.get("papers")
            rows.append(
                [
                    choice(f"/cards/{i}/id", card["id"]),
                    choice(f"/cards/{i}/measured/{k}/reads", measured["reads"]),
                    *(cells.get(rung, "not asked at this rung") for rung in order),
                    (
                        f"{choice(f'/cards/{i}/measured/{k}/papers/effect', papers['effect'])} "
                        f"({choice(f'/cards/{i}/measured/{k}/papers/scale', papers['scale'])}; "
                        f"{choice(f'/cards/{i}/measured/{k}/papers/source', papers['source'])})"
                        f": {choice(f'/cards/{i}/measured/{k}/papers/direction', papers['direction'])}"
                        + _loss_change_percent(papers, f"/cards/{i}/measured/{k}/papers")
                        if papers
                        else "—"
                    ),
                ]
            )
    if not rows:
        return ""
    header = ["choice", "question", *(f"the zoo at {rungs[r]} FLOPs" for r in order), "papers"]
    return (
        '<section id="findings"><h2>What each choice bought, rung by rung, beside the papers'
        "</h2><p>Each question of the cards, answered by the studies at each rung of budgets: "
        "the compute multiplier against the study's baseline with its interval and verdict, "
        "the trend across that rung's budgets where its fit has one, and whether its direction "
        "agrees with the paper's effect, measured at the paper's scale (last column).</p>"
        + sections.table(header, rows)
        + "</section>"
    )


def _loss_change_percent(papers, pointer):
    """' (+0.93% in loss)' where the paper gives its effect as two losses, sourced."""
    change = papers.get("loss_change_percent")
    if change is None:
        return ""
    kind = explain.PERCENT_CHANGE
    element = sourced(explain.fmt(change, kind), f"{CHOICES}#{pointer}/loss_change_percent", kind)
    return f" ({element} in loss)"


def _finding(m):
    """One cell of the findings table (`zoo.explain.finding_cell`), every number and word of
    its fit an element naming its source."""
    return explain.finding_cell(
        m,
        number=lambda figure: _figure(figure, m["source"]),
        word=lambda text, pointer: sourced(text, f"{m['source']}#{pointer}", "text"),
    )


def _figure(figure, source):
    return sourced(figure["text"], f"{source}#{figure['pointer']}", figure["kind"])


def _unmeasured(cards):
    items = [
        f"<li>{choice(f'/cards/{i}/id', card['id'])}: "
        f"{choice(f'/cards/{i}/title', card['title'])}: "
        f"{choice(f'/cards/{i}/unmeasured', card['unmeasured'])}</li>"
        for i, card in enumerate(cards)
        if not card["measured"] and card.get("unmeasured")
    ]
    if not items:
        return ""
    return (
        '<section id="unmeasured"><h2>Choices no study measures yet</h2>'
        f"<ul>{''.join(items)}</ul></section>"
    )


def _rest(orphans, others):
    items = [f"<li>{file_element(f, f)}: a figure no committed study names</li>" for f in orphans]
    items += [f"<li>{file_element(s.path, s.path)}</li>" for s in others]
    if not items:
        return ""
    return (
        '<section id="other-files"><h2>Also committed, not drawn here</h2>'
        "<p>Benchmarks and tables that the README and the docs quote; they hold no fit.</p>"
        f"<ul>{''.join(items)}</ul></section>"
    )
