"""The import contract: the library's layers point one way, with no cycles and nothing heavy
behind `import zoo`.

The layers are declared once, in pyproject.toml's `[tool.importlinter]`; import-linter checks
every import there, function-level ones included, so a deferred import cannot hide an upward
dependency. The cycle check below covers what a layers contract does not: modules inside one
layer (a package's own modules) importing each other in a ring.
"""

import os
import pathlib
import subprocess
import sys

import grimp
from importlinter.cli import lint_imports

ROOT = pathlib.Path(__file__).parents[1]
PACKAGES = ("zoo", "zoo_cli", "recipes")


def test_import_contract_holds():
    os.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycles():
    assert _cycles(grimp.build_graph(*PACKAGES)) == []


def test_cycle_finder_finds_a_ring(tmp_path, monkeypatch):
    package = tmp_path / "ring"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from ring import b  # deferred, still an edge\n")
    (package / "b.py").write_text("from ring import c\n")
    (package / "c.py").write_text("import ring.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("ring")) == [["ring.a", "ring.b", "ring.c"]]


def test_import_zoo_loads_neither_keras_nor_tensorflow():
    code = (
        "import sys, zoo; zoo.count_params('palm-540b'); zoo.architecture_card('palm-540b'); "
        "zoo.get_recipe('llama-7b'); zoo.RunConfig(); "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_every_public_name_resolves():
    import zoo

    for name in zoo.__all__:
        assert getattr(zoo, name) is not None, name
    assert callable(zoo.compare)  # the function, not the zoo.comparison package
