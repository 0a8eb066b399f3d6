"""The `surgeplan` command line: one module per command family, the options they share declared once.
"""

from tasks.cli.main import app

__all__ = ["app"]
