"""Start-up of the desktop application: the one composition root.

Until the desktop shell lands this opens a placeholder window that points to the
command-line tools, which already work over the same monitoring core.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication(list(argv) if argv is not None else sys.argv)
    window = QMainWindow()
    window.setWindowTitle("etcdmon")
    label = QLabel(
        "The desktop views are on their way.\n\n"
        "Meanwhile: `etcdmon sandbox` starts a local cluster and\n"
        "`etcdmon status --endpoints ...` checks any cluster."
    )
    label.setMargin(24)
    window.setCentralWidget(label)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
