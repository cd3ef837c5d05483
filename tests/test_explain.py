"""`zoo explain`: every printed figure comes from a committed JSON, missing studies say so, and
an unknown choice is one line, exit 2, with suggestions."""

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.helpers import json_pointer
from zoo import explain as cards
from zoo_cli.explain import render_card
from zoo_cli.main import app

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?%?")
ABLATIONS = "results/reference/sweep-compute-llama-ablations.json"


def _check_figures(result, root):
    """Each figure's value is the value at its pointer in its source, and its text is that
    value formatted; returns the texts."""
    texts = set()
    for card in result["cards"]:
        entries = (
            list(card["measurements"])
            + [card[key] for key in ("inference", "search", "laws") if card.get(key)]
            + list(card.get("gradients") or [])
            + list(card.get("cost") or [])
            + list(card.get("memory") or [])
            + list(card.get("epochs") or [])
            + list(card.get("continued") or [])
            + list(card.get("logits") or [])
            + list(card.get("valleys") or [])
        )
        for entry in entries:
            for figure in entry.get("figures", []):
                source = json.loads((root / entry["source"]).read_text())
                value = json_pointer(source, figure["pointer"])
                if figure["kind"] == "length":
                    value = len(value)
                assert figure["value"] == value, (entry["source"], figure)
                assert figure["text"] == cards.fmt(value, figure["kind"])
                texts.add(figure["text"])
    return texts


def _allowed_numbers():
    """Numbers a card may print without a study behind them: those in the cards file itself
    (papers' figures, years, commands, file names)."""
    text = cards.CHOICES.read_text()
    changes = {  # a paper's two losses' change, printed as a signed percent
        cards.fmt(m["papers"]["loss_change_percent"], cards.PERCENT_CHANGE).lstrip("+-")
        for card in json.loads(text)["cards"]
        for m in card["measured"]
        if "loss_change_percent" in m.get("papers", {})
    }
    return set(NUMBER.findall(text)) | changes


def _printed_numbers_are_sourced(text, figure_texts):
    # NUMBER reads no sign: a printed -0.2 (or +0.2%) is found as 0.2 (0.2%)
    allowed = _allowed_numbers() | figure_texts | {t.lstrip("+-") for t in figure_texts}
    for number in NUMBER.findall(text):
        assert number in allowed or number.rstrip(",") in allowed, number


