"""etcdmon-gui: a desktop monitor for etcd clusters."""

import os

# gRPC's C core logs failed TLS handshakes to stderr ("Handshake failed ...") on top of
# the errors we raise, which already say it in words. It reads GRPC_VERBOSITY once,
# when grpc is first imported, and several of our packages import grpc (bench before
# etcd), so it is set here, before any of them. Set GRPC_VERBOSITY yourself to see
# gRPC's logs.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

__version__ = "0.1.0"

#: The reverse-DNS application id: the desktop entry's file name
#: (``<APP_ID>.desktop``), the icon's name in the icon theme, the Wayland app id (Qt's
#: desktopFileName) and the macOS bundle identifier. The project has no domain of its
#: own, so it follows Flathub's convention for code hosted on GitHub.
APP_ID = "io.github.etcdmon.EtcdmonGui"
