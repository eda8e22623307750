"""``etcdmon desktop install|uninstall``: etcdmon in this user's application menu.

``install`` writes the desktop entry and the icon under ``$XDG_DATA_HOME`` (see
``store.desktop_entry``), starting the ``etcdmon-gui`` beside this program (the
bundle's, or the one pip installed) unless ``--exec`` names another; ``uninstall``
removes them. Each prints the files it wrote or removed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from etcdmon_gui.cli.common import EXIT_OK, USAGE_CODE, add_command
from etcdmon_gui.store import desktop_entry
from etcdmon_gui.store.desktop_entry import DesktopEntryError


def cmd_install(args: argparse.Namespace) -> int:
    exec_path = args.exec_path or desktop_entry.default_exec_path()
    if exec_path is None:
        raise DesktopEntryError(
            f"cannot find {desktop_entry.GUI_NAME} next to this program; give its path with --exec"
        )
    written = desktop_entry.install(Path(exec_path).absolute(), args.data_home)
    for path in written:
        print(f"wrote {path}")
    print(f"etcdmon is in your application menu now; it starts {Path(exec_path).absolute()}")
    return EXIT_OK


def cmd_uninstall(args: argparse.Namespace) -> int:
    removed = desktop_entry.uninstall(args.data_home)
    for path in removed:
        print(f"removed {path}")
    if not removed:
        print("nothing to remove: etcdmon's desktop entry is not installed")
    return EXIT_OK


def register(sub: Any) -> None:
    desk = add_command(
        sub,
        "desktop",
        help="add etcdmon to (or remove it from) your desktop's application menu",
        description="Add etcdmon to your desktop's application menu, for you only: a "
        "desktop entry in $XDG_DATA_HOME/applications and its icon in "
        "$XDG_DATA_HOME/icons/hicolor (Linux desktops).",
        codes=f"  0  done\n{USAGE_CODE}, or the files cannot be written",
        example="etcdmon desktop install",
    )
    dsub = desk.add_subparsers(dest="desktop_command", required=True, metavar="ACTION")
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument(
        "--data-home",
        type=Path,
        metavar="DIR",
        help="install under DIR instead of $XDG_DATA_HOME (~/.local/share)",
    )
    install = dsub.add_parser(
        "install", parents=[home], help="write the desktop entry and the icon"
    )
    install.add_argument(
        "--exec",
        dest="exec_path",
        metavar="PATH",
        help="the etcdmon-gui to start (default: the one beside this program)",
    )
    install.set_defaults(func=cmd_install)
    uninstall = dsub.add_parser("uninstall", parents=[home], help="remove what install wrote")
    uninstall.set_defaults(func=cmd_uninstall)
