import sys

from emoshift.cli import main

sys.exit(main())
