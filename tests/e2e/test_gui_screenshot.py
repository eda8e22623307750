"""The real `etcdmon-gui --sandbox --screenshot` as a user would run it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtGui import QImage

from tests.processes import app_env


def test_sandbox_screenshot_is_not_blank(tmp_path: Path) -> None:
    png = tmp_path / "window.png"
    env = app_env(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdmon_gui.app",
            "--sandbox",
            "--interval",
            "1",
            "--screenshot",
            str(png),
            "--after",
            "8",
            "--size",
            "1024x700",  # the smallest window the layout is meant for
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(png))
    assert not image.isNull() and (image.width(), image.height()) == (1024, 700)
    # Not blank: many distinct colours (text, chart lines, the verdict chip).
    step = 7
    colours = {
        image.pixel(x, y)
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    assert len(colours) > 50, f"only {len(colours)} colours: the window looks blank"
    # The sandbox's etcd processes (data dirs under TMPDIR) went away with the app.
    assert list(tmp_path.glob("etcdmon-sandbox-*")) == []
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == ""


def test_sigterm_shuts_down_cleanly_and_takes_the_sandbox_along(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.app", "--sandbox"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            # The sandbox is up once its members' logs exist (one per member).
            deadline = time.monotonic() + 60
            while len(list(tmp_path.glob("etcdmon-sandbox-*/*.log"))) < 3:
                assert time.monotonic() < deadline, "the sandbox did not start"
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert list(tmp_path.glob("etcdmon-sandbox-*")) == []
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == ""
