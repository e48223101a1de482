"""The preparation report: what was censored, replaced, flagged and merged, per element."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from geoprospect.io.atomic import write_json, write_text


@dataclass
class ElementReport:
    """What happened to one element column."""

    element: str
    n: int = 0
    n_missing: int = 0
    n_detected: int = 0
    n_censored: int = 0
    censored_forms: dict[str, int] = field(default_factory=dict)
    limits: list[float] = field(default_factory=list)
    replacement: dict = field(default_factory=dict)
    n_over: int = 0
    outliers_low: int = 0
    outliers_high: int = 0
    fences: tuple[float, float] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def censored_fraction(self) -> float:
        analysed = self.n - self.n_missing
        return self.n_censored / analysed if analysed else 0.0


@dataclass
class PrepReport:
    """Report of :func:`geoprospect.geochem.prepare_table` / :func:`read_geochem`."""

    source: str = ""
    n_rows: int = 0
    elements: dict[str, ElementReport] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    duplicates: dict = field(default_factory=dict)
    dropped_rows: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def censored_counts(self) -> dict[str, int]:
        """Number of censored values per element."""
        return {k: r.n_censored for k, r in self.elements.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, r in self.elements.items():
            d["elements"][k]["censored_fraction"] = r.censored_fraction
        return d

    def to_markdown(self) -> str:
        lines = ["# Geochemistry preparation report", "", f"Source: `{self.source}`  ", f"Rows: {self.n_rows}  "]
        if self.settings:
            lines.append("Settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items()) + "  ")
        if self.dropped_rows:
            lines.append(f"Rows skipped without coordinates: {len(self.dropped_rows)} (lines {self.dropped_rows[:20]})  ")
        if self.duplicates:
            dd = self.duplicates
            lines.append(f"Duplicate locations: {dd.get('n_groups', 0)} groups, {dd.get('n_removed', 0)} samples removed ({dd.get('method')})  ")
        lines += ["", "| element | analysed | detected | censored | censored % | limits | replacement | over range | outliers low/high |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for k, r in self.elements.items():
            lim = ", ".join(f"{v:g}" for v in r.limits[:5]) + (" ..." if len(r.limits) > 5 else "")
            rep = r.replacement.get("method", "") if r.n_censored else "-"
            if r.n_censored and r.replacement.get("method") == "cohen" and "log10_mu" in r.replacement:
                rep += f" (log10 mu={r.replacement['log10_mu']:.3f}, sigma={r.replacement['log10_sigma']:.3f})"
            lines.append(
                f"| {k} | {r.n - r.n_missing} | {r.n_detected} | {r.n_censored} | {100 * r.censored_fraction:.1f} | {lim or '-'} | {rep} | {r.n_over} | {r.outliers_low}/{r.outliers_high} |"
            )
        warns = [f"- {k}: {w}" for k, r in self.elements.items() for w in r.warnings] + [f"- {w}" for w in self.warnings]
        if warns:
            lines += ["", "## Warnings", ""] + warns
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the report atomically: ``.md`` as Markdown, anything else as JSON."""
        path = Path(path)
        if path.suffix.lower() in (".md", ".markdown"):
            return write_text(path, self.to_markdown())
        return write_json(path, self.to_dict())
