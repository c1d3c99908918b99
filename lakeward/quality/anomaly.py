"""Bounds for a metric from its own history: mean ± k·σ once enough points exist, a relative band before."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from lakeward.quality.rules import Anomaly


@dataclass(frozen=True)
class Bounds:
    lower: float | None
    upper: float | None
    basis: str  # how the band was found, for the message

    def holds(self, value: float) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value <= self.upper)


def bounds(history: list[float], config: Anomaly, *, upper_only: bool = False) -> Bounds | None:
    """None while there is no history at all (the rule is still learning)."""
    if not history:
        return None
    mean = statistics.fmean(history)
    if len(history) >= config.min_history:
        band = max(config.k * statistics.stdev(history), config.floor)
        basis = f"mean {mean:.4g} ± {config.k:g}σ over {len(history)} points"
    else:
        band = max(config.max_change * abs(mean), config.floor)
        basis = f"mean {mean:.4g} ± {config.max_change:.0%} over {len(history)} point(s)"
    return Bounds(None if upper_only else max(mean - band, 0.0), mean + band, basis)
