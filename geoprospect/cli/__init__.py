"""The `geoprospect` command line: one subcommand per stage, plus `run` for the whole pipeline.

Subcommands live in their own modules (``cmd_*.py`` or ``commands.py``); each is registered
below with one line.
"""

from __future__ import annotations

from geoprospect.cli.app import cli, main
from geoprospect.cli import commands

for _cmd in commands.COMMANDS:
    cli.add_command(_cmd)

from geoprospect.cli.cmd_evaluate_cv import evaluate_cv  # noqa: E402
from geoprospect.cli.cmd_ensemble import ensemble  # noqa: E402

cli.add_command(evaluate_cv)
cli.add_command(ensemble)

__all__ = ["cli", "main"]
