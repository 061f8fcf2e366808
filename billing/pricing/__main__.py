"""``python -m billing.pricing``: see billing.pricing.cli."""

import sys

from billing.pricing.cli import main

sys.exit(main())
