"""Where the bundled Kingston data lives: inside the installed package (``kst_match/data``,
built from the project's ``data/`` folder), or in ``$KST_MATCH_DATA`` when that is set."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def _bundled() -> Path:
    """The package's data folder on disk (the package is installed as files, never zipped)."""
    return Path(str(files("kst_match") / "data"))


DATA_DIR = Path(os.environ["KST_MATCH_DATA"]) if os.environ.get("KST_MATCH_DATA") else _bundled()
GEO_DIR = DATA_DIR / "geo"
DEFAULT_DAY_DIR = DATA_DIR / "day"
DEPRIVATION_FILE = DATA_DIR / "deprivation" / "imd2019_lsoa.csv"
CACHE_DIR = Path(os.environ.get("KST_MATCH_CACHE", Path.home() / ".cache" / "kst-match"))
