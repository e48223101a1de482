"""Censored (below detection limit) geochemical values.

Forms recognised in one raw (string) column, as found in real survey exports:

* ``"<0.5"``, ``"< 0.5"``, ``"<=0.5"``: censored at the detection limit 0.5;
* a negative number ``-0.5``: censored at 0.5 (the old "negative = below detection" convention;
  ``negative_is_censored=False`` makes it an error instead);
* ``"BDL"``, ``"<DL"``, ``"<LOD"``, ``"n.d."``, ``"ND"``, ``"b.d.l."``: censored, limit not given;
* a flag column (``"<"``, ``"1"``, ``"Y"``, ``"BDL"``, ``"TRUE"``, ...): the row's value is the
  detection limit, or ``0`` / blank when the limit is not given;
* a flag column holding a "not analysed" code (``"n.a."``, ``"NA"``, ...): the row is not analysed
  (NaN, counted as missing) whatever its value;
* any other flag (``"!"``, ``"*"``, a lab remark): the value is kept as reported, except a value of
  exactly ``0`` (or blank), which is no measurement: it becomes missing and is counted
  (``zero_flagged``) with a warning;
* ``">1000"``: over the upper limit, read as 1000 and counted (``n_over``);
* empty, ``"n.a."``, ``"NA"``, ``"-"``, ``"not analysed"``: not analysed (NaN, not censored).

A censored value whose limit is not given gets, in this order: the element's stated limit
(``detection_limit``, from ``points.detection_limits`` / ``--detection-limits``), the element's
smallest detection limit seen, or the element's smallest reported (detected, positive) value,
each said in a warning (``unknown_limit="min_limit"``, the default); with
``unknown_limit="missing"`` it is set missing instead. It stays counted as censored either way
except when set missing.

Replacement (``replace_censored``): a fraction of the limit (1/2 by default), or Cohen's
maximum-likelihood estimate for a left-censored normal distribution of log10 values (paper 004,
after Cohen 1959, *Technometrics* 1, 217-237), each censored value being replaced by
10 ** E[log10 X | log10 X < log10 limit].
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from geoprospect.errors import CensoredValueError, CensoringError, ParameterError

log = logging.getLogger(__name__)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

_LESS = re.compile(r"^<\s*=?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")
_GREATER = re.compile(r"^>\s*=?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")
#: codes meaning "below detection, limit not given" (compared upper-case, spaces removed)
NO_LIMIT_CODES = {"BDL", "B.D.L.", "<DL", "<LOD", "<LD", "<D.L.", "ND", "N.D.", "N.D", "NOTDETECTED", "<LLD", "BLD", "DL"}
#: codes meaning "not analysed" (NaN, not censored)
MISSING_CODES = {"", "NA", "N.A.", "N/A", "NAN", "-", "--", "NOTANALYSED", "NOTANALYZED", "NS", "N.S.", "NULL", "NONE"}
#: flag-column values meaning "this row is below detection"
FLAG_TRUE = {"<", "1", "Y", "YES", "T", "TRUE", "BDL", "ND", "N.D.", "<DL", "L", "LT", "CENSORED"}


@dataclass
class CensoredColumn:
    """One element column after parsing.

    Attributes:
        values: (N,) float64 measured values; NaN where censored or not analysed.
        censored: (N,) bool, True for a below-detection value.
        limit: (N,) float64 detection limit of each censored row (NaN elsewhere, or unknown).
        counts: how many rows had each form ("less_than", "negative", "code", "flag", "over",
            "missing", "zero").
    """

    values: np.ndarray
    censored: np.ndarray
    limit: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_censored(self) -> int:
        return int(self.censored.sum())

    @property
    def limits_seen(self) -> list[float]:
        """Sorted distinct detection limits given in the column."""
        lim = self.limit[self.censored & np.isfinite(self.limit)]
        return sorted({float(v) for v in lim})


def _norm(text: str) -> str:
    return text.strip().upper().replace(" ", "")


def parse_censored(
    series: pd.Series,
    *,
    column: str = "",
    path: str | Path | None = None,
    row_numbers: np.ndarray | None = None,
    flag: pd.Series | None = None,
    negative_is_censored: bool = True,
    unknown_limit: str = "min_limit",
    detection_limit: float | None = None,
) -> CensoredColumn:
    """Parse one raw element column (strings or numbers) into values + a censoring mask.

    Args:
        series: the raw column (any dtype; strings are stripped).
        column, path, row_numbers: for error messages (row_numbers: (N,) 1-based source rows).
        flag: optional flag column of the same length; a true flag marks the row as censored,
            its value being the detection limit (0 or empty = limit not given).
        negative_is_censored: read ``-x`` as "below x"; False makes a negative value an error.
        unknown_limit: "min_limit" (the stated, else smallest seen, else smallest reported value)
            or "missing".
        detection_limit: the element's stated detection limit, for censored rows without one.

    Raises:
        CensoredValueError: a cell is not a number, a censored form, nor a missing code.
    """
    if unknown_limit not in ("min_limit", "missing"):
        raise ParameterError(f"unknown_limit must be 'min_limit' or 'missing', got {unknown_limit!r}", hint="--unknown-limit min_limit|missing")
    n = len(series)
    rows = np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers)
    raw = series.astype("string").fillna("").str.strip().to_numpy(dtype=object)
    values = np.full(n, np.nan)
    censored = np.zeros(n, dtype=bool)
    limit = np.full(n, np.nan)
    counts = {"less_than": 0, "negative": 0, "code": 0, "flag": 0, "over": 0, "missing": 0, "zero": 0, "zero_flagged": 0}
    num = pd.to_numeric(pd.Series(raw, dtype="string"), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    flags, na_flag, other_flag = _read_flags(flag, n, column, path)
    for i in range(n):
        text = raw[i]
        v = num[i]
        if flags is not None and flags[i]:
            censored[i] = True
            counts["flag"] += 1
            if math.isfinite(v) and v != 0:
                limit[i] = abs(v)
            continue
        if flags is not None and na_flag[i]:
            counts["missing"] += 1
            continue
        if flags is not None and other_flag[i] and (v == 0 or _norm(text) in MISSING_CODES):
            counts["zero_flagged"] += 1
            continue
        value, is_censored, lim, kind = _parse_cell(text, v, column, path, rows[i], negative_is_censored)
        values[i], censored[i], limit[i] = value, is_censored, lim
        if kind is not None:
            counts[kind] += 1
    col = CensoredColumn(values, censored, limit, counts)
    unknown = censored & ~np.isfinite(limit)
    if unknown.any():
        _fill_unknown_limits(col, unknown, unknown_limit, detection_limit)
    if counts["zero_flagged"]:
        col.warnings.append(f"{counts['zero_flagged']} values of 0 carry a flag that is neither censoring nor 'not analysed': set missing")
    if counts["zero"]:
        col.warnings.append(f"{counts['zero']} values are exactly 0 (not flagged as censored): a log transform will reject them")
    return col


def _read_flags(
    flag: pd.Series | None, n: int, column: str, path: str | Path | None
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(N,) bool masks of a flag column: censoring flag, 'not analysed' flag, any other flag (all None without one)."""
    if flag is None:
        return None, None, None
    if len(flag) != n:
        raise ParameterError(f"{column}: the flag column has {len(flag)} rows, the value column {n}", path=path, hint="pass a flag series of the same length (--flag-columns ELEMENT=FLAGCOLUMN)")
    keys = ["" if pd.isna(f) else _norm(str(f)) for f in flag]
    flags = np.array([k in FLAG_TRUE for k in keys])
    na_flag = np.array([k in MISSING_CODES and k != "" for k in keys])
    other_flag = np.array([k != "" and not t and not m for k, t, m in zip(keys, flags, na_flag)])
    return flags, na_flag, other_flag


