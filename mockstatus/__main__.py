import sys

from mockstatus.cli import main

sys.exit(main())
