"""Theme files, the stylesheet's use of theme variables, and the text formatters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cascade_tui.ui import format as fmt
from cascade_tui.ui.themes import APP_VARIABLE_DEFAULTS, THEMES_DIR, ThemeError, load_theme_file, load_themes

TCSS = Path(__file__).resolve().parents[2] / "cascade_tui" / "ui" / "app.tcss"


def test_bundled_themes_load_with_every_app_colour() -> None:
    loaded = load_themes()
    assert loaded.errors == []
    names = {t.name for t in loaded.themes}
    assert {"cascade-dark", "cascade-light", "cascade-contrast"} <= names
    for theme in loaded.themes:
        assert set(APP_VARIABLE_DEFAULTS) <= set(theme.variables), theme.name
        # a theme is one file, named after the theme
        assert (THEMES_DIR / f"{theme.name}.toml").exists()


def test_a_bad_theme_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text('name = "ok"\nprimary = "#336699"\n')
    (tmp_path / "bad.toml").write_text(
        'name = "bad"\nprimary = "#336699"\n[variables]\nlong-liq = "reddish"\n'
    )
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimery = "#336699"\n')
    (tmp_path / "broken.toml").write_text("name = \n")
    loaded = load_themes(tmp_path)
    assert [t.name for t in loaded.themes] == ["ok"]
    joined = "\n".join(loaded.errors)
    assert "bad.toml: variables.long-liq: 'reddish' is not a colour" in joined
    assert "typo.toml: primery: unknown key" in joined
    assert "broken.toml" in joined
    with pytest.raises(ThemeError, match="primary: required"):
        (tmp_path / "noprimary.toml").write_text('name = "x"\n')
        load_theme_file(tmp_path / "noprimary.toml")


def test_stylesheet_uses_only_theme_variables() -> None:
    css = re.sub(r"/\*.*?\*/", "", TCSS.read_text(), flags=re.S)
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", css), "hard-coded hex colour in app.tcss"
    assert not re.search(r"\b(rgb|hsl)a?\(", css)
    used = set(re.findall(r"\$([a-z][a-z0-9-]*)", css))
    textual_base = {
        "background",
        "surface",
        "panel",
        "foreground",
        "primary",
        "secondary",
        "accent",
        "error",
        "warning",
        "success",
    }
    assert used <= textual_base | set(APP_VARIABLE_DEFAULTS), used - textual_base - set(APP_VARIABLE_DEFAULTS)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "$0"), (950, "$950"), (12_345, "$12.3k"), (2_340_000, "$2.34M"), (1.5e9, "$1.5B"), (None, "—")],
)
def test_usd(value: float | None, text: str) -> None:
    assert fmt.usd(value) == text


def test_durations_ages_and_clock() -> None:
    assert fmt.duration(59) == "59s"
    assert fmt.duration(3725) == "1h02m"
    assert fmt.duration(None) == "—"
    assert fmt.age(0.25) == "0.2s"
    assert fmt.clock(1_767_225_600.0 + 3661) == "01:01:01"


def test_bar_and_sparkline_are_exact_width() -> None:
    assert fmt.bar(0.5, 8) == "████░░░░"
    assert fmt.bar(1.5, 4) == "████"
    assert fmt.bar(float("nan"), 3) == "░░░"
    spark = fmt.sparkline([0.0] * 250 + [1.0, 5.0, 10.0] * 10, 20)
    assert len(spark) == 20
    assert spark[-1] == "█" and spark[0] == "▁"  # anchored at zero: quiet stays low
    assert fmt.sparkline([], 5) == "     "


def test_the_widest_tape_floor_names_the_engines_own_floor() -> None:
    """The tape's last floor step said "all sizes" while the engine keeps no print under $10k."""
    import msgspec

    from cascade_tui.engine.params import EngineParams
    from cascade_tui.ui.view_state import ViewState

    view = ViewState(params=EngineParams(), tape_min_usd={})
    view.tape_floor_step = 3
    assert view.tape_floor_label() == "all the engine keeps (≥ $10k)"
    view.params = msgspec.structs.replace(EngineParams(), tape_min_usd=0.0)
    assert view.tape_floor_label() == "all sizes"


def test_why_reads_as_words() -> None:
    """The score detail and the signal log show `why` (DESIGN §5.1) as a short phrase."""
    quiet = {"trigger": "none", "held_by": "burst", "burst_x": 0.007}
    assert fmt.why_short(quiet) == "no trigger · next held by burst"
    assert fmt.why_text(quiet) == "no trigger · next held by burst · burst_x 0.007"
    fired = {"trigger": "burst", "context": "near_cluster", "score_held_by": "score", "quick_prints": 3}
    assert fmt.why_text(fired) == "by burst · with near_cluster · score held by score · quick_prints 3"
