"""python -m reports: see reports/cli.py."""
import sys

from reports.cli import main

sys.exit(main())
