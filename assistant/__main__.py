"""`python -m assistant` is the `secondme` command."""

from assistant.cli import main

main()
