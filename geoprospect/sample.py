"""The bundled sample data (a synthetic study area; see sample_data/generate.py)."""

from __future__ import annotations

import os
from pathlib import Path

from geoprospect.errors import InputError


def sample_data_dir() -> Path:
    """Folder of the bundled sample data (GEOPROSPECT_SAMPLE_DATA overrides)."""
    env = os.environ.get("GEOPROSPECT_SAMPLE_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent / "sample_data")
    for c in candidates:
        if (c / "config.yaml").exists():
            return c
    raise InputError(
        "the bundled sample data was not found",
        hint="install geoprospect from its source checkout (pip install -e .), or set GEOPROSPECT_SAMPLE_DATA to the sample_data folder",
    )


def sample_config_path() -> Path:
    return sample_data_dir() / "config.yaml"
