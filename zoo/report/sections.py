"""One function per kind of study: what its JSON holds, as the page's question, setup, table,
trend and scale (HTML). Every value shown is an element naming its source (`Study.n`, `.s`);
the words around them are this module's and hold no digit (tests/test_report.py checks)."""

from zoo.report.studies import choice, file_element


def question(study, context):
    """The cards file's question for this study, when it has one."""
    for name, entry in context["studies"].items():
        if entry["file"] == study.path and entry.get("question"):
            return choice(f"/studies/{name}/question", entry["question"])
    return None


def table(header, rows):
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rate(s):
    if s.get("/tune_lr", "bool", default=False):
        return "learning rate tuned per arm and budget"
    if s.get("/rates", "string", default=None):  # zoo sweep compute --rates RULE.json
        return "learning rate from a fitted law in compute (" + s.s("/rates") + ")"
    return "learning rate by the size rule"


def compute(s, context):
    fit = "/fits/compute"
    arms = [f"{fit}/arms/{i}" for i in range(s.count(f"{fit}/arms"))]
    baseline = s.s(f"{fit}/baseline") if s.value(f"{fit}/baseline") else "the first arm"
    names = ", ".join(s.s(f"{a}/name") for a in arms) or s.listed("/models")
    setup = f"Arms: {names}. Budgets: {s.listed('/budgets', 'flops')} FLOPs"
    if s.value(f"{fit}/flops_convention"):
        setup += f" (counted by the {s.s(f'{fit}/flops_convention')} convention)"
    setup += f"; seeds per arm and budget: {s.n('/seeds', 'count')}"
    if s.value("/allocation"):
        setup += f"; allocation: {s.s('/allocation')}"
    setup += f"; {_rate(s)}; data: {s.s('/data')}, tokenizer: {s.s('/tokenizer')}."
    parts = {
        "question": question(s, context)
        or (
            f"How much training compute does each arm save, or cost, against {baseline}, when "
            "every arm trains at the same budgets and its loss is fitted as a curve in compute?"
        ),
        "setup": setup,
        "scale": scale(s),
    }
    if not arms:
        why = s.s(f"{fit}/error") if s.value(f"{fit}/error") else "the file holds none"
        return {**parts, "table": f"<p>No fit: {why}.</p>", "trend": ""}
    crossing = any(s.has(f"{a}/reference_crossing") for a in arms)
    trend = any(s.value(f"{a}/trend") or s.value(f"{a}/by_budget") for a in arms)
    header = [
        "arm",
        "γ: loss falls as C<sup>−γ</sup>",
        f"compute multiplier against {baseline}",
        "verdict",
    ]
    header += ["its fitted curve reaches the n-gram baseline at (FLOPs)"] * crossing
    header += ["its multiplier at each budget, and the trend across them"] * trend
    rows = []
    for a in arms:
        row = [
            s.s(f"{a}/name"),
            s.n(f"{a}/gamma", "number") + s.interval(f"{a}/gamma_ci", "number"),
            s.n(f"{a}/multiplier", "multiplier")
            + "×"
            + s.interval(f"{a}/multiplier_ci", "multiplier")
            + (" extrapolated" if s.value(f"{a}/extrapolated") else ""),
            s.s(f"{a}/verdict"),
        ]
        if crossing:
            row.append(
                s.n(f"{a}/reference_crossing", "crossing")
                + s.interval(f"{a}/reference_crossing_ci", "crossing")
                + (" extrapolated" if s.value(f"{a}/reference_crossing_extrapolated") else "")
                if s.has(f"{a}/reference_crossing")
                else "—"
            )
        if trend:
            row.append(_trend(s, a))
        rows.append(row)
    notes = "".join(f"<li>{s.s(f'{fit}/notes/{i}')}</li>" for i in range(s.count(f"{fit}/notes")))
    return {
        **parts,
        "table": table(header, rows) + (f"<ul>{notes}</ul>" if notes else ""),
        "trend": _trend_paragraph(s, trend),
    }


def _trend(s, arm):
    """An arm's multipliers per budget and their trend (`fit_compute`'s `by_budget`, `trend`)."""
    if s.value(f"{arm}/verdict") == "baseline":  # its multipliers are 1 by definition
        return s.s(f"{arm}/verdict")
    budgets = "; ".join(
        f"{s.n(f'{b}/budget', 'flops')}: {s.n(f'{b}/multiplier', 'multiplier')}×"
        f"{s.interval(f'{b}/multiplier_ci', 'multiplier')} {s.s(f'{b}/verdict')}"
        for b in (f"{arm}/by_budget/{i}" for i in range(s.count(f"{arm}/by_budget")))
    )
    t = f"{arm}/trend"
    if not s.value(t):
        return budgets or "—"
    text = s.s(f"{t}/verdict")
    if s.value(f"{t}/slope") is not None:
        text += (
            f": slope of ln m on ln C {s.n(f'{t}/slope', 'number')}"
            f"{s.interval(f'{t}/slope_ci', 'number')}"
        )
    if s.value(f"{t}/at_top") is not None:
        text += (
            f"; the fitted line at the top budget {s.n(f'{t}/at_top', 'multiplier')}×"
            f"{s.interval(f'{t}/at_top_ci', 'multiplier')}"
        )
    return f"{text}<br>{budgets}" if budgets else text


