"""Load generation and reports with etcd ``tools/benchmark`` semantics; no Qt.

What a caller uses (the CLI in ``cli.bench``, later a GUI worker):

- ``engine.Benchmark(config, spec, on_progress=...)``: ``run()`` (blocking) or
  ``start()`` + ``wait()``; ``cancel()`` from any thread. Specs and results are the
  frozen dataclasses of ``model.bench``.
- ``checkperf``: ``etcdctl check perf`` presets (``PRESETS``, ``check_perf_spec``) and
  verdict (``judge``).
- ``report``: text like ``tools/benchmark``, JSON, per-second CSV, the summary (JSON or
  a one-row CSV); ``output``: output paths checked before a run, whole-file writes.
- ``safety``: the typed confirmation a production profile needs.

Inside: ``grpc_h2`` (a lean gRPC-over-HTTP/2 client on asyncio, the reason the load is
fast), ``hpack`` (its header coding: a block cache over the ``hpack`` package),
``workloads`` (request bytes per workload), ``recorder`` (latencies into an HdrHistogram
and per-second points), ``limiter`` (Go's token bucket), ``control`` (auth, checks and
cleanup on grpcio).
"""
