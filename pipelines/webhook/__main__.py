"""`python -m pipelines.webhook serve [flags]` (the same as `klink webhook serve`)."""

import sys

from .cli import main

sys.exit(main())
