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


def summary(res: dict) -> str:
    """Rows = candidates run on every area; per area: SR-AUC / top-10 % (means over layouts);
    last column: whether the row is above every baseline row in both, on every area."""
    order = ["murchison", "synthetic_few12", "synthetic_mid40", "synthetic_corner12"]
    areas = [a for a in order if a in res] + [a for a in res if a not in order]
    names = [n for n in res[areas[0]] if isinstance(res[areas[0]][n], dict) and all(isinstance(res[a].get(n), dict) for a in areas)]
    best = {a: {k: max(res[a][n]["summary"][k]["mean"] for n in names if res[a][n]["role"] == "baseline") for k in ("success_rate_auc", "capture_top_10pct")} for a in areas}
    lines = ["| candidate | " + " | ".join(f"{a.removeprefix('synthetic_')} SR-AUC / top10" for a in areas) + " | above every baseline everywhere |", "|---" * (len(areas) + 2) + "|"]
    for n in names:
        cells, ok = [], res[areas[0]][n]["role"] != "baseline"
        for a in areas:
            sm = res[a][n]["summary"]
            auc, c10 = sm["success_rate_auc"]["mean"], sm["capture_top_10pct"]["mean"]
            cells.append(f"{auc:.3f} / {100 * c10:.0f} %")
            ok = ok and auc > best[a]["success_rate_auc"] and c10 > best[a]["capture_top_10pct"]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {'yes' if ok else ('baseline' if res[areas[0]][n]['role'] == 'baseline' else 'no')} |")
    return "\n".join(lines)


def write(res: dict, path: Path, preamble: str = "", conclusions: str = "") -> None:
    parts = [preamble] if preamble else []
    parts += ["## Summary (means over 3 layouts; details per area below)", "", summary(res), "", conclusions, "", "## Per area (mean ± sd over the 3 layouts; seconds = wall-clock per layout of 5 folds on the loaded 2-core CPU; blends: members' time)", ""]
    order = ["murchison", "synthetic_few12", "synthetic_mid40", "synthetic_corner12"]
    for an in [a for a in order if a in res] + [a for a in res if a not in order]:
        area = res[an]
        head = f"### {an}: {area.get('n_deposits')} deposits, {area.get('cells_ranked')} cells ranked, blocks {area.get('block_cells')} cells, buffer {area.get('buffer_cells')}, {area.get('folds')} folds × 3 layouts"
        parts += [head, "", table(area), ""]
    path.write_text("\n".join(parts))
    path.with_suffix(".json")  # the data: skill.json beside it
