"""Points tables for the scaling fits: reading CSV, JSONL or a sweep's JSON, and validating them.

A point is one finished run: `params` (total parameters N), `loss` (final validation loss, nats),
and `tokens` (D) or `flops` (C); optional `budget`, `arm`, `seed`, `non_embedding_params`,
`flops_6n`, `flops_exact`, `bits_per_byte`, `epochs`. Other columns are kept and ignored.

`load_points(path)` reads a file (a CSV with a header row, JSONL with one object a line, or a
JSON file holding a list of objects or a sweep's output, an object whose `points` is that list)
and `check_points(points, law, ...)` checks a list of such dicts for one fit; both raise a
`ZooError` naming the row and column of the first problem. When a point has `flops` but no
`tokens`, its tokens are derived as flops / (6 · params) and the point is marked
`"tokens_from_flops": true`, which the fits repeat in their `notes`.
"""

import csv
import io
import json
import math
import pathlib

from zoo.errors import Setting, ZooError

LAWS = ("parametric", "isoflop", "compute")
PARAMS_CONVENTIONS = ("total", "non-embedding")
FLOPS_CONVENTIONS = ("palm", "6n", "exact")

# Columns read as positive finite numbers wherever a point has them.
POSITIVE = (
    "params",
    "loss",
    "tokens",
    "flops",
    "non_embedding_params",
    "flops_6n",
    "flops_exact",
    "bits_per_byte",
    "epochs",
)
PARAMETERS = {"parametric": 5}  # E, A, B, alpha, beta
TOKENS_FROM_FLOPS = "tokens_from_flops"
TOKENS_NOTE = "tokens = flops / (6 · params) for {count} of {total} points (no tokens column)"


def load_points(source):
    """`(points, notes)` from a file path, or from a list of dicts (copied, then checked).

    Every point gets numeric columns as floats (`seed` and `budget` stay as given when they are
    not numbers); rows are numbered from 1 in messages, after a CSV's header line.
    """
    if isinstance(source, (str, pathlib.PurePath)):
        rows, where = _read(pathlib.Path(source))
    else:
        rows, where = _as_rows(source), "point"
    points = [_clean(row, f"{where} {i}") for i, row in enumerate(rows, 1)]
    if not points:
        raise ZooError(
            "no points: the list is empty"
            if where == "point"
            else f"points file {str(source)!r} holds no points"
        )
    return points, _derivation_notes(points)


def within_epochs(points, max_epochs):
    """`(the points whose runs passed over their training data at most max_epochs times, note)`:
    a fit read without the runs that repeated their data (Muennighoff et al. 2023: up to about 4
    passes, repeated data is almost as good as fresh; beyond, it is worth less, which at a fixed
    budget penalises the smallest models and moves an IsoFLOP valley). `ZooError` when a point
    has no `epochs` (nothing to filter by) or nothing is left."""
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, float)):
        raise ZooError(f"--max-epochs must be a number; received {max_epochs!r}")
    if not math.isfinite(max_epochs) or max_epochs <= 0:
        raise ZooError(f"--max-epochs must be positive and finite; received {max_epochs!r}")
    missing = [i for i, p in enumerate(points, 1) if "epochs" not in p]
    if missing:
        raise ZooError(
            f"--max-epochs needs an epochs column; point {missing[0]} has none "
            f"({len(missing)} of {len(points)} points lack it)"
        )
    kept = [p for p in points if p["epochs"] <= max_epochs]
    if not kept:
        raise ZooError(
            f"--max-epochs {max_epochs:g} leaves no point (the fewest passes: "
            f"{min(p['epochs'] for p in points):.2f})"
        )
    dropped = len(points) - len(kept)
    note = (
        f"--max-epochs {max_epochs:g}: {dropped} of {len(points)} points left out (their runs "
        f"passed over the training data more than {max_epochs:g} times)"
    )
    return kept, note


def within_budgets(points, budgets):
    """`(the points of the budgets named in `budgets`, note)`: a fit over part of a study's
    range (an exponent over the top budgets, where the smallest budget's valley sits on the
    smallest shape a family has). `budgets`: FLOPs separated by commas, each one a budget the
    points were planned at (column `budget`). `ZooError` (one line) otherwise."""
    parts = [part.strip() for part in str(budgets).split(",") if part.strip()]
    try:
        wanted = [float(part) for part in parts]
    except ValueError:
        raise ZooError(
            f"--budgets takes FLOPs separated by commas, e.g. 3e12,1e13; received {budgets!r}"
        ) from None
    if not wanted or not all(math.isfinite(w) and w > 0 for w in wanted):
        raise ZooError(f"--budgets takes positive FLOPs, e.g. 3e12,1e13; received {budgets!r}")
    missing = [i for i, p in enumerate(points, 1) if not isinstance(p.get("budget"), float)]
    if missing:
        raise ZooError(
            f"--budgets needs a budget column; point {missing[0]} has none "
            f"({len(missing)} of {len(points)} points lack it)"
        )
    planned = sorted({p["budget"] for p in points})

    def matches(budget, value):
        return math.isclose(budget, value, rel_tol=1e-9)

    unknown = [w for w in wanted if not any(matches(b, w) for b in planned)]
    if unknown:
        raise ZooError(
            f"--budgets {unknown[0]:g} is not a budget of these points "
            f"({', '.join(f'{b:g}' for b in planned)})"
        )
    kept = [p for p in points if any(matches(p["budget"], w) for w in wanted)]
    note = (
        f"--budgets {','.join(f'{w:g}' for w in wanted)}: {len(points) - len(kept)} of "
        f"{len(points)} points left out (the other budgets)"
    )
    return kept, note


