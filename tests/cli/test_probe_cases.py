"""Cases a probe of the command line found: each is one line `error: ...` on stderr, exit status
2 and nothing written, or (a failed run, a long fit, a damaged run record) says what it is."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest
from typer.testing import CliRunner

import zoo
from tests.helpers import assert_one_line, write_verse
from zoo_cli import fit as fit_cli
from zoo_cli.main import app

runner = CliRunner(env={"COLUMNS": "120"})


# --- a small run on disk, made without training: a gpt2-nano model and a tokenizer ---


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    """A finished run directory (config, summary, model.keras, checkpoint.keras, tokenizer/)
    of an untrained gpt2-nano (512 tokens); tests copy it before changing it."""
    from zoo.data import load_corpus, prepare_tokenizer

    root = tmp_path_factory.mktemp("probe")
    words = "the king queen lord lady speak hath thou night day love death sword crown".split()
    works = write_verse(root / "works", count=6, lines=60, words=words, line_words=8)
    run = root / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE", str(root / "cache"))
        assets = prepare_tokenizer(load_corpus(str(works)), "byte_bpe", 512)
    shutil.copytree(assets.path, run / "tokenizer")
    model = zoo.build("gpt2-nano")
    model.save(run / "model.keras")
    model.save(run / "checkpoint.keras")
    (run / "config.json").write_text(
        json.dumps({"run_id": "run", "preset": "gpt2-nano", "budget": {"steps": 10}})
    )
    (run / "summary.json").write_text(json.dumps({"steps": 10, "tokens": 2560}))
    return run


@pytest.fixture
def failed_run(model_run, tmp_path):
    """A run that diverged at step 4: no model.keras, its commit of step 2, failure.json."""
    run = tmp_path / "failed"
    shutil.copytree(model_run, run)
    (run / "model.keras").unlink()
    (run / "summary.json").unlink()
    (run / "state.json").write_text(json.dumps({"step": 2}))
    (run / "failure.json").write_text(
        json.dumps(
            {
                "step": 4,
                "reason": "training diverged at step 4: loss is nan; the last commit (step "
                "2) is kept and no model.keras was written; try a lower learning "
                "rate (--set learning_rate=...), a smaller clip_norm or "
                "z_loss_weight",
            }
        )
    )
    return run


# --- 1. zoo import and zoo export keep an existing --out file unless --force ---


@pytest.mark.parametrize("command", ["import", "export"])
def test_an_existing_out_file_is_kept_unless_forced(command, model_run, tmp_path, request):
    if command == "import":
        request.getfixturevalue("imported")
    out = tmp_path / "theirs.keras"
    out.write_bytes(b"someone else's model, not the zoo's")
    args = [command, str(model_run), "--out", str(out)]
    assert_one_line(
        runner.invoke(app, args),
        expected=f"error: --out {str(out)!r} already exists; pass --force to replace it",
    )
    assert out.read_bytes() == b"someone else's model, not the zoo's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.keras"]  # nothing beside it
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert zipfile.is_zipfile(out)  # replaced by the zoo's model


@pytest.mark.parametrize("command", ["import", "export"])
def test_help_says_an_existing_out_needs_force(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "--force" in result.stdout
    assert "existing" in result.stdout


# --- 2. zoo explain over a damaged study or cards file: one line naming the file ---

ABLATIONS = "results/reference/sweep-compute-llama-ablations.json"


@pytest.fixture
def explain_files(tmp_path, monkeypatch):
    """A checkout of its own for `zoo explain`: a copy of the cards file and one study."""
    import zoo.explain as cards

    choices = tmp_path / "choices.json"
    choices.write_text(cards.CHOICES.read_text())
    study = tmp_path / ABLATIONS
    study.parent.mkdir(parents=True)
    arms = [
        {
            "name": "llama-small",
            "multiplier": 1.0,
            "multiplier_ci": [1.0, 1.0],
            "verdict": "baseline",
        },
        {
            "name": "llama-small position=learned",
            "multiplier": 0.62,
            "multiplier_ci": [0.44, 0.88],
            "verdict": "worse",
        },
    ]
    study.write_text(
        json.dumps(
            {
                "budgets": [3e10, 1e11],
                "seeds": 3,
                "fits": {"compute": {"arms": arms, "baseline": "llama-small", "level": 0.95}},
            }
        )
    )
    monkeypatch.setattr(cards, "CHOICES", choices)
    monkeypatch.setattr(cards, "ROOT", tmp_path)
    return choices, study


def _damage(path, how):
    text = path.read_text()
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "a list":
        path.write_text(json.dumps([json.loads(text)]))
    else:
        document = json.loads(text)
        how(document)
        path.write_text(json.dumps(document))


def _string_multiplier(study):
    study["fits"]["compute"]["arms"][1]["multiplier"] = "0.62"


def _number_year(cards):
    cards["cards"][0]["history"][0][1] = 2019


def _cards_not_a_list(cards):
    cards["cards"] = {"position": cards["cards"][0]}


@pytest.mark.parametrize("which, how, problem", [
    ("study", "truncated", "is damaged (JSONDecodeError: "),
    ("study", "a list", "is damaged: it holds a list, not a JSON object"),
    ("study", _string_multiplier,
     'is damaged: /fits/compute/arms/1/multiplier must be a finite number; found the string '
     '"0.62"'),
    ("cards", "truncated", "is damaged (JSONDecodeError: "),
    ("cards", "a list", "is damaged: it holds a list, not a JSON object"),
    ("cards", _number_year, "is damaged: /cards/0/history/0/1 must be a string; found 2019"),
    ("cards", _cards_not_a_list, "is damaged: /cards must be a list; found an object"),
])  # fmt: skip
@pytest.mark.parametrize("args", [["explain"], ["explain", "rotary"], ["explain", "--json"]])
def test_a_damaged_explain_file_is_one_line_naming_it(explain_files, which, how, problem, args):
    choices, study = explain_files
    path = study if which == "study" else choices
    assert runner.invoke(app, args).exit_code == 0  # the undamaged copies read
    _damage(path, how)
    line = assert_one_line(runner.invoke(app, args))
    assert line.startswith(f"error: {path} {problem}"), line


# --- 3. zoo generate: sampler options, and a run that failed ---


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1"])
def test_a_temperature_that_is_not_positive_and_finite_is_refused(value, tmp_path):
    result = runner.invoke(
        app, ["generate", str(tmp_path / "m.keras"), "-p", "x", "--temperature", value]
    )
    expected = repr(float(value))
    assert_one_line(
        result,
        expected=f"error: --temperature must be a positive finite number; received {expected}",
    )


def test_top_k_beyond_the_vocabulary_is_one_line(model_run):
    result = runner.invoke(
        app,
        [
            "generate",
            str(model_run),
            "-p",
            "the king",
            "--sampler",
            "top-k",
            "--top-k",
            "100000",
            "-n",
            "5",
        ],
    )
    assert_one_line(
        result, expected="error: --top-k must be at most the vocabulary size (512); received 100000"
    )
    assert result.stdout == ""


def test_a_failed_run_warns_before_generating(failed_run):
    result = runner.invoke(
        app, ["generate", str(failed_run), "-p", "the king", "-n", "2", "--no-stop", "--no-stream"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: {failed_run} failed at step 4 (training diverged at step 4: loss is nan); "
        "generating from its last commit (step 2), not a finished model"
    ]
    assert result.stdout.startswith("the king") and "2 tokens in" in result.stdout


def test_a_failed_run_without_a_commit_is_refused(failed_run):
    (failed_run / "checkpoint.keras").unlink()
    result = runner.invoke(app, ["generate", str(failed_run), "-p", "the king"])
    assert_one_line(
        result,
        expected=f"error: RUN_OR_FILE {str(failed_run)!r}: the run failed "
        "at step 4 (training diverged at step 4: loss is nan) "
        "before its first commit, so it has no model to generate "
        "with",
    )


# --- 4. zoo fit: --plot refused before anything heavy loads; progress with the time left ---

FRESH_ZOO = textwrap.dedent("""
    import sys
    sys.argv = ["zoo", *sys.argv[1:]]
    from zoo_cli.main import main
    try:
        main()
    finally:
        print("heavy:", sorted(m for m in ("tensorflow", "keras", "matplotlib")
                               if m in sys.modules))