def _trend_paragraph(s, has_trend):
    if has_trend:
        return (
            "<p><b>The trend across budgets.</b> The last column gives each arm's multiplier "
            "at every budget both it and the baseline trained, and how it moves with compute "
            "(the slope of its logarithm on the logarithm of compute): stable, growing, "
            "shrinking, or sign flips.</p>"
        )
    return (
        "<p><b>The trend across budgets.</b> Not in this study: its fit predates the "
        "per-budget multipliers that <code>zoo.scaling.fit.fit_compute</code> now gives each "
        "arm (<code>by_budget</code>, and a <code>trend</code>: stable, growing, shrinking or "
        "sign flips), so its multipliers are read at the largest budget alone. "
        f"<code>zoo fit {file_element(s.path, s.path)} --law compute</code> refits its "
        "committed points with them, without training.</p>"
    )


def scale(s):
    """The range of the study's runs (parameters, layers, tokens) and where its best run
    stands against the n-gram baseline, from its `points`."""
    points = [f"/points/{i}" for i in range(s.count("/points"))]
    parts = []
    for key, what in (("params", "parameters"), ("num_layers", "layers"), ("tokens", "tokens")):
        known = [p for p in points if s.value(f"{p}/{key}") is not None]
        if not known:
            continue
        low = min(known, key=lambda p: s.get(f"{p}/{key}", "number"))
        high = max(known, key=lambda p: s.get(f"{p}/{key}", "number"))
        span = s.n(f"{low}/{key}", "count")
        if s.value(f"{low}/{key}") != s.value(f"{high}/{key}"):
            span += f" to {s.n(f'{high}/{key}', 'count')}"
        parts.append(f"{what} {span}")
    if not parts:
        return ""
    text = "Its runs: " + ", ".join(parts) + "."
    scored = [p for p in points if s.value(f"{p}/bits_per_byte") is not None]
    if not scored:
        return text
    best = min(scored, key=lambda p: s.get(f"{p}/bits_per_byte", "number"))
    shape = ""
    if s.value(f"{best}/num_layers") is not None and s.value(f"{best}/hidden_dim") is not None:
        shape = f"{s.n(f'{best}/num_layers', 'count')}×{s.n(f'{best}/hidden_dim', 'count')}, "
    text += (
        f" The best single run, {s.s(f'{best}/arm')} at {s.n(f'{best}/budget', 'flops')} FLOPs "
        f"({shape}{s.n(f'{best}/params', 'count')} parameters, "
        f"{s.n(f'{best}/tokens', 'count')} tokens), scores "
        f"{s.n(f'{best}/bits_per_byte', 'loss')} bits per byte on the validation text"
    )
    yardstick = s.value("/baseline/bits_per_byte")
    if yardstick is None:
        return text + "."
    beaten = s.get(f"{best}/bits_per_byte", "number") < s.get("/baseline/bits_per_byte", "number")
    return text + (
        f"; the {s.s('/baseline/name')} scores {s.n('/baseline/bits_per_byte', 'loss')} on the "
        "same text, so "
        + ("the best run beats counting." if beaten else "no run of this study beats counting.")
    )


