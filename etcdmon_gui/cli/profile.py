"""``etcdmon profile ...``: manage connection profiles and their secrets from scripts.

Secrets go to the keyring (``--secrets keyring``, the default), to an encrypted file
(``--secrets encrypted-file``: master password from ``ETCDMON_MASTER_PASSWORD`` or a
prompt), or nowhere beyond this process (``--secrets memory``). When no OS keyring is
usable the command says so and how to choose another; it never writes a secret in
clear text.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from etcdmon_gui.cli.common import add_command
from etcdmon_gui.connection_args import (
    UsageError,
    add_store_options,
    profile_store,
    secret_store,
)
from etcdmon_gui.model.profile import Profile, TLSSettings
from etcdmon_gui.store.files import read_file
from etcdmon_gui.store.profiles import (
    ProfileStoreError,
    export_profiles,
    parse_document,
    secret_fields,
)
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError


def _tls_from_args(args: argparse.Namespace, base: TLSSettings | None) -> TLSSettings | None:
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
    return TLSSettings(**fields)


def _store_secrets(args: argparse.Namespace, profile: Profile, secrets: SecretStore) -> None:
    if args.import_tls:
        for what, flag, title in (
            ("ca", "cacert", "CA certificate"),
            ("cert", "cert", "client certificate"),
            ("key", "key", "client key"),
        ):
            if getattr(args, flag):
                data = read_file(getattr(args, flag), title).decode()
                secrets.set(profile.id, f"tls_{what}", data)
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif args.ask_password:
        password = getpass.getpass(f"Password for {profile.username}: ")
    if password is not None:
        if not profile.username:
            raise UsageError("a password needs a user: add --user NAME")
        secrets.set(profile.id, "password", password)


def _validated(**fields: Any) -> Profile:
    from pydantic import ValidationError

    try:
        return Profile(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise UsageError(f"invalid profile: {problems}") from None


def cmd_add(args: argparse.Namespace) -> int:
    store = profile_store(args)
    needs_secret = args.password_stdin or args.ask_password or args.import_tls
    secrets = secret_store(args, need_persistent=bool(needs_secret))
    profile = _validated(
        name=args.name,
        endpoints=[e.strip() for e in args.endpoints.split(",") if e.strip()],
        tls=_tls_from_args(args, None),
        username=args.user or None,
        poll_interval_s=args.interval or 5,
        tags=args.tag or [],
    )
    store.add(profile)
    _store_secrets(args, profile, secrets)
    print(f"added profile {profile.name!r} ({store.path})")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    store = profile_store(args)
    old = store.get(args.name)
    needs_secret = args.password_stdin or args.ask_password or args.import_tls
    secrets = secret_store(args, need_persistent=bool(needs_secret))
    fields = old.model_dump()
    if args.rename:
        fields["name"] = args.rename
    if args.endpoints:
        fields["endpoints"] = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if args.user is not None:
        fields["username"] = args.user or None
    if args.interval:
        fields["poll_interval_s"] = args.interval
    if args.tag is not None:
        fields["tags"] = args.tag
    fields["tls"] = _tls_from_args(args, old.tls)
    profile = _validated(**fields)
    store.replace(old.name, profile)
    _store_secrets(args, profile, secrets)
    print(f"updated profile {profile.name!r}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    store = profile_store(args)
    gone = store.remove(args.name)
    try:
        secret_store(args).delete_owner(gone.id)
    except (SecretStoreError, UsageError) as exc:
        print(f"etcdmon: profile removed, but its secrets could not be: {exc}", file=sys.stderr)
    print(f"removed profile {gone.name!r}")
    return 0


def _profile_json(p: Profile, secrets: SecretStore | None) -> dict[str, Any]:
    doc = p.model_dump(mode="json")
    needed = secret_fields(p)
    if secrets is not None:
        present = set(secrets.present(p.id, needed))
        doc["secrets"] = {f: ("stored" if f in present else "missing") for f in needed}
    return doc


def cmd_list(args: argparse.Namespace) -> int:
    result = profile_store(args).load()
    for problem in result.problems:
        print(f"etcdmon: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([_profile_json(p, None) for p in result.profiles], indent=2))
    else:
        for p in result.profiles:
            tags = f"  [{', '.join(p.tags)}]" if p.tags else ""
            user = f"  user {p.username}" if p.username else ""
            print(f"{p.name}  {','.join(p.endpoints)}{user}{tags}")
    return 0 if result.clean else 1


def cmd_show(args: argparse.Namespace) -> int:
    profile = profile_store(args).get(args.name)
    try:
        secrets: SecretStore | None = secret_store(args)
    except (UsageError, SecretStoreError):
        secrets = None
    doc = _profile_json(profile, secrets)
    if secrets is not None:
        doc["secret_backend"] = secrets.info.name
    print(json.dumps(doc, indent=2))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    result = profile_store(args).load()
    chosen = [p for p in result.profiles if not args.names or p.name in args.names]
    missing = set(args.names or []) - {p.name for p in chosen}
    if missing:
        raise UsageError(f"no profile named {', '.join(sorted(missing))}")
    text = export_profiles(chosen)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"exported {len(chosen)} profile(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    needs = {p.name: secret_fields(p) for p in chosen if secret_fields(p)}
    for name, fields in needs.items():
        print(f"note: {name} needs {', '.join(fields)} re-entered after import", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    store = profile_store(args)
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    incoming = parse_document(text, str(source))
    if not incoming.clean:
        raise UsageError("nothing imported:\n  " + "\n  ".join(map(str, incoming.problems)))
    current = store.load()
    if not current.clean:
        raise ProfileStoreError(f"{store.path} has problems; fix it before importing")
    by_name = {p.name: p for p in current.profiles}
    clash = [p.name for p in incoming.profiles if p.name in by_name]
    if clash and not args.replace:
        raise UsageError(f"profiles already exist: {', '.join(clash)} (use --replace)")
    ids = {p.id for p in current.profiles if p.name not in clash}
    merged = [p for p in current.profiles if p.name not in clash]
    for p in incoming.profiles:
        if p.id in ids:  # the same export imported twice under new names
            p = p.model_copy(update={"id": uuid.uuid4().hex})
        merged.append(p)
    store.save(merged)
    print(f"imported {len(incoming.profiles)} profile(s) into {store.path}")
    for p in incoming.profiles:
        if secret_fields(p):
            print(
                f"note: enter {', '.join(secret_fields(p))} for {p.name} "
                f"(etcdmon profile edit {p.name} ...)",
                file=sys.stderr,
            )
    return 0


def register(sub: Any) -> None:
    prof = add_command(
        sub,
        "profile",
        help="manage saved connection profiles",
        codes="  0  done\n  1  list: the profiles file has problems (each named on stderr)\n"
        "  2  a usage error, an unknown profile, or a secrets or profiles file error",
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
        p.add_argument("--user", help="user name (no password here: use --password-stdin)")
        pw = p.add_mutually_exclusive_group()
        pw.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input into the keyring",
        )
        pw.add_argument("--ask-password", action="store_true", help="prompt for the password")
        p.add_argument("--interval", type=int, help="poll interval in seconds (1-60)")
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
