"""Command-line interface (filled in by the pipeline stages)."""


def main() -> None:  # pragma: no cover - replaced below
    raise SystemExit("not yet")
