"""Where the program keeps its files: the user's config file and its data folder.

A leaf module so that any layer (venue metadata caches, history, the UI's save key) can
find these folders without importing the config loader above it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("cascade-tui")) / "config.toml"


def data_dir() -> Path:
    """CASCADE_DATA_DIR if set (tests and portable installs), else the platform's data folder."""
    return Path(os.environ.get("CASCADE_DATA_DIR") or platformdirs.user_data_dir("cascade-tui"))
