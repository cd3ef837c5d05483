"""`zoo report`: every committed study and figure is on the page, every value shown there is its
source's (file and JSON pointer, as tests/test_explain.py checks the cards) and the page's own
words hold no digit; an `--out` it must not replace is one line, exit 2, nothing written; no
backend is imported. The slow test opens the page in headless Chromium."""

import importlib
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from tests.helpers import assert_one_line, json_pointer
from zoo import explain
from zoo.report import report
from zoo_cli.main import app

ROOT = explain.ROOT
REFERENCE = ROOT / "results" / "reference"
runner = CliRunner(env={"COLUMNS": "120"})
VOID = {"img", "br", "meta", "link", "hr", "input"}


class Page(HTMLParser):
    """What a page shows: its elements that name a source (`data-source`, `data-kind`, their
    text), its images, its sections' ids, and its loose text (outside those elements, scripts
    and styles)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sourced, self.images, self.sections, self.loose, self._open = [], [], [], [], []
        self.feed(text)
        assert not self._open, self._open  # every element closed

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "section":
            self.sections.append(attrs["id"])
        if tag in VOID:
            return
        record = None
        if "data-source" in attrs:
            record = {"source": attrs["data-source"], "kind": attrs["data-kind"], "text": ""}
            self.sourced.append(record)
        self._open.append((tag, record))

    def handle_endtag(self, tag):
        assert self._open and self._open[-1][0] == tag, (tag, self._open[-3:])
        self._open.pop()

    def handle_data(self, data):
        for tag, record in reversed(self._open):
            if record is not None:
                record["text"] += data
                return
            if tag in ("script", "style"):
                return
        self.loose.append(data)


def check_page(page, root):
    """Every sourced element shows its source's value (a number as `explain.fmt` writes it),
    and the page's own words hold no digit: so it shows no number that is not in a committed
    file. Returns how many elements were checked."""
    documents = {}

    def load(file):
        if file not in documents:
            path = explain.CHOICES if file == "zoo/choices.json" else root / file
            documents[file] = json.loads(path.read_text())
        return documents[file]

    for element in page.sourced:
        source, kind, text = element["source"], element["kind"], element["text"]
        if kind == "constant":
            module, name = source.rsplit(".", 1)
            assert getattr(importlib.import_module(module), name) == text, element
        elif kind == "file":
            assert (explain.CHOICES if source == "zoo/choices.json" else root / source).is_file()
            local = source.removeprefix("results/reference/").rsplit(".", 1)[0]  # rung2/NAME
            path = pathlib.PurePath(source)
            assert text in (source, path.name, path.stem, local), element
        elif kind == "command" and "#" not in source:  # a command found in a script or page
            written = (root / source).read_text()
            for word in shlex.split(text):
                assert word in written or pathlib.PurePath(word).name in written, (word, element)
        else:
            file, pointer = source.split("#", 1)
            value = json_pointer(load(file), pointer)
            if kind in ("text", "command"):
                assert value == text, element
            else:
                value = len(value) if kind == "length" else value
                assert text == explain.fmt(value, kind), (element, value)
    loose = " ".join(page.loose)
    assert not re.findall(r".{0,40}\d.{0,40}", loose), re.findall(r".{0,40}\d.{0,40}", loose)
    return len(page.sourced)


def _committed(suffix):
    """{the page's name for it: path} of the committed files with `suffix`, the rungs' folders
    included (rung2/NAME.json is rung2-NAME on the page and beside it)."""
    found = [*REFERENCE.glob(f"*{suffix}"), *REFERENCE.glob(f"*/*{suffix}")]
    return {p.relative_to(REFERENCE).as_posix().replace("/", "-"): p for p in found}


def _studies_with_figures():
    """The committed JSON files that a committed figure belongs to (NAME.png, NAME-*.png); a
    refit's (`zoo fit --json`, with its `points_file`) is shown in the study it refits."""
    committed = _committed(".json")
    stems = [name.removesuffix(".json") for name in committed]
    owners = {}
    for plot in _committed(".png"):
        plot = plot.removesuffix(".png")
        owner = max((s for s in stems if plot == s or plot.startswith(s + "-")), key=len)
        refitted = json.loads(committed[owner + ".json"].read_text()).get("points_file")
        if refitted:
            owner = (ROOT / refitted).relative_to(REFERENCE).with_suffix("").as_posix()
            owner = owner.replace("/", "-")  # a points_file is written from the checkout's root
        owners.setdefault(owner, []).append(plot)
    return owners


def test_every_committed_study_and_figure_is_on_the_page(tmp_path):
    written = report(tmp_path / "report")
    out = tmp_path / "report"
    page = Page((out / "index.html").read_text())
    figures = _committed(".png")
    assert written["figures"] == len(figures) and sorted(page.images) == sorted(figures)
    for name, path in figures.items():  # copied beside the page, byte for byte
        assert (out / name).read_bytes() == path.read_bytes()
    owners = _studies_with_figures()
    assert set(owners) <= set(page.sections)
    studies = {name.removesuffix(".json") for name in _committed(".json")}
    assert written["studies"] == len([s for s in page.sections if s in studies])
    assert "findings" in page.sections
    commands = [e for e in page.sourced if e["kind"] == "command"]
    assert len(commands) == written["studies"]  # every study says how to reproduce it
    manifest = json.loads((out / "report.json").read_text())
    assert manifest["written_by"] == "zoo report"
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir())