def isoflop(s, context):
    rate = _rate(s).replace("per arm and budget", "per size")
    setup = (
        f"Model: {s.s('/model')}. Budgets: {s.listed('/budgets', 'flops')} FLOPs; "
        f"sizes per budget: {s.n('/sizes', 'count')}, seeds per size: {s.n('/seeds', 'count')}; "
        f"parameters counted: {s.s('/params_convention')}; {rate}; data: {s.s('/data')}, "
        f"tokenizer: {s.s('/tokenizer')}."
    )
    fits = [(study, law) for study in (s, *s.refits) for law in ("isoflop", "parametric")]
    rows, notes = [], {}  # a note the refits repeat is shown once
    for study, law in fits:
        at = f"/fits/{law}"
        if not study.value(at):
            continue
        named = "IsoFLOP parabolas (Chinchilla's second approach)"
        if law == "parametric":
            named = "the law L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup> (its third)"
        if study.value("/max_epochs") is not None:  # zoo fit --max-epochs: repeated runs out
            named += f", runs of at most {study.n('/max_epochs', 'number')} passes"
        if study.value("/budgets") is not None and study.kind == "refit":  # zoo fit --budgets
            named += f", budgets {study.s('/budgets')} only"
        if study.value(f"{at}/noise") is not None:  # zoo fit --noise: a parametric bootstrap
            named += f", bootstrap drawn with the seed noise (σ {study.n(f'{at}/noise', 'number')} in ln loss)"
        per = study.n(f"{at}/tokens_per_parameter", "count")
        per += study.interval(f"{at}/tokens_per_parameter_ci", "count")
        if study.value(f"{at}/tokens_per_parameter_flops") is not None:
            per += f" at {study.n(f'{at}/tokens_per_parameter_flops', 'flops')} FLOPs"
        rows.append(
            [
                named,
                file_element(study.path),
                study.s(f"{at}/params_convention"),
                study.s(f"{at}/flops_convention") if study.value(f"{at}/flops_convention") else "—",
                study.n(f"{at}/a", "number") + study.interval(f"{at}/a_ci", "number"),
                study.n(f"{at}/b", "number") + study.interval(f"{at}/b_ci", "number"),
                per,
            ]
        )
        for i in range(study.count(f"{at}/notes")):
            notes.setdefault(study.get(f"{at}/notes/{i}", "string"), study.s(f"{at}/notes/{i}"))
    header = [
        "fit",
        "file",
        "parameters counted",
        "FLOPs counted",
        "a: N<sub>opt</sub> ∝ C<sup>a</sup>",
        "b: D<sub>opt</sub> ∝ C<sup>b</sup>",
        "tokens per parameter at the optimum",
    ]
    budgets = [f"/fits/isoflop/budgets/{i}" for i in range(s.count("/fits/isoflop/budgets"))]
    valleys = table(
        ["budget (FLOPs)", "N<sub>opt</sub>", "D<sub>opt</sub>", "tokens per parameter",
         "loss at the optimum (nats per byte)", "in the power laws"],
        [[s.n(f"{b}/budget", "flops"), s.n(f"{b}/n_opt", "count"), s.n(f"{b}/d_opt", "count"),
          s.n(f"{b}/tokens_per_parameter", "count"), s.n(f"{b}/loss_opt", "loss"),
          "yes" if s.value(f"{b}/used") else "no: its minimum is at an edge"]
         for b in budgets],
    )  # fmt: skip
    return {
        "question": question(s, context)
        or (
            f"At each budget, which size of {s.s('/model')} reaches the lowest loss, and how "
            "do the best size and its training tokens grow with compute?"
        ),
        "setup": setup,
        "table": table(header, rows)
        + ("<ul>" + "".join(f"<li>{n}</li>" for n in notes.values()) + "</ul>" if notes else "")
        + ("<p>Each budget's valley (the IsoFLOP fit above):</p>" + valleys if budgets else ""),
        "scale": scale(s),
    }


def comparison(s, context):
    rows = [f"/rows/{i}" for i in range(s.count("/rows"))]
    models = ", ".join(s.s(f"{r}/model") for r in rows)
    tuned = "tuned" if s.get("/tune_lr", "bool", default=False) else "each recipe's own"
    header = ["model", "parameters", "non-embedding", "layers × width", "tokens",
              "tokens per parameter", "learning rate", "validation bits per byte",
              "difference from the first row"]  # fmt: skip
    cells = [
        [s.s(f"{r}/model"), s.n(f"{r}/params", "count"),
         s.n(f"{r}/non_embedding_params", "count"),
         f"{s.n(f'{r}/num_layers', 'count')}×{s.n(f'{r}/hidden_dim', 'count')}",
         s.n(f"{r}/tokens", "count"), s.n(f"{r}/tokens_per_parameter", "number"),
         s.n(f"{r}/learning_rate", "number"), s.n(f"{r}/validation_bits_per_byte", "loss"),
         s.n(f"{r}/delta_bits_per_byte", "loss")]
        for r in rows
    ]  # fmt: skip
    return {
        "question": question(s, context)
        or (
            f"Given the same training compute, {s.n('/budget_flops', 'flops')} FLOPs each, "
            f"which of {models} reaches the lower validation loss?"
        ),
        "setup": (
            f"Budget: {s.n('/budget_flops', 'flops')} FLOPs per model; "
            f"seeds: {s.n('/seeds', 'count')}; learning rate: {tuned}; data: {s.s('/data')}, "
            f"tokenizer: {s.s('/tokenizer')}."
        ),
        "table": table(header, cells),
        "scale": "The table gives each model's parameters, shape and tokens; this file holds "
        "no n-gram baseline to set them against.",
    }