@pytest.fixture
def study_root(tmp_path):
    """A checkout with one synthetic ablation study and a generation benchmark."""
    reference = tmp_path / "results" / "reference"
    reference.mkdir(parents=True)
    arms = [
        {
            "name": "llama-small",
            "multiplier": 1.0,
            "multiplier_ci": [1.0, 1.0],
            "verdict": "baseline",
            "extrapolated": False,
        },
        {
            "name": "llama-small position=learned",
            "multiplier": 0.6173,
            "multiplier_ci": [0.4419, 0.8832],
            "verdict": "worse",
            "extrapolated": False,
        },
        {
            "name": "llama-small num_key_value_heads=1",
            "multiplier": 1.0841,
            "multiplier_ci": [0.7712, 1.5127],
            "verdict": "within noise",
            "extrapolated": True,
        },
    ]
    (reference / "sweep-compute-llama-ablations.json").write_text(
        json.dumps(
            {
                "budgets": [3e10, 1e11, 3e11, 1e12],
                "seeds": 3,
                "tune_lr": True,
                "fits": {"compute": {"arms": arms, "baseline": "llama-small", "level": 0.95}},
            }
        )
    )
    recipes = [
        {
            "name": "gpt2-small",
            "multiplier": 1.0,
            "multiplier_ci": [1.0, 1.0],
            "verdict": "baseline",
            "extrapolated": False,
            "reference_crossing": 3.3e16,
            "reference_crossing_ci": [2.1e15, None],
            "reference_crossing_extrapolated": True,
        },
        {
            "name": "llama-small",
            "multiplier": 41.7,
            "multiplier_ci": [12.2, 390.5],
            "verdict": "better",
            "extrapolated": True,
            "reference_crossing": None,
            "reference_crossing_ci": [4.4e14, None],
            "reference_crossing_extrapolated": True,
        },
    ]
    (reference / "sweep-compute-recipes.json").write_text(
        json.dumps(
            {
                "budgets": [3e10, 1e11, 3e11, 1e12],
                "seeds": 3,
                "tune_lr": True,
                "baseline": {"name": "KN 8-gram", "order": 8, "bits_per_byte": 2.02, "loss": 1.4},
                "fits": {"compute": {"arms": recipes, "baseline": "gpt2-small", "level": 0.95}},
            }
        )
    )
    # The same question at the next rung: per-budget multipliers and a trend in its fit.
    (reference / "rung2").mkdir()
    learned = {
        "name": "llama-small position=learned",
        "multiplier": 0.7702,
        "multiplier_ci": [0.6611, 0.9034],
        "verdict": "worse",
        "extrapolated": False,
        "trend": {"verdict": "shrinking", "at_top": 0.8513, "at_top_ci": [0.7301, 0.9866]},
    }
    (reference / "rung2" / "compute-llama-ablations.json").write_text(
        json.dumps(
            {
                "budgets": [1e12, 3e12, 1e13, 3e13],
                "seeds": 3,
                "fits": {
                    "compute": {
                        "arms": [arms[0], learned],
                        "baseline": "llama-small",
                        "level": 0.95,
                    }
                },
            }
        )
    )
    (reference / "bench-generate.json").write_text(
        json.dumps(
            {
                "generate": {
                    "rows": [
                        {
                            "name": "palm-small",
                            "cache_bytes_per_token": 2560,
                            "tokens_per_second": {"median": 812.4},
                        },
                        {
                            "name": "palm-small, multi-head",
                            "cache_bytes_per_token": 10240,
                            "tokens_per_second": {"median": 640.9},
                        },
                    ]
                }
            }
        )
    )
    return tmp_path


def test_a_card_shows_the_study_figures_and_nothing_else(study_root):
    result = cards.explain("position", root=study_root)
    (card,) = result["cards"]
    measured, higher = card["measurements"]  # the question at each rung, lowest first
    assert (measured["rung"], higher["rung"]) == ("3e10–1e12", "1e12–3e13")
    assert measured["reads"] == higher["reads"] and measured["papers"] == higher["papers"]
    assert measured["verdict"] == "worse" and measured["against"] == "llama-small"
    assert "0.617× [0.442, 0.883] (95% bootstrap) against llama-small: worse" in measured["summary"]
    assert "3 seeds × 4 budgets, 3e+10 to 1e+12 FLOPs" in measured["summary"]
    assert "0.77× [0.661, 0.903] (95% bootstrap)" in higher["summary"]
    assert "3 seeds × 4 budgets, 1e+12 to 3e+13 FLOPs" in higher["summary"]
    assert higher["trend"] == (
        "trend across budgets: shrinking; the fitted line gives 0.851× [0.73, 0.987] at the top "
        "budget"
    )
    # The list shows the highest rung measured so far.
    assert card["verdict_line"].endswith(higher["summary"])
    figures = _check_figures(result, study_root)
    text = render_card(card)
    assert text.index("at 3e10–1e12 FLOPs") < text.index("at 1e12–3e13 FLOPs")
    _printed_numbers_are_sourced(text, figures)


def test_inference_figures_and_extrapolation_are_read_from_their_files(study_root):
    result = cards.explain("multi-query", root=study_root)
    (card,) = result["cards"]
    assert card["id"] == "num_key_value_heads"
    first, first_higher, second = card["measurements"]
    assert "(extrapolated)" in first["summary"]
    assert first_higher["missing"].endswith(
        "has no arm 'llama-small num_key_value_heads=1' "
        "(arms: llama-small, llama-small position=learned)"
    )
    assert "not committed" not in first.get("missing", "")
    assert "has no arm 'llama-small num_key_value_heads=2'" in second["missing"]
    assert "2,560 cache bytes per token, decodes 812 tokens/s" in card["inference"]["summary"]
    figures = _check_figures(result, study_root)
    _printed_numbers_are_sourced(render_card(card), figures)


