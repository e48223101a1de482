"""Per-band statistics of finite values, accumulated block by block (Chan et al.'s parallel
mean/variance merge); one block holding a whole band gives numpy's own mean and std."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class RunningStats:
    """count, mean, sum of squared deviations (m2), min and max of the finite values seen (float64)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def of(cls, band: np.ndarray) -> "RunningStats":
        """Statistics of the finite values of ``band`` (float64 sums; one copy of the band, no
        boolean-mask copy when every value is finite)."""
        band = np.asarray(band)
        finite = np.isfinite(band)
        n = int(np.count_nonzero(finite))
        if n == 0:
            return cls()
        v = band.ravel() if n == band.size else band[finite]
        x = v.astype(np.float64)
        m = float(x.mean())
        x -= m
        np.square(x, out=x)  # then numpy's pairwise sum, as np.var; not np.dot: OpenBLAS splits a dot
        # product by thread differently when called from two threads at once (the background writer
        # and the IDW kernels' matmul), which changed STATISTICS_STDDEV's last digit from run to run
        return cls(n, m, float(x.sum()), float(v.min()), float(v.max()))

    def merge(self, other: "RunningStats") -> "RunningStats":
        """Combined statistics of both sets of values (returns a new object)."""
        if other.count == 0:
            return RunningStats(self.count, self.mean, self.m2, self.min, self.max)
        if self.count == 0:
            return RunningStats(other.count, other.mean, other.m2, other.min, other.max)
        n = self.count + other.count
        d = other.mean - self.mean
        return RunningStats(n, self.mean + d * other.count / n, self.m2 + other.m2 + d * d * self.count * other.count / n, min(self.min, other.min), max(self.max, other.max))

    def to_dict(self) -> dict[str, float]:
        """Same keys as geoprospect.io.rasters.band_stats (population std)."""
        if self.count == 0:
            return {"min": float("nan"), "max": float("nan"), "mean": float("nan"), "std": float("nan"), "valid": 0}
        return {"min": self.min, "max": self.max, "mean": self.mean, "std": math.sqrt(self.m2 / self.count), "valid": self.count}

