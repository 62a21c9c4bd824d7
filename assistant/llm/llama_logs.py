"""llama.cpp's own log lines go to Python logging (DEBUG), not straight onto the user's terminal.

llama.cpp prints every model load in detail through a C callback; the app shows a one-line error instead and
keeps the last error line the library reported so that message can say why.
"""

from __future__ import annotations

import ctypes
import logging
import threading

import llama_cpp

log = logging.getLogger("llama.cpp")
_ERROR_LEVEL = 3  # GGML_LOG_LEVEL_ERROR
_lock = threading.Lock()
_last_error = ""
_installed = None  # keeps the ctypes callback alive: llama.cpp holds only a raw pointer to it


@llama_cpp.llama_log_callback
def _route(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    global _last_error
    line = text.decode("utf-8", "replace").rstrip()
    if not line:
        return
    if level == _ERROR_LEVEL:
        with _lock:
            _last_error = line
    log.debug("%s", line)


def install() -> None:
    """Route llama.cpp's logs through `_route` (idempotent)."""
    global _installed
    if _installed is None:
        import llama_cpp._logger as upstream

        upstream.set_verbose(False)  # llama-cpp-python's own prints stay quiet too
        llama_cpp.llama_log_set(_route, ctypes.c_void_p(0))
        _installed = _route


def take_last_error() -> str:
    """The last error line llama.cpp logged since the previous call, without its 'func: ' prefix."""
    global _last_error
    with _lock:
        line, _last_error = _last_error, ""
    return line.split(": ", 1)[-1] if ": " in line else line