def check_points(points, law, params_convention="total", flops_convention="palm"):
    """`(points, notes)`: `points` (dicts, or a path) checked for `law`; `ZooError` on the first
    problem (a missing or non-positive column, too few points for the law)."""
    if law not in LAWS:
        raise ZooError(f"unknown law {law!r}; choose one of {', '.join(LAWS)}")
    check_choice("params convention", params_convention, PARAMS_CONVENTIONS)
    check_choice("flops convention", flops_convention, FLOPS_CONVENTIONS)
    points, notes = load_points(points)
    if law == "parametric":
        n = sizes(points, params_convention)
        d = tokens(points)
        if len(points) <= PARAMETERS["parametric"]:
            raise ZooError(
                f"the parametric law has 5 parameters (E, A, B, alpha, beta) and needs "
                f"more points than that; received {len(points)}"
            )
        if len(set(n)) < 2 or len(set(d)) < 2:
            raise ZooError(
                "the parametric law needs at least 2 distinct sizes and 2 distinct "
                f"token counts; received {len(set(n))} and {len(set(d))}"
            )
    elif law == "isoflop":
        n = sizes(points, params_convention)
        tokens(points)
        c, flops_notes = flops(points, flops_convention)
        notes += flops_notes
        groups = budget_groups(points, c)
        good = {key: len({n[i] for i in members}) for key, members in groups.items()}
        enough = [key for key, count in good.items() if count >= 3]
        if len(enough) < 2:
            detail = ", ".join(f"{label(key)}: {count}" for key, count in good.items())
            raise ZooError(
                "the isoflop fit needs at least 2 budgets with 3 or more distinct "
                f"sizes each; distinct sizes per budget: {detail}"
            )
        dropped = [key for key in groups if key not in enough]
        if dropped:
            notes.append(
                f"budgets with fewer than 3 distinct sizes left out: "
                f"{', '.join(label(k) for k in dropped)}"
            )
    else:
        c, flops_notes = flops(points, flops_convention)
        notes += flops_notes
        for name, members in arms(points).items():
            budgets = budget_groups([points[i] for i in members], [c[i] for i in members])
            if len(members) < 3 or len(budgets) < 2:
                raise ZooError(
                    f"arm {name!r} has {len(members)} points at {len(budgets)} budgets; "
                    "the compute fit needs more points than its 2 parameters "
                    "(A, gamma), at 2 budgets or more"
                )
    return points, notes


# --- the columns each convention reads ---


def sizes(points, convention="total"):
    """N for each point: `params`, or `non_embedding_params` for the non-embedding convention."""
    column = "params" if convention == "total" else "non_embedding_params"
    return [_require(p, column, i, Setting("params", convention)) for i, p in enumerate(points, 1)]


def tokens(points):
    return [
        _require(p, "tokens", i, "the fit (or give flops and params)")
        for i, p in enumerate(points, 1)
    ]


def flops(points, convention="palm"):
    """`(C for each point, notes)` under `convention`: `flops` (palm), `flops_6n` (6n; else
    6 · params · tokens) or `flops_exact` (exact). Without a `flops` column the palm convention
    falls back to 6 · params · tokens, and says so."""
    notes = []
    if convention == "exact":
        values = [
            _require(p, "flops_exact", i, Setting("flops", "exact"))
            for i, p in enumerate(points, 1)
        ]
    elif convention == "6n":
        values = []
        derived = 0
        for i, p in enumerate(points, 1):
            if "flops_6n" in p:
                values.append(p["flops_6n"])
            else:
                values.append(
                    6
                    * _require(p, "params", i, Setting("flops", "6n"))
                    * _require(p, "tokens", i, Setting("flops", "6n"))
                )
                derived += 1
        if derived:
            notes.append(f"flops_6n = 6 · params · tokens for {derived} of {len(points)} points")
    else:
        if all("flops" not in p for p in points):
            values = [
                6 * _require(p, "params", i, "flops") * _require(p, "tokens", i, "flops")
                for i, p in enumerate(points, 1)
            ]
            notes.append("no flops column: compute C = 6 · params · tokens")
        else:
            values = [
                _require(p, "flops", i, Setting("flops", "palm")) for i, p in enumerate(points, 1)
            ]
    return values, notes


