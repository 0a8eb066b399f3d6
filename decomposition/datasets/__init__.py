"""Built-in datasets beside the data they read: Spain's first wave, the US states, the national
generator, the examples; `load_instance` turns any reference (built-in name, CSV directory, JSON
file) into an `Instance`.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "catalogue": ["BUILTIN", "DatasetOptions", "EXAMPLES_DIR", "load_instance"],
        "national": ["national_instance"],
        "spain": ["spain_instance"],
        "us_states": ["us_states_instance"],
    },
)
