"""IDW: agreement with gdal_grid invdistnn, the exact all-points formula, backends, bad input."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import rasterio

from geoprospect.errors import ConfigError, GeoprospectError, InputError
from geoprospect.evidence.idw import idw
from geoprospect.grid import GridSpec

GDAL_GRID = shutil.which("gdal_grid")
needs_gdal = pytest.mark.skipif(GDAL_GRID is None, reason="gdal_grid (GDAL command-line tools) is not installed")

X0, Y0 = 512_345.0, 7_023_456.0  # UTM-sized coordinates: float32 pitfalls show up here


def _points(n: int = 300, seed: int = 0, ext=(3000.0, 2400.0)):
    rng = np.random.default_rng(seed)
    xy = np.column_stack([X0 + rng.uniform(-200, ext[0] + 200, n), Y0 + rng.uniform(-200, ext[1] + 200, n)])
    vals = np.column_stack([rng.lognormal(size=n), rng.normal(50, 10, n), rng.uniform(0, 1, n)])
    return xy, vals


def _grid(res=(50.0, 40.0), ext=(3000.0, 2400.0)):
    return GridSpec.from_bounds((X0, Y0, X0 + ext[0], Y0 + ext[1]), res, "EPSG:32750")


def _gdal_grid(tmp_path, xy, z, grid, *, power, smoothing, radius, max_points, min_points):
    """Run gdal_grid (no shell) on the same points and grid; returns (rows, cols) with NaN for nodata."""
    csv = tmp_path / "pts.csv"
    np.savetxt(csv, np.column_stack([xy, z]), delimiter=",", header="x,y,z", comments="", fmt="%.10f")
    vrt = tmp_path / "pts.vrt"
    vrt.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="pts">'
        f"<SrcDataSource>{csv}</SrcDataSource><GeometryType>wkbPoint</GeometryType>"
        '<GeometryField encoding="PointFromColumns" x="x" y="y" z="z"/>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    out = tmp_path / "gdal.tif"
    xmin, ymin, xmax, ymax = grid.bounds
    alg = (f"invdistnn:power={power}:smoothing={smoothing}:radius={radius}:"
           f"max_points={max_points}:min_points={min_points}:nodata=-9999")
    cmd = [GDAL_GRID, "-q", "-a", alg, "-txe", repr(xmin), repr(xmax), "-tye", repr(ymin), repr(ymax),
           "-outsize", str(grid.width), str(grid.height), "-ot", "Float64", "-l", "pts", str(vrt), str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    with rasterio.open(out) as src:
        # gdal_grid with -tye ymin ymax writes a north-up raster on exactly our grid
        assert np.allclose(list(src.transform)[:6], list(grid.transform)[:6], rtol=0, atol=1e-6)
        a = src.read(1)
    return np.where(a == -9999, np.nan, a)


@needs_gdal
@pytest.mark.parametrize(
    "power,smoothing,radius,k,min_points",
    [
        (2.0, 0.0, 1e7, 12, 0),        # plain k nearest, unlimited radius
        (2.0, 0.0, 180.0, 12, 1),      # radius leaves cells empty
        (3.0, 7.5, 400.0, 8, 3),       # other power, smoothing, min_points
        (1.5, 0.0, 260.0, 1, 1),       # nearest neighbour only
    ],
)
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_matches_gdal_grid(tmp_path, power, smoothing, radius, k, min_points, precision):
    xy, vals = _points()
    grid = _grid()
    # one sample exactly on a cell centre: gdal_grid gives its value there
    xy[0] = grid.cell_centers(7, 11, 1, 1)[0]
    ours = idw(xy, vals, grid, power=power, neighbors=k, radius=radius, min_points=min_points,
               smoothing=smoothing, backend="cpu", precision=precision)
    tol = 1e-4 if precision == "float32" else 2e-7  # float64 arithmetic, float32 output
    for e in range(vals.shape[1]):
        ref = _gdal_grid(tmp_path, xy, vals[:, e], grid, power=power, smoothing=smoothing, radius=radius,
                         max_points=k, min_points=min_points)
        assert np.array_equal(np.isnan(ours[e]), np.isnan(ref)), "empty cells differ from gdal_grid's nodata"
        both = ~np.isnan(ref)
        assert both.sum() > 0.3 * ref.size
        np.testing.assert_allclose(ours[e][both], ref[both], rtol=tol, atol=0)
        if smoothing == 0:
            assert ours[e, 7, 11] == np.float32(vals[0, e])
    if radius < 200:
        assert np.isnan(ours).any(), "the small radius should leave some cells empty"


def _direct(xy, z, grid, power, radius=None):
    """The papers' formula with all N samples, written plainly in float64."""
    c = grid.cell_centers()
    d = np.hypot(c[:, None, 0] - xy[None, :, 0], c[:, None, 1] - xy[None, :, 1])
    w = 1.0 / d**power
    if radius is not None:
        w[d > radius] = 0.0
    with np.errstate(invalid="ignore"):
        out = (w @ z) / w.sum(axis=1)
    return out.reshape(grid.shape)


