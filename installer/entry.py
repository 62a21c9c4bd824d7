"""Entry point of the frozen app (PyInstaller): the same `secondme` command as the pip install."""

import multiprocessing

from assistant.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
