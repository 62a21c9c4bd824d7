"""secondme's application core: no Qt here. The CLI, the GUI and the local API all build on it."""

import storage.offline  # noqa: F401  (keep every library off the network before anything else loads)

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("secondme")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"
