"""The bundle's ``etcdmon``: the command line (PyInstaller's entry script)."""

import sys

from etcdmon_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
