"""Presets of the historical decoder LMs, one module per paper. See `zoo.recipe` for the format.

Every module defines `RECIPES`, a tuple of `zoo.recipe.Recipe`. Scaled-down twins share the
vocabulary and context below, so a comparison compares architecture, not tokenizer or length.
"""
