"""The `geoprospect` command line: one subcommand per stage, plus `run` for the whole pipeline.

Subcommands live in their own modules (``cmd_*.py`` or ``commands.py``); each is registered
below.
"""

from __future__ import annotations

from geoprospect.cli.app import cli, main
from geoprospect.cli import cmd_classic, cmd_ensemble, cmd_evaluate_cv, cmd_evidence, cmd_kriging_cv, cmd_prepare, cmd_select, commands

for _cmd in (
    *commands.COMMANDS,  # interpolate, distance, stack, tile, train, predict, evaluate, run, models
    *cmd_evidence.COMMANDS,  # density, geology
    *cmd_classic.COMMANDS,  # weights-of-evidence, fuzzy
    cmd_prepare.prepare_geochem,
    cmd_select.select_elements_cmd,
    cmd_kriging_cv.kriging_cv,
    cmd_evaluate_cv.evaluate_cv,
    cmd_ensemble.ensemble,
):
    cli.add_command(_cmd)

__all__ = ["cli", "main"]