""")


def _points_file(tmp_path):
    rows = ["arm,params,flops,loss"] + [
        f"{arm},1000000,{c},{4.0 * (k * c) ** -0.05}"
        for arm, k in (("a", 1), ("b", 2))
        for c in (1e12, 1e13, 1e14)
    ]
    path = tmp_path / "points.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("plot, problem", [
    ("a-file/fit.png", "{tmp}/a-file is a file, not a directory"),
    ("a-directory.png", "is a directory; name a file in it"),
    ("fit.jpg", "--plot must end in .png, .svg, .pdf"),
])  # fmt: skip
def test_a_bad_plot_path_is_refused_before_anything_heavy_loads(tmp_path, plot, problem):
    (tmp_path / "a-file").write_text("not a directory\n")
    (tmp_path / "a-directory.png").mkdir()
    points = _points_file(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_ZOO,
            "fit",
            str(points),
            "--law",
            "compute",
            "--plot",
            str(tmp_path / plot),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --plot"), done.stderr
    assert problem.format(tmp=tmp_path) in lines[0]
    assert done.stdout == "heavy: []\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_an_unwritable_plot_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = runner.invoke(
            app,
            [
                "fit",
                str(_points_file(tmp_path)),
                "--law",
                "compute",
                "--plot",
                str(locked / "fit.png"),
            ],
        )
        assert_one_line(
            result, expected=f"error: --plot {str(locked / 'fit.png')!r}: {locked} is not writable"
        )
    finally:
        locked.chmod(0o755)


def test_fits_report_their_progress_to_the_end():
    from zoo.scaling import fit_compute, fit_parametric

    rows = [
        {"params": n, "tokens": d, "loss": 1.7 + 400 / n**0.34 + 400 / d**0.28}
        for n in (1e7, 1e8, 1e9)
        for d in (1e9, 1e10, 1e11)
    ]
    calls = []
    fit_parametric(rows, starts=3, bootstrap=2, progress=lambda *call: calls.append(call))
    total = 3 + 3 + 2 * (17 + 3)  # starts and polishes, then each refit's
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    compute = [
        {"arm": arm, "params": 1e6, "flops": c, "loss": 4.0 * (k * c) ** -0.05}
        for arm, k in (("a", 1), ("b", 2))
        for c in (1e12, 1e13, 1e14)
    ]
    fit_compute(compute, bootstrap=5, progress=lambda *call: calls.append(call))
    assert calls == [(done, 5) for done in range(6)]


def test_a_fit_without_a_terminal_prints_progress_lines_with_the_time_left(tmp_path, monkeypatch):
    monkeypatch.setattr(fit_cli, "LINE_SECONDS", 0)  # a line at every refit, not every 30 s
    result = runner.invoke(
        app, ["fit", str(_points_file(tmp_path)), "--law", "compute", "--bootstrap", "4"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"fitting the compute law: {k}/4 bootstrap refits ({k / 4:.0%})" for k in range(1, 5)
    ]
    assert all(line.endswith(" left") and ", about " in line for line in lines)
    assert lines[-1].endswith("about 0s left")


# --- 5. zoo runs: a damaged record says so, and what is wrong, instead of None/None ---


@pytest.fixture
def results(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv("ZOO_RESULTS", str(root))
    for name, config, summary in [
        ("good", {"preset": "gpt2-nano", "budget": {"steps": 10}}, {"steps": 10, "tokens": 640}),
        ("torn", '{"preset": "gpt2-na', None),
        ("listed", [{"preset": "gpt2-nano"}], None),
        ("shapeless", {"preset": "gpt2-nano", "budget": 10}, None),
    ]:
        (root / name).mkdir(parents=True)
        text = config if isinstance(config, str) else json.dumps(config)
        (root / name / "config.json").write_text(text)
        if summary:
            (root / name / "summary.json").write_text(json.dumps(summary))
    return root


def test_runs_shows_a_damaged_record_and_its_problem(results):
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    assert "None" not in result.stdout
    assert "10/10" in result.stdout
    problems = [line for line in result.stdout.splitlines() if line.startswith("damaged ")]
    assert sorted(problems) == sorted(
        [
            f"damaged listed: {results}/listed/config.json is damaged: it holds no JSON object",
            f"damaged shapeless: {results}/shapeless/config.json is damaged: its budget is no JSON "
            "object",
            f"damaged torn: {results}/torn/config.json is damaged (JSONDecodeError: Unterminated "
            "string starting at: line 1 column 12 (char 11))",
        ]
    )
    rows = {r["run_id"]: r for r in json.loads(runner.invoke(app, ["runs", "--json"]).stdout)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "good": "complete",
        "torn": "damaged",
        "listed": "damaged",
        "shapeless": "damaged",
    }
    assert rows["listed"]["problem"].endswith("config.json is damaged: it holds no JSON object")