def generate(s, context):
    g = "/generate"
    rows = [f"{g}/rows/{i}" for i in range(s.count(f"{g}/rows"))]
    cells = [
        [s.s(f"{r}/name"), s.n(f"{r}/params", "count"), s.n(f"{r}/num_query_heads", "count"),
         s.n(f"{r}/num_key_value_heads", "count"), s.n(f"{r}/cache_bytes_per_token", "bytes"),
         s.n(f"{r}/tokens_per_second/median", "rate")]
        for r in rows
    ]  # fmt: skip
    return {
        "question": question(s, context)
        or "How fast does each model decode, and how much cache does it keep per token?",
        "setup": (
            f"Decoding with the key/value cache: batch {s.n(f'{g}/batch_size', 'count')}, a "
            f"prompt of {s.n(f'{g}/prompt_tokens', 'count')} tokens, "
            f"{s.n(f'{g}/new_tokens', 'count')} new tokens; {s.s('/backend')} on "
            f"{s.s('/device')}."
        ),
        "table": table(
            [
                "model",
                "parameters",
                "query heads",
                "key/value heads",
                "cache bytes per token",
                "tokens per second (median)",
            ],
            cells,
        ),
    }


def attention(s, context):
    """`zoo bench attention`: each kernel's milliseconds and peak megabytes per length and
    scope, then the fitted terms and local exponents."""
    a = "/attention"
    kinds = [s.value(f"{a}/kinds/{i}") for i in range(s.count(f"{a}/kinds"))]
    cells = s.value(f"{a}/rows")
    rows = []
    for scope in dict.fromkeys(c["scope"] for c in cells):
        for length in dict.fromkeys(c["seq_len"] for c in cells if c["scope"] == scope):
            at = {
                c["kind"]: i
                for i, c in enumerate(cells)
                if (c["scope"], c["seq_len"]) == (scope, length)
            }
            first = f"{a}/rows/{at[kinds[0]]}"
            rows.append([
                s.s(f"{first}/scope"), s.n(f"{first}/seq_len", "count"),
                *(f"{s.n(f'{a}/rows/{at[k]}/ms', 'number')} ms, "
                  f"{s.n(f'{a}/rows/{at[k]}/peak_bytes', 'megabytes')} MB" for k in kinds),
            ])  # fmt: skip
    fits = []
    for scope in dict.fromkeys(c["scope"] for c in cells):
        for kind in kinds:
            for quantity, what in (
                ("ms", "time"),
                ("peak_bytes", "memory"),
                ("xla_bytes", "XLA's buffer plan"),
            ):
                f = f"{a}/fits/{scope}/{kind}/{quantity}"
                if s.value(f) is None:
                    continue
                fits.append([
                    f"{scope}, {kind}, {what}",
                    s.n(f"{f}/constant", "number"), s.n(f"{f}/linear", "number"),
                    s.n(f"{f}/quadratic", "number"),
                    s.n(f"{f}/quadratic_share_at_longest", "percent"),
                    s.n(f"{f}/local_exponent", "number"),
                ])  # fmt: skip
    missing = "".join(
        f" {kind}: not measured ({s.s(f'{a}/unavailable/{kind}')})."
        for kind in (s.value(f"{a}/unavailable") or {})
    )
    return {
        "question": question(s, context)
        or "How do attention's time and memory grow with the context?",
        "setup": (
            f"A training step's forward and backward pass with XLA, one sequence, on {s.s('/backend')}"
            f" on {s.s('/device')}: one attention layer and a "
            f"{s.n(f'{a}/shape/num_layers', 'count')}-layer model "
            f"{s.n(f'{a}/shape/hidden_dim', 'count')} wide with "
            f"{s.n(f'{a}/shape/num_heads', 'count')} heads, banded window "
            f"{s.n(f'{a}/shape/window', 'count')}; kernels timed in turns (median). Peak: "
            f"{s.s(f'{a}/memory_method')}.{missing} Fits: a constant, a term in T and a term in "
            "T² (ms, or bytes) by non-negative least squares on relative error; the local "
            "exponent is the slope of log time (or memory) against log T between the two "
            "longest lengths."
        ),
        "table": table(["scope", "tokens", *kinds], rows)
        + table(
            [
                "scope, kernel, quantity",
                "constant",
                "× T",
                "× T²",
                "T² share at the longest",
                "local exponent",
            ],
            fits,
        ),  # fmt: skip
    }


