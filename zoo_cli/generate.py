"""`zoo generate`: continue a prompt with a trained or imported model, streaming the text."""

import sys
from typing import Annotated, Optional

import typer

from zoo_cli import options
from zoo_cli.output import console, print_json, user_errors

app = typer.Typer()


@app.command("generate")
def generate(
    source: Annotated[
        str,
        typer.Argument(
            metavar="RUN_OR_FILE",
            help="A run id, a run directory or a .keras file (its tokenizer/ directory beside it).",
            show_default=False,
        ),
    ],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The text to continue.")],
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", "-n", help="Tokens to generate at most.")
    ] = 100,
    sampler: Annotated[
        str, typer.Option(help="greedy, top-k, top-p or temperature (keras-hub's samplers).")
    ] = "greedy",
    top_k: Annotated[
        int,
        typer.Option(
            "--top-k", help="k for --sampler top-k (at most the model's vocabulary size)."
        ),
    ] = 50,
    top_p: Annotated[float, typer.Option("--top-p", help="p for --sampler top-p.")] = 0.9,
    temperature: Annotated[
        float, typer.Option(help="Divides the logits (any sampler); a positive finite number.")
    ] = 1.0,
    seed: Annotated[
        Optional[int], typer.Option(help="Seed of the random samplers (same seed, same text).")
    ] = None,
    tokenizer: Annotated[
        Optional[str],
        typer.Option(help="A tokenizer directory, when the model has none beside it."),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache", help="Key/value cache (default), or recompute every step."
        ),
    ] = True,
    stop: Annotated[
        bool, typer.Option("--stop/--no-stop", help="Stop at the end-of-text token (default).")
    ] = True,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream/--no-stream",
            help="Show text as it is produced (default), or decode in one "
            "XLA program and show it at the end (faster).",
        ),
    ] = True,
    json: options.Json = False,
    backend: options.Backend = None,
):
    """Continue --prompt with a run's model, streaming the text; tokens/s at the end."""
    options.use_backend(backend)
    with user_errors(flags={"source": "RUN_OR_FILE"}) as zoo:
        from zoo.generation import failed_run_warning, generate as run_generation, make_sampler

        # The options first, so a bad one is refused on its own line, before any warning.
        chosen = make_sampler(sampler, temperature=temperature, k=top_k, p=top_p, seed=seed)
        warning = failed_run_warning(source)  # refuses a failed run with no commit at all
        if warning:
            typer.echo(f"warning: {warning}", err=True)
        model, assets = zoo.load_for_generation(source, tokenizer)
        out = console()
        shown = []  # the prompt is shown once text arrives, so an error comes out on its own

        def show_prompt():
            if not shown:
                out.print(prompt, style="dim", end="", markup=False, soft_wrap=True)
                shown.append(True)

        def streamed(piece):
            show_prompt()
            sys.stdout.write(piece)
            sys.stdout.flush()

        result = run_generation(
            model, assets.load(), prompt, max_new_tokens, chosen, use_cache=cache,
            stop_token_id=assets.end_of_text_id if stop else None,
            on_text=streamed if stream and not json else None,
        )  # fmt: skip
    if json:
        print_json({"prompt": prompt, "text": result.text, **_facts(result)})
        return
    if not stream:
        show_prompt()
        sys.stdout.write(result.text)
    show_prompt()
    facts = _facts(result)
    how = "a program per step" if stream else "one program"
    cache_line = (
        f"key/value cache {facts['cache_bytes_per_token']:,.0f} bytes/token"
        if cache
        else "no cache"
    )
    out.print()
    out.print(
        f"[dim]{facts['new_tokens']} tokens in {facts['seconds']:.2f} s: "
        f"[bold]{facts['tokens_per_second']:,.1f} tokens/s[/bold] ({cache_line}, "
        f"XLA {'on' if result.xla else 'off'}, {how}, compiled in "
        f"{facts['compile_seconds']:.1f} s)[/]"
    )


def _facts(result):
    return {
        "prompt_tokens": result.prompt_tokens,
        "new_tokens": result.new_tokens,
        "seconds": result.seconds,
        "tokens_per_second": result.tokens_per_second,
        "compile_seconds": result.compile_seconds,
        "cache_bytes": result.cache_bytes,
        "cache_bytes_per_token": result.cache_bytes_per_token,
        "xla": result.xla,
    }
