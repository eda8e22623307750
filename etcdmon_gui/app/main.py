"""``etcdmon-gui``'s command line: the flags, the secret store chosen for the session,
signals that end the app through its normal shutdown, and ``main()`` itself, which builds
the ``Application`` and runs Qt's loop."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence

import shiboken6
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from etcdmon_gui import APP_ID, __version__
from etcdmon_gui.app.application import Application
from etcdmon_gui.app.desktop import DesktopStart
from etcdmon_gui.connection_args import (
    UsageError,
    add_connection_options,
    add_history_options,
    connection_config,
    from_environment,
    history_limits,
    profile_store,
)
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.self_check import QT_PROBE_FLAG, qt_probe, run_self_check
from etcdmon_gui.store.app_settings import AppSettingsStore
from etcdmon_gui.store.logs import remove_logging, setup_logging
from etcdmon_gui.store.profiles import (
    ProfileStoreError,
)
from etcdmon_gui.store.secrets import (
    SecretStore,
    SecretStoreError,
    secrets_file_path,
)
from etcdmon_gui.store.session import SessionStore
from etcdmon_gui.ui.app_icon import app_icon
from etcdmon_gui.ui.secret_backend_dialog import SecretBackendDialog
from etcdmon_gui.ui.theme import apply_theme
from etcdmon_gui.workers.crash_handler import CrashHandler

log = logging.getLogger(__name__)


DialogFactory = Callable[[str, bool], SecretBackendDialog]


def choose_secret_store(
    kind: str, *, ask: bool = True, dialog_factory: DialogFactory | None = None
) -> SecretStore:
    """The store for this session: the OS keyring, or, when there is none (or the user
    asked for ``--secrets encrypted-file``), what the user picks in a dialog: the
    encrypted file (master password asked until it opens the file) or memory."""
    if kind == "memory":
        return SecretStore.memory()
    if kind != "encrypted-file":
        store = SecretStore.system()
        if store.info.persistent or not ask:
            return store
        problem = store.info.problem or "No OS keyring is usable."
    else:
        problem = "Secrets are kept in an encrypted file: type its master password."
    make = dialog_factory or (
        lambda text, file_only: SecretBackendDialog(text, file_only=file_only)
    )
    dialog = make(problem, kind == "encrypted-file")
    path = secrets_file_path()
    while dialog.exec() == SecretBackendDialog.DialogCode.Accepted:
        if not dialog.use_file():
            return SecretStore.memory()
        try:
            return SecretStore.encrypted_file(path, dialog.master_password())
        except SecretStoreError as exc:
            dialog.show_error(str(exc))
    return SecretStore.memory()  # dismissed: nothing is stored beyond this session


def stop_on_signals(qapp: QApplication) -> QTimer:
    """Ctrl-C, SIGTERM and a closed terminal end the app through its normal shutdown, so
    the sandbox's etcd processes go with it. The signals are taken by ``SignalStop``
    (no lock in a handler, so no burst can hang the app); a short timer in the GUI
    thread sees its request and quits the loop. A second signal says the app is still
    stopping; a third kills the sandbox's members and exits at once."""
    from etcdmon_gui.etcd.sandbox import SignalStop

    stop = SignalStop(
        "etcdmon-gui", (signal.SIGINT, signal.SIGTERM, signal.SIGHUP), stopping="still stopping"
    ).install()

    def quit_if_asked() -> None:
        if stop.event.is_set():
            qapp.quit()

    tick = QTimer(qapp)
    tick.timeout.connect(quit_if_asked)
    tick.start(250)
    return tick


