"""Fail when a library function is longer than --max lines (issue 12: split by what they do).

    python scripts/function_lengths.py geoprospect --max 80
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def long_functions(root: Path, limit: int) -> list[tuple[str, int, str, int]]:
    """(file, line, name, length) of every function or method longer than ``limit`` lines."""
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > limit:
                    out.append((str(path), node.lineno, node.name, length))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--max", type=int, default=80)
    a = ap.parse_args(argv)
    bad = long_functions(a.root, a.max)
    for path, line, name, n in bad:
        print(f"{path}:{line}: {name} is {n} lines (limit {a.max}): split it by what it does")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
