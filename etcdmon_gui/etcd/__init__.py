"""Talking to etcd clusters: connections, health probes, /metrics scrapes, the sandbox.

gRPC's own logging is silenced in ``etcdmon_gui/__init__.py`` (GRPC_VERBOSITY=NONE),
which runs before anything imports grpc.
"""