def test_the_hyperparameters_card_reads_the_samplers_study_and_the_rate_rule(study_root):
    """The search summary, the best setting and importances from a samplers study; each arm's
    exponent in compute and in parameters, and whether the papers' exponents lie inside."""
    reference = study_root / "results" / "reference"
    (card,) = cards.explain("hyperparameters", root=study_root)["cards"]
    assert card["verdict_line"].startswith("not measured: ")  # neither file yet
    assert card["search"]["missing"].endswith("samplers-llama.json is not committed yet")
    rows = [("random", 1.6012, [1.59, 1.6124], 7.0, 4), ("tpe", 1.5931, [1.5902, 1.596], 4.0, 5)]
    samplers = [
        {"name": n, "seeds": 5,
         "best_after": [{"k": 1, "mean": 1.9, "ci": None}, {"k": 2, "mean": m, "ci": ci}],
         "trials_to_tolerance": {"median": need, "ci": [2.0, 9.0], "reached": got, "of": 5}}
        for n, m, ci, need, got in rows
    ]  # fmt: skip
    (reference / "samplers-llama.json").write_text(json.dumps({
        "kind": "samplers",
        "comparison": {"reference": 1.5874, "tolerance": 0.01, "level": 0.95, "trials": 2,
                       "samplers": samplers},
        "best": {"sampler": "tpe", "seed": 3, "loss": 1.5874,
                 "params": {"learning_rate": 0.00724, "beta_2": 0.987}},
        "importance": {"learning_rate": {"mean": 0.612, "range": [0.3, 0.9], "studies": 10},
                       "beta_2": {"mean": 0.041, "range": [0.0, 0.1], "studies": 10}},
    }))  # fmt: skip
    line = {"a": 1e-3, "b": -0.2, "a_ci": [1e-4, 1e-2], "b_ci": [-0.5, 0.1]}
    (reference / "rung2" / "rule-recipes.json").write_text(json.dumps({"fits": {"rates": {
        "tolerance": 0.0282, "level": 0.95,
        "arms": [{"name": "llama-small", "learning_rate": line, "batch_tokens": None,
                  "learning_rate_in_params": {**line, "b": -0.31, "b_ci": [-0.33, -0.2]},
                  "near_optimal": [{"budget": 1e12, "learning_rate": 1e-3, "batch_tokens": 4096,
                                    "loss": 2.5}]}]}}}))  # fmt: skip
    result = cards.explain("hyperparameters", root=study_root)
    (card,) = result["cards"]
    search, laws = card["search"], card["laws"]
    assert search["summary"].endswith("random 1.601 [1.590, 1.612], tpe 1.593 [1.590, 1.596]")
    assert card["verdict_line"] == search["summary"]
    assert "random 7 (4 of 5 seeds), tpe 4 (5 of 5 seeds)" in search["lines"][0]
    assert "(tpe, seed 3; loss 1.587): learning_rate=0.00724, beta_2=0.987" in search["lines"][1]
    assert search["lines"][2].endswith("learning_rate 0.612, beta_2 0.041")
    compute, params, batch = laws["lines"]
    assert "llama-small -0.2 [-0.5, 0.1] (DeepSeek LLM's inside)" in compute
    assert "llama-small -0.31 [-0.33, -0.2] (Porian et al.'s outside)" in params
    assert batch == "B_opt: no law here, the grids held the batch (4,096 tokens)"
    figures = _check_figures(result, study_root)
    text = render_card(card)
    assert text.index("[bold]the samplers compared") < text.index("[bold]the laws behind")
    _printed_numbers_are_sourced(text, figures)