def parallel(s, context):
    """`zoo bench parallel`: bytes per device, measured beside accounted, and the accounting
    for the large models."""
    p = "/parallel"
    measured = []
    for i in range(s.count(f"{p}/measured")):
        r = f"{p}/measured/{i}"
        measured.append([
            s.n(f"{r}/devices", "count"), s.s(f"{r}/layout"),
            *(f"{s.n(f'{r}/{k}', 'megabytes')} ({s.n(f'{r}/accounted/{k}', 'megabytes')})"
              for k in ("parameters", "gradients", "optimizer")),
            s.n(f"{r}/step_seconds", "number"),
        ])  # fmt: skip
    accounted = []
    for i in range(s.count(f"{p}/accounted")):
        r = f"{p}/accounted/{i}"
        accounted.append([
            s.s(f"{r}/model"), s.n(f"{r}/devices", "count"), s.s(f"{r}/layout"),
            *(s.n(f"{r}/{k}", "gigabytes") for k in ("parameters", "gradients", "optimizer", "total")),
        ])  # fmt: skip
    return {
        "question": question(s, context) or "What does each device hold?",
        "setup": (
            f"A {s.n(f'{p}/model/num_layers', 'count')}-layer LLaMA "
            f"{s.n(f'{p}/model/hidden_dim', 'count')} wide "
            f"({s.n(f'{p}/model/params', 'count')} parameters), single precision, AdamW, on virtual CPU "
            f"devices under JAX; bytes read from each device's shards (the largest device's), "
            f"the accounting in brackets; step: median seconds of a training step of batch "
            f"{s.n(f'{p}/batch', 'count')}. Then the accounting alone for the large models."
        ),
        "table": table(
            ["devices", "layout", "weights MB", "gradients MB", "optimizer MB", "step s"], measured
        )
        + table(
            [
                "model",
                "devices",
                "layout",
                "weights GB",
                "gradients GB",
                "optimizer GB",
                "total GB",
            ],
            accounted,
        ),  # fmt: skip
    }


def epochs(s, context):
    """`zoo sweep epochs`: per arm and budget, the fresh-data curve, then each pass count's loss,
    what it is worth in fresh data (measured and predicted), where its validation loss turns,
    and what patience did."""
    rows = []
    for i in range(s.count("/epochs")):
        at = f"/epochs/{i}"
        for j in range(s.count(f"{at}/fresh")):
            f = f"{at}/fresh/{j}"
            rows.append([s.s(f"{at}/arm"), s.n(f"{at}/budget", "flops"),
                         f"fresh data, {s.n(f'{f}/fraction', 'percent')} of the budget",
                         s.n(f"{f}/mean", "loss") + s.interval(f"{f}/interval", "loss"),
                         "—", "—", "—", "—", "—"])  # fmt: skip
        for j in range(s.count(f"{at}/passes")):
            r = f"{at}/passes/{j}"
            worth = (
                s.n(f"{r}/effective_fraction", "percent")
                if s.value(f"{r}/effective_fraction") is not None
                else "outside the fresh curve"
            )
            patience = (
                f"{s.n(f'{r}/patience/steps_fraction', 'percent')} of the steps, "
                f"{s.n(f'{r}/patience/loss_minus_full', 'number')}"
                if s.value(f"{r}/patience") is not None
                else "—"
            )
            rows.append([
                s.s(f"{at}/arm"), s.n(f"{at}/budget", "flops"),
                f"{s.n(f'{r}/passes', 'count')} passes",
                s.n(f"{r}/mean", "loss") + s.interval(f"{r}/interval", "loss"),
                worth, s.n(f"{r}/predicted_fraction", "percent"),
                s.n(f"{r}/best_at", "percent") if s.value(f"{r}/best_at") is not None else "—",
                s.n(f"{r}/final_gap", "number") if s.value(f"{r}/final_gap") is not None else "—",
                patience,
            ])  # fmt: skip
    return {
        "question": question(s, context) or "What are repeated passes over data worth?",
        "setup": (
            f"Budgets spent as passes over proportionally smaller slices of the training split "
            f"({s.listed('/passes', 'number')} passes), fresh data at fractions of each budget "
            f"({s.listed('/fractions', 'percent')}), and each repeated run again with patience "
            f"{s.n('/patience', 'count')}; seeds {s.n('/seeds', 'count')} per cell; the papers' "
            "shapes and the LLaMA recipe's fitted rate rule. Loss in nats per token of the "
            "validation split (never repeated); the interval is a Student-t interval over seeds; "
            "worth: the fraction of the budget fresh data needs to reach the same loss, read off "
            "the fresh curve; Muennighoff et al.'s prediction with R* as in the JSON."
        ),
        "table": table(
            [
                "arm",
                "budget",
                "data",
                "loss",
                "worth in fresh data",
                "Muennighoff",
                "validation lowest at",
                "validation − training at the end",
                "patience: steps trained, loss against the full run",
            ],
            rows,
        ),  # fmt: skip
    }


