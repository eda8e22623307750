"""The desktop application: the composition root (``application``: the window, the
workers and the services, wired), the desktop's own parts (``desktop``: settings,
the welcome page and the last session, help, crash reports, the tray's close
behaviour) and the command line that starts it all (``main``)."""

from etcdmon_gui.app.application import Application
from etcdmon_gui.app.main import build_parser, choose_secret_store, main

__all__ = ["Application", "build_parser", "choose_secret_store", "main"]