def _gradient_study(placement, ratios):
    return {"kind": "gradients", "model": "gpt2-small", "num_layers": 24,
            "norm_placement": placement, "feedforward": "gelu", "batch_size": 4, "seed": 0,
            "layers": ["embedding", "block 0", "block 1"], "blocks": ["block 0", "block 1"],
            "rows": [{"step": k * 15, "loss": 6.0, "norms": [0.5, 0.1, 0.2],
                      "sublayers": {"self_attention": [0.05, 0.1], "feedforward": [0.05, 0.1]}}
                     for k in range(len(ratios))],
            "first_to_last": ratios}  # fmt: skip


def test_the_gradients_card_reads_each_variant_and_says_which_are_missing(study_root):
    folder = study_root / "results" / "reference" / "gradients"
    folder.mkdir()
    (folder / "post-gelu.json").write_text(
        json.dumps(_gradient_study("post", [16.5, 1.2e-3, 8.77e-9]))
    )
    (folder / "pre-gelu.json").write_text(json.dumps(_gradient_study("pre", [1.23, 0.9])))
    result = cards.explain("vanishing", root=study_root)
    (card,) = result["cards"]
    rows = {row["study"]: row for row in card["gradients"]}
    assert rows["gradients-post-gelu"]["summary"] == (
        "24 blocks, post-norm, gelu: the first block's gradient norm over the last's is 16.5 at "
        "initialisation, 8.77e-09 after 30 updates"
    )
    assert rows["gradients-pre-gelu"]["summary"].endswith(
        "1.23 at initialisation, 0.9 after 15 updates"
    )
    assert rows["gradients-post-tanh"]["missing"].endswith("post-tanh.json is not committed yet")
    assert card["verdict_line"] == (  # the card's headline variants, side by side
        rows["gradients-post-gelu"]["summary"] + "; " + rows["gradients-pre-gelu"]["summary"]
    )
    figures = _check_figures(result, study_root)
    _printed_numbers_are_sourced(render_card(card), figures)


def test_the_recipes_card_says_where_each_curve_reaches_the_n_gram_baseline(study_root):
    result = cards.explain("recipes", root=study_root)
    (card,) = result["cards"]
    llama = card["measurements"][0]
    assert llama["arm"] == "llama-small" and llama["verdict"] == "better"
    assert card["measurements"][1]["missing"].endswith("is not committed yet")  # rung 2
    assert (
        "its fitted curve levels off above the Kneser-Ney 8-gram baseline (never reaches "
        "it) [4.4e+14, never] (extrapolated)"
    ) in llama["summary"]
    assert all("missing" in m for m in card["measurements"][1:])  # arms not in the file
    figures = _check_figures(result, study_root)
    _printed_numbers_are_sourced(render_card(card), figures)


def test_a_missing_study_is_said_and_shows_no_number(tmp_path):
    result = cards.explain(None, root=tmp_path)
    assert {c["id"] for c in result["cards"]} >= {
        "position",
        "normalization",
        "feedforward",
        "num_key_value_heads",
        "block",
        "attention_pattern",
        "allocation",
        "tokenizer",
        "z_loss",
        "biases",
        "tie_embeddings",
    }
    for card in result["cards"]:
        for m in card["measurements"]:
            assert m["missing"].endswith("is not committed yet") and "figures" not in m
        text = render_card(card)
        _printed_numbers_are_sourced(text, set())


def test_the_committed_studies_figures_match_their_files():
    """Whatever studies are committed: every figure of every card is its file's value."""
    result = cards.explain(None)
    _check_figures(result, cards.ROOT)
    for card in result["cards"]:
        figures = _check_figures({"cards": [card]}, cards.ROOT)
        _printed_numbers_are_sourced(render_card(card), figures)


