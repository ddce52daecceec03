"""``python -m chaos``: see chaos/run.py."""

import sys

from chaos.run import main

if __name__ == "__main__":
    sys.exit(main())
