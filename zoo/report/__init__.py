"""`zoo report`: one static HTML page of every committed study, with its figures beside it.

For each study under `results/reference/` the page shows its question, its figure, a table of
its main numbers, its trend across budgets where its fit has one, the scale it was measured at,
the cards of `zoo explain` that read it (with what their papers claimed) and the command that
reproduces it. Nothing on it is typed by hand. Every number is an element naming the file and
JSON pointer it came from (`data-source="results/reference/X.json#/fits/compute/arms/1/
multiplier"`, shown on hover), made by `zoo.explain.figure` and formatted by `zoo.explain.fmt`;
words and names from a file (an arm's name, a card's claim) are named the same way, and the
page's own words hold no digit, so a test checks the whole page against its sources
(tests/test_report.py), as tests/test_explain.py checks the cards.

`studies` reads the files and finds each one's command, `sections` makes each kind of study's
part of the page, `page` the rest. Like `zoo explain`, this reads JSON only (no Keras, no
numpy), so `zoo report` takes about a second; the page loads nothing from outside its
directory, so it opens offline.
"""

import json
import pathlib
import shutil

from zoo import explain
from zoo.errors import FieldError, Setting, ZooError
from zoo.files import atomic_directory
from zoo.report.page import page
from zoo.report.studies import REFERENCE, anchor, find_studies

MANIFEST = "report.json"  # the files a report directory holds: how a later call knows it
WRITER = "zoo report"


def report(out, root=None, force=False):
    """Write `out`/index.html, a copy of every committed figure beside it, and `report.json`
    (this command's name and the files it wrote).

    `out` is replaced whole (written beside it, then moved into place), so a failure leaves it
    as it was. One that exists is refused unless it is empty, holds only what an earlier
    report listed in its `report.json`, or `force` is given; one that holds or lies inside the
    committed studies is always refused. Returns {'out', 'page', 'studies', 'figures',
    'bytes'}."""
    root = explain.ROOT if root is None else pathlib.Path(root)
    out = pathlib.Path(out)
    _check_out(out, root / REFERENCE, force)
    studies, orphans, others = find_studies(root)
    if not studies:
        raise ZooError(
            f"no committed studies under {root / REFERENCE}; zoo report reads a source "
            "checkout's results/reference/*.json (pip install -e .)"
        )
    html = page(studies, orphans, others, root)
    figures = [f for s in studies for f in s.figures] + orphans
    names = [anchor(f) + pathlib.PurePath(f).suffix for f in figures]
    with atomic_directory(out) as staging:
        (staging / "index.html").write_text(html, encoding="utf-8")
        for figure, name in zip(figures, names):
            shutil.copyfile(root / figure, staging / name)
        manifest = {"written_by": WRITER, "files": sorted(["index.html", *names, MANIFEST])}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {
        "out": str(out),
        "page": str(out / "index.html"),
        "studies": len(studies),
        "figures": len(figures),
        "bytes": len(html.encode("utf-8")),
    }


def _check_out(out, reference, force):
    """Refuse, in one line and before anything is written, an `out` this must not replace."""
    target, studies = out.resolve(), reference.resolve()
    if target.is_relative_to(studies) or studies.is_relative_to(target):
        raise FieldError("out", f"{str(out)!r} holds or lies inside the studies ({studies})")
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FieldError("out", f"{str(out)!r}: {existing} is a file, not a directory")
    if force or not (out.exists() or out.is_symlink()) or _ours(out):
        return
    what = "a directory zoo report did not write" if out.is_dir() else "not a directory"
    raise FieldError(
        "out", f"{str(out)!r} already exists and is {what}; pass ", Setting("force"),
        " to replace it",
    )  # fmt: skip


def _ours(out):
    """Whether `out` is an empty directory or one this command wrote: its `report.json` names
    this command, and it holds nothing that file does not list (nothing of anyone else's)."""
    if out.is_symlink() or not out.is_dir():
        return False
    names = {p.name for p in out.iterdir()}
    if not names:
        return True
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(manifest, dict) or manifest.get("written_by") != WRITER:
        return False
    listed = manifest.get("files")
    return isinstance(listed, list) and names <= {*map(str, listed), MANIFEST}


__all__ = ["report"]
