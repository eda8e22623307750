"""The bundle's one entry script (PyInstaller): ``etcdmon-gui`` (the desktop app) and
``etcdmon`` (the command line) are one program, told apart by the name it was started
by. On Linux and macOS ``etcdmon`` is a symbolic link to ``etcdmon-gui`` (one copy of
the bootloader and the Python archive instead of two); on Windows, where console and
windowed programs differ, they are two executables built from this same script."""

import sys
from pathlib import Path


def main() -> int:
    name = Path(sys.argv[0]).name.lower() if sys.argv and sys.argv[0] else ""
    if name.startswith("etcdmon-gui"):
        from etcdmon_gui.app import main as gui_main

        return gui_main()
    from etcdmon_gui.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