@pytest.mark.parametrize("radius", [None, 500.0])
def test_exact_mode_matches_direct_formula(radius):
    xy, vals = _points(120, seed=3)
    grid = _grid(res=(100.0, 80.0))
    ours = idw(xy, vals, grid, neighbors=None, power=2.0, radius=radius, precision="float64")
    for e in range(vals.shape[1]):
        ref = _direct(xy, vals[:, e], grid, 2.0, radius)
        assert np.array_equal(np.isnan(ours[e]), np.isnan(ref))
        np.testing.assert_allclose(ours[e][~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-6)


def test_neighbors_at_least_n_is_exact_mode():
    xy, vals = _points(40, seed=4)
    grid = _grid(res=200.0)
    a = idw(xy, vals, grid, neighbors=None)
    b = idw(xy, vals, grid, neighbors=1000)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_torch_backend_agrees_with_numpy():
    pytest.importorskip("torch")
    xy, vals = _points(200, seed=5)
    grid = _grid(res=(75.0, 60.0))
    for kw in ({"neighbors": 12, "radius": 300.0, "min_points": 2}, {"neighbors": None, "power": 3.0}):
        a = idw(xy, vals, grid, backend="cpu", precision="float64", **kw)
        b = idw(xy, vals, grid, backend="torch", device="cpu", precision="float64", **kw)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-6)


def test_torch_backend_partial_chunks_groups_and_batches():
    """The device-resident torch path (gather, kernel, tile buffer, one copy back) equals numpy
    on a grid no tile divides, with two missing-value groups, in many small batches, in float32."""
    pytest.importorskip("torch")
    xy, vals = _points(180, seed=11)
    vals[::4, 1] = np.nan
    grid = GridSpec.from_bounds((X0, Y0, X0 + 3010.0, Y0 + 2390.0), 37.0, "EPSG:32750")
    for precision, rtol in (("float64", 1e-9), ("float32", 2e-4)):
        a = idw(xy, vals, grid, neighbors=10, radius=250.0, min_points=3, backend="cpu", precision=precision)
        b = idw(xy, vals, grid, neighbors=10, radius=250.0, min_points=3, backend="torch", device="cpu", precision=precision, batch_elems=20_000)
        assert np.isnan(a).any() and not np.isnan(a).all() and np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=rtol)


def test_missing_values_form_their_own_group():
    xy, vals = _points(200, seed=6)
    grid = _grid(res=100.0)
    vals[::3, 1] = np.nan
    out = idw(xy, vals, grid, neighbors=8)
    keep = ~np.isnan(vals[:, 1])
    alone = idw(xy[keep], vals[keep, 1], grid, neighbors=8)[0]
    np.testing.assert_allclose(out[1], alone, rtol=1e-6)
    np.testing.assert_allclose(out[0], idw(xy, vals[:, 0], grid, neighbors=8)[0], rtol=1e-6)


