"""Points tables: CSV, JSONL and a sweep's JSON read alike; bad rows are one `ZooError` naming
the row and the column; too few points for a law is refused before any fitting."""

import json

import pytest

from zoo.errors import ZooError
from zoo.scaling import check_points, load_points
from zoo.scaling.points import budget_groups, flops, sizes

ROWS = [
    {"params": 1e6, "tokens": 2e7, "loss": 3.1, "seed": 0, "arm": "base", "note": "kept"},
    {"params": 2e6, "tokens": 1e7, "loss": 3.0, "seed": 1, "arm": "base", "note": ""},
]


def write_csv(path, header, rows):
    path.write_text(
        ",".join(header) + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    )
    return path


def test_csv_jsonl_and_sweep_json_read_the_same(tmp_path):
    csv_path = write_csv(
        tmp_path / "p.csv",
        ["params", "tokens", "loss", "seed", "arm", "note"],
        [[r[k] for k in ("params", "tokens", "loss", "seed", "arm", "note")] for r in ROWS],
    )
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps({"fits": {}, "points": ROWS}))
    loaded = [load_points(p)[0] for p in (csv_path, jsonl, sweep)]
    for points in loaded:
        assert [p["params"] for p in points] == [1e6, 2e6]
        assert [p["loss"] for p in points] == [3.1, 3.0]
        assert [p["seed"] for p in points] == [0, 1] and points[0]["arm"] == "base"
    assert loaded[0][0]["note"] == "kept" and "note" not in loaded[0][1]  # an empty CSV cell
    assert load_points(ROWS)[0] == loaded[1]  # a list of dicts, as the Python API takes it


def test_tokens_from_flops_is_derived_and_noted():
    rows = [{"params": 1e6, "flops": c, "loss": 3.0} for c in (6e13, 6e13, 6e14)]
    points, notes = load_points(rows + [{"params": 1e6, "tokens": 1e8, "loss": 2.9}])
    assert points[0]["tokens"] == pytest.approx(1e7) and points[3]["tokens"] == 1e8
    assert notes == ["tokens = flops / (6 · params) for 3 of 4 points (no tokens column)"]
    assert check_points(points[:3], "compute")[1] == [  # repeated by every fit
        "tokens = flops / (6 · params) for 3 of 3 points (no tokens column)"
    ]


@pytest.mark.parametrize("row, fragment", [
    ({"params": 1e6, "tokens": 1e7}, "point 1 has no 'loss'"),
    ({"params": 1e6, "loss": 3.0}, "point 1 has neither 'tokens' nor 'flops'"),
    ({"params": -1, "tokens": 1e7, "loss": 3.0}, "point 1: params must be positive; received -1"),
    ({"params": 1e6, "tokens": 0, "loss": 3.0}, "tokens must be positive"),
    ({"params": 1e6, "tokens": 1e7, "loss": float("nan")}, "loss must be finite"),
    ({"params": 1e6, "tokens": 1e7, "loss": "inf"}, "loss must be finite"),
    ({"params": "big", "tokens": 1e7, "loss": 3.0},
     "params must be a positive number; received 'big'"),
    ({"params": True, "tokens": 1e7, "loss": 3.0}, "params must be a positive number"),
])  # fmt: skip
def test_bad_values_name_the_point_and_column(row, fragment):
    with pytest.raises(ZooError) as error:
        load_points([row])
    assert fragment in str(error.value)


