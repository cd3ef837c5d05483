"""`zoo fit`: a table or one JSON document of the fitted law; bad input is one line `error: ...`
on stderr, exit status 2, and no plot written."""

import copy
import json
import math

import numpy as np
import pytest

from tests.helpers import assert_one_line, invoker
from zoo_cli import fit as fit_cli
from zoo_cli import main


def zoo_app():
    """The `zoo` app with `zoo fit` (registered here too, on a copy, until main.py has it)."""
    if any(group.typer_instance is fit_cli.app for group in main.app.registered_groups):
        return main.app
    app = copy.copy(main.app)
    app.registered_groups = [*main.app.registered_groups]
    app.add_typer(fit_cli.app)
    return app


invoke = invoker(zoo_app(), prefix=["fit"])


def write_csv(path, rows):
    header = list(rows[0])
    path.write_text(
        ",".join(header)
        + "\n"
        + "".join(",".join(str(r.get(k, "")) for k in header) + "\n" for r in rows)
    )
    return path


def isoflop_rows(seed=0):
    """Valleys at 3 budgets of the Chinchilla law; tokens only through flops / 6N."""
    rng = np.random.default_rng(seed)
    rows = []
    for flops in (1e18, 1e19, 1e20):
        centre = 0.1 * flops**0.46
        for x in np.linspace(-1.2, 1.2, 5):
            n = centre * math.exp(x)
            d = flops / (6 * n)
            loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * math.exp(rng.normal(0, 2e-3))
            rows.append({"params": n, "flops": flops, "loss": loss})
    return rows


def compute_rows():
    rng = np.random.default_rng(1)
    return [
        {
            "arm": arm,
            "seed": s,
            "params": 1e6,
            "flops": c,
            "loss": 40 * (k * c) ** -0.1 * math.exp(rng.normal(0, 0.002)),
        }
        for arm, k in (("gelu", 1.0), ("swiglu", 2.0))
        for c in (1e12, 1e13, 1e14)
        for s in range(3)
    ]


def parametric_rows():
    rng = np.random.default_rng(2)
    return [
        {
            "params": n,
            "tokens": d,
            "seed": 0,
            "loss": (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * math.exp(rng.normal(0, 5e-3)),
        }
        for n in np.logspace(7, 9, 4)
        for d in np.logspace(9, 11, 4)
    ]


@pytest.fixture
def isoflop_csv(tmp_path):
    return write_csv(tmp_path / "points.csv", isoflop_rows())


def test_isoflop_json_has_the_documented_keys(isoflop_csv, tmp_path):
    plot = tmp_path / "valleys.svg"
    result = invoke(isoflop_csv, "--law", "isoflop", "--bootstrap", "20", "--json", "--plot", plot)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"points_file", "notes", "fits"}
    assert document["points_file"] == str(isoflop_csv)
    assert any("tokens = flops / (6 · params)" in note for note in document["notes"])
    fit = document["fits"]["isoflop"]
    assert {
        "a",
        "b",
        "a_ci",
        "b_ci",
        "tokens_per_parameter",
        "tokens_per_parameter_ci",
        "budgets",
        "points",
        "params_convention",
        "flops_convention",
        "bootstrap",
        "notes",
    } <= set(fit)
    assert fit["bootstrap"] == 20 and fit["points"] == 15
    assert {
        "budget",
        "flops",
        "n_opt",
        "d_opt",
        "loss_opt",
        "tokens_per_parameter",
        "convex",
        "inside",
        "edge",
    } <= set(fit["budgets"][0])
    assert 0.3 < fit["a"] < 0.6
    assert plot.read_text().startswith("<?xml")


