"""Experiments: grids of ordinary runs, between training and the front-ends.

`store` finds every run by its key (`RunStore`: reuse, resume or train); the comparison and the
sweeps are grids of plans obtained from it.
"""
