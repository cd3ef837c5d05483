"""A committed study's fit written again with the fields a newer fit adds (`zoo fit --update`).

A sweep's JSON keeps its points and its fit. When the fit gains a field (the per-budget loss
change, say), the study need not be trained again: the fit is a pure function of the points,
the bootstrap count and the seed, so refitting reproduces every earlier value exactly, and only
then may the new fit replace the old. Anything else (a value that moved, a field that went
away) means the fit itself changed, and the study is left as it was measured.
"""

import json
import math

from zoo.errors import ZooError
from zoo.files import atomic_write_json


def check_updatable(path, law, filters):
    """The study at `path` (a sweep's JSON holding a fit of `law`), before anything is fitted;
    `ZooError` (one line) otherwise. `filters`: {flag: value} of the options that fit part of
    the points, none of which an update of the study's own fit may take."""
    given = [flag for flag, value in filters.items() if value is not None]
    if given:
        raise ZooError(f"--update writes a study's own fit; it takes no {given[0]}")
    try:
        with open(path, encoding="utf-8") as handle:
            study = json.load(handle)
    except (OSError, ValueError) as error:
        raise ZooError(f"--update needs a sweep's JSON; {path!r} cannot be read as one ({error})")
    if not isinstance(study, dict) or not isinstance(study.get("points"), list):
        raise ZooError(f"--update needs a sweep's JSON with its points; {path!r} is not one")
    fits = study.get("fits")
    if not isinstance(fits, dict) or not isinstance(fits.get(law), dict):
        raise ZooError(f"{path!r} holds no {law} fit to update")
    return study


def write_refit(path, study, law, refit):
    """Replace the study's fit of `law` by `refit` when `refit` reproduces every value of it."""
    moved = differences(study["fits"][law], refit)
    if moved:
        shown = "; ".join(moved[:3]) + (f"; and {len(moved) - 3} more" if len(moved) > 3 else "")
        raise ZooError(f"the refit does not reproduce {path!r}'s {law} fit ({shown}): not written")
    atomic_write_json(path, {**study, "fits": {**study["fits"], law: refit}})


# How close a refitted number must come to the committed one. The same computation on the same
# machine and libraries reproduces it exactly; the least-squares solver converges to about 1e-6
# relative, so a newer scipy or another CPU moves the last digits (a first-rung study refitted
# months later: 3e-6 in A, 1e-6 absolute in an interval's end that sits at E's bound of 0).
# Printed figures carry 3 significant digits; anything beyond this is a changed fit: refused.
RELATIVE, ABSOLUTE = 1e-5, 1e-5


def differences(old, new, where=""):
    """Where `new` fails to hold `old`: every key of `old` present with an equal value (numbers
    within `RELATIVE` or `ABSOLUTE` of it); keys only in `new` are what the update adds."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where or '/'}: no longer an object"]
        found = []
        for key, value in old.items():
            if key not in new:
                found.append(f"{where}/{key}: gone")
            else:
                found += differences(value, new[key], f"{where}/{key}")
        return found
    if isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            return [f"{where}: a list of another length"]
        return [
            d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{where}/{i}")
        ]
    if isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        close = math.isclose(old, new, rel_tol=RELATIVE, abs_tol=ABSOLUTE)
        return [] if close else [f"{where}: {old!r} → {new!r}"]
    return [] if old == new else [f"{where}: {old!r} → {new!r}"]
