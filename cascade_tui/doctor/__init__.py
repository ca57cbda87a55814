"""`cascade-tui doctor`: connect to each venue through the live path and say what works.

probe.py runs it (the live source's plans, the one connection loop, the venue parsers, the
project's recorder), report.py turns the run into the verdict and the `--json` document,
render.py prints the table, cli.py is the command.
"""
