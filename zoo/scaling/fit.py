"""Scaling-law fits to a points table: Chinchilla's approaches 2 and 3, and compute multipliers.

- `fit_parametric`: approach 3, L(N, D) = E + A/N^α + B/D^β, fitted on log L in log-sum-exp form
  with a Huber loss (δ = 1e-3) *summed* over the points, by L-BFGS-B from Hoffmann et al.'s grid of
  4,500 starts (Besiroglu et al. 2024: averaging the loss stops L-BFGS almost at its start).
- `fit_isoflop`: approach 2, a parabola of loss in log N per budget; its minimum is N_opt(C); then
  N_opt ∝ C^a and D_opt ∝ C^b by straight lines in log-log.
- `fit_compute`: L(C) = E + A·C^(−γ) (or A·C^(−γ)) per arm, and each arm's compute multiplier
  against the first arm, the baseline.

Every fit bootstraps its intervals (percentile, `level` 95% by default) and returns a plain,
JSON-ready dict: floats, ints, strings, lists; None where a value is undefined (never NaN or
infinity). The optimisers are scipy's: its L-BFGS-B and least squares are the procedures the
papers used, so nothing here is a hand-written optimiser.
"""

import itertools
import math

import numpy as np

# scipy, not a hand-written optimiser: its L-BFGS-B and least squares are what the papers used
from scipy import optimize
from scipy import stats as _stats
from threadpoolctl import threadpool_limits

from zoo.errors import ZooError
from zoo.scaling import points as _points

HUBER_DELTA = 1e-3
# Hoffmann et al. (2022), appendix D.2: the grid of L-BFGS starts, (a, b, e, alpha, beta) with
# a = log A, b = log B, e = log E.
GRID = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
BOOTSTRAP_STARTS = 16  # grid starts per bootstrap refit, besides the full-data optimum
POLISH = 10  # the best ends of the main fit's starts refined with TIGHT tolerances
BOOTSTRAP_POLISH = 3
TIGHT = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000}
LEVEL = 0.95


# --- approach 3: the parametric law ---


def grid_starts():
    """Hoffmann et al.'s 4,500 starts as an array of rows (a, b, e, alpha, beta)."""
    return np.array(list(itertools.product(*GRID.values())), dtype=float)


def huber_objective(theta, log_n, log_d, log_loss, delta=HUBER_DELTA):
    """(Σ Huber_δ(log L̂ − log L), its gradient) at theta = (a, b, e, alpha, beta), where
    log L̂ = LSE(a − α log N, b − β log D, e). Summed over the points, not averaged."""
    a, b, e, alpha, beta = theta
    x = np.empty((3, log_n.size))
    x[0], x[1], x[2] = a - alpha * log_n, b - beta * log_d, e
    top = x.max(axis=0)
    s = np.exp(x - top)
    total = s.sum(axis=0)
    r = top + np.log(total) - log_loss
    slope = np.clip(r, -delta, delta)  # dHuber/dr
    value = (slope * (r - 0.5 * slope)).sum()  # r²/2 inside ±δ, δ(|r| − δ/2) outside
    w = s * (slope / total)  # dHuber/dr times the softmax weight of each term
    sums = w.sum(axis=1)
    gradient = np.array([sums[0], sums[1], sums[2], -(w[0] @ log_n), -(w[1] @ log_d)])
    return value, gradient


def fit_from_starts(log_n, log_d, log_loss, starts, polish=POLISH, advance=None):
    """(best theta, its objective): L-BFGS-B from each row of `starts` with scipy's default
    tolerances, then the `polish` lowest ends refined with tight ones; the lowest kept.
    `advance(runs)`, if given, is called as the runs finish: len(starts) + min(polish,
    len(starts)) in all (`fit_runs`).

    The summed Huber loss with δ = 1e-3 is ~1e-4 in size, so scipy's default stopping rules
    (a change of 2.2e-9, a gradient of 1e-5) end the runs near, not at, the minimum: refits
    started from a nearby optimum then barely move and the bootstrap intervals come out too
    narrow. Polishing the best ends takes each to the minimum it is near.
    """
    advance = advance or (lambda runs: None)
    ends = []
    with one_blas_thread():
        for start in starts:
            found = optimize.minimize(
                huber_objective, start, args=(log_n, log_d, log_loss), jac=True, method="L-BFGS-B"
            )
            if np.isfinite(found.fun):
                ends.append((float(found.fun), found.x))
            advance(1)
        ends.sort(key=lambda end: end[0])
        best, best_value = None, math.inf
        for value, theta in ends[:polish]:
            found = optimize.minimize(
                huber_objective,
                theta,
                args=(log_n, log_d, log_loss),
                jac=True,
                method="L-BFGS-B",
                options=TIGHT,
            )
            if np.isfinite(found.fun) and found.fun < min(value, best_value):
                best, best_value = found.x, float(found.fun)
            elif value < best_value:
                best, best_value = theta, value
            advance(1)
    skipped = fit_runs(len(starts), polish) - len(starts) - len(ends[:polish])
    if skipped:  # ends that were not finite are not polished: count them done
        advance(skipped)
    return best, best_value


