"""Fuzzy memberships at known points, overlay operators against numpy, and the `fuzzy` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from geoprospect.cli import cli
from geoprospect.errors import ConfigError
from geoprospect.evidence.fuzzy import (
    gaussian,
    large,
    linear,
    membership,
    overlay,
    small,
)


def test_large_and_small_at_known_points():
    x = np.array([0.5, 1.0, 2.0, 4.0, 0.0, -1.0, np.nan])
    mu = large(x, midpoint=2.0, spread=5.0)
    # 1 / (1 + (x/2)^-5)
    np.testing.assert_allclose(mu[:4], [1 / (1 + 4.0**5), 1 / (1 + 2.0**5), 0.5, 1 / (1 + 2.0**-5)], atol=1e-15)
    assert mu[4] == 0.0 and mu[5] == 0.0 and np.isnan(mu[6])
    mu = small(x, midpoint=2.0, spread=5.0)
    np.testing.assert_allclose(mu[:4], [1 / (1 + 0.25**5), 1 / (1 + 0.5**5), 0.5, 1 / 33], atol=1e-15)
    assert mu[4] == 1.0 and mu[5] == 1.0 and np.isnan(mu[6])
    np.testing.assert_allclose(large(x[:4], 2.0, 5.0) + small(x[:4], 2.0, 5.0), 1.0, atol=1e-15)
    # midpoint from the data: the median gets 0.5
    data = np.array([1.0, 3.0, 7.0, np.nan])
    assert large(data)[1] == 0.5 and small(data, spread=2.0)[1] == 0.5
    with pytest.raises(ConfigError, match="positive midpoint"):
        large(np.array([-2.0, -1.0, -3.0]))


def test_linear_and_gaussian():
    x = np.array([0.0, 2.5, 5.0, 10.0, 12.0, np.nan])
    np.testing.assert_allclose(linear(x, 0.0, 10.0)[:5], [0.0, 0.25, 0.5, 1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(linear(x, 10.0, 0.0)[:5], [1.0, 0.75, 0.5, 0.0, 0.0], atol=1e-15)  # "near is good"
    np.testing.assert_allclose(linear(x)[:5], np.array([0.0, 2.5, 5.0, 10.0, 12.0]) / 12.0, atol=1e-15)  # data min/max
    assert np.isnan(linear(x, 0.0, 10.0)[5])
    g = gaussian(x, midpoint=5.0, spread=0.5)
    np.testing.assert_allclose(g[:4], [math.exp(-12.5), math.exp(-3.125), 1.0, math.exp(-12.5)], atol=1e-15)
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gaussian(v), np.exp(-((v - 2.0) ** 2) / (2 * np.var(v))), atol=1e-15)
    np.testing.assert_array_equal(membership(x, "linear", 0.0, 10.0), linear(x, 0.0, 10.0))
    with pytest.raises(ConfigError, match="unknown fuzzy membership"):
        membership(x, "sigmoid")


def test_operators_against_numpy():
    rng = np.random.default_rng(0)
    a, b, c = rng.random((3, 4, 5))
    a[0, 0] = np.nan
    mus = [a, b, c]
    stack = np.stack(mus)
    np.testing.assert_array_equal(overlay(mus, "and"), np.minimum(np.minimum(a, b), c))
    np.testing.assert_array_equal(overlay(mus, "or"), np.maximum(np.maximum(a, b), c))
    np.testing.assert_allclose(overlay(mus, "product"), a * b * c, atol=1e-15)
    fsum = 1 - (1 - a) * (1 - b) * (1 - c)
    np.testing.assert_allclose(overlay(stack, "sum"), fsum, atol=1e-15)
    np.testing.assert_allclose(overlay(mus, "gamma", 0.7), fsum**0.7 * (a * b * c) ** 0.3, atol=1e-15)
    np.testing.assert_allclose(overlay(mus, "gamma", 1.0), fsum, atol=1e-15)
    np.testing.assert_allclose(overlay(mus, "gamma", 0.0), a * b * c, atol=1e-15)
    for op in ("and", "or", "product", "sum", "gamma"):
        assert np.isnan(overlay(mus, op)[0, 0]) and np.isfinite(overlay(mus, op)[1:]).all()
    # hand values on two cells
    np.testing.assert_allclose(overlay([np.array([0.5, 0.2]), np.array([0.4, 1.0])], "sum"), [0.7, 1.0], atol=1e-15)
    with pytest.raises(ConfigError, match="gamma must be in"):
        overlay(mus, "gamma", 1.5)


def test_cli_fuzzy(tmp_path):
    dist = np.repeat(np.arange(10.0), 10).reshape(10, 10) * 100.0
    au = np.tile(np.linspace(0.01, 0.1, 10), (10, 1))
    au[4, 4] = np.nan
    profile = {"driver": "GTiff", "width": 10, "height": 10, "count": 2, "dtype": "float32", "crs": "EPSG:32649",
               "transform": Affine(100.0, 0.0, 500000.0, 0.0, -100.0, 2805000.0), "nodata": -9999.0}
    with rasterio.open(tmp_path / "s.tif", "w", **profile) as dst:
        for i, (name, a) in enumerate((("dist_faults", dist), ("Au", au)), 1):
            dst.write(np.where(np.isfinite(a), a, -9999.0).astype("float32"), i)
            dst.set_band_description(i, name)
    out = tmp_path / "f.tif"
    args = ["--progress", "none", "fuzzy", str(tmp_path / "s.tif"), "--band", "dist_faults:linear:900:0", "--band", "Au:large:0.05:5",
            "--operator", "gamma", "--gamma", "0.8", "--out", str(out), "--with-memberships"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32649 and src.transform == profile["transform"] and src.nodata == -9999.0
        assert src.descriptions == ("fuzzy_gamma", "mu_dist_faults", "mu_Au")
        assert json.loads(src.tags()["FUZZY_OVERLAY"])["gamma"] == 0.8
        got = src.read(masked=True)
    au32, dist32 = au.astype(np.float32).astype(float), dist.astype(np.float32).astype(float)
    expected = overlay([linear(dist32, 900, 0), large(au32, 0.05, 5)], "gamma", 0.8)
    assert got.mask[0, 4, 4] and got.mask[0].sum() == 1
    np.testing.assert_allclose(got[0].filled(np.nan), expected.astype(np.float32), rtol=1e-6, equal_nan=True)
    bad = CliRunner().invoke(cli, [*args[:4], "--band", "Cu:large", "--out", str(tmp_path / "x.tif")])
    assert bad.exit_code == 2 and "'Cu'" in bad.output and "--band" in bad.output
    bad = CliRunner().invoke(cli, [*args[:4], "--band", "Au:big:1", "--out", str(tmp_path / "x.tif")])
    assert bad.exit_code == 2 and "NAME:KIND" in bad.output