def test_compute_json_and_table(tmp_path):
    points = tmp_path / "arms.jsonl"
    points.write_text("".join(json.dumps(r) + "\n" for r in compute_rows()))
    result = invoke(points, "--law", "compute", "--bootstrap", "100", "--json")
    assert result.exit_code == 0, result.output
    fit = json.loads(result.stdout)["fits"]["compute"]
    assert fit["baseline"] == "gelu"
    base, variant = fit["arms"]
    assert {
        "name",
        "E",
        "A",
        "gamma",
        "form",
        "multiplier",
        "multiplier_ci",
        "verdict",
        "extrapolated",
    } <= set(variant)
    assert base["multiplier"] == 1.0 and variant["verdict"] == "better"
    assert variant["multiplier"] == pytest.approx(2.0, rel=0.15)
    # The multiplier at each budget, and its trend across them (a constant 2 here).
    assert [b["multiplier"] for b in variant["by_budget"]] == pytest.approx([2.0] * 3, rel=0.3)
    assert variant["trend"]["verdict"] == "stable"

    plot = tmp_path / "arms.png"
    table = invoke(points, "--law", "compute", "--bootstrap", "50", "--plot", plot)
    assert table.exit_code == 0, table.output
    assert "swiglu" in table.stdout and "better" in table.stdout
    assert "compute multiplier at each budget" in table.stdout and "stable" in table.stdout
    assert f"plot written to {plot}" in table.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_parametric_table_and_json(tmp_path):
    points = write_csv(tmp_path / "grid.csv", parametric_rows())
    plot = tmp_path / "law.pdf"
    result = invoke(points, "--starts", "40", "--bootstrap", "3", "--plot", plot)
    assert result.exit_code == 0, result.output
    for fragment in ("E + A/N^α + B/D^β", "alpha", "beta", "N_opt ∝ C^a", "40 L-BFGS-B starts"):
        assert fragment in result.stdout
    assert plot.read_bytes().startswith(b"%PDF")
    document = json.loads(
        invoke(points, "--starts", "40", "--bootstrap", "3", "--json", "--law", "parametric").stdout
    )
    fit = document["fits"]["parametric"]
    for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
        assert isinstance(fit[key], float) and len(fit[f"{key}_ci"]) == 2
    assert {
        "points",
        "params_convention",
        "starts",
        "bootstrap",
        "tokens_per_parameter",
        "optimal",
    } <= set(fit)
    assert fit["starts"] == 40 and fit["params_convention"] == "total"


def test_options_that_do_not_apply_are_noted(isoflop_csv):
    result = invoke(
        isoflop_csv, "--law", "compute", "--params", "non-embedding", "--bootstrap", "5", "--json"
    )
    assert result.exit_code == 0, result.output
    assert (
        "--params does not apply to the compute law: ignored" in json.loads(result.stdout)["notes"]
    )


def test_the_rates_options_do_not_apply_to_other_laws(isoflop_csv):
    result = invoke(isoflop_csv, "--law", "isoflop", "--tolerance", "0.01", "--bootstrap", "5",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "--tolerance does not apply to the isoflop law: ignored"
        in json.loads(result.stdout)["notes"]
    )


def rows_with(change):
    rows = isoflop_rows()
    change(rows)
    return rows


