"""The committed studies as the page reads them: each JSON file's kind, its figures, the files
that refit its points, the command that reproduces it, and the page's elements that name the
file and JSON pointer each shown value came from."""

import html
import pathlib
import re
import shlex

from zoo import explain

REFERENCE = "results/reference"
CHOICES = "zoo/choices.json"  # how the page names the cards file (explain.CHOICES)
# Where a study's command comes from when the cards file has none (first found wins): the
# scripts that wrote the studies (each `zoo ... > "$out/NAME.json"` line, its variables
# expanded) and the comparisons' page (each `zoo compare ... --plot results/reference/NAME.png`,
# whose --json rows are NAME.json).
SCRIPTS = ("scripts/reference_studies.sh", "scripts/reference_scaling.sh")
COMPARISONS = "docs/comparisons.md"
KINDS = {  # the kinds the page draws, in its order
    "compute": "loss against compute, per arm",
    "isoflop": "IsoFLOP sweep: model sizes at fixed budgets",
    "rates": "learning-rate rule: full-length grids of rates per arm and budget",
    "samplers": "hyperparameter search: samplers compared on one tuning problem",
    "gradients": "gradient norm per layer, at initialisation and over the first updates",
    "epochs": "epochs at equal compute: repeated data against fresh data",
    "continued": "continued training against starting over",
    "comparison": "comparison at one budget",
    "generate": "decoding benchmark",
    "attention": "attention's time and memory against length",
    "parallel": "memory per device under data, tensor and optimizer-sharded layouts",
    "ngram": "the n-gram yardstick",
}
NOT_NUMBERS = ("text", "file", "command", "constant")  # the other kinds are `explain.fmt`'s


def escape(text):
    return html.escape(str(text), quote=True)


def sourced(text, source, kind):
    """An element showing `text`, read from `source` as `kind`: a `zoo.explain.fmt` kind (a
    number, 'FILE#POINTER'), text (a string, 'FILE#POINTER'), file (a file's path or name,
    'FILE'), command (a command, 'FILE#POINTER' or 'FILE' it is written in) or constant (a
    Python constant, 'module.NAME'). Numbers show their source on hover."""
    number = kind not in NOT_NUMBERS
    tag = "code" if kind == "command" else "span"
    extra = f' class="n" title="{escape(source)}"' if number else ""
    return f'<{tag}{extra} data-source="{escape(source)}" data-kind="{kind}">{escape(text)}</{tag}>'


def file_element(path, text=None):
    """A committed file, shown by `text` (its path or name; its stem by default)."""
    return sourced(text or pathlib.PurePath(path).stem, path, "file")


def choice(pointer, value):
    """A string of the cards file (`value` is what is at `pointer` there)."""
    return sourced(value, f"{CHOICES}#{pointer}", "text")


class Study:
    """One committed JSON file, read by JSON pointer (`explain.Document`, so a damaged file is
    one `ZooError` naming it), and the page's elements for what it holds."""

    def __init__(self, root, path):
        self.path = path  # relative to the checkout: results/reference/NAME.json
        self.stem = local_name(path)  # rung2/compute-recipes for a study in a rung's folder
        self.doc = explain.Document(pathlib.Path(root) / path)
        self.kind = _kind(self.doc.data)
        self.figures = []  # results/reference/NAME.png and NAME-*.png
        self.refits = []  # the studies that refit this one's points (`zoo fit ... --json`)

    def get(self, pointer, kind=None, **options):
        return self.doc.get(pointer, kind, **options)

    def has(self, pointer):
        """Whether `pointer` is present (a null counts: it says something, e.g. 'never')."""
        return self.doc.has(pointer)

    def value(self, pointer):
        """The value at `pointer`, None when it or an object above it is absent or null."""
        return self.doc.get(pointer, default=None)

    def n(self, pointer, kind):
        """The number at `pointer`, as `zoo explain` prints its figures."""
        figure = explain.figure(self.doc, pointer, pointer, kind)
        return sourced(figure["text"], f"{self.path}#{pointer}", kind)

    def s(self, pointer):
        """The string at `pointer` (an arm's name, a verdict, a note)."""
        return sourced(self.get(pointer, "string"), f"{self.path}#{pointer}", "text")

    def interval(self, pointer, kind):
        """' [low, high]' of the pair at `pointer`; '' when there is none."""
        pair = self.get(pointer, "list", default=None)
        if not pair or len(pair) != 2:
            return ""
        return f" [{self.n(pointer + '/0', kind)}, {self.n(pointer + '/1', kind)}]"

    def count(self, pointer):
        """How many entries the list at `pointer` has (0 when it is absent)."""
        return len(self.get(pointer, "list", default=[]))

    def listed(self, pointer, kind=None):
        """The entries of the list at `pointer`, joined by commas (strings, or `kind` numbers)."""
        return ", ".join(
            self.n(f"{pointer}/{i}", kind) if kind else self.s(f"{pointer}/{i}")
            for i in range(self.count(pointer))
        )


def local_name(path):
    """A committed file's name under results/reference/, without its suffix: 'sweep-compute-
    recipes', 'rung2/compute-recipes' (a later rung of studies lives in a folder of its own)."""
    return str(pathlib.PurePath(path).relative_to(REFERENCE).with_suffix(""))


