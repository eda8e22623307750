"""The PyInstaller bundle as a user runs it (dist/etcdmon-gui, built by `make bundle`),
and `--self-check` from the pip install: passing, and failing with its reason."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QImage

from etcdmon_gui import APP_ID, __version__
from etcdmon_gui.etcd.sandbox import free_ports
from tests.pg_support import postgres_server
from tests.processes import poll

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "etcdmon-gui"
TIMEOUT = 60


@pytest.fixture
def bundle() -> Path:
    if not (BUNDLE / "etcdmon-gui").is_file():
        pytest.fail(f"no bundle in {BUNDLE}: run `make bundle` first (make test builds it)")
    return BUNDLE


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Offscreen Qt and the user's folders under ``tmp_path``."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TMPDIR": str(tmp_path),
        **{f"XDG_{name}_HOME": str(tmp_path / name.lower()) for name in ("CONFIG", "DATA")},
        **{f"XDG_{name}_HOME": str(tmp_path / name.lower()) for name in ("STATE", "CACHE")},
    }
    env.update(extra)
    return env


def run(args: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def check_lines(stdout: str) -> dict[str, str]:
    """The self-check's lines by their label column ("ok    etcd client   pyetcd ..." ->
    {"etcd client": "ok    etcd client   pyetcd ..."})."""
    return {line[6:20].strip(): line for line in stdout.splitlines()[:-1]}


@pytest.mark.bundle
def test_bundled_versions(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    gui = run([bundle / "etcdmon-gui", "--version"], env)
    assert (gui.returncode, gui.stdout.strip()) == (0, f"etcdmon-gui {__version__}"), gui.stderr
    cli = run([bundle / "etcdmon", "--version"], env)
    assert (cli.returncode, cli.stdout.strip()) == (0, f"etcdmon {__version__}"), cli.stderr


@pytest.mark.bundle
def test_bundled_self_check(bundle: Path, tmp_path: Path) -> None:
    done = run([bundle / "etcdmon-gui", "--self-check"], user_env(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "OK: etcdmon-gui can run here"
    lines = check_lines(done.stdout)
    assert "platform plugin offscreen" in lines["qt"]
    assert f"{__version__} (bundle at {bundle}" in lines["etcdmon-gui"]
    assert "no package metadata" not in lines["etcdmon-gui"]  # copy_metadata worked
    # The backend in use, whichever this machine has (the bundle's keyring backends and
    # their entry points import): an OS keyring, or the session-memory fallback.
    keyring_line = lines["keyring"]
    assert "(OS keyring, persistent)" in keyring_line or "(memory, not persistent)" in keyring_line
    assert "pyetcd (etcd-sdk-python 0." in lines["etcd client"]  # copy_metadata worked
    assert "email, slack" in lines["channels"]  # channels found by walking the package
    assert done.stderr == ""


@pytest.mark.bundle
def test_bundled_app_draws_its_window(bundle: Path, tmp_path: Path) -> None:
    png = tmp_path / "window.png"
    done = run(
        [bundle / "etcdmon-gui", "--screenshot", png, "--after", "2", "--size", "800x600"],
        user_env(tmp_path),
    )

    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert not image.isNull() and (image.width(), image.height()) == (800, 600)
    colours = {image.pixel(x, y) for x in range(0, 800, 5) for y in range(0, 600, 5)}
    assert len(colours) > 10, f"only {len(colours)} colours: the window looks blank"


@pytest.mark.bundle
def test_bundled_cli_says_why_a_cluster_is_unreachable(bundle: Path, tmp_path: Path) -> None:
    done = run(
        [bundle / "etcdmon", "status", "--endpoints", "127.0.0.1:1"],
        user_env(tmp_path),
    )

    assert done.returncode == 3
    assert "UNREACHABLE" in done.stdout and "connection refused" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.bundle
def test_bundled_serve_answers_with_a_postgres_history(bundle: Path, tmp_path: Path) -> None:
    """uvicorn (and click, which it needs), FastAPI and psycopg's binary are in the
    bundle: the server starts, writes its history to PostgreSQL and says so."""
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(contextlib.contextmanager(postgres_server)())
        db = pg.create_database("etcdmon_bundle")
        secret = tmp_path / "pg-password"
        secret.write_text(pg.password)
        secret.chmod(0o600)
        (port,) = free_ports(1)
        config = tmp_path / "serve.yaml"
        config.write_text(
            f"port: {port}\ninterval: 1s\nsecrets: memory\nchannels: none\n"
            "clusters: {profiles: [], endpoints: [{name: gone, endpoints: [127.0.0.1:1]}]}\n"
            f"history: {{postgres: {{host: {db.host}, port: {db.port}, dbname: {db.dbname},"
            f" user: {db.user}, sslmode: disable, password_file: {secret}}}}}\n"
        )
        log = tmp_path / "serve.log"
        proc = subprocess.Popen(
            [bundle / "etcdmon", "serve", "--config", config],
            env=user_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stack.enter_context(log.open("w")),
        )
        stack.callback(proc.wait, TIMEOUT)
        stack.callback(proc.terminate)

        def written() -> dict[str, object] | None:
            assert proc.poll() is None, log.read_text()
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            except httpx.TransportError:
                return None
            return body if body["history"]["state"] == "ok" and body["last_sweep_age_s"] else None

        health = poll("the bundled server's first sweep into PostgreSQL", written)
        assert health["clusters_watched"] == 1 and db.dbname in str(health["history"])


@pytest.mark.bundle
def test_bundled_install_desktop_points_at_the_bundle(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    done = run([bundle / "install-desktop"], env)

    assert done.returncode == 0, done.stderr
    desktop = tmp_path / "data" / "applications" / f"{APP_ID}.desktop"
    assert f"Exec={bundle / 'etcdmon-gui'}" in desktop.read_text(encoding="utf-8").splitlines()
    done = run([bundle / "uninstall-desktop"], env)
    assert done.returncode == 0, done.stderr
    assert not desktop.exists()


def test_self_check_of_the_pip_install(tmp_path: Path) -> None:
    done = run([sys.executable, "-m", "etcdmon_gui.app", "--self-check"], user_env(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    lines = check_lines(done.stdout)
    assert f"{__version__} (pip)" in lines["etcdmon-gui"]
    assert "platform plugin offscreen" in lines["qt"]
    assert lines["data dir"].startswith("ok") and str(tmp_path / "data") in lines["data dir"]
    assert done.stdout.splitlines()[-1] == "OK: etcdmon-gui can run here"


def test_self_check_fails_without_a_data_folder(tmp_path: Path) -> None:
    # A folder under a regular file cannot be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = user_env(tmp_path, XDG_DATA_HOME=str(blocker / "x"))

    done = run([sys.executable, "-m", "etcdmon_gui.app", "--self-check"], env)

    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("FAILED: etcdmon-gui cannot run here: the data folder")
    assert str(blocker / "x" / "etcdmon-gui") in last and "Not a directory" in last
    assert check_lines(done.stdout)["data dir"].startswith("FAIL")


def test_self_check_fails_when_qt_cannot_start(tmp_path: Path) -> None:
    env = user_env(tmp_path, QT_QPA_PLATFORM="no-such-platform")

    done = run([sys.executable, "-m", "etcdmon_gui.app", "--self-check"], env)

    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("FAILED: etcdmon-gui cannot run here: Qt cannot start:")
    assert "no-such-platform" in last
    # Every other check still ran and printed its line.
    assert check_lines(done.stdout)["data dir"].startswith("ok")
