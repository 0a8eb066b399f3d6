"""The `surgeplan` command line: one module per command family, the options they share declared once.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "main": ["app"],
    },
)
