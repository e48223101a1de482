"""The `geoprospect` command line: one subcommand per stage, plus `run` for the whole pipeline.

Commands only parse options and call the library. One module per command group:
``evidence`` (interpolate, distance, density, geology, stack), ``geochem`` (prepare-geochem,
select-elements, kriging-cv), ``modelling`` (tile, train, predict, evaluate, evaluate-cv,
models), ``classic`` (weights-of-evidence, fuzzy), ``ensemble``, ``run`` (run, config-schema);
shared options in ``options``.
"""

from __future__ import annotations

from geoprospect.cli import classic, ensemble, evidence, geochem, modelling, run
from geoprospect.cli.app import cli, main

for _group in (evidence, geochem, modelling, classic, ensemble, run):
    for _cmd in _group.COMMANDS:
        cli.add_command(_cmd)

__all__ = ["cli", "main"]
