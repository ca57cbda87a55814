"""The Textual dashboard. Entry point: `cascade_tui.ui.app.run_dashboard`.

app.py          the App: frame timers, engine worker, actions, command palette
bindings.py     every key with a stable id (remappable through [ui.keymap])
status_bar.py, replay_bar.py, venue_panel.py, regime_panel.py (+ price_chart.py),
scores_panel.py, tape_panel.py, signal_log.py, health_panel.py     one module per panel
help_screen.py, threshold_editor.py, filter_screen.py               screens and dialogs
themes.py, palette.py, app.tcss     theme files -> Textual themes; colours for Rich cells
view_state.py, format.py            what the user chose to see; text formatting
demo_snapshot.py                    the seeded demo market through the real engine (pictures)
"""