def continued(s, context):
    """`zoo sweep continued`: each role's loss per arm and budget, and the paired differences."""
    rows = []
    for i in range(s.count("/continued")):
        at = f"/continued/{i}"
        for role in ("first", "continued", "scratch", "whole"):
            rows.append([s.s(f"{at}/arm"), s.n(f"{at}/budget", "flops"), role,
                         s.n(f"{at}/{role}/tokens", "count"),
                         s.n(f"{at}/{role}/mean", "loss") + s.interval(f"{at}/{role}/interval", "loss")])  # fmt: skip
        for other in ("whole", "scratch"):
            d = f"{at}/continued_minus_{other}"
            rows.append([s.s(f"{at}/arm"), s.n(f"{at}/budget", "flops"), f"continued − {other}",
                         "—", s.n(f"{d}/mean", "number") + s.interval(f"{d}/interval", "number")])  # fmt: skip
    return {
        "question": question(s, context) or "Is a stopped model better continued or restarted?",
        "setup": (
            f"The first run trains on {s.n('/fraction', 'percent')} of each budget with its own "
            "complete schedule; the continued run starts from its weights (no optimizer state) "
            "on the rest, the rate warmed up and decayed again; the scratch run trains a fresh "
            "model on the same rest; the whole run once on the whole budget. Seeds "
            f"{s.n('/seeds', 'count')} per cell; the papers' shapes and the LLaMA recipe's "
            "fitted rate rule; validation loss in nats per token, Student-t intervals over seeds, "
            "differences paired by seed."
        ),
        "table": table(["arm", "budget", "run", "tokens", "loss"], rows),
    }


def ngram(s, context):
    return {
        "question": question(s, context)
        or (
            "How well does a model built by counting predict the validation text? It is the "
            "yardstick each study's curves are read against."
        ),
        "setup": (
            f"{s.s('/method')}, built from {s.n('/train_bytes', 'count')} training bytes of "
            f"{s.s('/data')}; its order chosen on the {s.s('/selection')} "
            f"({s.s('/held_out/split')}), then scored on {s.n('/validation_bytes', 'count')} "
            "validation bytes."
        ),
        "table": table(
            ["model", "validation bits per byte"],
            [
                [f"order {s.n('/order', 'count')}, the one chosen", s.n("/bits_per_byte", "loss")],
                ["bytes counted alone (unigram)", s.n("/unigram_bits_per_byte", "loss")],
            ],
        ),
    }


def rates(s, context):
    """A rates sweep (`zoo sweep rates`): full-length grids of peak learning rates (and
    batches) per arm and budget, the near-optimal runs, the rule fitted through them, or (with
    --check) an earlier rule against a grid at a larger budget."""
    setup = (
        f"Arms: {s.listed('/models')}. Budgets: {s.listed('/budgets', 'flops')} FLOPs; peak "
        f"learning rates: the size rule's times {s.listed('/rate_factors', 'number')}"
    )
    if s.count("/batch_factors") > 1:
        setup += f"; batches: the sweep's times {s.listed('/batch_factors', 'number')}"
    setup += (
        f"; seeds per cell: {s.n('/seeds', 'count')}; shapes: {s.s('/shapes')}; every run "
        f"trains its whole budget; data: {s.s('/data')}, tokenizer: {s.s('/tokenizer')}."
    )
    parts = {
        "question": question(s, context)
        or (
            "Which peak learning rate (and batch) trains each arm best at each budget, and how "
            "do the best ones move with compute? DeepSeek LLM's procedure: every run that comes "
            "within a stated tolerance of the best loss at its budget is near-optimal, and "
            "power laws in compute are fitted through them."
        ),
        "setup": setup,
        "scale": scale(s),
    }
    if s.value("/fits/check"):
        return {**parts, "table": _check_table(s)}
    fit = "/fits/rates"
    if not s.count(f"{fit}/arms"):
        why = s.s(f"{fit}/error") if s.value(f"{fit}/error") else "the file holds none"
        return {**parts, "table": f"<p>No fit: {why}.</p>"}
    tables = _rule_table(s)
    for refit in s.refits:  # zoo fit --law rates: the same grid with another band
        band = f"a band of {refit.n(f'{fit}/tolerance', 'number')}"
        if refit.value(f"{fit}/noise"):
            noise = f"{fit}/noise"
            band = (
                f"the band the seed noise allows, {refit.n(f'{fit}/tolerance', 'number')}: "
                f"σ = {refit.n(f'{noise}/sigma', 'number')} of ln loss, pooled over "
                f"{refit.n(f'{noise}/cells', 'count')} cells of "
                f"{file_element(refit.get(f'{noise}/source', 'string'), refit.get(f'{noise}/source', 'string'))}"
                f" ({refit.n(f'{noise}/runs', 'count')} runs)"
            )
        tables += (
            f"<p>Refitted by {file_element(refit.path, refit.path)} with {band}; "
            "the later studies take this rule.</p>" + _rule_table(refit)
        )
    return {**parts, "table": tables}


