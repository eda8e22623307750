"""The desktop entry: etcdmon in the user's application menu on Linux (freedesktop.org
desktops: GNOME, KDE, Xfce, ...), installed for this user only.

``install`` writes ``<APP_ID>.desktop`` into ``$XDG_DATA_HOME/applications/`` with
``Exec`` set to the ``etcdmon-gui`` it is given (the bundle's binary, or the
virtualenv's script), and the icon into the hicolor theme under ``$XDG_DATA_HOME/icons``
(a PNG per size, and the SVG); each file is written atomically. Then
``update-desktop-database`` and ``gtk-update-icon-cache`` refresh their caches when
they are installed. ``uninstall`` removes exactly those files. packaging/linux holds
the same entry for distributions, with ``Exec=etcdmon-gui``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from etcdmon_gui import APP_ID, resources
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.store.files import atomic_write

log = logging.getLogger(__name__)

GUI_NAME = "etcdmon-gui"
TOOL_TIMEOUT_S = 30.0

# The keys after Exec; a desktop file is UTF-8 with "\n" line ends. StartupWMClass is
# the X11 WM_CLASS class Qt gives windows (the application name that app.main sets);
# on Wayland the app id (Qt's desktopFileName = APP_ID) names this file instead.
_KEYS = f"""[Desktop Entry]
Type=Application
Version=1.4
Name=etcdmon
GenericName=etcd cluster monitor
Comment=Watch etcd clusters: health, live charts, alerts, benchmarks, maintenance
Exec={{exec}}
TryExec={{try_exec}}
Icon={APP_ID}
Terminal=false
Categories=System;Monitor;
Keywords=etcd;cluster;kubernetes;raft;monitor;alerts;
StartupNotify=true
StartupWMClass=etcdmon-gui
"""

# Characters that make an Exec argument need quoting (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopEntryError(ConfigError):
    """The entry cannot be installed or removed; the message says why and what to do."""


def entry_text(exec_path: Path | str) -> str:
    """The desktop file starting ``exec_path`` (a plain command name, or a path)."""
    command = str(exec_path)
    return _KEYS.format(exec=_exec_argument(command), try_exec=_escape_string(command))


def desktop_file(home: Path) -> Path:
    return home / "applications" / f"{APP_ID}.desktop"


def icon_targets(home: Path) -> dict[int | None, Path]:
    """Where each icon file goes in the hicolor theme: size -> PNG, None -> the SVG."""
    hicolor = home / "icons" / "hicolor"
    targets: dict[int | None, Path] = {
        size: hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png" for size in resources.ICON_SIZES
    }
    targets[None] = hicolor / "scalable" / "apps" / f"{APP_ID}.svg"
    return targets


def installed_files(home: Path) -> list[Path]:
    return [desktop_file(home), *icon_targets(home).values()]


def default_exec_path() -> Path | None:
    """The ``etcdmon-gui`` next to the running program: the bundle's binary beside its
    ``etcdmon``, or the script pip installed with this package (a virtualenv's
    ``bin``, the user's ``~/.local/bin``); None when none is found."""
    if resources.frozen():
        candidates = [Path(sys.executable).parent / GUI_NAME]
    else:
        candidates = [Path(sys.argv[0]).parent / GUI_NAME] if sys.argv and sys.argv[0] else []
        candidates.append(Path(sysconfig.get_path("scripts")) / GUI_NAME)
        with contextlib.suppress(KeyError):  # no user scheme on this platform
            candidates.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")) / GUI_NAME)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
    return None


def install(exec_path: Path | str, data_home: Path | None = None) -> list[Path]:
    """Install the entry starting ``exec_path`` for this user; the files written."""
    home = _home(data_home)
    command = Path(exec_path).expanduser()
    if not command.is_absolute():
        raise DesktopEntryError(f"the program to start must be an absolute path, not {command}")
    if not (command.is_file() and os.access(command, os.X_OK)):
        raise DesktopEntryError(f"{command} is not an executable file")
    files: list[tuple[Path, bytes]] = [(desktop_file(home), entry_text(command).encode())]
    files += [
        (target, resources.read_bytes(resources.icon_name(size)))
        for size, target in icon_targets(home).items()
    ]
    written = []
    for target, data in files:
        _write(target, data)
        written.append(target)
    _refresh(home)
    return written


def uninstall(data_home: Path | None = None) -> list[Path]:
    """Remove what ``install`` wrote; the files removed (none: nothing was installed)."""
    home = _home(data_home)
    removed = []
    for target in installed_files(home):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopEntryError(f"cannot remove {target}: {exc.strerror}") from None
        removed.append(target)
    if removed:
        _refresh(home)
    return removed


def _home(data_home: Path | None) -> Path:
    if data_home is not None:
        return data_home
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform):
        raise DesktopEntryError(
            "desktop entries are for Linux desktops; on macOS and Windows use the app bundle"
        )
    return xdg_data_home()


def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or not absolute."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def _write(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` at once, mode 0644 (others read a menu entry)."""
    try:
        atomic_write(target, data, mode=0o644)
    except OSError as exc:
        raise DesktopEntryError(f"cannot write {target}: {exc.strerror or exc}") from None


def _refresh(home: Path) -> None:
    """Refresh the desktop's caches, when their tools are installed. The icon cache of
    the user's hicolor folder is only updated when it exists (as xdg-icon-resource
    does): a cache created here would hide the icons that other programs add later
    without refreshing it."""
    _run("update-desktop-database", "--quiet", str(home / "applications"))
    hicolor = home / "icons" / "hicolor"
    if (hicolor / "icon-theme.cache").exists():
        _run("gtk-update-icon-cache", "--quiet", "--force", "--ignore-theme-index", str(hicolor))


def _run(tool: str, *args: str) -> None:
    binary = shutil.which(tool)
    if binary is None:
        log.debug("%s is not installed; nothing to refresh", tool)
        return
    try:
        done = subprocess.run(
            [binary, *args],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s failed: %s", tool, exc)
        return
    if done.returncode != 0:
        log.warning("%s failed: %s", tool, done.stderr.strip() or f"exit {done.returncode}")


def _exec_argument(command: str) -> str:
    """``command`` as one Exec argument: quoted when it holds a reserved character,
    then escaped as a desktop-file string (``%`` doubled, ``\\`` doubled)."""
    if any(ch in _RESERVED for ch in command):
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in command)
        command = f'"{inner}"'
    return _escape_string(command).replace("%", "%%")


def _escape_string(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )
