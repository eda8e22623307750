"""The bundle's ``etcdmon-gui``: the desktop app (PyInstaller's entry script)."""

import sys

from etcdmon_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
