"""The ``workbench`` command (and ``python -m workbench``): the code cache first, then the CLI.

``code_cache`` goes in before anything else is imported, so the classes every start makes (the
workbench's, aiohttp's, Textual's) come from it (``code_cache.py``).
"""

import sys

from . import code_cache


def main() -> int:
    code_cache.install()
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
