"""Markdown table of benchmarks/results/skill.json (one section per area)."""

from __future__ import annotations

from pathlib import Path

COLS = [("success_rate_auc", "SR-AUC", 3), ("capture_top_5pct", "top 5 %", 0), ("capture_top_10pct", "top 10 %", 0), ("capture_top_20pct", "top 20 %", 0)]


def _cell(s: dict, key: str, nd: int) -> str:
    m, sd = s[key]["mean"], s[key]["sd"]
    if nd == 0:
        return f"{100 * m:.0f} ± {100 * sd:.0f}"
    return f"{m:.{nd}f} ± {sd:.{nd}f}"


def table(area: dict) -> str:
    lines = ["| candidate | role | " + " | ".join(c[1] for c in COLS) + " | s per layout (5 folds) | chosen (nested) |", "|---" * (len(COLS) + 4) + "|"]
    for name, r in area.items():
        if not isinstance(r, dict) or "summary" not in r:
            continue
        s = r["summary"]
        ch = sorted({c for lay in r["layouts"] for c in lay.get("chosen", []) if c})
        lines.append(f"| {name} | {r['role']} | " + " | ".join(_cell(s, k, nd) for k, _, nd in COLS) + f" | {s['seconds']['mean']:.0f} | {', '.join(ch)[:60]} |")
    return "\n".join(lines)


def write(res: dict, path: Path, preamble: str = "") -> None:
    parts = [preamble] if preamble else []
    for an, area in res.items():
        head = f"### {an}: {area.get('n_deposits')} deposits, {area.get('cells_ranked')} cells ranked, blocks {area.get('block_cells')} cells, buffer {area.get('buffer_cells')}, {area.get('folds')} folds × 3 layouts"
        parts += [head, "", table(area), ""]
    path.write_text("\n".join(parts))