def anchor(path):
    """The page's id for a study, and the name of a figure copied beside the page: its local
    name with '/' as '-' (rung2/compute-recipes.png -> rung2-compute-recipes.png)."""
    return local_name(path).replace("/", "-")


def _kind(data):
    if data.get("kind") in (
        "compute",
        "isoflop",
        "rates",
        "samplers",
        "gradients",
        "epochs",
        "continued",
    ):
        return data["kind"]
    if "points_file" in data:
        return "refit"
    if "rows" in data and "budget_flops" in data:
        return "comparison"
    if "generate" in data:
        return "generate"
    if isinstance(data.get("attention"), dict) and "fits" in data["attention"]:
        return "attention"
    if "parallel" in data:
        return "parallel"
    if "orders" in data and "bits_per_byte" in data:
        return "ngram"
    return "other"


def find_studies(root):
    """(the studies the page draws, in its order; the figures no study owns; the other files:
    benchmarks and tables with no fit). A study owns NAME.png and NAME-*.png (the longest
    NAME that fits: `zoo sweep isoflop --plot X.png` also writes X-parametric.png); a refit
    (`zoo fit` of an IsoFLOP study's points) is shown, with its figures, in the study it
    refits (an IsoFLOP study's under another parameter convention, a rates grid's with another
    band); a figure of a file the page does not draw is listed with the other files."""
    reference = pathlib.Path(root) / REFERENCE
    found = sorted(reference.glob("*.json")) + sorted(reference.glob("*/*.json"))
    every = [Study(root, p.relative_to(root).as_posix()) for p in found]
    by_path = {s.path: s for s in every}
    shown_in = {s.path: s for s in every if s.kind in KINDS}  # the section showing each file
    for study in every:  # isoflop and rates sections show their refits
        owner = by_path.get(study.value("/points_file")) if study.kind == "refit" else None
        if owner is not None and owner.kind in ("isoflop", "rates"):
            owner.refits.append(study)
            shown_in[study.path] = owner
    orphans = []
    for plot in sorted(reference.glob("*.png")) + sorted(reference.glob("*/*.png")):
        path = plot.relative_to(root).as_posix()
        stem = local_name(path)
        owners = [s for s in every if stem == s.stem or stem.startswith(s.stem + "-")]
        owner = shown_in.get(max(owners, key=lambda s: len(s.stem)).path) if owners else None
        (owner.figures if owner else orphans).append(path)
    for study in every:  # NAME.png first, then NAME-*.png
        study.figures.sort(key=lambda f: (local_name(f) != study.stem, f))
    named = [s["file"] for s in explain.load_cards()["studies"].values()]
    drawn = [s for s in every if s.kind in KINDS]
    kinds = list(KINDS)
    drawn.sort(key=lambda s: (kinds.index(s.kind), s.path not in named, _position(named, s)))
    others = [s for s in every if s.path not in shown_in]
    return drawn, orphans, others


def _position(named, study):
    return named.index(study.path) if study.path in named else 0


def commands(root):
    """{study path: (its command, where that is written: 'FILE#POINTER' or 'FILE')}: the cards
    file's (what `zoo explain` prints), else the scripts' and the comparisons page's."""
    root = pathlib.Path(root)
    found = {}
    for name, study in explain.load_cards()["studies"].items():
        found.setdefault(study["file"], (study["command"], f"{CHOICES}#/studies/{name}/command"))
    for script in SCRIPTS:
        for target, command in _script_commands(root / script).items():
            found.setdefault(target, (command, script))
    for target, command in _page_commands(root / COMPARISONS).items():
        found.setdefault(target, (command, COMPARISONS))
    return found


def _script_commands(path):
    """{NAME.json: the `zoo` line that writes it}, from a script's `zoo ... > "$out/NAME.json"`
    lines; `name=value` assignments are expanded, and a line with any other variable skipped."""
    values, found = {}, {}
    text = path.read_text() if path.exists() else ""
    for line in text.replace("\\\n", " ").splitlines():
        assignment = re.fullmatch(r"([A-Za-z_]\w*)=([\w.,/-]+)", line.strip())
        if assignment:
            values[assignment[1]] = assignment[2]
            continue
        words = _words(line)
        if words[:1] != ["zoo"] or ">" not in words[:-1]:
            continue
        words = [_expand(word, values) for word in words]
        at = words.index(">")
        if None not in words and words[at + 1].endswith(".json"):
            found.setdefault(words[at + 1], f"{shlex.join(words[:at])} > {words[at + 1]}")
    return found


def _page_commands(path):
    """{NAME.json: the `zoo` command of a ```bash block that plots results/reference/NAME.png}."""
    found = {}
    text = path.read_text() if path.exists() else ""
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = _words(line)
            if words[:1] == ["zoo"] and "--plot" in words[:-1]:
                plot = words[words.index("--plot") + 1]
                if plot.startswith(REFERENCE + "/") and plot.endswith(".png"):
                    found.setdefault(plot[: -len(".png")] + ".json", shlex.join(words))
    return found


def _words(line):
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unterminated quote: not a command this reads
        return []


def _expand(word, values):
    """`word` with $name and ${name} replaced by the script's values; None if one is unknown."""
    pattern = r"\$\{?(\w+)\}?"
    if any(name not in values for name in re.findall(pattern, word)):
        return None
    return re.sub(pattern, lambda m: values[m[1]], word)
