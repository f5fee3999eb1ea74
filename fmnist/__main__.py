import sys

from fmnist.cli.main import main

sys.exit(main())
