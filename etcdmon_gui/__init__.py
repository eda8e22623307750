"""etcdmon-gui: a desktop monitor for etcd clusters."""

import os

# gRPC's C core logs failed TLS handshakes to stderr ("Handshake failed ...") on top of
# the errors we raise, which already say it in words. It reads GRPC_VERBOSITY once,
# when grpc is first imported, and several of our packages import grpc (bench before
# etcd), so it is set here, before any of them. Set GRPC_VERBOSITY yourself to see
# gRPC's logs.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

__version__ = "0.1.0"
