"""zoo_cli: the `zoo` command line, a thin Typer adapter over the `zoo` library.

Every number it prints comes from a library function; nothing here builds a model unless a command
needs one. `zoo/` never imports typer or rich: only this package does.
"""
