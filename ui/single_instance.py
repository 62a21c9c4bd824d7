"""One running app per data folder: a second `secondme` hands its request to the first over a local socket."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
SHOW, QUICK_RECALL = "show", "quick-recall"
MESSAGES = (SHOW, QUICK_RECALL)


def server_name(home: Path) -> str:
    """Per user and per data folder, so a test's temporary home never talks to the user's real app."""
    digest = hashlib.sha1(str(Path(home).resolve()).encode()).hexdigest()[:12]
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
    return f"secondme-{user}-{digest}"


def notify_running(home: Path, message: str) -> bool:
    """Send `message` to the running instance; False when none is running."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(home))
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write((message + "\n").encode())
    socket.flush()
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for requests from later launches; emits each known message on the main thread."""

    message_received = Signal(str)

    def __init__(self, home: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.name = server_name(home)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # only this user may connect
        if not self.server.listen(self.name):
            # A crashed instance can leave its socket file behind; nobody answered, so it is stale.
            QLocalServer.removeServer(self.name)
            self.server.listen(self.name)
        self.server.newConnection.connect(self._accept)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(self._ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            message = bytes(socket.readLine()).decode(errors="replace").strip()
            if message in MESSAGES:
                self.message_received.emit(message)

    def close(self) -> None:
        self.server.close()