def test_every_value_on_the_page_is_its_committed_source(tmp_path):
    report(tmp_path / "report")
    page = Page((tmp_path / "report" / "index.html").read_text())
    assert check_page(page, ROOT) > 500
    kinds = {e["kind"] for e in page.sourced}
    assert {"multiplier", "flops", "loss", "count", "text", "command", "file"} <= kinds
    # the cards that read a study show what `zoo explain` shows for it
    card = explain.explain("position")["cards"][0]["measurements"][0]
    shown = {(e["source"], e["text"]) for e in page.sourced}
    for figure in card["figures"][:3]:
        assert (f"{card['source']}#{figure['pointer']}", figure["text"]) in shown


def _arm(name, multiplier, ci, verdict, **more):
    return {"name": name, "gamma": 0.05, "gamma_ci": [0.04, 0.06], "multiplier": multiplier,
            "multiplier_ci": ci, "verdict": verdict, "extrapolated": False, **more}  # fmt: skip


def _sweep(by_budget):
    """A compute sweep of two arms over two budgets; with `by_budget`, as fit_compute now
    writes it (each arm's multiplier per budget and its trend)."""
    variant = {}
    if by_budget:
        variant = {
            "by_budget": [
                {"budget": 1e11, "seeds": 2, "multiplier": 1.7, "multiplier_ci": [1.2, 2.5],
                 "verdict": "better"},
                {"budget": 1e12, "seeds": 2, "multiplier": 2.9, "multiplier_ci": [1.9, None],
                 "verdict": "better"},
            ],
            "trend": {"verdict": "growing", "slope": 0.23, "slope_ci": [0.11, 0.37],
                      "at_top": 2.85, "at_top_ci": [1.8, 4.6], "budgets": 2},
        }  # fmt: skip
    points = [
        {"arm": arm, "budget": b, "seed": 0, "params": p, "num_layers": 1, "hidden_dim": 16,
         "tokens": 20 * p, "loss": 2.0, "bits_per_byte": bpb}
        for arm, b, p, bpb in (("llama-small", 1e11, 9000, 3.1), ("llama-small", 1e12, 30000, 2.8),
                               ("llama-small x", 1e11, 9100, 3.0), ("llama-small x", 1e12, 31000, 2.7))
    ]  # fmt: skip
    return {
        "kind": "compute", "models": ["llama-small", "llama-small x"], "budgets": [1e11, 1e12],
        "seeds": 2, "tune_lr": False, "data": "shakespeare", "tokenizer": "shared",
        "baseline": {"name": "KN 8-gram", "order": 8, "bits_per_byte": 2.02, "loss": 1.4},
        "points": points,
        "fits": {"compute": {
            "baseline": "llama-small", "level": 0.95, "flops_convention": "palm", "notes": [],
            "arms": [_arm("llama-small", 1.0, [1.0, 1.0], "baseline", trend=None),
                     _arm("llama-small x", 2.4, [1.5, 3.9], "better", **variant)]}},
    }  # fmt: skip


