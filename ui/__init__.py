"""The desktop app: a thin PySide6 layer over the services of assistant.app.App (never SQL or Chroma)."""
