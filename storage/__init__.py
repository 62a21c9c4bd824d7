"""Persistence: SQLite (the source of truth), its migrations, and the indexes derived from it."""