def _parse_cell(
    text: str, v: float, column: str, path: str | Path | None, row: object, negative_is_censored: bool
) -> tuple[float, bool, float, str | None]:
    """One unflagged cell -> (value, censored, detection limit, count key or None); ``v`` is ``text`` as a number or NaN."""
    nan = float("nan")
    if math.isfinite(v):
        if v < 0:
            if not negative_is_censored:
                raise CensoredValueError(
                    f"column {column!r} holds a negative value {text!r}",
                    path=path, row=int(row),
                    hint="negative values are read as 'below detection' only with negative censoring on (points.negative_censored: true in a run config, negative-censored on the command line)",
                )
            return nan, True, -v, "negative"
        return v, False, nan, "zero" if v == 0 else None
    key = _norm(text)
    if key in MISSING_CODES:
        return nan, False, nan, "missing"
    m = _LESS.match(text)
    if m:
        lim = float(m.group(1))
        if lim <= 0:
            raise CensoredValueError(
                f"column {column!r}: detection limit in {text!r} is not positive",
                path=path, row=int(row), hint="a detection limit must be > 0: fix the value",
            )
        return nan, True, lim, "less_than"
    if key in NO_LIMIT_CODES:
        return nan, True, nan, "code"
    m = _GREATER.match(text)
    if m:
        return float(m.group(1)), False, nan, "over"
    hint = "fix or blank the value"
    if "," in text:
        hint = "decimal commas are not read as numbers: convert them to points"
    raise CensoredValueError(
        f"column {column!r} holds {text!r}, which is neither a number, a censored value ('<0.5', 'BDL', 'n.d.') nor empty",
        path=path, row=int(row), hint=hint,
    )


