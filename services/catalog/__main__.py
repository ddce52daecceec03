"""`python -m services.catalog [serve|provision|migrate|republish|dlq-reprocess|asyncapi]`"""

import sys

from services.catalog.app import SPEC
from shared.cli import service_main


def main() -> None:
    sys.exit(service_main(SPEC))


if __name__ == "__main__":
    main()
