"""Talking to etcd clusters: connections, health probes, /metrics scrapes, the sandbox."""

import os

# gRPC's C core logs every failed TLS handshake to stderr; our errors say it in words.
# Set GRPC_VERBOSITY yourself to see its logs.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