def test_every_card_names_a_known_study_and_unique_names():
    data = cards.load_cards()
    names = cards.choice_names(data)
    assert len(names) == len({n.lower().replace("_", "-") for n in names})
    for card in data["cards"]:
        for m in card["measured"]:
            assert m["study"] in data["studies"]
            if "higher" in m:  # the next rung asks the same question of a study at its rung
                higher = data["studies"][m["higher"]["study"]]
                assert higher["rung"] != data["studies"][m["study"]]["rung"]
        assert card["measured"] or card.get("unmeasured")


def test_cli_lists_every_choice_and_prints_a_card():
    runner = CliRunner()
    listing = runner.invoke(app, ["explain"])
    assert listing.exit_code == 0
    for name in ("position", "feedforward", "allocation", "z_loss"):
        assert name in listing.output
    card = runner.invoke(app, ["explain", "swiglu"])
    assert card.exit_code == 0 and "SwiGLU" in card.output
    data = runner.invoke(app, ["explain", "rmsnorm", "--json"])
    assert json.loads(data.output)["cards"][0]["id"] == "normalization"


def test_cli_unknown_choice_is_one_line_exit_2_with_suggestions():
    result = CliRunner().invoke(app, ["explain", "rotry"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: unknown choice 'rotry'; did you mean: rotary, rmsnorm?"]


def test_explain_imports_no_backend():
    """It reads JSON only, which is why it answers at once from a fresh clone."""
    code = (
        "import sys; from typer.testing import CliRunner; from zoo_cli.main import app; "
        "r = CliRunner().invoke(app, ['explain', 'position']); assert r.exit_code == 0; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_card_states_its_scale_trend_and_the_papers_effect_at_theirs():
    """The committed study behind the position card: the scale it was measured at (and that no
    run beats the n-gram), that its fit predates trends, and the published effect at 125M."""
    (card,) = cards.explain("position")["cards"]
    measured = card["measurements"][0]  # the 3e10–1e12 rung, committed
    assert measured["scale"].startswith("scale: parameters ")
    assert measured["scale"].endswith("no run beats counting")
    assert measured["trend"].startswith("trend: none in this study's fit")
    assert measured["papers"].startswith("papers: validation loss 2.809 with a learned table")
    assert measured["papers"].endswith("worse; the zoo's direction agrees")
    _printed_numbers_are_sourced(render_card(card), _check_figures({"cards": [card]}, cards.ROOT))


@pytest.mark.parametrize(
    "direction, verdict, agreement",
    [
        ("worse", "worse", "agrees"),
        ("better", "worse", "disagrees"),
        ("neutral", "within noise", "agrees"),
        ("worse", "within noise", "cannot tell (within noise here)"),
        ("neutral", "better", "disagrees (the zoo finds it better; the paper, no clear effect)"),
    ],
)
def test_the_zoo_agrees_with_a_paper_only_in_its_direction(direction, verdict, agreement):
    papers = {"effect": "e", "scale": "s", "source": "p", "direction": direction}
    assert cards._papers(papers, verdict).endswith(f"the zoo's direction {agreement}")


@pytest.mark.parametrize(
    "interval, agreement",
    [
        ((1.3, 3.5), "agrees, and so does the size (the paper's 2.05× lies inside the interval)"),
        ((331, 2e7), "agrees; the size does not (the paper's 2.05× lies below the interval)"),
        ((1.1, 1.5), "agrees; the size does not (the paper's 2.05× lies above the interval)"),
        (None, "agrees"),
    ],
)
def test_a_published_multiplier_is_read_against_the_interval(interval, agreement):
    """Where the paper's effect is a compute multiplier, 7,000x and 2x no longer both agree."""
    papers = {"effect": "e", "scale": "s", "source": "p", "direction": "better", "multiplier": 2.05}
    assert cards._agreement(papers, "better", interval) == agreement
    assert cards._agreement(papers, "worse", interval) == "disagrees"


def test_a_papers_loss_change_is_its_two_losses_and_is_placed_against_the_interval():
    """Every `loss_change_percent` in the cards file is its `losses`' relative change (so no
    typed number can drift from the paper's), and it is read against the zoo's paired interval."""
    found = 0
    for card in cards.load_cards()["cards"]:
        for m in card["measured"]:
            papers = m.get("papers") or {}
            if "losses" in papers:
                variant, baseline = papers["losses"]
                assert papers["loss_change_percent"] == round(100 * (variant / baseline - 1), 2)
                assert str(variant) in papers["effect"] and str(baseline) in papers["effect"]
                found += 1
    assert found >= 9
    papers = {"effect": "e", "scale": "s", "source": "p", "direction": "worse",
              "loss_change_percent": 0.93}  # fmt: skip
    assert cards._loss_place(papers, (-0.004, 0.0052)) == "above"
    assert cards._loss_place(papers, (-0.014, 0.0329)) == "inside"
    assert cards._loss_place(papers, (0.02, 0.05)) == "below"
    assert cards._loss_place(papers, None) is None
    line = cards._papers(papers, "within noise", None, (-0.004, 0.0052))
    assert line.endswith(
        "the paper's +0.93% in loss lies above the zoo's interval at the top budget"
    )


def test_the_findings_table_puts_each_rung_beside_the_papers(study_root):
    from rich.console import Console

    from zoo_cli.explain import render_findings

    table = cards.findings(cards.explain(None, root=study_root))
    assert table["rungs"] == ["3e10–1e12", "1e12–3e13"]
    position = next(r for r in table["rows"] if r["choice"] == "position")
    assert position["cells"] == {
        "3e10–1e12": "0.617× [0.442, 0.883] worse; the paper: agrees",
        "1e12–3e13": "0.77× [0.661, 0.903] worse; trend shrinking, 0.851× at the top budget; "
        "the paper: agrees",
    }
    assert position["papers"] == (
        "validation loss 2.809 with a learned table against 2.759 with rotary (125M "
        "parameters, ~30B tokens; EleutherAI 2021 (Biderman et al.)): worse (+1.81% in loss)"
    )
    multi_query = next(
        r for r in table["rows"] if r["reads"].startswith("the LLaMA recipe with multi-query")
    )
    assert multi_query["cells"]["3e10–1e12"].startswith("1.08× [0.771, 1.51] within noise")
    assert multi_query["cells"]["1e12–3e13"] == "not measured yet"
    console = Console(width=400, record=True)
    console.print(render_findings(table))
    figures = {f["text"] for row in table["rows"] for f in row["figures"]}
    _printed_numbers_are_sourced(console.export_text(), figures)


def test_cli_findings_prints_every_rung_of_the_committed_studies():
    result = CliRunner().invoke(app, ["explain", "--findings", "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert table["rungs"][:2] == ["3e10–1e12", "1e12–3e13"]
    assert {row["choice"] for row in table["rows"]} >= {"position", "block", "recipes"}


def test_the_allocation_card_reads_the_isoflop_fits_and_places_the_papers_exponents():
    """Each IsoFLOP fit the card names: a, b and tokens per parameter with their intervals from
    the committed file, and where Chinchilla's and Kaplan's exponents lie against a's."""
    (card,) = cards.explain("allocation")["cards"]
    valleys = card["valleys"]
    spec = next(c for c in cards.load_cards()["cards"] if c["id"] == "allocation")
    assert len(valleys) == len(spec["valleys"]["studies"])
    for entry in valleys:
        if "missing" in entry:
            continue
        text = {f["key"]: f for f in entry["figures"]}
        low, high = text["a low"]["value"], text["a high"]["value"]
        chinchilla = "inside" if low <= 0.49 <= high else "below" if 0.49 < low else "above"
        assert f"a = 0.49 (Chinchilla's approach 2" in entry["summary"]
        assert entry["summary"].split("a = 0.49 (")[1].split(") lies ")[1].startswith(chinchilla)
    _printed_numbers_are_sourced(render_card(card), _check_figures({"cards": [card]}, cards.ROOT))