@pytest.mark.parametrize("case, args, fragments", [
    ("missing", [], ["does not exist"]),
    ("negative", [], ["row 3: loss must be positive; received '-1.0'"]),
    ("non-finite", [], ["row 2: params must be finite; received 'inf'"]),
    ("no loss column", [], ["row 1 has no 'loss'"]),
    ("too few", ["--law", "isoflop"], ["at least 2 budgets with 3 or more distinct sizes"]),
    ("too few", [], ["5 parameters", "received 4"]),
    ("fine", ["--law", "linear"],
     ["'linear' is not one of 'parametric', 'isoflop', 'compute', 'rates'"]),
    ("fine", ["--params", "non-embedding", "--law", "isoflop"],
     ["point 1 has no 'non_embedding_params', which --params non-embedding needs"]),
    ("fine", ["--flops", "exact", "--law", "isoflop"],
     ["point 1 has no 'flops_exact', which --flops exact needs"]),
    ("fine", ["--bootstrap", "-1"], ["Invalid value for '--bootstrap'"]),
])  # fmt: skip
def test_bad_input_is_one_line_and_writes_no_plot(tmp_path, case, args, fragments):
    path = tmp_path / "points.csv"
    if case == "negative":
        write_csv(path, rows_with(lambda rows: rows[2].update(loss=-1.0)))
    elif case == "non-finite":
        write_csv(path, rows_with(lambda rows: rows[1].update(params=float("inf"))))
    elif case == "no loss column":
        write_csv(path, [{k: v for k, v in r.items() if k != "loss"} for r in isoflop_rows()])
    elif case == "too few":
        write_csv(path, isoflop_rows()[:4])
    elif case == "fine":
        write_csv(path, isoflop_rows())
    plot = tmp_path / "plot.png"
    result = invoke(path, *args, "--plot", plot)
    line = assert_one_line(result, *fragments, empty_stdout=True)
    if case in ("negative", "non-finite", "no loss column"):
        assert line.startswith(f"error: {path} row ")  # the file, the row, the column
    assert not plot.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        [] if case == "missing" else ["points.csv"]
    )


def test_a_bad_plot_suffix_is_refused_before_fitting(isoflop_csv, monkeypatch):
    import zoo.scaling

    def never(*args, **kwargs):
        raise AssertionError("fitted before the plot path was checked")

    monkeypatch.setitem(zoo.scaling.FITS, "isoflop", never)
    result = invoke(isoflop_csv, "--law", "isoflop", "--plot", isoflop_csv.with_suffix(".jpg"))
    assert_one_line(result, "--plot must end in .png, .svg, .pdf", empty_stdout=True)
    assert not isoflop_csv.with_suffix(".jpg").exists()


def rates_sweep(path, seeds, noise=0.01, seed=0):
    """A rates sweep's JSON as `zoo sweep rates --json` writes it (its points), drawn from a
    loss surface whose best rate is DeepSeek LLM's law."""
    from tests.scaling.test_hyperparameters import _grid

    points = _grid(np.logspace(17, 18.5, 4), seeds=seeds, noise=noise, seed=seed, batches=False)
    for point in points:
        point.update(arm="llama-small", params=1000, batch_tokens=4096, flops=point["budget"])
    path.write_text(json.dumps({"kind": "rates", "points": points}))
    return path


def test_rates_refit_with_the_band_the_seed_noise_allows(tmp_path):
    """A finished grid refitted without training: the band from another sweep's repeated
    seeds, the rule in the JSON that `zoo sweep compute --rates` reads, and its figure."""
    from zoo.experiments.grid import RateRule
    from zoo.scaling.hyperparameters import noise_tolerance

    grid = rates_sweep(tmp_path / "grid.json", seeds=1)
    probe = rates_sweep(tmp_path / "probe.json", seeds=3, seed=1)
    result = invoke(grid, "--law", "rates", "--noise", probe, "--bootstrap", "50", "--json")
    assert result.exit_code == 0, result.output
    fit = json.loads(result.stdout)["fits"]["rates"]
    assert fit["noise"]["source"] == str(probe) and fit["noise"]["runs"] == 84
    assert fit["noise"]["sigma"] == pytest.approx(0.01, rel=0.2)
    assert fit["tolerance"] == noise_tolerance(fit["noise"]["sigma"])
    assert fit["seed_noise"] is None  # the grid's own cells are single runs
    (arm,) = fit["arms"]
    assert arm["name"] == "llama-small" and len(arm["near_optimal"]) > 4
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(result.stdout)
    rule = RateRule.load(rule_file)
    assert rule.tolerance == fit["tolerance"] and rule.arms["llama-small"] == arm

    plot = tmp_path / "rates.svg"
    table = invoke(grid, "--law", "rates", "--tolerance", "0.01", "--plot", plot)
    assert table.exit_code == 0, table.output
    assert "η_opt" in table.stdout and "within 1.000% of the budget's best loss" in table.stdout
    assert plot.read_text().startswith("<?xml")