def fit_runs(starts, polish=POLISH):
    """The L-BFGS-B runs `fit_from_starts` makes from `starts` starts."""
    return starts + min(polish, starts)


def _progress(progress, total):
    """`advance(units)`: reports (units done so far, `total`) to `progress(done, total)`, the
    callback a fit takes so that a caller can show how far a long fit has come (a fit of
    200,000 points runs for many minutes)."""
    done = 0

    def advance(units=1):
        nonlocal done
        done += units
        if progress is not None:
            progress(done, total)

    advance(0)
    return advance


def one_blas_thread():
    """BLAS held to one thread inside the block (threadpoolctl), and given back after it.

    L-BFGS-B's linear algebra is on matrices of a few rows, yet OpenBLAS wakes its thread pool
    for them: on a busy two-core machine each start ran about 5 times slower threaded.
    """
    return threadpool_limits(limits=1, user_api="blas")


def fit_parametric(
    points, *, params="total", bootstrap=200, seed=0, starts=None, level=LEVEL, progress=None
):
    """Chinchilla approach 3 on `points` (dicts or a path); see the module's docstring.

    `progress(done, total)`, if given, is called as the L-BFGS-B runs finish (the main fit's
    and every bootstrap refit's).

    `starts`: None for Hoffmann et al.'s full grid, or a number of grid starts drawn at random
    (a quicker, rougher fit). Bootstrap refits resample the points with replacement and start from the full-data
    optimum plus `BOOTSTRAP_STARTS` random grid starts.

    Returns `E, A, B, alpha, beta, a, b` (a = β/(α+β), b = α/(α+β): N_opt ∝ C^a, D_opt ∝ C^b)
    each with `<key>_ci`; `tokens_per_parameter` (with `_ci`) at `tokens_per_parameter_flops`,
    the largest 6·N·D observed; `optimal`: `optimal_allocation` at each power of ten in the
    observed compute range; `huber_loss`, `points`, `params_convention`, `starts`, `bootstrap`,
    `bootstrap_starts`, `level`, `seed` and `notes`.
    """
    points, notes = _points.check_points(points, "parametric", params)
    n = np.array(_points.sizes(points, params))
    d = np.array(_points.tokens(points))
    loss = np.array([p["loss"] for p in points])
    log_n, log_d, log_loss = np.log(n), np.log(d), np.log(loss)
    rng = np.random.default_rng(seed)
    grid = grid_starts()
    if starts is not None:
        grid = grid[rng.choice(len(grid), size=min(int(starts), len(grid)), replace=False)]
    advance = _progress(
        progress,
        fit_runs(len(grid)) + int(bootstrap) * fit_runs(BOOTSTRAP_STARTS + 1, BOOTSTRAP_POLISH),
    )
    theta, value = fit_from_starts(log_n, log_d, log_loss, grid, advance=advance)
    if theta is None:
        raise ZooError("the parametric fit failed from every start")
    c_top = float(np.max(6 * n * d))
    replicates = []
    all_starts = grid_starts()
    for _ in range(int(bootstrap)):
        pick = rng.integers(0, len(points), len(points))
        subset = all_starts[rng.choice(len(all_starts), BOOTSTRAP_STARTS, replace=False)]
        found, _ = fit_from_starts(
            log_n[pick],
            log_d[pick],
            log_loss[pick],
            np.vstack([theta, subset]),
            polish=BOOTSTRAP_POLISH,
            advance=advance,
        )
        if found is not None:
            replicates.append(_law(found))
    main = _law(theta)
    result = dict(main)
    for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
        result[f"{key}_ci"] = _interval([r[key] for r in replicates], level)
    result["tokens_per_parameter_flops"] = c_top
    result["tokens_per_parameter"] = _tokens_per_parameter(main, c_top)
    result["tokens_per_parameter_ci"] = _interval(
        [_tokens_per_parameter(r, c_top) for r in replicates], level
    )
    c_low = float(np.min(6 * n * d))
    decades = range(math.ceil(math.log10(c_low)), math.floor(math.log10(c_top)) + 1)
    result["optimal"] = [optimal_allocation(main, 10.0**k) for k in list(decades)[:12]]
    result.update(huber_loss=value, huber_delta=HUBER_DELTA, points=len(points),
                  params_convention=params, starts=len(grid), bootstrap=len(replicates),
                  bootstrap_starts=BOOTSTRAP_STARTS + 1, level=level, seed=seed,
                  notes=notes)  # fmt: skip
    return _plain(result)