def test_partial_chunks_threads_and_batches():
    """A grid whose size no tile divides gives the same map on one thread and on three (the
    compiled kernel), and with tiny or huge batches (torch): all equal the all-pairs formula."""
    xy, vals = _points(150, seed=7)
    grid = GridSpec.from_bounds((X0, Y0, X0 + 3010.0, Y0 + 2390.0), 37.0, "EPSG:32750")
    a = idw(xy, vals, grid, neighbors=6, radius=350.0, workers=1)
    b = idw(xy, vals, grid, neighbors=6, radius=350.0, workers=3)
    assert np.array_equal(a, b, equal_nan=True) and not np.isnan(a).all()
    pytest.importorskip("torch")
    for batch in (500, 50_000_000):
        t = idw(xy, vals, grid, neighbors=6, radius=350.0, backend="torch", device="cpu", batch_elems=batch)
        assert np.array_equal(np.isnan(a), np.isnan(t))
        np.testing.assert_allclose(a, t, rtol=1e-6)  # only the summation order differs
    # and both equal the all-pairs formula restricted to the 6 nearest within the radius
    c = grid.cell_centers()
    d = np.hypot(c[:, None, 0] - xy[None, :, 0], c[:, None, 1] - xy[None, :, 1])
    nearest = np.argsort(d, axis=1)[:, :6]
    dn = np.take_along_axis(d, nearest, axis=1)
    w = np.where(dn <= 350.0, 1.0 / dn**2, 0.0)
    with np.errstate(invalid="ignore"):
        ref = (w * vals[nearest, 0]).sum(1) / w.sum(1)
    np.testing.assert_allclose(a[0].ravel(), ref, rtol=1e-5)


def test_progress_sums_to_height():
    xy, vals = _points(100, seed=8)
    grid = _grid(res=100.0)
    rows: list[int] = []
    idw(xy, vals, grid, progress=rows.append)
    assert sum(rows) == grid.height and len(rows) > 1


def test_bad_input_errors():
    xy, vals = _points(50, seed=9)
    grid = _grid(res=100.0)
    with pytest.raises(InputError, match="no sample"):
        idw(np.empty((0, 2)), np.empty(0), grid)
    with pytest.raises(InputError, match="none of the 50 samples lies inside"):
        idw(xy + 1e6, vals, grid)
    const = vals.copy()
    const[:, 2] = 4.2
    with pytest.raises(InputError, match="element .Cu. has a single distinct value"):
        idw(xy, const, grid, names=["Au", "As", "Cu"])
    bad = xy.copy()
    bad[5, 0] = np.nan
    with pytest.raises(InputError) as ei:
        idw(bad, vals, grid)
    assert ei.value.row == 5
    with pytest.raises(InputError, match="do not match"):
        idw(xy, vals[:10], grid)
    for kw in ({"power": 0}, {"neighbors": 0}, {"radius": -1.0}, {"min_points": 5, "neighbors": 3},
               {"smoothing": -1.0}, {"backend": "cupy"}, {"precision": "half"}):
        with pytest.raises(ConfigError):
            idw(xy, vals, grid, **kw)
    assert issubclass(ConfigError, GeoprospectError)


def test_unchunk_equals_scatter_for_numpy_and_torch():
    """CellChunks.unchunk (used by the device path) puts chunks where CellChunks.scatter (numpy path) does."""
    torch = pytest.importorskip("torch")
    from geoprospect.evidence._chunks import CellChunks

    grid = GridSpec.from_bounds((X0, Y0, X0 + 3010.0, Y0 + 2390.0), 37.0, "EPSG:32750")
    cells = CellChunks(grid, 7, 9)  # neither side divides the grid: partial chunks on two edges
    parts = np.random.default_rng(0).normal(size=(cells.n_chunks, 7 * 9, 3)).astype(np.float32)
    ref = np.full((3, grid.height, grid.width), np.nan, dtype=np.float32)
    cells.scatter(ref, np.arange(cells.n_chunks), parts, [0, 1, 2])
    assert not np.isnan(ref).any()
    np.testing.assert_array_equal(cells.unchunk(parts), ref)
    np.testing.assert_array_equal(cells.unchunk(torch.from_numpy(parts)).contiguous().numpy(), ref)
