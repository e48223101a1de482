"""Geochemistry preparation (censored values, outliers, transforms, duplicates), element
selection (SVM AUC + Hanley-McNeil Z_AUC) and factor / PCA scores.

Papers 000-004 (see /work/shared/papers/README.md).
"""

from geoprospect.geochem.censored import CensoredColumn, cohen_estimate, parse_censored, replace_censored
from geoprospect.geochem.prepare import prepare_table, read_geochem
from geoprospect.geochem.report import ElementReport, PrepReport

__all__ = [
    "CensoredColumn",
    "ElementReport",
    "PrepReport",
    "cohen_estimate",
    "parse_censored",
    "prepare_table",
    "read_geochem",
    "replace_censored",
]