@pytest.fixture
def study_root(tmp_path):
    """A checkout of two synthetic compute sweeps: one fitted before per-budget multipliers
    (as the committed studies were), one after; a figure for each."""
    reference = tmp_path / "results" / "reference"
    reference.mkdir(parents=True)
    for name, by_budget in (("sweep-compute-old", False), ("sweep-compute-new", True)):
        (reference / f"{name}.json").write_text(json.dumps(_sweep(by_budget)))
        shutil.copyfile(REFERENCE / "sweep-compute-gpt2-llama.png", reference / f"{name}.png")
    return tmp_path


def test_a_trend_is_shown_where_the_fit_has_one_and_its_absence_said(study_root, tmp_path):
    written = report(tmp_path / "out", root=study_root)
    assert (written["studies"], written["figures"]) == (2, 2)
    text = (tmp_path / "out" / "index.html").read_text()
    page = Page(text)
    check_page(page, study_root)
    new, old = (text[text.index(f'id="sweep-compute-{n}"') :] for n in ("new", "old"))
    new, old = new[: new.index("</section>")], old[: old.index("</section>")]
    shown = {e["source"].split("#")[-1]: e["text"] for e in page.sourced}
    assert shown["/fits/compute/arms/1/trend/verdict"] == "growing"
    assert shown["/fits/compute/arms/1/by_budget/1/multiplier_ci/1"] == "unbounded"
    assert "its multiplier at each budget" in new and "predates" not in new
    assert "Not in this study: its fit predates the per-budget multipliers" in old
    assert "the best run beats counting" not in old and "no run of this study beats" in old


LEARNED = "llama-small position=learned"  # an arm the position card reads


def _rates(check=False):
    """A rates sweep of one arm at two budgets (or, with `check`, its rule checked at a third)."""
    points = [
        {"arm": "llama-small", "budget": b, "seed": 0, "params": 9000, "num_layers": 2,
         "hidden_dim": 32, "tokens": 180000, "loss": loss, "bits_per_byte": 1.5 * loss,
         "learning_rate": rate, "batch_tokens": 4096}
        for b, rate, loss in ((1e12, 0.01, 2.1), (1e12, 0.02, 2.05), (3e12, 0.01, 1.9),
                              (3e12, 0.02, 1.95))
    ]  # fmt: skip
    sweep = {
        "kind": "rates", "models": ["llama"], "budgets": [1e12, 3e12], "seeds": 1,
        "rate_factors": [0.5, 1], "batch_factors": [1], "shapes": "papers",
        "data": "shakespeare", "tokenizer": "bytes", "points": points,
    }  # fmt: skip
    if check:
        sweep["check"] = "results/reference/rung2/rates-a.json"
        sweep["fits"] = {"check": {"arms": [  # as zoo sweep rates --check writes it
            {"arm": "llama-small", "budget": 1e13, "best_learning_rate": 0.008,
             "predicted_learning_rate": 0.0071, "ratio": 0.8875, "nearest_loss_excess": 0.0012,
             "near_optimal": True}]}}  # fmt: skip
        return sweep
    sweep["fits"] = {"rates": {"tolerance": 0.0025, "level": 0.95, "bootstrap": 200, "notes": [
        "llama-small: one near-optimal run per budget"], "arms": [
        {"name": "llama-small", "budgets": [1e12, 3e12], "notes": [],
         "near_optimal": [{"budget": 1e12, "learning_rate": 0.02, "batch_tokens": 4096,
                           "loss": 2.05, "seeds": 1},
                          {"budget": 3e12, "learning_rate": 0.01, "batch_tokens": 4096,
                           "loss": 1.9, "seeds": 1}],
         "learning_rate": {"a": 101.2, "b": -0.631, "a_ci": [80.5, 130.1],
                           "b_ci": [-0.7, -0.55]},
         "learning_rate_in_params": {"a": 3.1, "b": -0.402, "a_ci": [2.0, 4.0],
                                     "b_ci": [-0.5, -0.3]},
         "batch_tokens": None}]}}  # fmt: skip
    return sweep