def budget_groups(points, compute):
    """{budget: [indices]} in order of first appearance: by the `budget` column where every
    point has one, else by the `flops` column (or `compute`) rounded to 3 significant digits."""
    if points and all("budget" in p for p in points):
        keys = [p["budget"] for p in points]
    else:
        source = [p["flops"] for p in points] if all("flops" in p for p in points) else compute
        keys = [float(f"{c:.3g}") for c in source]
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return groups


def arms(points):
    """{arm name: [indices]} in order of first appearance (one arm, "all", when no `arm`)."""
    groups = {}
    for i, p in enumerate(points):
        groups.setdefault(str(p.get("arm", "all")), []).append(i)
    return groups


def label(key):
    return f"{key:.3g}" if isinstance(key, float) else str(key)


# --- reading ---


def _read(path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ZooError(f"points file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ZooError(f"points file {str(path)!r} is a directory") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ZooError(f"cannot read points file {str(path)!r}: {reason}") from None
    stripped = text.lstrip()
    if not stripped:
        raise ZooError(f"points file {str(path)!r} is empty")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson") or (suffix != ".csv" and stripped[0] in "{["):
        return _read_json(text, path)
    return _read_csv(text, path)


def _read_json(text, path):
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ZooError(f"{path} line {number} is not JSON ({error.msg})") from None
    else:
        if isinstance(document, dict) and "points" in document:
            rows = document["points"]
        elif isinstance(document, dict):  # a JSONL file of a single line
            rows = [document]
        else:
            rows = document
    if not isinstance(rows, list):
        raise ZooError(f"{path}: 'points' must be a list of objects")
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ZooError(f"{path} point {i} is not an object: {row!r}"[:200])
    return rows, f"{path} point"


def _read_csv(text, path):
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ZooError(f"points file {str(path)!r} has no header row")
    header = [name.strip() for name in reader.fieldnames]
    rows = []
    for record in reader:
        row = {}
        for name, value in zip(header, (record[f] for f in reader.fieldnames)):
            if value is not None and value.strip() != "":
                row[name] = value.strip()
        if row:
            rows.append(row)
    return rows, f"{path} row"


def _as_rows(points):
    if isinstance(points, dict):
        points = points.get("points", points)
    try:
        rows = list(points)
    except TypeError:
        raise ZooError(
            f"points must be a path or a list of dicts; received {type(points).__name__}"
        ) from None
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ZooError(f"point {i} is not a dict: {row!r}"[:200])
    return rows


def _clean(row, where):
    point = dict(row)
    for column in POSITIVE:
        if column in point and point[column] is None:
            del point[column]  # JSON null: as if absent
        elif column in point:
            point[column] = _positive(point[column], column, where)
    for column in ("budget", "seed"):
        if point.get(column) is None:
            point.pop(column, None)
        else:
            point[column] = _key(point[column], column, where)
    if "arm" in point:
        point["arm"] = str(point["arm"])
    if "loss" not in point:
        raise ZooError(f"{where} has no 'loss'")
    if "tokens" not in point:
        if "flops" in point and "params" in point:
            point["tokens"] = point["flops"] / (6 * point["params"])
            point[TOKENS_FROM_FLOPS] = True
        elif not any(c in point for c in ("flops", "flops_6n", "flops_exact")):
            raise ZooError(f"{where} has neither 'tokens' nor 'flops'")
    return point


def _positive(value, column, where):
    if isinstance(value, bool):
        raise ZooError(f"{where}: {column} must be a positive number; received {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"{where}: {column} must be a positive number; received {value!r}") from None
    if not math.isfinite(number):
        raise ZooError(f"{where}: {column} must be finite; received {value!r}")
    if number <= 0:
        raise ZooError(f"{where}: {column} must be positive; received {value!r}")
    return number


def _key(value, column, where):
    """A `budget` or `seed`: a number where it reads as one (finite), else its text."""
    if isinstance(value, bool):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        raise ZooError(f"{where}: {column} must be finite; received {value!r}")
    if column == "budget" and number <= 0:
        raise ZooError(f"{where}: budget must be positive; received {value!r}")
    return int(number) if column == "seed" and number.is_integer() else number


def _require(point, column, index, why):
    """`point[column]`; else a `ZooError` saying that `why` (text, or the `Setting` that chose
    the column) needs it."""
    if column not in point:
        raise ZooError(f"point {index} has no {column!r}, which ", why, " needs")
    return point[column]


def check_choice(kind, value, choices):
    """`ZooError` unless `value` is one of `choices` (a convention, before any work is done)."""
    if value not in choices:
        raise ZooError(f"unknown {kind} {value!r}; choose one of {', '.join(choices)}")


def _derivation_notes(points):
    count = sum(1 for p in points if p.get(TOKENS_FROM_FLOPS))
    return [TOKENS_NOTE.format(count=count, total=len(points))] if count else []
