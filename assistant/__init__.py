"""secondme's application core: no Qt here. The CLI, the GUI and the local API all build on it."""

import storage.offline  # noqa: F401  (keep every library off the network before anything else loads)

# isort: split

from plugins.api import host_version

__version__ = host_version()
