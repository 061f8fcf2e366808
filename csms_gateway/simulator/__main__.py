"""`python -m csms_gateway.simulator --stations N --protocol 1.6`: see the package's docstring."""

import sys

from csms_gateway.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
