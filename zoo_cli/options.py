"""Options and arguments shared by several commands, declared once as `Annotated` aliases."""

from typing import Annotated, List, Optional

import typer

from zoo.recipe import Scale
from zoo.run_config import Backend as RunBackend, Strategy as RunStrategy
from zoo_cli.library import JAX_MISSING, backend_problem, load_zoo


def _complete_model(incomplete: str):
    zoo = load_zoo()
    names = [r.name for r in zoo.list_recipes()] + zoo.list_families()
    return [n for n in names if n.startswith(incomplete.lower())]


def _complete_family(incomplete: str):
    families = load_zoo().list_families()
    return [f for f in families if f.startswith(incomplete.lower())]


Json = Annotated[
    bool, typer.Option("--json", help="Print JSON (exact values) to stdout instead of a table.")
]
ModelName = Annotated[
    str,
    typer.Argument(
        help="A preset (e.g. palm-540b) or a family (palm means palm-small); see `zoo list`.",
        autocompletion=_complete_model,
        metavar="NAME",
        show_default=False,
    ),
]
Family = Annotated[
    Optional[str],
    typer.Option(
        "--family", "-f", help="Only this family (e.g. llama).", autocompletion=_complete_family
    ),
]
ScaleFilter = Annotated[
    Optional[Scale],
    typer.Option(
        "--scale",
        "-s",
        case_sensitive=False,
        help="Only this scale: the published models, CPU replicas, or test twins.",
    ),
]
Overrides = Annotated[
    Optional[List[str]],
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a model or training field (repeatable), e.g. --set normalization=rmsnorm "
        "--set learning_rate=1e-3.",
    ),
]


def _strategy_help():
    """--strategy's help, from `zoo.run_config.Strategy` and the backend each one runs on."""

    def listed(strategies):
        names = [s.value for s in strategies]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

    anywhere = [s for s in RunStrategy.on(None) if s is not RunStrategy.AUTO]
    groups = [f"{listed(anywhere)} (either backend)"] + [
        f"{listed(RunStrategy.on(backend))} ({backend.value} only)"
        for backend in RunBackend
        if RunStrategy.on(backend)
    ]
    return (
        f"{'; '.join(groups)}; {RunStrategy.AUTO.value} (default) picks by the visible "
        "devices. See the README, 'Several devices'."
    )


STRATEGY_HELP = _strategy_help()
BACKEND_HELP = (
    "Keras backend: tensorflow (default; or $KERAS_BACKEND), jax, or auto: jax on a "
    "GPU or TPU (Keras's recommended XLA backend there), tensorflow on CPU (fastest "
    "in `zoo bench sizes`)."
)
Backend = Annotated[Optional[str], typer.Option(help=BACKEND_HELP, show_default=False)]


def use_backend(backend, strategy=None):
    """Choose the Keras backend before `zoo` (and so Keras) is imported.

    An unknown backend, or one that is not installed, is a user error: one line and exit 2,
    before anything imports Keras (whose own import would fail with a traceback). `auto` is
    resolved here for the hardware and `strategy` (`zoo.backend_choice.choose_backend`), and
    KERAS_BACKEND set to the choice; the library resolves it again to the same backend and
    records why. Once Keras is imported (in-process callers), the library takes the backend
    Keras runs on.
    """
    import os
    import sys

    from zoo_cli.output import fail, flag_message

    if not backend:
        return
    problem = backend_problem(backend, "--backend")
    if problem:
        fail(problem)
    if backend == "auto":
        if "keras" in sys.modules:
            return
        from zoo.backend_choice import choose_backend
        from zoo.errors import ZooError

        try:
            chosen, reason = choose_backend(strategy=strategy)
        except ZooError as error:
            fail(flag_message(error))  # "--backend auto needs ..."
        if backend_problem(chosen, "--backend"):
            fail(f"--backend {reason}, which {JAX_MISSING}")
        backend = chosen
    os.environ["KERAS_BACKEND"] = backend


Shapes = Annotated[
    str,
    typer.Option(
        help="How resized shapes are made: family-heads (the family's number of heads, from one "
        "layer: the 3e10–1e12 studies) or papers (at least 2 layers, 32-wide heads "
        "whose number follows the width, as Kaplan et al. and Chinchilla sized small models)."
    ),
]
