"""The built-in plugins. Each entry is "module:object", exactly like a `secondme.plugins` entry point."""

BUILTINS = (
    ("poisoning-guard", "plugins.builtin.poisoning:PoisoningGuard"),
    ("conflict-checker", "plugins.builtin.conflicts:ConflictChecker"),
    ("integrations", "plugins.builtin.integrations:Integrations"),
    ("memory-tools", "plugins.builtin.tools:MemoryTools"),
)
