"""``python -m etcdmon_gui.app``: the desktop application, as ``etcdmon-gui``."""

import sys

from etcdmon_gui.app.main import main

sys.exit(main())
