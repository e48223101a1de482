"""The `geoprospect` command line: one subcommand per stage, plus `run` for the whole pipeline.

Subcommands live in their own modules (``cmd_*.py`` or ``commands.py``); each is registered
below with one line.
"""

from __future__ import annotations

from geoprospect.cli.app import cli, main
from geoprospect.cli import commands

for _cmd in commands.COMMANDS:
    cli.add_command(_cmd)

from geoprospect.cli import cmd_prepare, cmd_select  # noqa: E402  (geochemistry: prepare-geochem, select-elements)

for _cmd in (cmd_prepare.prepare_geochem, cmd_select.select_elements_cmd):
    cli.add_command(_cmd)

from geoprospect.cli import cmd_evidence  # noqa: E402  (density, geology)

for _cmd in cmd_evidence.COMMANDS:
    cli.add_command(_cmd)

__all__ = ["cli", "main"]
