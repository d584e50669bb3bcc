"""``python -m cli``: the same command as ``plantwin``."""

from cli.main import main

main()
