"""``python -m etcdmon_gui.cli``, as the tests run it."""

import sys

from etcdmon_gui.cli import main

sys.exit(main())
