"""The desktop entry: what `etcdmon desktop install` writes passes the freedesktop.org
validator, points at the program it was given, brings every icon size, and uninstall
takes exactly that away."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from etcdmon_gui import APP_ID
from etcdmon_gui.resources import ICON_SIZES
from etcdmon_gui.store import desktop_entry
from etcdmon_gui.store.desktop_entry import DesktopEntryError

ROOT = Path(__file__).resolve().parents[3]
PACKAGED = ROOT / "packaging" / "linux" / f"{APP_ID}.desktop"


def validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.fail(
            "desktop-file-validate is needed: apt-get install desktop-file-utils", pytrace=False
        )
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is no PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def exec_line(desktop: Path) -> str:
    lines = desktop.read_text(encoding="utf-8").splitlines()
    return next(line for line in lines if line.startswith("Exec="))


@pytest.fixture
def program(tmp_path: Path) -> Path:
    """A stand-in for etcdmon-gui, in a folder whose name needs quoting in Exec."""
    path = tmp_path / "my apps" / "etcdmon-gui"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_packaged_entry_is_valid_and_the_installer_writes_the_same() -> None:
    validate(PACKAGED)
    assert PACKAGED.read_text(encoding="utf-8") == desktop_entry.entry_text("etcdmon-gui")


def test_install_writes_a_valid_entry_and_every_icon(tmp_path: Path, program: Path) -> None:
    home = tmp_path / "share"
    written = desktop_entry.install(program, home)

    desktop = home / "applications" / f"{APP_ID}.desktop"
    assert desktop in written
    validate(desktop)
    assert exec_line(desktop) == f'Exec="{program}"'
    for size in ICON_SIZES:
        png = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png in written
        assert png_size(png) == (size, size)
    svg = home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert svg in written and b"<svg" in svg.read_bytes()
    assert len(written) == len(ICON_SIZES) + 2
    assert all(oct(path.stat().st_mode & 0o777) == "0o644" for path in written)
    # Nothing else of ours (no temporary files) is left beside them.
    ours = {p for p in home.rglob("*") if p.is_file() and APP_ID in p.name}
    assert ours == set(written)


def test_uninstall_removes_exactly_what_install_wrote(tmp_path: Path, program: Path) -> None:
    home = tmp_path / "share"
    other = home / "applications" / "someone-else.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\n")

    written = desktop_entry.install(program, home)
    removed = desktop_entry.uninstall(home)

    assert sorted(removed) == sorted(written)
    assert not any(path.exists() for path in written)
    assert other.exists()
    assert desktop_entry.uninstall(home) == []


def test_install_again_replaces_the_entry(tmp_path: Path, program: Path) -> None:
    home = tmp_path / "share"
    desktop_entry.install(program, home)
    moved = tmp_path / "elsewhere" / "etcdmon-gui"
    moved.parent.mkdir()
    shutil.copy2(program, moved)

    desktop_entry.install(moved, home)

    assert exec_line(home / "applications" / f"{APP_ID}.desktop") == f"Exec={moved}"


def test_install_refuses_what_cannot_be_started(tmp_path: Path) -> None:
    with pytest.raises(DesktopEntryError, match="not an executable file"):
        desktop_entry.install(tmp_path / "missing", tmp_path)
    with pytest.raises(DesktopEntryError, match="absolute path"):
        desktop_entry.install("etcdmon-gui", tmp_path)
    assert not (tmp_path / "applications").exists()


def test_install_says_which_file_cannot_be_written(tmp_path: Path, program: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DesktopEntryError, match=r"cannot write .*file/applications"):
        desktop_entry.install(program, blocker)


def test_exec_quoting_follows_the_spec() -> None:
    text = desktop_entry.entry_text('/opt/a "b"/100%/$x\\y')
    assert 'Exec="/opt/a \\\\"b\\\\"/100%%/\\\\$x\\\\\\\\y"' in text.splitlines()


def test_the_cli_installs_the_script_pip_installed(tmp_path: Path) -> None:
    home = tmp_path / "share"
    env = {**os.environ, "XDG_DATA_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "desktop", "install"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    desktop = home / "applications" / f"{APP_ID}.desktop"
    assert f"wrote {desktop}" in done.stdout.splitlines()
    script = Path(sysconfig.get_path("scripts")) / "etcdmon-gui"
    assert exec_line(desktop) == f"Exec={script}"
    validate(desktop)

    done = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "desktop", "uninstall"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"removed {desktop}" in done.stdout.splitlines()
    assert not desktop.exists()


def test_the_cli_says_what_is_wrong_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdmon_gui.cli",
            "desktop",
            "install",
            "--data-home",
            str(tmp_path),
            "--exec",
            str(tmp_path / "nothing"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"etcdmon: {tmp_path / 'nothing'} is not an executable file"
