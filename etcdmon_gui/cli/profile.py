"""``etcdmon profile ...``: manage connection profiles and their secrets from scripts.

Secrets go to the keyring (``--secrets keyring``, the default), to an encrypted file
(``--secrets encrypted-file``: master password from ``ETCDMON_MASTER_PASSWORD`` or a
prompt), or nowhere beyond this process (``--secrets memory``). When no OS keyring is
usable the command says so and how to choose another; it never writes a secret in
clear text. ``--user NAME:PASSWORD`` is split as etcdctl does: the name goes to the
file, the password to the secret store. A profile whose secrets are not in the store
(the keyring was changed, or there is none) is flagged by ``list`` and ``show``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from etcdmon_gui.cli.common import EXIT_FAIL, EXIT_OK, USAGE_CODE, add_command
from etcdmon_gui.connection_args import (
    UsageError,
    add_store_options,
    profile_store,
    secret_store,
)
from etcdmon_gui.model.connection import split_user
from etcdmon_gui.model.profile import Profile, TLSSettings, describe_error
from etcdmon_gui.store.files import read_file
from etcdmon_gui.store.profiles import export_profiles, secret_fields
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError
from etcdmon_gui.store.settings import ImportClash, ImportRefused


def _tls_from_args(
    args: argparse.Namespace, base: TLSSettings | None
) -> TLSSettings | dict[str, Any] | None:
    """The TLS settings the options give over ``base``: fields for ``Profile`` to
    validate (so a mistake is said like any other)."""
    given = {w: getattr(args, w) for w in ("cacert", "cert", "key")}
    unchanged = args.server_name is None and args.insecure_skip_tls_verify is None
    if not any(given.values()) and unchanged:
        return base
    fields: dict[str, Any] = base.model_dump() if base else {}
    for what, flag in (("ca", "cacert"), ("cert", "cert"), ("key", "key")):
        if given[flag]:
            fields[f"{what}_file"] = None if args.import_tls else str(Path(given[flag]).resolve())
            fields[f"{what}_in_keyring"] = bool(args.import_tls)
    if args.server_name is not None:
        fields["server_name"] = args.server_name or None
    if args.insecure_skip_tls_verify is not None:
        fields["insecure_skip_verify"] = args.insecure_skip_tls_verify
    return fields


def _password(args: argparse.Namespace, username: str | None) -> str | None:
    """The password the options give (after the ':' of --user, on standard input, or
    typed at a prompt), or None; read before anything is written."""
    inline = split_user(args.user)[1] if args.user else None
    ways = [inline is not None, args.password_stdin, args.ask_password]
    if sum(ways) > 1:
        raise UsageError(
            "give the password one way: --user NAME:PASSWORD, --password-stdin or --ask-password"
        )
    if not any(ways):
        return None
    if not username:
        raise UsageError("a password needs a user: add --user NAME")
    if inline is not None:
        return inline
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(f"Password for {username}: ")


def _store_secrets(
    args: argparse.Namespace, profile: Profile, secrets: SecretStore, password: str | None
) -> None:
    if args.import_tls:
        for what, flag, title in (
            ("ca", "cacert", "CA certificate"),
            ("cert", "cert", "client certificate"),
            ("key", "key", "client key"),
        ):
            if getattr(args, flag):
                data = read_file(getattr(args, flag), title).decode()
                secrets.set(profile.id, f"tls_{what}", data)
    if password is not None:
        secrets.set(profile.id, "password", password)


#: The option that sets each field, to name in a message about it.
_OPTIONS = {
    "endpoints": "--endpoints",
    "username": "--user",
    "poll_interval_s": "--interval",
    "timeout_s": "--timeout",
    "tags": "--tag",
    "tls": "--cacert/--cert/--key",
}


def _validated(name_option: str, **fields: Any) -> Profile:
    """The profile the options describe, or a ``UsageError`` with one line per problem
    in the user's words, each led by the option to change (as argparse does)."""
    try:
        return Profile(**fields)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            option = name_option if field == "name" else _OPTIONS.get(field, field)
            lines.append(f"{option}: {describe_error(err)}")
        if len(lines) == 1:
            raise UsageError(lines[0]) from None
        raise UsageError("the profile was not saved:\n  " + "\n  ".join(lines)) from None


