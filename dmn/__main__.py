import sys

from dmn.cli import main

sys.exit(main())