def _fill_unknown_limits(col: CensoredColumn, unknown: np.ndarray, unknown_limit: str, detection_limit: float | None) -> None:
    """Give censored rows without a stated limit one (see the module docstring), or set them missing."""
    n = int(unknown.sum())
    if unknown_limit == "missing":
        col.warnings.append(f"{n} censored values without a stated limit are set missing as asked (unknown_limit='missing')")
        col.censored[unknown] = False
        return
    known = col.limit[col.censored & np.isfinite(col.limit)]
    detected = col.values[np.isfinite(col.values) & (col.values > 0)]
    if detection_limit is not None:
        lim, why = float(detection_limit), f"the stated detection limit ({float(detection_limit):g})"
    elif known.size:
        lim, why = float(known.min()), f"the smallest limit seen ({known.min():g})"
    elif detected.size:
        lim, why = float(detected.min()), f"the smallest reported value of the element ({detected.min():g}), no limit being stated: set one in detection_limits"
    else:
        col.warnings.append(f"{n} censored values without a stated limit are set missing: the column has no limit and no detected value")
        col.censored[unknown] = False
        return
    col.limit[unknown] = lim
    col.warnings.append(f"{n} censored values without a stated limit get {why}")


def substitute(col: CensoredColumn, fraction: float = 0.5) -> np.ndarray:
    """Values with each censored entry replaced by ``fraction`` × its detection limit."""
    if not (0 < fraction <= 1):
        raise ParameterError(f"fraction of the detection limit must be in (0, 1], got {fraction}", hint="--fraction (CLI) or points.fraction (run config), e.g. 0.5")
    out = col.values.copy()
    out[col.censored] = fraction * col.limit[col.censored]
    return out


@dataclass(frozen=True)
class CohenFit:
    """Maximum-likelihood fit of a left-censored normal distribution (of log10 values)."""

    mu: float
    sigma: float
    lam: float | None  # Cohen's lambda (single limit only)
    method: str  # "cohen" (single limit) or "mle" (several limits)


def cohen_estimate(observed: np.ndarray, n_censored: int, limit: float) -> CohenFit:
    """Cohen's (1959) MLE of (mu, sigma) for a normal sample singly left-censored at ``limit``.

    With n = m + c values of which c lie below ``limit`` and m are observed (mean x̄, variance s²
    with divisor m), the estimates are μ = x̄ − λ(x̄ − x0), σ² = s² + λ(x̄ − x0)², where λ = Y/(Y − ξ),
    Y = (c/m)·φ(ξ)/Φ(ξ) and ξ = (x0 − μ)/σ solves γ = s²/(x̄ − x0)² = (1 + Yξ − Y²)/(Y − ξ)².
    Cohen tabulated λ(h, γ); here ξ is found exactly by root finding.
    """
    x = np.asarray(observed, dtype=np.float64)
    m, c = x.size, int(n_censored)
    if m < 2:
        raise CensoringError(f"Cohen's method needs at least 2 detected values, got {m}", hint="use censored='half' for this element")
    if c == 0:
        return CohenFit(float(x.mean()), float(x.std()), 0.0, "cohen")
    xbar = float(x.mean())
    s2 = float(x.var())
    d = xbar - limit
    if d <= 0:
        raise CensoringError(
            "the mean of the detected values is not above the detection limit",
            hint="check the limits (units?) or use censored='half'",
        )
    gamma = s2 / d**2
    ratio = c / m

    def y_of(xi):
        # phi/Phi through logs (scipy.special.log_ndtr): stable for very negative xi
        return ratio * np.exp(-0.5 * np.square(xi) - _LOG_SQRT_2PI - special.log_ndtr(xi))

    def g(xi):
        y = y_of(xi)
        return (1 + y * xi - y * y) / (y - xi) ** 2 - gamma

    lo, hi = -12.0, 12.0
    grid = np.linspace(lo, hi, 241)
    vals = g(grid)
    sign = np.nonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))[0]
    if sign.size == 0:
        raise CensoringError(
            f"Cohen's equations have no solution (censored fraction {c / (m + c):.2f}, gamma {gamma:.3g})",
            hint="use censored='half' for this element",
        )
    j = int(sign[0])
    xi = optimize.brentq(lambda t: float(g(t)), grid[j], grid[j + 1], xtol=1e-14)
    y = float(y_of(xi))
    lam = y / (y - xi)
    mu = xbar - lam * d
    sigma = math.sqrt(s2 + lam * d * d)
    return CohenFit(mu, sigma, lam, "cohen")


