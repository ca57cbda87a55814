"""cascade-tui: liquidation-cascade watcher for crypto derivatives."""

__version__ = "0.1.0"
