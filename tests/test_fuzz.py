"""Property-based fuzzing (hypothesis) of the points reader, the config loader and GridSpec
arithmetic. Each test is bounded (max_examples, no per-example deadline on a busy CI box) so
that the file runs well within a minute; run with ``--hypothesis-show-statistics`` to see the
kinds of inputs tried (``event()`` labels). What they found is in docs/bad_input.md.

The properties: a reader either returns consistent data or raises a GeoprospectError with a
message (never another exception); valid numbers come back exactly; grid arithmetic round-trips.
"""

from __future__ import annotations

import math
import os
import string
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from geoprospect.errors import ConfigError, GeoprospectError, GridError
from geoprospect.grid import GridSpec
from geoprospect.io.points import read_points

FUZZ = settings(max_examples=int(os.environ.get("GEOPROSPECT_FUZZ_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
UTM = "EPSG:32649"

# -- points reader ----------------------------------------------------------------------------------

NAME_CHARS = string.ascii_letters + string.digits + "_-. ()/%µØøéÅ"
names = st.text(NAME_CHARS, min_size=1, max_size=8).map(lambda s: "E" + s)
good_number = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False).map(repr)
censored = st.sampled_from(["<0.5", "< 0.5", "<0,5", "BDL", "bdl", "n.d.", "ND", "<DL", "-0.5", "-1"])
garbage = st.one_of(st.text(string.printable.replace("\n", "").replace("\r", ""), max_size=6), st.sampled_from(["inf", "-inf", "nan", "NaN", "1e400", "1,5", "1.2.3", "0x10", "∞", '"', "'", "1\x00", "1e-400"]))
cell = st.one_of(good_number, good_number, good_number, st.just(""), censored, garbage)
easting = st.floats(min_value=200000, max_value=800000, allow_nan=False).map(repr)
northing = st.floats(min_value=100000, max_value=9000000, allow_nan=False).map(repr)
coord_cell = st.one_of(easting, easting, easting, northing, st.just(""), garbage, st.floats(-200, 200).map(repr))


def _also_utf8(data: bytes) -> bool:
    """Bytes that decode as UTF-8 too (and are not plain ASCII)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not data.isascii()


@st.composite
def csv_files(draw, clean: bool = False):
    elements = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 8))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = ["x", "y", *elements]
    rows = []
    for _ in range(n):
        if clean:
            row = [draw(easting), draw(northing), *[draw(good_number) for _ in elements]]
        else:
            row = [draw(coord_cell), draw(coord_cell), *[draw(cell) for _ in elements]]
        rows.append(row)
    if not clean and draw(st.booleans()):  # a ragged row now and then
        rows[draw(st.integers(0, n - 1))].append(draw(good_number))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    text = newline.join(sep.join(r) for r in [header, *rows]) + newline
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
        encoding = "utf-8"
    if encoding == "latin-1" and _also_utf8(data):
        # e.g. "Åµ" in latin-1 is the bytes C5 B5, which are also valid UTF-8 ("ŵ"): such a file
        # is ambiguous by construction and the reader rightly takes UTF-8; write it as UTF-8
        data, encoding = text.encode("utf-8"), "utf-8"
    event(f"sep={sep!r} encoding={encoding}")
    return data, elements, rows, sep


# Inputs that broke the reader of the first version (main at f4b5c23/da39b91), kept as regressions:
# a latin-1 header with a ragged row (UnicodeDecodeError, then a raw pandas ParserError), an
# unterminated quote (ParserError), "inf" accepted as a concentration, a one-row '|' file refused.
FOUND = [
    (b"x,y,E\xb5\n200000.0,200000.0,1.0\n200000.0,,,1.0\n", ["E\xb5"], [["200000.0", "200000.0", "1.0"], ["200000.0", "", "", "1.0"]], ","),
    (b'x,y,E\xb5\n200000.0,200000.0,"\n', ["E\xb5"], [["200000.0", "200000.0", '"']], ","),
    (b"x,y,E0\n200000.0,200000.0,inf\n", ["E0"], [["200000.0", "200000.0", "inf"]], ","),
    (b"x|y|E000\n200000.0|100000.0|1.0\n", ["E000"], [["200000.0", "100000.0", "1.0"]], "|"),
    (b'x,y,E0\n"200000.0,200000.0,1\n', ["E0"], [['"200000.0', "200000.0", "1"]], ","),
    (b"x,y,E0\n200000.0,200000.0,1\x00\n", ["E0"], [["200000.0", "200000.0", "1\x00"]], ","),
    (b"x,y,E \n200000.0,100000.0,1.0\n", ["E "], [["200000.0", "100000.0", "1.0"]], ","),  # found by the long run
]


@FUZZ
@given(f=csv_files())
@example(f=FOUND[0])
@example(f=FOUND[1])
@example(f=FOUND[2])
@example(f=FOUND[3])
@example(f=FOUND[4])
@example(f=FOUND[5])
def test_points_reader_never_fails_unexpectedly(tmp_path, f):
    data, elements, rows, sep = f
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        t = read_points(p, elements, crs=UTM)
    except GeoprospectError as exc:
        event(f"refused: {type(exc).__name__}")
        assert str(exc) and "fuzz.csv" in str(exc)  # names the file
        return
    event("read")
    assert t.xy.shape == (len(rows), 2) and np.isfinite(t.xy).all()
    assert t.values.shape == (len(rows), len(elements)) and not np.isinf(t.values).any()
    assert t.rows.tolist() == list(range(2, len(rows) + 2))
    assert t.elements == [e.strip() for e in elements]  # header names are stripped


@FUZZ
@given(f=csv_files(clean=True))
@example(f=FOUND[3])
@example(f=FOUND[6])
def test_valid_numbers_come_back_exactly(tmp_path, f):
    data, elements, rows, sep = f
    p = tmp_path / "clean.csv"
    p.write_bytes(data)
    t = read_points(p, elements, crs=UTM)
    expect = np.array([[float(v) for v in r] for r in rows])
    assert np.array_equal(t.xy, expect[:, :2])
    assert np.array_equal(t.values, expect[:, 2:])


# -- config ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def base_config(tmp_path_factory) -> tuple[Path, dict]:
    from faults_helpers import tiny_config

    d = tmp_path_factory.mktemp("fuzzcfg")
    p = tiny_config(d)
    return d, yaml.safe_load(p.read_text())


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@FUZZ
@given(data=st.data())
def test_config_loader_never_fails_unexpectedly(base_config, data):
    import copy

    from geoprospect.pipeline.config import load_config

    d, base = base_config
    cfg = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(cfg) if p]
        path = data.draw(st.sampled_from(paths))
        parent = cfg
        for k in path[:-1]:
            parent = parent[k]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        event(f"config: {action}")
        if action == "replace":
            parent[path[-1]] = data.draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=6))] = data.draw(json_values)
    p = d / "fuzz.yaml"
    try:
        p.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    except yaml.YAMLError:
        return
    try:
        result = load_config(p)
    except ConfigError as exc:
        event("config refused")
        assert "fuzz.yaml" in str(exc)
        return
    event("config accepted")
    assert all(f.is_absolute() for f in result.input_files())  # points are optional when rasters or vectors are given


@FUZZ
@given(text=st.text(max_size=80))
def test_config_loader_on_arbitrary_text(tmp_path, text):
    from geoprospect.pipeline.config import load_config

    p = tmp_path / "t.yaml"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(ConfigError):
        load_config(p)


# -- GridSpec arithmetic -------------------------------------------------------------------------------

coord = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
resolution = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


@FUZZ
@given(x0=coord, y0=coord, w=st.floats(1e-3, 1e6), h=st.floats(1e-3, 1e6), res=resolution)
def test_from_bounds_covers_the_bounds_and_round_trips(x0, y0, w, h, res):
    bounds = (x0, y0, x0 + w, y0 + h)
    assume(bounds[2] > bounds[0] and bounds[3] > bounds[1])
    assume(math.ceil(w / res) * math.ceil(h / res) <= 1_000_000)
    g = GridSpec.from_bounds(bounds, res, UTM)
    gx0, gy0, gx1, gy1 = g.bounds
    assert g.res == (res, res)
    assert gx0 == bounds[0] and gy1 == bounds[3]  # origin at the upper-left corner
    tol = 1e-6 * max(1.0, abs(gx1), abs(gy0))
    assert gx1 >= bounds[2] - tol and gy0 <= bounds[1] + tol  # covers the bounds
    assert gx1 - bounds[2] < res + tol and bounds[1] - gy0 < res + tol  # by less than a cell more
    g2 = GridSpec.from_dict(g.to_dict())
    assert g2 == g or g2.same_as(g, tol=0)
    event(f"grid cells: {'1' if g.width * g.height == 1 else '<100' if g.width * g.height < 100 else '>=100'}")


@FUZZ
@given(x0=coord, y0=coord, res=resolution, ncols=st.integers(1, 300), nrows=st.integers(1, 300), data=st.data())
def test_cell_centres_map_back_to_their_cells(x0, y0, res, ncols, nrows, data):
    g = GridSpec.from_bounds((x0, y0, x0 + ncols * res, y0 + nrows * res), res, UTM)
    assert g.shape in {(nrows, ncols), (nrows + 1, ncols), (nrows, ncols + 1), (nrows + 1, ncols + 1)}
    r = data.draw(st.integers(0, g.height - 1))
    c = data.draw(st.integers(0, g.width - 1))
    xy = g.cell_centers(r, c, 1, 1)
    assert xy[0, 0] == g.x_centers(c, 1)[0] and xy[0, 1] == g.y_centers(r, 1)[0]
    row, col = g.rowcol(xy[:, 0], xy[:, 1])
    assert (int(row[0]), int(col[0])) == (r, c)
    assert g.contains(xy[:, 0], xy[:, 1]).all()
    t = g.window_transform(r, c)
    assert math.isclose(t.c, g.transform.c + c * res, rel_tol=1e-12, abs_tol=1e-9 * max(1, abs(t.c)))
    assert math.isclose(t.f, g.transform.f - r * res, rel_tol=1e-12, abs_tol=1e-9 * max(1, abs(t.f)))


@FUZZ
@given(
    bounds=st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)),
    res=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.tuples(st.floats(), st.floats())),
)
@example(bounds=(-1e308, 0.0, 1e308, 1.0), res=1.0)  # the extent overflows to inf: was an OverflowError
@example(bounds=(0.0, 0.0, 1.0, 1.0), res=1e-320)  # a subnormal resolution: was an OverflowError
@example(bounds=(0.0, 0.0, 1e300, 1.0), res=1e-300)
def test_from_bounds_refuses_nonsense_with_a_grid_error(bounds, res):
    try:
        g = GridSpec.from_bounds(bounds, res, UTM)
    except GridError:
        event("grid refused")
        return
    event("grid accepted")
    assert g.width >= 1 and g.height >= 1 and g.width * g.height <= 2_000_000_000
    assert all(math.isfinite(v) for v in g.bounds)