def censored_mle(observed: np.ndarray, limits: np.ndarray) -> CohenFit:
    """MLE of (mu, sigma) of a normal sample left-censored at several limits (numerical).

    Cohen's method covers one limit; with several limits the same likelihood
    Σ log φ((x−μ)/σ) − m log σ + Σ_censored log Φ((L_i−μ)/σ) is maximised numerically.
    """
    x = np.asarray(observed, dtype=np.float64)
    lim = np.asarray(limits, dtype=np.float64)
    if x.size < 2:
        raise CensoringError(f"estimating censored values needs at least 2 detected values, got {x.size}", hint="use censored='half'")

    def nll(p: np.ndarray) -> float:
        mu, ls = p
        s = math.exp(ls)
        return -(stats.norm.logpdf(x, mu, s).sum() + stats.norm.logcdf(lim, mu, s).sum())

    start = np.array([x.mean(), math.log(max(x.std(), 1e-6))])
    res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    return CohenFit(float(res.x[0]), float(math.exp(res.x[1])), None, "mle")


def conditional_mean_below(mu: float, sigma: float, limit: np.ndarray) -> np.ndarray:
    """E[Z | Z < limit] for Z ~ N(mu, sigma²): mu − sigma·φ(ξ)/Φ(ξ), ξ = (limit − mu)/sigma."""
    xi = (np.asarray(limit, dtype=np.float64) - mu) / sigma
    return mu - sigma * np.exp(-0.5 * xi * xi - _LOG_SQRT_2PI - special.log_ndtr(xi))


def replace_censored(col: CensoredColumn, method: str = "half", fraction: float = 0.5) -> tuple[np.ndarray, dict]:
    """Replace censored values; returns (values, details for the report).

    Args:
        col: a parsed column.
        method: "half" (limit/2), "fraction" (``fraction`` × limit), "cohen" (Cohen's MLE on log10
            values, censored values replaced by 10**E[log10 X | below the limit]) or "missing".
    """
    n_det = int(np.isfinite(col.values).sum())
    if col.n_censored and n_det == 0:
        raise CensoringError(
            f"every analysed value ({col.n_censored}) is below detection",
            hint="drop this element from the element list; it carries no information",
        )
    if method == "half":
        return substitute(col, 0.5), {"method": "half"}
    if method == "fraction":
        return substitute(col, fraction), {"method": "fraction", "fraction": fraction}
    if method == "missing":
        out = col.values.copy()
        return out, {"method": "missing"}
    if method != "cohen":
        raise ParameterError(f"censored method must be half, fraction, cohen or missing, got {method!r}", hint="--censored (CLI) or points.censored (run config)")
    out = col.values.copy()
    if col.n_censored == 0:
        return out, {"method": "cohen", "note": "nothing censored"}
    det = out[np.isfinite(out)]
    if (det <= 0).any():
        raise CensoringError(
            f"{int((det <= 0).sum())} detected values are <= 0, so log10 values cannot be fitted",
            hint="flag zeros as censored (flag column) or use censored='half'",
        )
    lims = col.limit[col.censored]
    logx = np.log10(det)
    loglim = np.log10(lims)
    if np.unique(lims).size == 1:
        fit = cohen_estimate(logx, lims.size, float(loglim[0]))
    else:
        fit = censored_mle(logx, loglim)
    out[col.censored] = 10.0 ** conditional_mean_below(fit.mu, fit.sigma, loglim)
    info = {"method": "cohen", "fit": fit.method, "log10_mu": fit.mu, "log10_sigma": fit.sigma}
    if fit.lam is not None:
        info["lambda"] = fit.lam
    return out, info
