"""The real `etcdmon-gui --sandbox --screenshot` as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.support import VERSIONS, find_binary


def test_sandbox_screenshot_is_not_blank(tmp_path: Path) -> None:
    png = tmp_path / "window.png"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ETCDMON_ETCD_BIN": str(find_binary(VERSIONS[0])),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the user's layout and history
        "XDG_DATA_HOME": str(tmp_path / "data"),  # stay untouched
        "TMPDIR": str(tmp_path),  # the sandbox's data dirs, so leftovers can be found
    }
    proc = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.app", "--sandbox", "--interval", "1",
         "--screenshot", str(png), "--after", "8"],
        capture_output=True, text=True, timeout=90, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 600
    # Not blank: many distinct colours (text, chart lines, the verdict chip).
    step = 7
    colours = {image.pixel(x, y) for x in range(0, image.width(), step)
               for y in range(0, image.height(), step)}
    assert len(colours) > 50, f"only {len(colours)} colours: the window looks blank"
    # The sandbox's etcd processes (data dirs under TMPDIR) went away with the app.
    assert list(tmp_path.glob("etcdmon-sandbox-*")) == []
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == ""