def test_a_rung_of_studies_in_its_folder_and_the_findings_beside_the_papers(
    study_root, tmp_path, monkeypatch
):
    """A later rung's studies (results/reference/rung2/) are drawn like the first's, its rates
    sweeps (the rule and its check) have a section of their own, and the findings table puts
    each card's question at every rung beside the paper's effect."""
    rung = study_root / "results" / "reference" / "rung2"
    rung.mkdir()
    ablations = json.loads(json.dumps(_sweep(True)).replace("llama-small x", LEARNED))
    (rung / "compute-llama-ablations.json").write_text(json.dumps(ablations))
    shutil.copyfile(
        REFERENCE / "sweep-compute-gpt2-llama.png", rung / "compute-llama-ablations.png"
    )
    (rung / "rates-a.json").write_text(json.dumps(_rates()))
    (rung / "rates-check.json").write_text(json.dumps(_rates(check=True)))
    written = report(tmp_path / "out", root=study_root)
    assert (written["studies"], written["figures"]) == (5, 3)
    out = tmp_path / "out"
    text = (out / "index.html").read_text()
    page = Page(text)
    check_page(page, study_root)
    assert {"rung2-compute-llama-ablations", "rung2-rates-a", "rung2-rates-check",
            "findings"} <= set(page.sections)  # fmt: skip
    assert (out / "rung2-compute-llama-ablations.png").is_file()
    shown = {e["source"]: e["text"] for e in page.sourced}
    rates = "results/reference/rung2/rates-a.json#/fits/rates/arms/0"
    assert shown[f"{rates}/learning_rate/b"] == "-0.631"
    assert shown[f"{rates}/learning_rate/b_ci/1"] == "-0.55"
    assert shown[f"{rates}/learning_rate_in_params/b"] == "-0.402"
    assert shown["results/reference/rung2/rates-check.json#/fits/check/arms/0/ratio"] == "0.887"
    findings = text[text.index('id="findings"') :]
    findings = findings[: findings.index("</section>")]
    assert "the zoo at" in findings and "not measured yet" in findings
    words = re.sub(r"<[^>]+>", "", findings)  # the position card's question, at the second rung
    assert (
        "2.4× [1.5, 3.9] better; trend growing, 2.85× at the top budget; the paper: disagrees"
    ) in words


def test_a_samplers_study_has_a_section_of_its_own(study_root, tmp_path):
    """`zoo tune --sampler a,b --sampler-seeds N --json`: a table of each sampler's best loss
    after a quarter, half and all of its trials and the trials it needed, the best setting and
    the importances, every value its file's."""
    samplers = [
        {"name": name, "seeds": 2, "best_after": [
            {"k": k + 1, "mean": loss + 0.1 / (k + 1), "ci": [loss, loss + 0.2]} for k in range(4)],
         "trials_to_tolerance": {"median": need, "ci": [1.0, 5.0], "reached": 1, "of": 2}}
        for name, loss, need in (("random", 1.61, 3.5), ("tpe", 1.6, 2.0))
    ]  # fmt: skip
    study = {
        "kind": "samplers", "model": "llama-small", "pruner": "none", "trials": 4,
        "space": [{"field": "learning_rate", "kind": "log", "low": 1e-4, "high": 0.1},
                  {"field": "beta_2", "kind": "choice", "choices": [0.95, 0.99]}],
        "comparison": {"reference": 1.587, "tolerance": 0.01, "level": 0.95, "trials": 4,
                       "samplers": samplers},
        "best": {"sampler": "tpe", "seed": 1, "loss": 1.587,
                 "params": {"learning_rate": 0.00724, "beta_2": 0.99}},
        "importance": {"learning_rate": {"mean": 0.81, "range": [0.6, 0.95], "studies": 4}},
    }  # fmt: skip
    (study_root / "results" / "reference" / "samplers-x.json").write_text(json.dumps(study))
    report(tmp_path / "out", root=study_root)
    page = Page((tmp_path / "out" / "index.html").read_text())
    check_page(page, study_root)
    assert "samplers-x" in page.sections
    shown = {e["source"]: e["text"] for e in page.sourced}
    at = "results/reference/samplers-x.json#"
    assert shown[at + "/comparison/samplers/1/best_after/3/mean"] == "1.625"
    assert shown[at + "/comparison/samplers/0/trials_to_tolerance/median"] == "3.5"
    assert shown[at + "/best/params/learning_rate"] == "0.00724"
    assert shown[at + "/importance/learning_rate/mean"] == "0.81"
    assert shown[at + "/space/1/choices/1"] == "0.99"


