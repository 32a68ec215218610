"""The statistics of many seeds: a hold rate's Wilson interval, a run's margin in test images, and the hold
rate fitted from the seeds' margins. The reports' alone: a run is judged by trainer.verdict."""
import math
import random
import statistics
from collections.abc import Sequence

from trainer.verdict import TARGET_PER_10000


def wilson(met: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson interval of a hold rate met/n, as fractions."""
    if n == 0:
        return 0.0, 1.0
    p = met / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def margin(lowest: float) -> int:
    """A run's margin in test images: its lowest-of-last-5 correct count minus the line's 9,940 (0 or more holds)."""
    return round(lowest * 100) - TARGET_PER_10000


def fitted_hold_rate(margins: Sequence[float], draws: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """(rate, low, high): the chance that a seed holds, from a normal fit of the seeds' margins in images
    (their mean and standard deviation), with a 95% bootstrap interval over the seeds. A seed holds at a
    margin of 0 or more, so the fit's line sits half an image below 0. Fixed draws: the same answer each
    time. K/N counts the seeds that held; the fit also weighs by how far each held or missed."""
    def rate(sample: Sequence[float]) -> float:
        mean, std = statistics.fmean(sample), statistics.stdev(sample)
        if std == 0:
            return 1.0 if mean >= 0 else 0.0
        return 1 - statistics.NormalDist(mean, std).cdf(-0.5)

    if len(margins) < 2:
        raise ValueError("a fit needs at least two seeds")
    rng = random.Random(seed)
    boot = sorted(rate(rng.choices(margins, k=len(margins))) for _ in range(draws))
    return rate(margins), boot[int(0.025 * draws)], boot[int(0.975 * draws) - 1]