def _law(theta):
    a, b, e, alpha, beta = (float(v) for v in theta)
    total = alpha + beta
    return {
        "E": _exp(e),
        "A": _exp(a),
        "B": _exp(b),
        "alpha": alpha,
        "beta": beta,
        "a": beta / total if total > 0 else None,
        "b": alpha / total if total > 0 else None,
    }


def predict_parametric(fit, n, d):
    """L(N, D) = E + A/N^α + B/D^β of a `fit_parametric` result (arrays broadcast)."""
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return fit["E"] + fit["A"] / n ** fit["alpha"] + fit["B"] / d ** fit["beta"]


def optimal_allocation(fit, flops):
    """The compute-optimal N and D at `flops` under C = 6ND for a parametric fit:
    G = (αA/(βB))^(1/(α+β)), N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b. Returns `flops`, `n_opt`,
    `d_opt`, `tokens_per_parameter` (None when the law has no interior optimum: α, β ≤ 0)."""
    alpha, beta, A, B = fit["alpha"], fit["beta"], fit["A"], fit["B"]
    out = {"flops": float(flops), "n_opt": None, "d_opt": None, "tokens_per_parameter": None}
    if not (alpha and beta and alpha > 0 and beta > 0 and A and B and A > 0 and B > 0):
        return out
    total = alpha + beta
    log_g = (math.log(alpha * A) - math.log(beta * B)) / total
    log_c6 = math.log(flops / 6)
    log_n = log_g + beta / total * log_c6
    log_d = -log_g + alpha / total * log_c6
    out.update(n_opt=_exp(log_n), d_opt=_exp(log_d), tokens_per_parameter=_exp(log_d - log_n))
    return out


def _tokens_per_parameter(law, flops):
    return optimal_allocation(law, flops)["tokens_per_parameter"]


# --- approach 2: IsoFLOP valleys ---


