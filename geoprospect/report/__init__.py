"""The HTML report of a run (PNG figures beside it, readable offline)."""

from geoprospect.report.html import write_report

__all__ = ["write_report"]