def _rule_table(s):
    """The fitted rule per arm of a rates sweep (or of its refit), its band and notes."""
    fit = "/fits/rates"
    arms = [f"{fit}/arms/{i}" for i in range(s.count(f"{fit}/arms"))]
    rows = []
    for a in arms:
        near = "; ".join(
            f"{s.n(f'{p}/budget', 'flops')}: {s.n(f'{p}/learning_rate', 'number')} "
            f"({s.n(f'{p}/batch_tokens', 'count')} tokens per batch, loss "
            f"{s.n(f'{p}/loss', 'loss')})"
            for p in (f"{a}/near_optimal/{i}" for i in range(s.count(f"{a}/near_optimal")))
        )
        line = f"{a}/learning_rate"
        rule = (
            f"{s.n(f'{line}/a', 'number')}{s.interval(f'{line}/a_ci', 'number')} · "
            f"C<sup>{s.n(f'{line}/b', 'number')}</sup>{s.interval(f'{line}/b_ci', 'number')}"
            if s.value(line)
            else "—"
        )
        batch = f"{a}/batch_tokens"
        batch_rule = (
            f"{s.n(f'{batch}/a', 'number')} · C<sup>{s.n(f'{batch}/b', 'number')}</sup>"
            f"{s.interval(f'{batch}/b_ci', 'number')}"
            if s.value(batch)
            else "—"
        )
        sized = f"{a}/learning_rate_in_params"
        in_params = (
            f"{s.n(f'{sized}/a', 'number')} · N<sup>{s.n(f'{sized}/b', 'number')}</sup>"
            f"{s.interval(f'{sized}/b_ci', 'number')}"
            if s.value(sized)
            else "—"
        )
        rows.append([s.s(f"{a}/name"), near, rule, in_params, batch_rule])
    header = [
        "arm",
        "near-optimal runs: budget (FLOPs): peak learning rate (batch, loss in nats per byte)",
        "η<sub>opt</sub> = a · C<sup>b</sup>",
        "η<sub>opt</sub> = a · N<sup>b</sup>, the same runs against their parameters",
        "B<sub>opt</sub> = c · C<sup>d</sup> (tokens)",
    ]
    notes = "".join(f"<li>{s.s(f'{fit}/notes/{i}')}</li>" for i in range(s.count(f"{fit}/notes")))
    tolerance = (
        f"<p>Near-optimal: a loss at most {s.n(f'{fit}/tolerance', 'number')} (a fraction) above "
        f"the best at its budget; intervals: {s.n(f'{fit}/level', 'percent')} bootstrap.</p>"
        if s.value(f"{fit}/tolerance") is not None and s.value(f"{fit}/level") is not None
        else ""
    )
    return table(header, rows) + tolerance + (f"<ul>{notes}</ul>" if notes else "")


def _check_table(s):
    """An earlier rule against a grid at a larger budget (`check_rule`), per arm."""
    rows = [
        [s.s(f"{r}/arm"), s.n(f"{r}/budget", "flops"), s.n(f"{r}/predicted_learning_rate", "number"),
         s.n(f"{r}/best_learning_rate", "number"), s.n(f"{r}/ratio", "number"),
         s.n(f"{r}/nearest_loss_excess", "number"),
         "yes" if s.value(f"{r}/near_optimal") else "no"]
        for r in (f"/fits/check/arms/{i}" for i in range(s.count("/fits/check/arms")))
    ]  # fmt: skip
    rule = file_element(s.get("/check", "string"), s.get("/check", "string"))
    return (
        f"<p>The rule fitted in {rule}, extrapolated to this budget and checked against a grid "
        "there.</p>"
        + table(
            ["arm", "budget (FLOPs)", "the rule's rate", "the grid's best rate",
             "ratio", "loss of the grid run nearest the rule, above the best (a fraction)",
             "that run near-optimal"],
            rows,
        )
    )  # fmt: skip