@pytest.mark.parametrize("args, fragment", [
    (["--tolerance", "0.01", "--noise", "PROBE"], "--tolerance and noise both set"),
    (["--noise", "GRID"], "has no cell run at 2 seeds or more"),
    (["--tolerance", "2"], "--tolerance must be a fraction in [0, 1); received 2.0"),
])  # fmt: skip
def test_bad_rates_bands_are_one_line(tmp_path, args, fragment):
    grid = rates_sweep(tmp_path / "grid.json", seeds=1)
    probe = rates_sweep(tmp_path / "probe.json", seeds=2)
    paths = {"PROBE": str(probe), "GRID": str(grid)}
    result = invoke(grid, "--law", "rates", *[paths.get(a, a) for a in args])
    assert_one_line(result, fragment, empty_stdout=True)


def test_max_epochs_leaves_out_the_repeated_runs_and_says_so(tmp_path):
    """--max-epochs fits the points whose runs passed over their data at most that many times:
    the same fit as a table without those rows, with a note and the bound in the JSON."""
    rows = isoflop_rows()
    for i, row in enumerate(rows):  # the smallest size of each budget repeated its data
        row["epochs"] = 6.0 if i % 5 == 0 else 1.0
    marked = write_csv(tmp_path / "marked.csv", rows)
    kept = write_csv(tmp_path / "kept.csv", [r for r in rows if r["epochs"] <= 4])
    filtered = json.loads(invoke(marked, "--law", "isoflop", "--bootstrap", "20",
                                 "--max-epochs", "4", "--json").stdout)  # fmt: skip
    alone = json.loads(invoke(kept, "--law", "isoflop", "--bootstrap", "20", "--json").stdout)
    assert filtered["max_epochs"] == 4 and "max_epochs" not in alone
    assert filtered["fits"]["isoflop"]["points"] == alone["fits"]["isoflop"]["points"] == 12
    assert filtered["fits"]["isoflop"]["a"] == pytest.approx(alone["fits"]["isoflop"]["a"])
    assert (
        "--max-epochs 4: 3 of 15 points left out (their runs passed over the training data "
        "more than 4 times)" in filtered["notes"]
    )


@pytest.mark.parametrize("epochs, bound, fragment", [
    (None, "4", "--max-epochs needs an epochs column; point 1 has none (15 of 15 points lack it)"),
    (6.0, "4", "--max-epochs 4 leaves no point (the fewest passes: 6.00)"),
    (1.0, "0", "--max-epochs must be positive and finite; received 0.0"),
])  # fmt: skip
def test_max_epochs_refuses_what_it_cannot_filter(tmp_path, epochs, bound, fragment):
    rows = isoflop_rows()
    for row in rows:
        if epochs is not None:
            row["epochs"] = epochs
    path = write_csv(tmp_path / "points.csv", rows)
    assert_one_line(invoke(path, "--law", "isoflop", "--max-epochs", bound), fragment)