def test_a_gradients_study_has_a_section_of_its_own(study_root, tmp_path):
    study = {"kind": "gradients", "model": "gpt2-small", "num_layers": 2,
             "norm_placement": "post", "feedforward": "relu", "batch_size": 4, "seed": 0,
             "layers": ["embedding", "block 0", "block 1"], "blocks": ["block 0", "block 1"],
             "rows": [{"step": k, "loss": 6.0, "norms": [0.5, 0.1 / (k + 1), 0.2],
                       "sublayers": {}} for k in range(3)],
             "first_to_last": [0.5, 0.25, 0.1667]}  # fmt: skip
    (study_root / "results" / "reference" / "gradients-x.json").write_text(json.dumps(study))
    report(tmp_path / "out", root=study_root)
    page = Page((tmp_path / "out" / "index.html").read_text())
    check_page(page, study_root)
    assert "gradients-x" in page.sections
    shown = {e["source"]: e["text"] for e in page.sourced}
    at = "results/reference/gradients-x.json#"
    assert shown[at + "/rows/2/norms/1"] == "0.0333"
    assert shown[at + "/first_to_last/2"] == "0.167"
    assert shown[at + "/layers/2"] == "block 1"


def test_a_damaged_study_is_one_line_naming_it(study_root, tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "ROOT", study_root)
    study = study_root / "results" / "reference" / "sweep-compute-new.json"
    data = json.loads(study.read_text())
    data["fits"]["compute"]["arms"][1]["multiplier"] = "2.4"
    study.write_text(json.dumps(data))
    out = tmp_path / "out"
    line = assert_one_line(runner.invoke(app, ["report", "--out", str(out)]))
    assert line == (
        f"error: {study} is damaged: /fits/compute/arms/1/multiplier must be a finite number; "
        'found the string "2.4"'
    )
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_cli_writes_and_rewrites_its_own_directory(study_root, tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "ROOT", study_root)
    out = tmp_path / "pages" / "report"
    first = runner.invoke(app, ["report", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"wrote {out / 'index.html'}: 2 studies, 2 figures beside it")
    page = (out / "index.html").read_bytes()
    again = runner.invoke(app, ["report", "--out", str(out)])  # its own: replaced, no --force
    assert again.exit_code == 0, again.output
    assert (out / "index.html").read_bytes() == page  # the same files, the same page
    assert sorted(p.name for p in out.parent.iterdir()) == ["report"]  # no staging left


def _file(out):
    out.write_text("someone's notes")


def _directory(out):
    out.mkdir()
    (out / "notes.txt").write_text("someone's notes")


def _report_and_more(out):
    _directory(out)
    (out / "report.json").write_text(json.dumps({"written_by": "zoo report", "files": []}))


@pytest.mark.parametrize("make, what", [
    (_file, "not a directory"),
    (_directory, "a directory zoo report did not write"),
    (_report_and_more, "a directory zoo report did not write"),
])  # fmt: skip
def test_cli_refuses_an_out_it_did_not_write(study_root, tmp_path, monkeypatch, make, what):
    monkeypatch.setattr(explain, "ROOT", study_root)
    out = tmp_path / "theirs"
    make(out)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert_one_line(
        runner.invoke(app, ["report", "--out", str(out)]),
        expected=f"error: --out {str(out)!r} already exists and is {what}; pass --force to "
        "replace it",
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    forced = runner.invoke(app, ["report", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["index.html", "report.json", "sweep-compute-new.png", "sweep-compute-old.png"]
    )


def test_cli_refuses_an_out_below_a_file(study_root, tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "ROOT", study_root)
    (tmp_path / "notes").write_text("someone's notes")
    out = tmp_path / "notes" / "report"
    assert_one_line(
        runner.invoke(app, ["report", "--out", str(out), "--force"]),
        expected=f"error: --out {str(out)!r}: {tmp_path / 'notes'} is a file, not a directory",
    )
    assert (tmp_path / "notes").read_text() == "someone's notes"


def test_cli_refuses_the_studies_own_directory_even_with_force(study_root, monkeypatch):
    monkeypatch.setattr(explain, "ROOT", study_root)
    reference = study_root / "results" / "reference"
    before = sorted(p.name for p in reference.iterdir())
    for out in (reference, reference / "report", study_root / "results"):
        line = assert_one_line(runner.invoke(app, ["report", "--out", str(out), "--force"]))
        assert line.startswith(f"error: --out {str(out)!r} holds or lies inside the studies")
    assert sorted(p.name for p in reference.iterdir()) == before


def test_cli_without_committed_studies_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "ROOT", tmp_path / "wheel")
    line = assert_one_line(runner.invoke(app, ["report", "--out", str(tmp_path / "out")]))
    assert line.startswith("error: no committed studies under ")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a subprocess of its own (the README's rule for the default suite)
def test_report_imports_no_backend(tmp_path):
    """It reads JSON only (not even numpy), which is why it answers at once."""
    code = (
        "import sys; from typer.testing import CliRunner; from zoo_cli.main import app; "
        f"r = CliRunner().invoke(app, ['report', '--out', {str(tmp_path / 'r')!r}]); "
        "assert r.exit_code == 0, r.output; print(sorted(m for m in ('keras', 'tensorflow', "
        "'jax', 'torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_page_opens_in_headless_chromium(tmp_path):
    """A real browser loads every figure (naturalWidth > 0, counted by the page's own script
    after `load`) and shows every study's section."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (Debian's chromium package; .ci/run installs it)")
    written = report(tmp_path / "report")
    page = (tmp_path / "report" / "index.html").as_uri()
    started = time.perf_counter()
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    print(f"chromium --dump-dom: {time.perf_counter() - started:.1f} s")
    loaded = re.search(r'data-figures-loaded="(\d+)/(\d+)"', dom)
    assert loaded, dom[-2000:]
    figures = len(_committed(".png"))  # the rungs' folders included
    assert int(loaded[1]) == int(loaded[2]) == written["figures"] == figures
    for study in _studies_with_figures():
        assert f'<section id="{study}">' in dom, study


def test_attention_and_parallel_benchmarks_have_sections_of_their_own(study_root, tmp_path):
    """Reports shaped as `zoo bench attention` and `zoo bench parallel` write them (their fits
    and accounting from the same functions), every number sourced."""
    from zoo.bench.attention import fit_terms
    from zoo.registry import get_recipe
    from zoo.training.sharding import device_memory

    cells = [
        {"scope": scope, "kind": kind, "seq_len": t, "ms": 1 + 1e-3 * t + k * 1e-6 * t * t,
         "peak_bytes": 1e6 + 100 * t + k * 4 * t * t, "peak_source": "process"}
        for scope in ("layer", "model") for k, kind in enumerate(("banded", "dense"))
        for t in (256, 512, 1024)
    ]  # fmt: skip
    attention = {"shape": {"window": 128, "hidden_dim": 256, "num_heads": 4, "num_layers": 2},
                 "kinds": ["banded", "dense"], "memory_method": "the process's peak",
                 "unavailable": {"fused": "tensorflow has none"}, "rows": cells,
                 "fits": fit_terms(cells)}  # fmt: skip
    bench = {"backend": "tensorflow", "device": "cpu", "attention": attention}
    reference = study_root / "results" / "reference"
    (reference / "bench-attention.json").write_text(json.dumps(bench))
    config = get_recipe("llama-7b").model
    accounted = [
        {"model": "llama-7b", "devices": 2, "layout": name, **device_memory(config, 2, m, z)}
        for name, m, z in (("data", 1, False), ("data + ZeRO-1", 1, True))
    ]
    measured = [{"devices": 2, "layout": "data", "mesh": {"data": 2, "model": 1},
                 "parameters": 4000, "gradients": 4000, "optimizer": 8000, "step_seconds": 0.25,
                 "accounted": {"parameters": 4000, "gradients": 4000, "optimizer": 8000}}]  # fmt: skip
    parallel = {"model": {"num_layers": 4, "hidden_dim": 256, "params": 1000}, "batch": 8,
                "steps": 5, "measured": measured, "accounted": accounted}  # fmt: skip
    bench = {"backend": "jax", "device": "cpu", "parallel": parallel}
    (reference / "bench-parallel.json").write_text(json.dumps(bench))
    report(tmp_path / "out", root=study_root)
    page = Page((tmp_path / "out" / "index.html").read_text())
    check_page(page, study_root)
    assert {"bench-attention", "bench-parallel"} <= set(page.sections)
    shown = {e["source"]: e["text"] for e in page.sourced}
    at = "results/reference/bench-attention.json#/attention/"
    assert shown[at + "fits/layer/dense/ms/quadratic"] == "1e-06"
    assert shown[at + "rows/5/peak_bytes"] == "5.3"  # dense at 1,024: 1e6 + 102,400 + 4·1024²
    at = "results/reference/bench-parallel.json#/parallel/"
    assert shown[at + "accounted/1/optimizer"] == f"{accounted[1]['optimizer'] / 1e9:,.0f}"


def test_an_epochs_study_has_a_section_of_its_own(study_root, tmp_path):
    """A study shaped as `zoo sweep epochs` writes it (its tables from `summarize`)."""
    from zoo.experiments.repetition import summarize

    def point(passes, fraction, patience, seed, loss, steps=100):
        variant = {"passes": passes, "fraction": fraction, "patience": patience}
        return {"arm": "llama-small", "budget": 1e12, "seed": seed, "loss": loss,
                "epochs": passes, "steps": steps, "stopped_early": patience is not None,
                "run": f"r{passes}{fraction}{patience}{seed}", "variant": variant}  # fmt: skip

    points = [point(1, f, None, s, 2.0 + (1 - f) + 0.01 * s) for f in (0.25, 1.0) for s in (0, 1)]
    points += [point(4, 1.0, None, s, 2.3 + 0.01 * s) for s in (0, 1)]
    points += [point(4, 1.0, 3, s, 2.2 + 0.01 * s, steps=70) for s in (0, 1)]
    curve = [{"step": 50, "train_loss": 2.5, "validation_loss": 2.4},
             {"step": 100, "train_loss": 2.0, "validation_loss": 2.45}]  # fmt: skip
    curves = {p["run"]: curve for p in points}
    study = {"kind": "epochs", "passes": [1, 4], "fractions": [0.25], "patience": 3, "seeds": 2,
             "points": points, "curves": curves, "epochs": summarize(points, curves)}  # fmt: skip
    (study_root / "results" / "reference" / "epochs-x.json").write_text(json.dumps(study))
    report(tmp_path / "out", root=study_root)
    page = Page((tmp_path / "out" / "index.html").read_text())
    check_page(page, study_root)
    assert "epochs-x" in page.sections
    shown = {e["source"]: e["text"] for e in page.sourced}
    at = "results/reference/epochs-x.json#/epochs/0/passes/1/"
    assert shown[at + "predicted_fraction"] == "93%" and shown[at + "best_at"] == "50%"
    assert shown[at + "patience/steps_fraction"] == "70%"


def test_a_continued_training_study_has_a_section_of_its_own(study_root, tmp_path):
    from zoo.experiments.continuation import summarize

    points = [{"arm": "llama-small", "budget": 1e12, "seed": seed, "tokens": 1000 * (k + 1),
               "variant": {"role": role}, "loss": 2.0 + 0.1 * k + 0.01 * seed}
              for k, role in enumerate(("whole", "continued", "scratch", "first"))
              for seed in (0, 1)]  # fmt: skip
    study = {"kind": "continued", "fraction": 0.125, "seeds": 2, "points": points,
             "continued": summarize(points)}  # fmt: skip
    (study_root / "results" / "reference" / "continued-x.json").write_text(json.dumps(study))
    report(tmp_path / "out", root=study_root)
    page = Page((tmp_path / "out" / "index.html").read_text())
    check_page(page, study_root)
    shown = {e["source"]: e["text"] for e in page.sourced}
    at = "results/reference/continued-x.json#/continued/0/"
    assert shown[at + "continued_minus_whole/mean"] == "0.1"
    assert shown[at + "first/mean"] == "2.305"
