"""Reports of the history for people and spreadsheets, without Qt: the desktop app
and ``etcdmon report`` write the same files.

- ``csv_export``: metrics (one row per time and member, a column per signal), alert
  transitions, the member inventory and benchmark runs as RFC 4180 CSV, each a
  function writing to a text stream with a cancellable progress callback;
  ``bound_export`` picks and binds the one a ``model.history.ReportRequest`` asks for;
- ``output``: a report written whole to a file (temporary file, then rename) or to
  standard output, its path checked first.
"""

from etcdmon_gui.reports.csv_export import (
    ALERT_COLUMNS,
    BENCH_COLUMNS,
    CLUSTER_ROW_NAME,
    MEMBER_COLUMNS,
    METRICS_COLUMNS,
    ExportCancelled,
    Progress,
    bound_export,
    export_alerts,
    export_benchmarks,
    export_members,
    export_metrics,
    metric_columns,
)
from etcdmon_gui.reports.output import STDOUT, check_output_path, write_export

__all__ = [
    "ALERT_COLUMNS",
    "BENCH_COLUMNS",
    "CLUSTER_ROW_NAME",
    "MEMBER_COLUMNS",
    "METRICS_COLUMNS",
    "STDOUT",
    "ExportCancelled",
    "Progress",
    "bound_export",
    "check_output_path",
    "export_alerts",
    "export_benchmarks",
    "export_members",
    "export_metrics",
    "metric_columns",
    "write_export",
]
