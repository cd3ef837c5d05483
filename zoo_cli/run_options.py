"""The run options `zoo train` and `zoo compare` share, declared once, and field-to-flag errors.

Each option is a `zoo.run_config.RunConfig` field; its flag comes from the field's name (or the
field's declared `flag`); the closed choices are `zoo.run_config`'s str-Enums.
"""

import contextlib
import enum
from typing import Annotated, Optional

import typer

from zoo.run_config import Backend, Precision, Strategy, TokenizerMode  # noqa: F401  (re-exported)
from zoo.data_spec import DATA_HELP, DEFAULT_DATA  # noqa: F401  (re-exported)
from zoo_cli.options import BACKEND_HELP, STRATEGY_HELP

Data = Annotated[
    str,
    typer.Option(help=DATA_HELP),
]
PrecisionOption = Annotated[Precision, typer.Option("--precision", help="Compute precision.")]
BatchSize = Annotated[
    Optional[int], typer.Option(help="Sequences per optimizer step (default: the recipe's batch).")
]
GradAccum = Annotated[
    int,
    typer.Option(
        "--grad-accum",
        help="Split each batch into this many micro-batches (gradient accumulation).",
    ),
]
EvalInterval = Annotated[
    Optional[int],
    typer.Option(help="Steps between evaluations and checkpoints (default: a tenth of the run)."),
]
Patience = Annotated[
    Optional[int],
    typer.Option(help="Stop after this many evaluations without improvement; restore the best."),
]
SpikeGuard = Annotated[
    bool,
    typer.Option(
        "--spike-guard/--no-spike-guard",
        help="Skip an update whose gradient norm is over 6 robust standard deviations above the "
        "median of the last 128 steps after the warmup; after 8 skips in a row the norm is "
        "taken to have moved and followed. Skipped steps are counted.",
    ),
]
RewindAfterSpikes = Annotated[
    Optional[int],
    typer.Option(
        help="PaLM's escalation: after this many skipped steps in one evaluation interval, rewind "
        "to a checkpoint about 100 steps earlier and skip the next 200 batches (default off).",
        show_default=False,
    ),
]
Passes = Annotated[
    Optional[float],
    typer.Option(
        help="Repetition: train on the first slice of the training split that the budget "
        "passes over this many times (1: each token once; 40: a slice a fortieth of the "
        "budget). Default: the whole split.",
        show_default=False,
    ),
]
StrategyOption = Annotated[
    Optional[Strategy],
    typer.Option(
        "--strategy",
        help=STRATEGY_HELP,
        show_default=False,
    ),
]
ShardOptimizer = Annotated[
    bool,
    typer.Option(
        "--shard-optimizer",
        help="ZeRO stage 1: divide the optimizer state over the data axis too (with --strategy "
        "data-parallel or model-parallel); gradients and weights stay as the strategy lays "
        "them out.",
    ),
]
BackendOption = Annotated[
    Optional[Backend], typer.Option("--backend", help=BACKEND_HELP, show_default=False)
]


def values(**options):
    """RunConfig fields from CLI values: enums as their strings, unset options left out."""
    return {
        k: (v.value if isinstance(v, enum.Enum) else v) for k, v in options.items() if v is not None
    }


def backend_name(backend):
    return backend.value if isinstance(backend, enum.Enum) else backend


@contextlib.contextmanager
def flags_for_fields(zoo):
    """Re-raise a `RunConfigError` (which names a field) naming the field's flag instead."""
    try:
        yield
    except zoo.RunConfigError as error:
        from zoo_cli.output import flag_message

        raise zoo.ZooError(flag_message(error)) from None
