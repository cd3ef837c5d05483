"""Means over seeds with their intervals, as the studies that train a few seeds per cell report
them (`zoo sweep epochs`, `zoo sweep continued`)."""

import math


def seed_stats(values):
    """{"mean", "interval" (95% Student-t; None with fewer than two values), "seeds",
    "values"}; the mean is None without values."""
    from scipy import stats

    n = len(values)
    if not n:
        return {"mean": None, "interval": None, "seeds": 0, "values": []}
    mean = sum(values) / n
    interval = None
    if n > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        interval = [mean - half, mean + half]
    return {"mean": mean, "interval": interval, "seeds": n, "values": list(values)}