def fit_isoflop(
    points,
    *,
    params="total",
    flops="palm",
    bootstrap=200,
    seed=0,
    level=LEVEL,
    noise=None,
    progress=None,
):
    """Chinchilla approach 2 on `points` (dicts or a path); `progress(done, total)`, if given,
    is called as the bootstrap refits finish.

    Budgets are the `budget` column, else the `flops` column rounded to 3 significant digits;
    each budget's C is the geometric mean of the chosen flops column over its points. Per budget
    a parabola of loss in ln N (numpy.polyfit, degree 2) gives N_opt at its vertex and
    `loss_opt` there; D_opt is read off a parabola of ln D in ln N fitted to the same points and
    evaluated at N_opt, the tokens such a model gets at this budget, whatever the flops
    convention (with C = 6ND exactly it is C / (6 N_opt)). A budget whose parabola opens
    downward (`convex: false`) or has its vertex outside the sampled sizes (`inside: false`) is
    flagged `edge: true`, reported with its best sampled point (or the vertex clipped to the
    sampled range), and left out of the power laws while at least 2 budgets are not edges.

    N_opt = n_coefficient · C^a and D_opt = d_coefficient · C^b are straight lines in log-log.
    Bootstrap (see `_residuals`): within each budget, where sizes have several points (seeds)
    each size's seeds are resampled about its mean; with one point a size, the residuals about
    the parabola are; then every budget is refitted. With one seed and 4 sizes a parabola keeps
    one residual degree of freedom, so those residuals say little about how far a run moves
    from seed to seed: `noise` ({'sigma', ...}: the spread of ln loss measured between seeds,
    `zoo.scaling.hyperparameters.seed_noise`) makes the bootstrap parametric instead, each
    run's loss drawn as its parabola's value times exp(N(0, σ²)).

    Returns `a, b, a_ci, b_ci, n_coefficient, d_coefficient, tokens_per_parameter` (the median
    over the budgets used of D_opt/N_opt) with `_ci`, `budgets` (each `budget, flops, points,
    sizes, n_opt, d_opt, loss_opt, tokens_per_parameter, convex, inside, edge, used, parabola`:
    loss = p0·x² + p1·x + p2 with x = ln N), `points`, `params_convention`, `flops_convention`,
    `bootstrap`, `level`, `seed` and `notes`.
    """
    points, notes = _points.check_points(points, "isoflop", params, flops)
    log_n = np.log(_points.sizes(points, params))
    log_d = np.log(_points.tokens(points))
    loss = np.array([p["loss"] for p in points])
    compute, _ = _points.flops(points, flops)
    log_c = np.log(compute)
    groups = {key: np.array(members) for key, members
              in _points.budget_groups(points, compute).items()
              if len(set(log_n[members])) >= 3}  # fmt: skip
    budgets = []
    for key, members in groups.items():
        valley = _valley(log_n[members], loss[members], log_d[members])
        budgets.append(
            {
                "budget": key,
                "flops": float(np.exp(log_c[members].mean())),
                "points": len(members),
                "sizes": len(set(log_n[members])),
                **valley,
            }
        )
    clean = [b for b in budgets if not b["edge"]]
    if len(clean) >= 2:
        used = clean
        if len(clean) < len(budgets):
            notes.append(
                "budgets at the edge (no interior minimum) left out of the power laws: "
                + ", ".join(_points.label(b["budget"]) for b in budgets if b["edge"])
            )
    else:
        used = budgets
        notes.append(
            f"only {len(clean)} budget(s) have a convex valley with its minimum inside "
            "the sampled sizes; the power laws use the edge budgets' clipped optima, "
            "so a and b are bounds, not estimates: widen the size grid"
        )
    for b in budgets:
        b["used"] = any(b is u for u in used)
    a, n_coefficient = _line([b["flops"] for b in used], [b["n_opt"] for b in used])
    b_exp, d_coefficient = _line([b["flops"] for b in used], [b["d_opt"] for b in used])
    ratio = float(np.median([b["tokens_per_parameter"] for b in used]))

    rng = np.random.default_rng(seed)
    used_members = [groups[b["budget"]] for b in used]
    used_flops = [b["flops"] for b in used]
    if noise is None:
        resamplers = [
            _residuals(log_n[m], loss[m], np.polyval(b["parabola"], log_n[m]), 3)
            for m, b in zip(used_members, used)
        ]
    else:
        sigma = float(noise["sigma"])
        if not math.isfinite(sigma) or sigma < 0:
            raise ZooError(f"the seed noise must be a finite spread of 0 or more; got {sigma!r}")
        resamplers = [
            _parametric(np.polyval(b["parabola"], log_n[m]), sigma)
            for m, b in zip(used_members, used)
        ]
        notes.append(
            f"parametric bootstrap: each run's loss drawn about its parabola with the seed "
            f"noise σ = {100 * sigma:.2f}% of ln loss"
            + (f" (from {noise['source']})" if noise.get("source") else "")
        )
    exact = [_points.label(b["budget"]) for b in used if b["points"] <= 3]
    if exact and bootstrap and noise is None:
        notes.append(
            f"budgets {', '.join(exact)} have 3 points for the parabola's 3 "
            "coefficients: no residuals to resample, so the intervals miss their noise"
        )
    draws = {"a": [], "b": [], "tokens_per_parameter": []}
    advance = _progress(progress, int(bootstrap))
    for _ in range(int(bootstrap)):
        optima = [
            _valley(log_n[m], draw(rng), log_d[m]) for m, draw in zip(used_members, resamplers)
        ]
        draws["a"].append(_line(used_flops, [v["n_opt"] for v in optima])[0])
        draws["b"].append(_line(used_flops, [v["d_opt"] for v in optima])[0])
        draws["tokens_per_parameter"].append(
            float(np.median([v["tokens_per_parameter"] for v in optima]))
        )
        advance(1)
    result = {
        "a": a, "a_ci": _interval(draws["a"], level),
        "b": b_exp, "b_ci": _interval(draws["b"], level),
        "n_coefficient": n_coefficient, "d_coefficient": d_coefficient,
        "tokens_per_parameter": ratio,
        "tokens_per_parameter_ci": _interval(draws["tokens_per_parameter"], level),
        "budgets": budgets, "points": len(points), "params_convention": params,
        "flops_convention": flops, "bootstrap": int(bootstrap), "level": level, "seed": seed,
        "noise": None if noise is None else float(noise["sigma"]), "notes": notes,
    }  # fmt: skip
    return _plain(result)


def _parametric(fitted, sigma):
    """A draw for the parametric bootstrap: the fitted losses times exp(N(0, σ²)) each."""

    def draw(rng):
        return fitted * np.exp(rng.normal(0.0, sigma, len(fitted)))

    return draw


def _valley(x, loss, log_d):
    """One budget's optimum from its points (x = ln N): the parabola's vertex when it opens
    upward, clipped to the sampled range; else the lowest sampled point."""
    coefficients = np.polyfit(x, loss, 2)
    low, high = float(x.min()), float(x.max())
    convex = bool(coefficients[0] > 0)
    if convex:
        vertex = -coefficients[1] / (2 * coefficients[0])
        inside = bool(low <= vertex <= high)
        at = min(max(vertex, low), high)
        loss_opt = float(np.polyval(coefficients, at))
    else:
        inside = False
        best = int(np.argmin(loss))
        at, loss_opt = float(x[best]), float(loss[best])
    log_d_opt = float(np.polyval(np.polyfit(x, log_d, 2), at))
    return {
        "n_opt": _exp(at),
        "d_opt": _exp(log_d_opt),
        "loss_opt": loss_opt,
        "tokens_per_parameter": _exp(log_d_opt - at),
        "convex": convex,
        "inside": inside,
        "edge": not (convex and inside),
        "parabola": [float(c) for c in coefficients],
    }


