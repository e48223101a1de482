"""Kriging vs IDW on real laterite geochemistry (Murchison): LOO errors and grid timings.

    python benchmarks/bench_kriging.py [--element As_ppm] [--max-points 300] [--res 2000]

Peer: geoprospect.evidence.idw.idw (12 nearest, power 2) on the same points and grid.
Data: Smith (1987) CSIRO laterite geochemistry (CC BY 4.0); Murchison deposits (spatstat.data).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from geoprospect.evidence.idw import idw
from geoprospect.evidence.kriging import fit_variogram, kriging, loo_cv
from geoprospect.geochem import read_geochem
from geoprospect.grid import GridSpec
from geoprospect.io.vectors import read_vectors

DATA = "/work/shared/datasets/murchison"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--element", default="As_ppm")
    ap.add_argument("--max-points", type=int, default=0, help="held-out samples (0 = all; kriging uses the exact Dubrule shortcut)")
    ap.add_argument("--neighbors", type=int, default=32, help="moving neighbourhood for the timed ordinary kriging grid")
    ap.add_argument("--res", type=float, default=2000.0)
    ap.add_argument("--model", default="spherical")
    a = ap.parse_args()
    dep = read_vectors(f"{DATA}/gold_deposits.gpkg", what="deposits")
    crs = dep.crs.to_wkt()
    xmin, ymin, xmax, ymax = dep.total_bounds
    pad = 20000
    table, rep = read_geochem(f"{DATA}/laterite_geochemistry.csv", [a.element], x_field="LONGITUDE", y_field="LATITUDE",
                              crs="EPSG:4283", drop_missing_xy=True, transform="log10")
    table = table.to_crs(crs)
    inside = (table.xy[:, 0] > xmin - pad) & (table.xy[:, 0] < xmax + pad) & (table.xy[:, 1] > ymin - pad) & (table.xy[:, 1] < ymax + pad)
    ok = inside & np.isfinite(table.values[:, 0])
    xy, z = table.xy[ok], table.values[ok, 0]
    print(f"{a.element} (log10): {len(z)} samples in the Murchison area; duplicates merged: {rep.duplicates['n_removed']}")
    for model in dict.fromkeys([a.model, "spherical", "exponential"]):
        v = fit_variogram(xy, z, model)
        print(f"\nvariogram {v.model}: " + ", ".join(f"{k}={val:.4g}" for k, val in v.parameters.items()))
        t = time.perf_counter()
        summary, _ = loo_cv(xy, z, variogram=v, max_points=a.max_points or None, seed=0)
        t_cv = time.perf_counter() - t
        print(f"leave-one-out over {summary['n'].iloc[0]} held-out samples ({t_cv:.1f} s):")
        print(summary[["method", "n", "rmse", "mae", "me"]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        s = summary.set_index("method")
        print(f"RMSE ratio ordinary/idw = {s.loc['ordinary', 'rmse'] / s.loc['idw', 'rmse']:.3f}, universal/idw = {s.loc['universal', 'rmse'] / s.loc['idw', 'rmse']:.3f}")
    v = fit_variogram(xy, z, a.model)
    grid = GridSpec.from_bounds((xmin - pad, ymin - pad, xmax + pad, ymax + pad), a.res, crs)
    t = time.perf_counter()
    ref = idw(xy, z, grid, power=2.0, neighbors=12)
    t_idw = time.perf_counter() - t
    t = time.perf_counter()
    est, var = kriging(xy, z, grid, variogram=v, neighbors=a.neighbors)
    t_ok = time.perf_counter() - t
    print(f"\ngrid {grid.height} x {grid.width} ({grid.height * grid.width} cells), {len(z)} samples:")
    print(f"  idw (12 nn): {t_idw:.2f} s   ordinary kriging ({a.neighbors} nearest): {t_ok:.2f} s   ratio kriging/idw = {t_ok / max(t_idw, 1e-9):.1f}")
    print(f"  mean |kriging - idw| = {np.nanmean(np.abs(est[0] - ref[0])):.4f} log10 units; kriging std range {np.sqrt(np.nanmin(var)):.3f}..{np.sqrt(np.nanmax(var)):.3f}")


if __name__ == "__main__":
    main()
