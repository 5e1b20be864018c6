import sys

from cmlkit.cli import main

sys.exit(main())
