"""``etcdmon serve``: one long-running watcher for a team (REST API, Prometheus
exporter), built on the same monitoring core, rules, channels and history as the app."""