def window_size(text: str) -> tuple[int, int]:
    """``1024x700`` -> (1024, 700), for ``--size``."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1024x700")
    w, h = int(width), int(height)
    if not (320 <= w <= 10_000 and 240 <= h <= 10_000):
        raise argparse.ArgumentTypeError(f"{text!r}: a window from 320x240 to 10000x10000")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etcdmon-gui", description="Watch etcd clusters.")
    parser.add_argument("--version", action="version", version=f"etcdmon-gui {__version__}")
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check that the app can run here (Qt, keyring, folders, etcd client), then exit",
    )
    # The self-check's Qt probe, in a child process (a Qt that cannot start aborts it).
    parser.add_argument(QT_PROBE_FLAG, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start a local etcd cluster with a gentle load and watch it",
    )
    parser.add_argument("--members", type=int, default=3, help="sandbox size (default 3)")
    parser.add_argument(
        "--interval",
        type=int,
        help="seconds between sweeps, 1-60 (default: the settings', 5 unless changed)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PATH",
        help="save the window as PNG after --after seconds, then exit",
    )
    parser.add_argument("--after", type=float, default=8.0, metavar="SECONDS")
    parser.add_argument(
        "--size",
        type=window_size,
        metavar="WxH",
        help="open the window at this size, e.g. 1024x700 (screenshots, small screens)",
    )
    parser.add_argument("--debug", action="store_true", help="log details")
    add_connection_options(parser)
    add_history_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.qt_probe:
        return qt_probe(sys.stdout)
    if args.self_check:
        return run_self_check(sys.stdout)
    # Start-up reads the small files here (settings, profiles, the last session); a
    # profile's secrets are read in its worker.
    settings_store = AppSettingsStore()
    settings, problem = settings_store.load()
    # What main() installs in the process is taken back on every way out (tests call it
    # in a process that goes on).
    with contextlib.ExitStack() as undo:
        setup_logging("DEBUG" if args.debug else settings.log_level)
        undo.callback(remove_logging)
        config = profile = None
        try:
            kept = history_limits(args, settings.history_limits())
            if args.profile:
                profile = profile_store(args).get(args.profile)
            elif args.endpoints or from_environment().get("endpoints"):
                config = connection_config(args)
        except (UsageError, EtcdError, ProfileStoreError) as exc:
            print(f"etcdmon-gui: {exc}", file=sys.stderr)  # noqa: T201
            return 2
        qapp = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(qapp, QApplication)
        qapp.setApplicationName("etcdmon-gui")
        qapp.setOrganizationName("etcdmon")
        qapp.setDesktopFileName(APP_ID)  # the Wayland app id: matches the installed .desktop
        qapp.setWindowIcon(app_icon())
        apply_theme(qapp, settings.theme)
        crash = CrashHandler(qapp)
        crash.install()
        undo.callback(crash.uninstall)
        # A run told what to watch (or to take a picture) neither reopens nor replaces the
        # last session: that is what a plain start reopens.
        named = bool(args.sandbox or profile or config or args.screenshot)
        interval = settings.interval_s if args.interval is None else args.interval
        app = Application(
            qapp,
            QSettings(),
            interval_s=max(1, min(60, interval)),
            profiles=profile_store(args),
            # A sandbox needs no secret: ask only when someone may store one.
            secrets=choose_secret_store(args.secrets, ask=not (args.screenshot or args.sandbox)),
            history=(args.history, kept),
            desktop=DesktopStart(
                settings_store,
                SessionStore(),
                settings,
                problem,
                crash,
                remember_session=not named,
                reopen=settings.reopen_last_session and not named,
                keep_log_level=args.debug,
                keep_interval=args.interval is not None,
            ),
        )
        if args.sandbox:
            app.start_sandbox(args.members)
        if profile is not None:
            app.connect_profile(profile)
        elif config is not None:
            app.watch_config(config)
        if args.size:
            app.window.resize(*args.size)
        app.window.show()
        if args.screenshot:
            path = args.screenshot

            def snap() -> None:
                ok = app.window.grab().save(path)
                if not ok:
                    log.error("could not write the screenshot to %s", path)
                qapp.exit(0 if ok else 1)

            QTimer.singleShot(int(args.after * 1000), snap)
        stop_on_signals(qapp)
        code = qapp.exec()
        app.shutdown()
        # Destroy the window (and pyqtgraph's items) while Python is still whole: left to
        # interpreter teardown, a shown pyqtgraph widget can crash on the way out.
        shiboken6.delete(app.window)
        return int(code)