def samplers(s, context):
    """A samplers study (`zoo tune --sampler a,b,... --sampler-seeds N`): every sampler's mean
    best loss after a quarter, half and all of its trials, the trials it needed to come within
    the tolerance of the best any search found, the best setting found and the importances."""
    c = "/comparison"
    space = "; ".join(
        f"{s.s(f'/space/{i}/field')} ({s.s(f'/space/{i}/kind')}"
        + (
            f" from {s.n(f'/space/{i}/low', 'number')} to {s.n(f'/space/{i}/high', 'number')})"
            if s.value(f"/space/{i}/low") is not None
            else f": {s.listed(f'/space/{i}/choices', 'number')})"
        )
        for i in range(s.count("/space"))
    )
    setup = (
        f"Model: {s.s('/model')}, each trial a full run of its budget, judged by its final "
        f"validation loss. Searched: {space}. Samplers: "
        + ", ".join(s.s(f"{c}/samplers/{i}/name") for i in range(s.count(f"{c}/samplers")))
        + f"; {s.n(f'{c}/trials', 'count')} trials each, sampler seeds "
        f"{s.n(f'{c}/samplers/0/seeds', 'count')} (the runs' own seed fixed); pruner "
        f"{s.s('/pruner')}."
    )
    trials = s.get(f"{c}/trials", "number")
    marks = sorted({max(1, trials // 4), max(1, trials // 2), trials})
    rows = []
    for i in range(s.count(f"{c}/samplers")):
        at = f"{c}/samplers/{i}"
        cells = [
            s.n(f"{at}/best_after/{k - 1}/mean", "loss")
            + s.interval(f"{at}/best_after/{k - 1}/ci", "loss")
            if s.value(f"{at}/best_after/{k - 1}/mean") is not None
            else "—"
            for k in marks
        ]
        need = f"{at}/trials_to_tolerance"
        rows.append([s.s(f"{at}/name"), *cells,
                     s.n(f"{need}/median", "number") + s.interval(f"{need}/ci", "number"),
                     f"{s.n(f'{need}/reached', 'count')} of {s.n(f'{need}/of', 'count')}"])  # fmt: skip
    header = ["sampler",
              *(f"best loss after {s.n(f'{c}/samplers/0/best_after/{k - 1}/k', 'count')} trials"
                for k in marks),
              "trials to within the tolerance of the best", "seeds that got there"]  # fmt: skip
    text = table(header, rows) + (
        f"<p>Best loss after k trials: the mean over seeds of the lowest validation loss among "
        f"the first k, with its {s.n(f'{c}/level', 'percent')} bootstrap interval over seeds. "
        f"Within: a loss at most {s.n(f'{c}/tolerance', 'number')} (a fraction) above the best "
        f"any search found, {s.n(f'{c}/reference', 'loss')}; a seed that never got there counts "
        "one trial more than the search had.</p>"
    )
    # the fields by their entries in /space (a name such as beta_2 holds a digit: an element)
    fields = {s.get(f"/space/{i}/field", "string"): s.s(f"/space/{i}/field")
              for i in range(s.count("/space"))}  # fmt: skip
    if s.value("/best"):
        found = ", ".join(
            f"{_field(s, fields, name)} = {s.n(f'/best/params/{name}', 'number')}"
            for name in s.get("/best/params", "object")
        )
        text += (
            f"<p>The best setting found ({s.s('/best/sampler')}, seed "
            f"{s.n('/best/seed', 'count')}, loss {s.n('/best/loss', 'loss')}): {found}.</p>"
        )
    if s.value("/importance"):
        scores = ", ".join(
            f"{_field(s, fields, name)} {s.n(f'/importance/{name}/mean', 'number')}"
            f" (from {s.n(f'/importance/{name}/range/0', 'number')}"
            f" to {s.n(f'/importance/{name}/range/1', 'number')})"
            for name in s.get("/importance", "object")
        )
        text += (
            "<p>How much each field mattered (Optuna's importance evaluator within each "
            f"search, the mean over the searches, and its range): {scores}.</p>"
        )
    return {
        "question": question(s, context)
        or "Which way of searching finds good hyperparameters in fewest trials?",
        "setup": setup,
        "table": text,
    }


def gradients(s, context):
    """Per-layer gradient norms (`zoo gradients --json`): each layer's norm at initialisation,
    halfway and after the last update, and the first block's over the last block's."""
    last = s.count("/rows") - 1
    shown = sorted({0, last // 2, last})
    setup = (
        f"Model: {s.s('/model')} with {s.n('/num_layers', 'count')} blocks, "
        f"{s.s('/norm_placement')}-norm, feed-forward {s.s('/feedforward')}; batch "
        f"{s.n('/batch_size', 'count')} sequences, seed {s.n('/seed', 'count')}; the recipe's "
        "optimizer, each norm measured before the update of its step."
    )
    rows = [
        [s.s(f"/layers/{i}"), *(s.n(f"/rows/{k}/norms/{i}", "number") for k in shown)]
        for i in range(s.count("/layers"))
    ]
    rows.append(
        ["the first block's over the last block's",
         *(s.n(f"/first_to_last/{k}", "number") if s.value(f"/first_to_last/{k}") is not None
           else "—" for k in shown)]
    )  # fmt: skip
    header = ["layer", *(f"step {s.n(f'/rows/{k}/step', 'count')}" for k in shown)]
    return {
        "question": question(s, context) or "How large is the gradient that reaches each layer?",
        "setup": setup,
        "table": table(header, rows),
    }


def _field(s, fields, name):
    if name not in fields:
        raise s.doc.damaged(f"{name!r} is not a field of /space")
    return fields[name]


__all__ = [
    "attention",
    "comparison",
    "compute",
    "continued",
    "epochs",
    "generate",
    "gradients",
    "isoflop",
    "ngram",
    "parallel",
    "rates",
    "samplers",
]
