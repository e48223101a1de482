"""The report's calibration section: the figures of :func:`~geoprospect.evaluation.calibration.calibration_report`
as table rows and a reliability diagram (``reliability.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from geoprospect.report import figures

HEAD = ("probability", "Brier score", "ECE", "windows", "positive windows")


def calibration_summary(out: Path, calibration: Mapping) -> tuple[tuple[str, ...], list[list[str]], list[tuple[str, str]], str]:
    """(table head, rows, [(figure file, caption)], note) of the calibration of a run."""
    def num(v):
        return "n/a" if v is None else f"{v:.4f}"

    n, pos = calibration.get("windows", ""), calibration.get("positives", "")
    rows = [["model's own (before)", num(calibration["brier"]["before"]), num(calibration["ece"]["before"]), n, pos],
            [f"calibrated: {calibration['method']} (after, cross-fitted)", num(calibration["brier"]["after"]), num(calibration["ece"]["after"]), n, pos]]
    for m, r in calibration.get("compared", {}).items():
        if m not in (calibration["method"], "none"):
            rows.append([f"compared: {m} (cross-fitted)", num(r["brier"]), num(r["ece"]), n, pos])
    figures.reliability_figure({"before (model's own)": calibration["reliability"]["before"], f"after ({calibration['method']}, cross-fitted)": calibration["reliability"]["after"]},
                               out / "reliability.png")
    note = (f"The map's probability band is calibrated: {calibration['description']}. Before: {calibration.get('before_is', '')}; after: "
            f"{calibration.get('after_is', '')}. ECE: expected calibration error over 10 equal-width probability bins.")
    return HEAD, rows, [("reliability.png", "Reliability diagram, out-of-fold windows")], note
