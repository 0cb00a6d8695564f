import sys

from alpr.cli import main

sys.exit(main())