def test_update_writes_a_refit_only_where_it_reproduces_the_study(tmp_path):
    """A study fitted before its fit gained a field gets the field, every earlier value kept;
    a study whose fit the refit cannot reproduce, or a file that is no study, is left alone."""
    from zoo.scaling import fit_compute

    rows = compute_rows()
    old = fit_compute(rows, bootstrap=30, seed=0, reference_loss=3.0)
    for arm in old["arms"]:  # as fitted before the per-budget loss change existed
        for entry in arm.get("by_budget") or []:
            for key in ("loss_change", "loss_change_ci", "pairs"):
                entry.pop(key, None)
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"kind": "compute", "points": rows, "fits": {"compute": old}}))
    result = invoke(study, "--law", "compute", "--bootstrap", "30", "--update")
    assert result.exit_code == 0, result.output
    assert f"fit written into {study}" in result.stdout
    written = json.loads(study.read_text())
    assert written["kind"] == "compute" and written["points"] == rows
    variant = written["fits"]["compute"]["arms"][1]
    assert all("loss_change" in entry for entry in variant["by_budget"])
    assert variant["reference_crossing"] == old["arms"][1]["reference_crossing"]

    # Another scipy or CPU moves a solver's last digits: within the fit's precision it is the
    # same fit; a moved value (1%) is a changed one.
    nudged = json.loads(study.read_text())
    nudged["fits"]["compute"]["arms"][1]["A"] *= 1 + 1e-7
    study.write_text(json.dumps(nudged))
    assert invoke(study, "--law", "compute", "--bootstrap", "30", "--update").exit_code == 0
    moved = json.loads(study.read_text())
    moved["fits"]["compute"]["arms"][1]["multiplier"] *= 1.01
    study.write_text(json.dumps(moved))
    before = study.read_bytes()
    refused = invoke(study, "--law", "compute", "--bootstrap", "30", "--update")
    assert_one_line(refused, "does not reproduce", "/arms/1/multiplier", "not written")
    assert study.read_bytes() == before

    table = tmp_path / "points.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_one_line(invoke(table, "--law", "compute", "--update"), "needs a sweep's JSON")
    assert_one_line(invoke(study, "--law", "isoflop", "--update"), "holds no isoflop fit to update")


def test_isoflop_bootstrap_takes_the_seed_noise_of_another_sweep(isoflop_csv, tmp_path):
    """--noise makes the IsoFLOP bootstrap parametric (valleys of one seed a size keep almost
    no residuals); it does not apply to the compute law."""
    probe = rates_sweep(tmp_path / "probe.json", seeds=3, seed=1)
    result = invoke(isoflop_csv, "--law", "isoflop", "--noise", probe, "--bootstrap", "20",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    fit = json.loads(result.stdout)["fits"]["isoflop"]
    assert fit["noise"] == pytest.approx(0.01, rel=0.2)
    assert any(n.startswith("parametric bootstrap") and str(probe) in n for n in fit["notes"])
    points = tmp_path / "arms.jsonl"
    points.write_text("".join(json.dumps(r) + "\n" for r in compute_rows()))
    ignored = invoke(points, "--law", "compute", "--noise", probe, "--bootstrap", "5", "--json")
    assert (
        "--noise does not apply to the compute law: ignored" in json.loads(ignored.stdout)["notes"]
    )


def test_budgets_fits_part_of_a_studys_range_and_refuses_what_it_cannot(tmp_path):
    """--budgets keeps the points of the budgets named (the JSON says which); a budget the
    points were not planned at, a malformed list, points without budgets, or --budgets with
    --update are one line each."""
    rows = [{**row, "budget": row["flops"]} for row in isoflop_rows()]
    points = tmp_path / "points.jsonl"
    points.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(points, "--law", "isoflop", "--budgets", "1e19,1e20", "--bootstrap", "5",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["budgets"] == "1e19,1e20"
    assert [b["budget"] for b in document["fits"]["isoflop"]["budgets"]] == [1e19, 1e20]
    assert "--budgets 1e+19,1e+20: 5 of 15 points left out (the other budgets)" in document["notes"]
    assert_one_line(invoke(points, "--law", "isoflop", "--budgets", "3e19"),
                    "--budgets 3e+19 is not a budget of these points (1e+18, 1e+19, 1e+20)")  # fmt: skip
    assert_one_line(invoke(points, "--law", "isoflop", "--budgets", "1e19,x"), "takes FLOPs")
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps(r) + "\n" for r in isoflop_rows()))
    assert_one_line(invoke(bare, "--law", "isoflop", "--budgets", "1e19"), "needs a budget column")
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"points": rows, "fits": {"isoflop": {}}}))
    assert_one_line(invoke(study, "--law", "isoflop", "--budgets", "1e19", "--update"),
                    "--update writes a study's own fit; it takes no --budgets")  # fmt: skip
