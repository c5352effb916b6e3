"""Where the bundled Kingston data lives (``data/`` at the project root, or ``$KST_MATCH_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("KST_MATCH_DATA", Path(__file__).resolve().parents[2] / "data"))
GEO_DIR = DATA_DIR / "geo"
DEFAULT_DAY_DIR = DATA_DIR / "day"
CACHE_DIR = Path(os.environ.get("KST_MATCH_CACHE", Path.home() / ".cache" / "kst-match"))