def test_bad_csv_rows_name_the_file_and_row(tmp_path):
    path = write_csv(
        tmp_path / "p.csv", ["params", "tokens", "loss"], [[1e6, 1e7, 3.0], [2e6, 1e7, -2.5]]
    )
    with pytest.raises(ZooError) as error:
        load_points(path)
    assert str(error.value) == f"{path} row 2: loss must be positive; received '-2.5'"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"params": 1, "tokens": 2, "loss": 3}\n{"params": \n')
    with pytest.raises(ZooError, match="line 2 is not JSON"):
        load_points(bad)


@pytest.mark.parametrize("setup, fragment", [
    (None, "does not exist"),
    ("", "is empty"),
    ("params,tokens,loss\n", "holds no points"),
    ([1, 2], "point 1 is not an object"),
])  # fmt: skip
def test_unreadable_files_are_one_error(tmp_path, setup, fragment):
    path = tmp_path / "points.json"
    if setup is not None:
        path.write_text(setup if isinstance(setup, str) else json.dumps(setup))
    if setup == "params,tokens,loss\n":
        path = path.rename(tmp_path / "points.csv")
    with pytest.raises(ZooError) as error:
        load_points(path)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def grid(sizes_, budgets, **extra):
    return [
        {"params": n, "flops": c, "loss": 3.0 + 0.01 * i, **extra}
        for c in budgets
        for i, n in enumerate(sizes_)
    ]


def test_too_few_points_for_each_law():
    with pytest.raises(ZooError, match="5 parameters .* received 5"):
        check_points(grid([1e6, 2e6, 3e6, 4e6, 5e6], [1e12]), "parametric")
    with pytest.raises(ZooError, match="2 distinct sizes"):
        check_points(grid([1e6] * 6, [1e12]), "parametric")
    with pytest.raises(ZooError, match="at least 2 budgets with 3 or more distinct sizes"):
        check_points(grid([1e6, 2e6, 3e6], [1e12]) + grid([1e6, 2e6], [1e13]), "isoflop")
    points, notes = check_points(
        grid([1e6, 2e6, 3e6], [1e12, 1e13]) + grid([1e6, 2e6], [1e14]), "isoflop"
    )
    assert any("fewer than 3 distinct sizes left out: 1e+14" in n for n in notes)
    arms = grid([1e6], [1e12, 1e13, 1e14], arm="base") + grid([1e6], [1e12, 1e13], arm="v")
    with pytest.raises(ZooError, match="arm 'v' has 2 points at 2 budgets"):
        check_points(arms, "compute")


def test_conventions_pick_their_columns():
    point = {
        "params": 2e6,
        "non_embedding_params": 1e6,
        "tokens": 1e7,
        "loss": 3.0,
        "flops": 1.3e14,
        "flops_exact": 1.4e14,
    }
    points, _ = load_points([point])
    assert sizes(points, "total") == [2e6] and sizes(points, "non-embedding") == [1e6]
    assert flops(points, "palm")[0] == [1.3e14] and flops(points, "exact")[0] == [1.4e14]
    six, notes = flops(points, "6n")
    assert six == [6 * 2e6 * 1e7] and "6 · params · tokens" in notes[0]
    # The convention that needs the column is named as a Python caller passes it (the fits'
    # params= and flops=); the command line says --params and --flops (tests/cli/test_fit_cli.py).
    with pytest.raises(ZooError) as missing:
        sizes(load_points([{"params": 1, "tokens": 1, "loss": 1}])[0], "non-embedding")
    assert str(missing.value) == (
        "point 1 has no 'non_embedding_params', which params='non-embedding' needs"
    )
    with pytest.raises(ZooError, match="point 1 has no 'flops_exact', which flops='exact' needs"):
        flops(load_points([{"params": 1, "tokens": 1, "loss": 1}])[0], "exact")
    with pytest.raises(ZooError, match="unknown law 'linear'"):
        check_points([point], "linear")


def test_budgets_group_by_column_else_by_rounded_flops():
    points = [{"flops": 1.0004e12}, {"flops": 0.9996e12}, {"flops": 3e12}]
    assert list(budget_groups(points, [p["flops"] for p in points]).values()) == [[0, 1], [2]]
    labelled = [dict(p, budget=b) for p, b in zip(points, ["x", "y", "x"])]
    assert budget_groups(labelled, [0, 0, 0]) == {"x": [0, 2], "y": [1]}
