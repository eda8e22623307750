"""The log file and crash reports: where, how private, which level, and no secret in
them, whatever shape it is logged in."""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdmon_gui.connection_args import config_from_flags
from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.scrub import forget_all_secrets, scrub, scrub_patterns, scrub_text
from etcdmon_gui.store import logs
from etcdmon_gui.store.files import APP_NAME
from etcdmon_gui.store.secrets import SERVICE, MemoryKeyring, SecretStore

SECRET = "S3cr3t-Value-42"
READ_SECRET = "r3ad-0nly-T0ken"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIBc2Yk9xZmFrZWtleWZvcnRlc3RzMTIzNDU2Nzg5MGFiY2RlZqAKBggq\n"
    "-----END EC PRIVATE KEY-----\n"
)

log = logging.getLogger("etcdmon_gui.tests.logs")


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    """setup_logging changes the root logger: give it back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    forget_all_secrets()
    yield
    logs.remove_logging()
    root.setLevel(level)
    assert root.handlers == handlers
    forget_all_secrets()


def text_of(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_dir_is_the_user_log_folder_of_the_app() -> None:
    assert APP_NAME in logs.log_dir().parts
    assert logs.log_dir() == Path(os.environ["XDG_STATE_HOME"], APP_NAME, "log")


def test_the_log_file_is_private_utc_stamped_and_names_the_thread(tmp_path: Path) -> None:
    path = logs.setup_logging("INFO", tmp_path / "logs", stderr=False)
    assert path == tmp_path / "logs" / logs.LOG_FILE_NAME == logs.log_file()
    log.warning("hello %s", "world")

    def in_thread() -> None:
        log.error("from a thread")

    worker = threading.Thread(target=in_thread, name="worker-7")
    worker.start()
    worker.join()
    text = text_of(path)
    assert mode(path) == 0o600
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING \[MainThread\] "
        r"etcdmon_gui\.tests\.logs: hello world$",
        text,
        re.MULTILINE,
    )
    assert "ERROR [worker-7] etcdmon_gui.tests.logs: from a thread" in text
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h, logs.PrivateRotatingFileHandler)
    )
    assert (handler.maxBytes, handler.backupCount) == (1024 * 1024, 4)


def test_rotated_files_are_private_too(tmp_path: Path) -> None:
    path = logs.setup_logging("INFO", tmp_path, stderr=False)
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h, logs.PrivateRotatingFileHandler)
    )
    handler.maxBytes = 200
    for n in range(20):
        log.warning("line %d %s", n, "x" * 50)
    rotated = sorted(tmp_path.glob(f"{logs.LOG_FILE_NAME}*"))
    assert len(rotated) == 5  # the file and four older ones
    assert all(mode(p) == 0o600 for p in rotated)
    assert "line 19" in text_of(path)


def test_the_level_is_honoured_and_changed_at_run_time(tmp_path: Path) -> None:
    path = logs.setup_logging("WARNING", tmp_path, stderr=False)
    log.info("info one")
    log.warning("warning one")
    logs.set_level("debug")
    assert logs.current_level() == logging.DEBUG
    log.debug("debug two")
    logs.set_level("ERROR")
    log.warning("warning three")
    log.error("error three")
    text = text_of(path)
    assert "info one" not in text and "warning one" in text
    assert "debug two" in text
    assert "warning three" not in text and "error three" in text
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        logs.set_level("LOUD")


def test_setting_up_twice_replaces_its_handlers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    logs.setup_logging("WARNING", tmp_path / "a")
    path = logs.setup_logging("WARNING", tmp_path / "b")
    assert len(root.handlers) == before + 3  # file, stderr, the ring
    log.warning("once")
    assert text_of(path).count("once") == 1
    assert "once" not in text_of(tmp_path / "a" / logs.LOG_FILE_NAME)
    assert capsys.readouterr().err.count("WARNING etcdmon_gui.tests.logs: once") == 1


def test_secrets_a_secret_store_handled_never_reach_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(keyring, BackendInfo("memory", False, False, kind="memory"))
    store.set("prod", "password", SECRET)  # registered as it is written
    keyring.set_password(SERVICE, "hook/webhook_url", f"https://hooks.example/{READ_SECRET}")
    assert store.get("hook", "webhook_url") == f"https://hooks.example/{READ_SECRET}"  # read
    path = logs.setup_logging("INFO", tmp_path)

    log.warning("the password is %s", SECRET)
    log.warning("connecting to https://root:%s@127.0.0.1:2379/v3", SECRET)
    log.warning("headers: Authorization: Bearer %s", SECRET)
    log.warning("posting to https://hooks.example/%s failed", READ_SECRET)
    try:
        raise RuntimeError(f"login refused for {SECRET!r}")
    except RuntimeError:
        log.exception("call failed")
    text = text_of(path)
    err = capsys.readouterr().err
    for out in (text, err, "\n".join(logs.recent_records())):
        assert SECRET not in out and READ_SECRET not in out
        assert "the password is ***" in out
        assert "https://root:***@127.0.0.1:2379/v3" in out
        assert "Authorization: Bearer ***" in out
        assert "posting to https://hooks.example/… failed" in out
        assert "RuntimeError: login refused for '***'" in out


def test_a_password_given_on_the_command_line_never_reaches_the_log(tmp_path: Path) -> None:
    """--user NAME:PASSWORD, --password-stdin and ETCDCTL_PASSWORD end up in
    config_from_flags, shared by the CLI and the Connect dialog."""
    config = config_from_flags("127.0.0.1:2379", user="root", password="Fl4g-Pw-77")
    assert config.password == "Fl4g-Pw-77"
    path = logs.setup_logging("INFO", tmp_path, stderr=False)
    log.warning("auth as root with %s refused", config.password)
    assert "Fl4g-Pw-77" not in text_of(path)
    assert "auth as root with *** refused" in text_of(path)


def test_credentials_are_scrubbed_by_their_shape_too(tmp_path: Path) -> None:
    path = logs.setup_logging("INFO", tmp_path, stderr=False)
    log.warning("key material: %s", PEM)
    log.warning("url http://alice:pw0rd@10.0.0.1:2379 and Basic dXNlcjpwYXNzd29yZA==")
    log.warning('body {"password": "jS0n-pass", "user": "bob"} query ?token=q-t0k&x=1')
    log.warning("cut: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B")
    text = text_of(path)
    for leaked in ("MHcCAQEEIBc2", "pw0rd", "dXNlcjpwYXNzd29yZA", "jS0n-pass", "q-t0k", "MIIEvQ"):
        assert leaked not in text
    assert "-----BEGIN EC PRIVATE KEY----- *** -----END EC PRIVATE KEY-----" in text
    assert "http://alice:***@10.0.0.1:2379" in text and "Basic ***" in text
    assert '{"password": "***", "user": "bob"}' in text and "?token=***&x=1" in text


def test_scrubbing_keeps_what_is_not_a_secret() -> None:
    plain = "no password for user 'bob' of profile 'prod'; https://127.0.0.1:2379 refused"
    assert scrub_text(plain) == plain == scrub_patterns(plain)
    assert scrub("pw abc in a cabin", ["abc"]) == "pw *** in a cabin"


def test_a_crash_report_is_written_private_and_scrubbed(tmp_path: Path) -> None:
    SecretStore.memory().set("prod", "password", SECRET)
    logs.setup_logging("INFO", tmp_path, stderr=False)
    log.info("before the crash, connecting with password=%s", SECRET)
    try:
        raise ValueError(f"bad value {SECRET} and {PEM}")
    except ValueError as exc:
        report = logs.write_crash_report(
            exc, where="the monitor of prod", versions={"Qt": "6.0.0", "PySide6": "6.0.1"}
        )
    assert report.path is not None and report.path.parent == tmp_path
    assert re.fullmatch(rf"crash-\d{{8}}T\d{{6}}Z-{os.getpid()}\.txt", report.path.name)
    assert mode(report.path) == 0o600
    text = report.path.read_text(encoding="utf-8")
    assert text == report.text and report.where == "the monitor of prod"
    assert report.log_dir == tmp_path
    assert SECRET not in text and "MHcCAQEEIBc2" not in text
    for line in (
        "where: the monitor of prod",
        "thread: MainThread",
        "etcdmon-gui: 0.1.0",
        "Qt: 6.0.0",
        "PySide6: 6.0.1",
        f"log file: {tmp_path / logs.LOG_FILE_NAME}",
        "ValueError: bad value *** and -----BEGIN EC PRIVATE KEY----- ***",
        "before the crash, connecting with password=***",
    ):
        assert line in text
    assert "Python: " in text and "Traceback (most recent call last)" in text


def test_crash_reports_are_pruned_to_the_newest_twenty(tmp_path: Path) -> None:
    for n in range(25):
        old = tmp_path / f"crash-20200101T0000{n:02d}Z-1.txt"
        old.write_text("old")
        os.utime(old, ns=(n * 1_000_000_000, n * 1_000_000_000))
    report = logs.write_crash_report(RuntimeError("x"), where="a test", directory=tmp_path)
    kept = logs.crash_reports(tmp_path)
    assert len(kept) == logs.MAX_CRASH_REPORTS
    assert kept[-1] == report.path
    assert kept[0].name == "crash-20200101T000006Z-1.txt"  # the 19 newest old ones stay


def test_two_reports_in_one_second_both_stay(tmp_path: Path) -> None:
    first = logs.write_crash_report(RuntimeError("one"), where="a", directory=tmp_path)
    second = logs.write_crash_report(RuntimeError("two"), where="b", directory=tmp_path)
    assert first.path is not None and second.path is not None and first.path != second.path
    assert len(logs.crash_reports(tmp_path)) == 2


def test_an_unwritable_log_folder_falls_back_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "logs"  # below a regular file: no one can create it, root neither
    path = logs.setup_logging("WARNING", folder, stderr=False)
    assert path == folder / logs.LOG_FILE_NAME and logs.log_file() is None
    log.warning("still logged")
    err = capsys.readouterr().err
    assert f"cannot write the log file {path} (Not a directory): logging to stderr only" in err
    assert "WARNING etcdmon_gui.tests.logs: still logged" in err
    report = logs.write_crash_report(RuntimeError("boom"), where="a test")
    assert report.path is None and "RuntimeError: boom" in report.text
    assert "log file: (stderr only)" in report.text
    assert "could not write a crash report in" in capsys.readouterr().err
