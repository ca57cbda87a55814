"""Theme files (cascade_tui/themes/*.toml) -> validated `textual.theme.Theme` objects.

A theme is one TOML file: Textual's base colours at top level and the app's own colours
(liquidation sides, signal levels, regimes, tape size tiers, feed states) under
`[variables]`. Missing app colours fall back to `APP_VARIABLE_DEFAULTS`, so a theme written
for plain Textual still renders; a malformed colour is refused with the file and key named.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from textual.color import Color, ColorParseError
from textual.theme import Theme

THEMES_DIR: Final = Path(__file__).resolve().parent.parent / "themes"
DEFAULT_THEME: Final = "cascade-dark"

APP_VARIABLE_DEFAULTS: Final[dict[str, str]] = {
    "long-liq": "#FF6B6B",
    "short-liq": "#3FB950",
    "level-none": "#6E7681",
    "level-watch": "#E3B341",
    "level-warning": "#F0883E",
    "level-critical": "#FF4D4D",
    "regime-dormant": "#6E7681",
    "regime-low": "#58A6FF",
    "regime-normal": "#3FB950",
    "regime-high": "#F0883E",
    "regime-extreme": "#FF4D4D",
    "tier-100k": "#79C0FF",
    "tier-1m": "#E3B341",
    "tier-10m": "#FF6AC1",
    "state-live": "#3FB950",
    "state-stale": "#E3B341",
    "state-down": "#F85149",
    "dim-text": "#7D8590",
}

_COLOUR_KEYS: Final = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class LoadedThemes:
    themes: list[Theme]
    errors: list[str]


def _colour(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{where}: expected a colour string")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{where}: {value!r} is not a colour") from None
    return value


def theme_from_mapping(data: dict[str, object], source: str) -> Theme:
    """Build a Theme from a parsed TOML mapping, validating every colour."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeError(f"{source}: name: required")
    known = {"name", "dark", "variables", *_COLOUR_KEYS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeError(f"{source}: {unknown[0]}: unknown key")
    if "primary" not in data:
        raise ThemeError(f"{source}: primary: required")
    colours = {k: _colour(data[k], f"{source}: {k}") for k in _COLOUR_KEYS if k in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{source}: dark: expected true or false")
    raw_vars = data.get("variables", {})
    if not isinstance(raw_vars, dict):
        raise ThemeError(f"{source}: variables: expected a table")
    variables = dict(APP_VARIABLE_DEFAULTS)
    for key, value in raw_vars.items():
        variables[str(key)] = _colour(value, f"{source}: variables.{key}")
    return Theme(
        name=name,
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        dark=dark,
        variables=variables,
    )


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path.name}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: {exc}") from None
    return theme_from_mapping(data, path.name)


def load_themes(directory: Path = THEMES_DIR) -> LoadedThemes:
    """Every *.toml theme in a directory, sorted by name; bad files are reported, not fatal."""
    themes: list[Theme] = []
    errors: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            themes.append(load_theme_file(path))
        except ThemeError as exc:
            errors.append(str(exc))
    return LoadedThemes(themes, errors)
