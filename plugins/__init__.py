"""The plugin layer: hook specifications, the loader, and the built-in plugins."""
