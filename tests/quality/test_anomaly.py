"""Anomaly bands: a relative band while history is short, mean ± k·σ once it is long enough."""

from __future__ import annotations

import statistics

import pytest

from lakeward.quality.anomaly import bounds
from lakeward.quality.rules import Anomaly


def test_no_history_means_learning():
    assert bounds([], Anomaly()) is None


def test_short_history_uses_the_relative_change_bound():
    band = bounds([100.0, 120.0], Anomaly(max_change=0.5))
    assert (band.lower, band.upper) == (55.0, 165.0)
    assert band.holds(60) and not band.holds(40) and not band.holds(170)


def test_long_history_uses_k_sigma():
    history = [100.0, 104.0, 96.0, 101.0, 99.0, 103.0, 97.0]
    band = bounds(history, Anomaly(k=3, min_history=7))
    sigma = statistics.stdev(history)
    assert band.lower == pytest.approx(100 - 3 * sigma) and band.upper == pytest.approx(100 + 3 * sigma)
    assert "± 3σ over 7 points" in band.basis
    assert not band.holds(40)  # a 60% drop


def test_the_floor_keeps_a_flat_history_from_firing_on_noise():
    band = bounds([0.0] * 8, Anomaly(floor=0.05), upper_only=True)
    assert band.lower is None and band.upper == 0.05
    assert band.holds(0.04) and not band.holds(0.5)