def _residuals(cells, y, fitted, parameters):
    """A draw of `y` for the bootstrap: fitted values plus residuals resampled with replacement,
    scaled by √(n / (n − k)) for the k values the fit spent (percentile intervals from raw
    residuals come out too narrow by that factor).

    Where `cells` (sizes, or budgets) repeat, as with several seeds, the fitted values are the
    cells' means and k their number: the seeds' deviations from their cell's mean are what is
    resampled. Otherwise the fitted values are the law's (`fitted`, k its `parameters`): a
    residual bootstrap. Either way every replicate keeps every size and budget, which
    resampling the points themselves does not (a replicate valley of 2 distinct sizes has no
    vertex; measured, that bootstrap also made the intervals of `a` 2–3 times too wide).
    With no residual degrees of freedom (n = k) the draws are the data themselves.
    """
    cells = np.asarray(cells)
    keys, index = np.unique(cells, return_inverse=True)
    if len(keys) < len(cells):
        means = np.bincount(index, weights=y) / np.bincount(index)
        fitted, parameters = means[index], len(keys)
    spread = (y - fitted) * math.sqrt(len(y) / max(len(y) - parameters, 1))

    def draw(rng):
        return fitted + rng.choice(spread, len(y))

    return draw


def _line(x, y):
    """(slope, coefficient) of y = coefficient · x^slope by least squares in log-log."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), _exp(intercept)


# --- compute multipliers ---


def fit_compute(
    points, *, flops="palm", bootstrap=1000, seed=0, level=LEVEL, reference_loss=None, progress=None
):
    """L(C) per arm and each arm's compute multiplier against the first arm (the baseline);
    `progress(done, total)`, if given, is called as the bootstrap refits finish.

    Arms are the `arm` column in order of first appearance (one arm, "all", without it); an
    arm observed at 4 or more budgets gets L(C) = E + A·C^(−γ) (`form` "saturating": least
    squares on ln L, E in [0, its lowest loss)), otherwise the straight line L = A·C^(−γ) in
    log-log (`form` "power", E = 0). The multiplier of arm v is C_baseline(ℓ) / C* at
    ℓ = L_v(C*), C* the largest compute both arms observed: how much more compute the baseline
    needs to reach the loss v reaches at C*. `extrapolated` when ℓ lies outside the baseline's
    observed losses; `unreachable` (multiplier None, i.e. infinite) when ℓ ≤ E_baseline.

    Bootstrap (see `_residuals`): within each (arm, budget) group its seeds are resampled
    about the group's mean ln L; an arm with one point per budget has its residuals about the
    fitted curve resampled instead; then both curves are refitted. Verdict: "better" when the
    interval's low end is above 1, "worse" when its high end is below 1, else "within noise";
    the baseline's is "baseline".

    `reference_loss` (e.g. the n-gram baseline's, in the points' units): each arm also gets
    `reference_crossing`, the compute at which its fitted curve reaches that loss (None: never,
    its E lies above it), with `reference_crossing_ci` from the same replicates and
    `reference_crossing_extrapolated` when it lies outside the arm's observed compute.

    Each arm also gets `by_budget`, one entry per budget both it and the baseline trained
    (`budget, compute, loss, seeds, multiplier, multiplier_ci, verdict`: the compute the
    baseline's curve needs to reach the arm's observed loss there, as a multiple of it; and
    `loss_change, loss_change_ci, pairs`, its loss against the baseline's runs of the same seeds,
    `_loss_change`), and a
    `trend` across them (`_trend`: stable, growing, shrinking or sign flips, with the slope and
    the fitted multiplier at the top budget); the baseline's entries are 1.

    Returns `arms` (each `name, points, budgets, form, E, A, gamma` with `_ci`, `c_star,
    loss_at_c_star, multiplier, multiplier_ci, verdict, extrapolated, unreachable, by_budget,
    trend`),
    `baseline`, `flops_convention`, `bootstrap`, `level`, `seed`, `reference_loss` and `notes`.
    """
    points, notes = _points.check_points(points, "compute", flops_convention=flops)
    compute, _ = _points.flops(points, flops)
    compute = np.array(compute)
    loss = np.array([p["loss"] for p in points])
    arms = []
    rng = np.random.default_rng(seed)
    for name, members in _points.arms(points).items():
        members = np.array(members)
        budgets = _points.budget_groups([points[i] for i in members], compute[members])
        budget_of = np.empty(len(members), dtype=int)  # each point's budget, by number
        for k, local in enumerate(budgets.values()):
            budget_of[local] = k
        form = "saturating" if len(budgets) >= 4 else "power"
        fit = _fit_curve(compute[members], loss[members], form)
        fitted = np.log(predict_compute(fit, compute[members]))
        draw = _residuals(
            budget_of, np.log(loss[members]), fitted, 3 if form == "saturating" else 2
        )
        arms.append(
            {
                "name": name,
                "members": members,
                "budgets": len(budgets),
                "groups": budgets,  # budget -> indices into members
                "form": form,
                "fit": fit,
                "draw": draw,
            }
        )
    baseline = arms[0]
    replicates, drawn = [], []  # per replicate: each arm's refit, and its drawn ln L
    advance = _progress(progress, int(bootstrap))
    for _ in range(int(bootstrap)):
        draws = [arm["draw"](rng) for arm in arms]
        drawn.append(draws)
        replicates.append(
            [
                _fit_curve(compute[arm["members"]], np.exp(draw), arm["form"], start=arm["fit"])
                for arm, draw in zip(arms, draws)
            ]
        )
        advance(1)
    rows = []
    for k, arm in enumerate(arms):
        fit = arm["fit"]
        row = {
            "name": arm["name"],
            "points": len(arm["members"]),
            "budgets": arm["budgets"],
            "form": arm["form"],
            "E": fit["E"],
            "A": fit["A"],
            "gamma": fit["gamma"],
        }
        for key in ("E", "A", "gamma"):
            row[f"{key}_ci"] = _interval([r[k][key] for r in replicates], level)
        if k == 0:
            top = float(compute[arm["members"]].max())
            row.update(c_star=top, loss_at_c_star=predict_compute(fit, top),
                       multiplier=1.0, multiplier_ci=[1.0, 1.0], verdict="baseline",
                       extrapolated=False, unreachable=False, trend=None,
                       by_budget=[{"budget": b, "seeds": len(local), "multiplier": 1.0,
                                   "multiplier_ci": [1.0, 1.0], "verdict": "baseline"}
                                  for b, local in arm["groups"].items()])  # fmt: skip
        else:
            c_star = float(min(compute[baseline["members"]].max(), compute[arm["members"]].max()))
            multiplier = compute_multiplier(baseline["fit"], fit, c_star)
            target = predict_compute(fit, c_star)
            seen = loss[baseline["members"]]
            ci = _interval(
                [compute_multiplier(r[0], r[k], c_star) for r in replicates],
                level,
                keep_infinite=True,
            )
            row.update(c_star=c_star, loss_at_c_star=target, multiplier=multiplier,
                       multiplier_ci=ci, verdict=_verdict(ci),
                       extrapolated=bool(not seen.min() <= target <= seen.max()),
                       unreachable=math.isinf(multiplier))  # fmt: skip
            by_budget = _multipliers_by_budget(arms, k, compute, loss, replicates, drawn, level)
            for entry in by_budget:
                entry.update(_loss_change(points, arms, k, entry["budget"], level))
            trend = _trend(by_budget, level)
            for entry in by_budget:
                del entry["replicates"]
            row.update(by_budget=by_budget, trend=trend)
            if ci and math.isinf(ci[1]):
                notes.append(
                    f"arm {arm['name']!r}: the interval's high end is unbounded (some "
                    "bootstrap baselines never reach its loss); shown as null"
                )
        if reference_loss is not None:
            crossing = compute_to_reach(fit, reference_loss)
            seen = compute[arm["members"]]
            row.update(
                reference_crossing=crossing,
                reference_crossing_ci=_interval(
                    [compute_to_reach(r[k], reference_loss) for r in replicates],
                    level,
                    keep_infinite=True,
                ),
                reference_crossing_extrapolated=bool(not seen.min() <= crossing <= seen.max()),
            )
        rows.append(row)
    result = {
        "arms": rows,
        "baseline": baseline["name"],
        "flops_convention": flops,
        "bootstrap": int(bootstrap),
        "level": level,
        "seed": seed,
        "reference_loss": reference_loss,
        "notes": notes,
    }
    return _plain(result)


def _multipliers_by_budget(arms, k, compute, loss, replicates, drawn, level):
    """Arm k's multiplier at each budget the baseline also trained: C_baseline(ℓ_b) / C_b, ℓ_b
    the arm's observed loss there (the geometric mean over its seeds) and C_b its compute —
    how much more compute the baseline's fitted curve needs to reach what the arm reached at
    that budget. Intervals from the same replicates (refitted baseline, resampled seeds)."""
    arm, baseline = arms[k], arms[0]
    rows = []
    for budget, local in arm["groups"].items():
        if budget not in baseline["groups"]:
            continue
        members = arm["members"][local]
        c_b = float(np.exp(np.log(compute[members]).mean()))
        observed = float(np.exp(np.log(loss[members]).mean()))
        values = [
            _multiplier_to_reach(r[0], math.exp(float(d[k][local].mean())), c_b)
            for r, d in zip(replicates, drawn)
        ]
        ci = _interval(values, level, keep_infinite=True)
        rows.append({"budget": budget, "compute": c_b, "loss": observed, "seeds": len(local),
                     "multiplier": _multiplier_to_reach(baseline["fit"], observed, c_b),
                     "multiplier_ci": ci, "verdict": _verdict(ci), "replicates": values})  # fmt: skip
    return rows


def _loss_change(points, arms, k, budget, level):
    """Arm k's loss against the baseline's at one budget in the papers' own terms: the relative
    change L_arm / L_baseline − 1 of runs paired by seed (the geometric mean of the pairs'
    ratios), with a Student-t interval over the pairs at `level` (None under two pairs). A
    paper reports an effect as a loss at one size (T5's 1.838 against 1.821); this is the same
    number here, beside the multiplier, which is the same effect read through the fitted curves.
    Empty where no seed pairs up (points without seeds)."""

    def by_seed(arm):
        indices = arm["members"][arm["groups"][budget]]
        return {points[i].get("seed"): points[i]["loss"] for i in indices}

    arm, baseline = by_seed(arms[k]), by_seed(arms[0])
    seeds = sorted(s for s in arm if s is not None and s in baseline)
    if not seeds:
        return {}
    logs = np.log([arm[s] / baseline[s] for s in seeds])
    mean = float(logs.mean())
    ci = None
    if len(seeds) >= 2:
        half = float(_stats.t.ppf((1 + level) / 2, len(seeds) - 1) * logs.std(ddof=1))
        half /= math.sqrt(len(seeds))
        ci = [math.expm1(mean - half), math.expm1(mean + half)]
    return {"loss_change": math.expm1(mean), "loss_change_ci": ci, "pairs": len(seeds)}


def _multiplier_to_reach(baseline_fit, loss, compute):
    exponent = _log_compute_to_reach(baseline_fit, loss) - math.log(compute)
    return math.inf if exponent > 700 else math.exp(exponent)


TREND_VERDICTS = ("stable", "growing", "shrinking", "sign flips", "one budget")
# A multiplier that moves by less than this slope of ln m against ln C (about 12% per tenfold
# compute) is called stable even when its interval excludes 0: a baseline curve fitted to a few
# budgets bends the multipliers by about that much (measured on synthetic arms with a constant
# multiplier of 2: slopes of -0.04 [-0.06, -0.01]).
STABLE_SLOPE = 0.05


def _trend(by_budget, level):
    """How an arm's multiplier moves with compute: the slope of ln(multiplier) against ln C over
    its budgets (least squares), with its bootstrap interval, and a verdict — "sign flips" when
    one budget's interval lies wholly above 1 and another's wholly below; else, against the
    arm's direction (better: ln m > 0), "growing" when the slope's interval excludes 0 away from
    1, "shrinking" when it excludes 0 towards 1, "stable" otherwise or when the slope is under
    `STABLE_SLOPE`; "one budget" when there is
    only one. `at_top`: the fitted line's multiplier at the top budget, with its interval.
    Replicates where the baseline never reaches the arm's loss at some budget are left out."""
    rows = [r for r in by_budget if r["multiplier"] is not None and math.isfinite(r["multiplier"])]
    if len(rows) < 2:
        return {"verdict": "one budget", "slope": None, "slope_ci": None, "at_top": None,
                "at_top_ci": None, "budgets": len(rows)}  # fmt: skip
    x = np.log([r["compute"] for r in rows])
    top = float(x.max())

    def line(values):
        slope, intercept = np.polyfit(x, np.log(values), 1)
        return float(slope), float(math.exp(intercept + slope * top))

    slope, at_top = line([r["multiplier"] for r in rows])
    fits = [line(v) for v in zip(*(r["replicates"] for r in rows))
            if all(0 < m < math.inf for m in v)]  # fmt: skip
    slope_ci = _interval([f[0] for f in fits], level)
    at_top_ci = _interval([f[1] for f in fits], level)
    verdicts = {r["verdict"] for r in rows}
    direction = 1.0 if sum(math.log(r["multiplier"]) for r in rows) >= 0 else -1.0
    if {"better", "worse"} <= verdicts:
        verdict = "sign flips"
    elif slope_ci is None or slope_ci[0] <= 0 <= slope_ci[1] or abs(slope) < STABLE_SLOPE:
        verdict = "stable"
    else:
        verdict = "growing" if direction * slope > 0 else "shrinking"
    return {"verdict": verdict, "slope": slope, "slope_ci": slope_ci, "at_top": at_top,
            "at_top_ci": at_top_ci, "budgets": len(rows)}  # fmt: skip


def predict_compute(fit, flops):
    """L(C) = E + A·C^(−γ) of one arm of `fit_compute` (an array or a float)."""
    flops = np.asarray(flops, dtype=float)
    value = fit["E"] + fit["A"] * flops ** (-fit["gamma"])
    return float(value) if value.ndim == 0 else value


def compute_multiplier(baseline_fit, variant_fit, c_star):
    """C_baseline(ℓ) / C* with ℓ = L_variant(C*): the compute the baseline needs to reach the
    loss the variant reaches at C*, as a multiple of C*. `math.inf` when the baseline never
    reaches ℓ (ℓ ≤ its E). Fits are dicts with `E`, `A`, `gamma`: L(C) = E + A·C^(−γ)."""
    return _multiplier_to_reach(baseline_fit, predict_compute(variant_fit, c_star), c_star)


def compute_to_reach(fit, loss):
    """The compute C at which L(C) = `loss` on one arm's curve; `math.inf` when the curve never
    gets that low (`loss` ≤ E), 0 when it starts below it (a flat curve)."""
    log_c = _log_compute_to_reach(fit, loss)
    return math.inf if log_c > 700 else 0.0 if log_c == -math.inf else math.exp(log_c)


def _log_compute_to_reach(fit, loss):
    """ln C with L(C) = `loss`: C = (A / (ℓ − E))^(1/γ); ±inf at the edges (see callers)."""
    gap = loss - fit["E"]
    if gap <= 0:
        return math.inf
    gamma, amplitude = fit["gamma"], fit["A"]
    if gamma <= 0:  # a flat curve: reached at any compute, or never
        return -math.inf if gap >= amplitude else math.inf
    return (math.log(amplitude) - math.log(gap)) / gamma


def _fit_curve(compute, loss, form, start=None):
    """{E, A, gamma} for one arm, on ln L; C is scaled by its geometric mean for conditioning."""
    x = np.log(compute)
    center = float(x.mean())
    x = x - center
    y = np.log(loss)
    if form == "power":
        slope, intercept = np.polyfit(x, y, 1)  # ln L = ln A' − γ x
        return {"E": 0.0, "A": _exp(intercept - slope * center), "gamma": float(-slope)}
    ceiling = float(loss.min()) * (1 - 1e-6)

    def residuals(theta):
        e, log_a, gamma = theta
        return np.log(e + np.exp(log_a - gamma * x)) - y

    guesses = []
    if start is not None:
        e0 = min(max(start["E"], 0.0), ceiling * (1 - 1e-6))
        guesses.append([e0, math.log(start["A"]) - start["gamma"] * center, start["gamma"]])
    else:
        for fraction in (0.0, 0.5, 0.8, 0.95):
            e0 = fraction * ceiling
            slope, intercept = np.polyfit(x, np.log(loss - e0), 1)
            guesses.append([e0, intercept, max(-slope, 1e-3)])
    best = None
    for guess in guesses:
        guess[2] = min(max(guess[2], 0.0), 10.0)
        found = optimize.least_squares(
            residuals, guess, bounds=([0, -np.inf, 0], [ceiling, np.inf, 10])
        )
        if best is None or found.cost < best.cost:
            best = found
    e, log_a, gamma = (float(v) for v in best.x)
    return {"E": e, "A": _exp(log_a + gamma * center), "gamma": gamma}


def _verdict(ci):
    if ci is None:
        return "within noise"
    if ci[0] > 1:
        return "better"
    if ci[1] < 1:
        return "worse"
    return "within noise"


# --- shared ---


def _interval(values, level=LEVEL, keep_infinite=False):
    """The percentile bootstrap interval [low, high] at `level`, or None without replicates.
    Infinities (an unreachable loss) sort above every finite value."""
    values = np.array([np.nan if v is None else v for v in values], dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    big = np.finfo(float).max
    low, high = np.percentile(np.minimum(values, big), [tail, 100 - tail])
    low, high = (math.inf if v >= big / 2 else float(v) for v in (low, high))
    return [low, high] if keep_infinite else [_finite(low), _finite(high)]


def _exp(x):
    return math.inf if x > 709 else math.exp(x)


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _plain(obj):
    """JSON-ready: numpy scalars to Python numbers, NaN and infinities to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite(float(obj))
    return obj