def _endpoints(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


def _user(args: argparse.Namespace) -> str | None:
    """The user name of --user NAME[:PASSWORD]; never the password."""
    return split_user(args.user)[0] or None


def _needs_persistent(args: argparse.Namespace) -> bool:
    inline = bool(args.user) and ":" in args.user
    return bool(inline or args.password_stdin or args.ask_password or args.import_tls)


def cmd_add(args: argparse.Namespace) -> int:
    store = profile_store(args)
    fields: dict[str, Any] = {
        "name": args.name,
        "endpoints": _endpoints(args.endpoints),
        "tls": _tls_from_args(args, None),
        "username": _user(args),
        "tags": args.tag or [],
    }
    if args.interval is not None:
        fields["poll_interval_s"] = args.interval
    if args.timeout is not None:
        fields["timeout_s"] = args.timeout
    profile = _validated("NAME", **fields)
    password = _password(args, profile.username)
    secrets = secret_store(args, need_persistent=_needs_persistent(args))
    store.add(profile)
    _store_secrets(args, profile, secrets, password)
    print(f"added profile {profile.name!r} ({store.path})")
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    store = profile_store(args)
    old = store.get(args.name)
    fields = old.model_dump()
    if args.rename is not None:
        fields["name"] = args.rename
    if args.endpoints is not None:
        fields["endpoints"] = _endpoints(args.endpoints)
    if args.user is not None:
        fields["username"] = _user(args)
    if args.interval is not None:
        fields["poll_interval_s"] = args.interval
    if args.timeout is not None:
        fields["timeout_s"] = args.timeout
    if args.tag is not None:
        fields["tags"] = args.tag
    fields["tls"] = _tls_from_args(args, old.tls)
    profile = _validated("--rename", **fields)
    password = _password(args, profile.username)
    secrets = secret_store(args, need_persistent=_needs_persistent(args))
    store.replace(old.name, profile)
    _store_secrets(args, profile, secrets, password)
    print(f"updated profile {profile.name!r}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    store = profile_store(args)
    gone = store.remove(args.name)
    try:
        secret_store(args).delete_owner(gone.id)
    except (SecretStoreError, UsageError) as exc:
        print(f"etcdmon: profile removed, but its secrets could not be: {exc}", file=sys.stderr)
    print(f"removed profile {gone.name!r}")
    return EXIT_OK


def _secret_status(
    args: argparse.Namespace, profiles: list[Profile]
) -> tuple[SecretStore | None, dict[str, dict[str, str]]]:
    """The secret store (None if it cannot be opened: said on stderr) and, per profile
    id, each secret it needs: "stored" or "missing". Opened only if a profile needs one."""
    needed = {p.id: secret_fields(p) for p in profiles if secret_fields(p)}
    if not needed:
        return None, {}
    try:
        secrets = secret_store(args)
        status = {}
        for owner, fields in needed.items():
            present = set(secrets.present(owner, fields))
            status[owner] = {f: ("stored" if f in present else "missing") for f in fields}
    except (UsageError, SecretStoreError) as exc:
        print(f"etcdmon: secrets not checked: {exc}", file=sys.stderr)
        return None, {}
    return secrets, status


def _missing_note(secrets: SecretStore | None, profiles: list[Profile], status: Any) -> None:
    """One line on stderr when secrets are missing: where they were looked for, and how
    to put them back."""
    missing = [p.name for p in profiles if "missing" in status.get(p.id, {}).values()]
    if secrets is None or not missing:
        return
    why = f": {secrets.info.problem}" if secrets.info.problem else "."
    print(
        f"etcdmon: secrets of {', '.join(missing)} are not in {secrets.info.name}{why} "
        "Enter them again with `etcdmon profile edit NAME --password-stdin` (and "
        "--import-tls for TLS files), or choose the store that has them with --secrets.",
        file=sys.stderr,
    )


def _profile_json(p: Profile, status: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    doc = p.model_dump(mode="json")
    if status is not None and p.id in status:
        doc["secrets"] = status[p.id]
    return doc


def cmd_list(args: argparse.Namespace) -> int:
    result = profile_store(args).load()
    for problem in result.problems:
        print(f"etcdmon: {problem}", file=sys.stderr)
    secrets, status = _secret_status(args, result.profiles)
    if args.json:
        print(json.dumps([_profile_json(p, status) for p in result.profiles], indent=2))
    else:
        for p in result.profiles:
            tags = f"  [{', '.join(p.tags)}]" if p.tags else ""
            user = f"  user {p.username}" if p.username else ""
            gone = [f for f, state in status.get(p.id, {}).items() if state == "missing"]
            note = f"  (secrets missing: {', '.join(gone)})" if gone else ""
            print(f"{p.name}  {','.join(p.endpoints)}{user}{tags}{note}")
    _missing_note(secrets, result.profiles, status)
    return EXIT_OK if result.clean else EXIT_FAIL


def cmd_show(args: argparse.Namespace) -> int:
    profile = profile_store(args).get(args.name)
    secrets, status = _secret_status(args, [profile])
    doc = _profile_json(profile, status)
    if secrets is not None:
        doc["secret_backend"] = secrets.info.name
    print(json.dumps(doc, indent=2))
    _missing_note(secrets, [profile], status)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    store = profile_store(args)
    if args.output:
        chosen = store.export_file(Path(args.output), args.names or ())
        print(f"exported {len(chosen)} profile(s) to {args.output}", file=sys.stderr)
    else:
        chosen = store.for_export(args.names or ())
        sys.stdout.write(export_profiles(chosen))
    needs = {p.name: secret_fields(p) for p in chosen if secret_fields(p)}
    for name, fields in needs.items():
        print(f"note: {name} needs {', '.join(fields)} re-entered after import", file=sys.stderr)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    store = profile_store(args)
    try:
        result = store.import_file(Path(args.file), replace=args.replace)
    except ImportRefused as exc:
        for notice in exc.notices:
            print(f"etcdmon: {notice}", file=sys.stderr)
        hint = " (use --replace)" if isinstance(exc, ImportClash) else ""
        raise UsageError(f"{exc}{hint}") from None
    notices = list(result.notices)
    if result.dropped_ids:  # replaced under another id: their secrets are nobody's now
        try:
            secrets = secret_store(args)
            for owner in result.dropped_ids:
                secrets.delete_owner(owner)
        except (SecretStoreError, UsageError) as exc:
            notices.append(f"the secrets of a replaced profile could not be removed: {exc}")
    for notice in notices:
        print(f"etcdmon: {notice}", file=sys.stderr)
    print(f"imported {result.count} profile(s) into {store.path}")
    for name, fields in result.needs.items():
        print(
            f"note: enter {', '.join(fields)} for {name} (etcdmon profile edit {name} ...)",
            file=sys.stderr,
        )
    return EXIT_OK


def register(sub: Any) -> None:
    prof = add_command(
        sub,
        "profile",
        help="manage saved connection profiles",
        codes="  0  done (list and show flag secrets that are missing, on stderr too)\n"
        "  1  list: the profiles file has problems (each named on stderr)\n"
        f"{USAGE_CODE}",
        example="etcdmon profile add prod --endpoints https://etcd-1:2379 --cacert ca.pem "
        "--user root --password-stdin",
    )
    psub = prof.add_subparsers(dest="profile_command", required=True, metavar="ACTION")

    def editable(p: argparse.ArgumentParser, adding: bool) -> None:
        p.add_argument("name")
        p.add_argument("--endpoints", required=adding, help="host:port,... as etcdctl takes")
        p.add_argument("--cacert")
        p.add_argument("--cert")
        p.add_argument("--key")
        p.add_argument("--server-name")
        p.add_argument(
            "--insecure-skip-tls-verify",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="accept any server certificate (INSECURE)",
        )
        p.add_argument(
            "--import-tls",
            action="store_true",
            help="copy the TLS files into the keyring instead of referencing them",
        )
        p.add_argument(
            "--user",
            help="user name, or NAME:PASSWORD as etcdctl takes it (the password goes to "
            "the secret store, never to the profiles file)",
        )
        pw = p.add_mutually_exclusive_group()
        pw.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input into the keyring",
        )
        pw.add_argument("--ask-password", action="store_true", help="prompt for the password")
        p.add_argument("--interval", type=int, help="poll interval in seconds (1-60)")
        p.add_argument(
            "--timeout", type=float, help="deadline of every call in seconds (default 2)"
        )
        p.add_argument("--tag", action="append", help="a tag such as production (repeatable)")
        add_store_options(p)

    p = psub.add_parser("add", help="save a new profile")
    editable(p, True)
    p.set_defaults(func=cmd_add)
    p = psub.add_parser("edit", help="change a profile (only the options given)")
    editable(p, False)
    p.add_argument("--rename", help="new name")
    p.set_defaults(func=cmd_edit)
    for name, func, text in (
        ("remove", cmd_remove, "delete a profile and its secrets"),
        ("show", cmd_show, "one profile as JSON, with secret status"),
    ):
        p = psub.add_parser(name, help=text)
        p.add_argument("name")
        add_store_options(p)
        p.set_defaults(func=func)
    p = psub.add_parser("list", help="all profiles")
    p.add_argument("--json", action="store_true")
    add_store_options(p)
    p.set_defaults(func=cmd_list)
    p = psub.add_parser("export", help="write profiles (never secrets) as YAML")
    p.add_argument("names", nargs="*", help="profiles to export (default: all)")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    add_store_options(p)
    p.set_defaults(func=cmd_export)
    p = psub.add_parser("import", help="add profiles from an exported YAML file")
    p.add_argument("file")
    p.add_argument("--replace", action="store_true", help="replace profiles of the same name")
    add_store_options(p)
    p.set_defaults(func=cmd_import)
