"""YAML composition that gives the event loop its turns.

`yaml.compose` with the C loader builds the whole node tree in one C call: it holds the GIL for
the whole file (a 1 MiB file with 10,000 routes: over a second here), so loading in a worker
thread would still freeze the event loop. `YieldingLoader` keeps libyaml's C *parser* (one
event per call) and PyYAML's Python *composer* on top of it: between events the interpreter may
switch threads (every `sys.getswitchinterval()`, 5 ms), so a build in a worker thread stalls the
loop for milliseconds, not seconds. Same nodes, marks and errors as the C composer. Without
libyaml the pure-Python SafeLoader already yields.
"""

from __future__ import annotations

from typing import Any

import yaml
import yaml.composer
import yaml.constructor
import yaml.resolver

try:
    # Where yaml.cyaml takes it from (yaml.cyaml does not re-export it).
    from yaml._yaml import CParser

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    HAVE_LIBYAML = False


if HAVE_LIBYAML:

    class _YieldingLoader(yaml.composer.Composer, CParser, yaml.resolver.Resolver):
        """C events, Python composition (Composer first in the MRO overrides CParser's)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    YieldingLoader: Any = _YieldingLoader
else:  # pragma: no cover
    YieldingLoader = yaml.SafeLoader
