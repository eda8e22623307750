#!/usr/bin/env bash
# Build the one-folder bundle dist/etcdmon-gui/ (both `etcdmon-gui` and `etcdmon`) and
# its tarball dist/etcdmon-gui-<version>-linux-<arch>.tar.gz. `make bundle` runs it.
#
#   VENV=.venv packaging/build_bundle.sh
#
# PyInstaller goes into the virtualenv through the `bundle` extra. The work folder
# build/pyinstaller is kept between builds (PyInstaller reuses what did not change).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
BIN="$VENV/bin"
start=$(date +%s)

"$BIN/python" -m pip install --quiet -e '.[bundle]'

version=$("$BIN/python" -c 'import etcdmon_gui; print(etcdmon_gui.__version__)')
arch=$(uname -m)
dist=dist/etcdmon-gui
tarball="dist/etcdmon-gui-${version}-linux-${arch}.tar.gz"

"$BIN/pyinstaller" --noconfirm --log-level WARN \
    --workpath build/pyinstaller --distpath dist packaging/etcdmon.spec

install -m 0755 packaging/linux/install-desktop packaging/linux/uninstall-desktop "$dist/"
install -m 0644 packaging/linux/README-bundle.md "$dist/README.md"

rm -f "$tarball"
tar -C dist -czf "$tarball" etcdmon-gui

echo "bundle:  $dist ($(du -sh "$dist" | cut -f1))"
echo "tarball: $tarball ($(du -sh "$tarball" | cut -f1))"
echo "built in $(($(date +%s) - start)) s"
