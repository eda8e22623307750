"""Settings that own secrets (connection profiles, notification channels): one set of
rules for saving and deleting them together with their secrets.

An item lives in a YAML file and never holds a secret; its secrets live in the
``SecretStore`` under the item's ``id``. A ``SettingsStore`` subclass says how its file
is read and changed and which secrets an item owns and needs; the rules are here:

- a save first checks everything (the secrets typed in, the files to import, the
  secrets it needs but nobody gave), so a refused save changes nothing;
- then it writes the file, then the secrets, and removes those the item no longer
  needs (the user name was removed, signing was turned off);
- a delete removes the item, then every secret it may own;
- a test of unsaved settings gets a throw-away in-memory store (``scratch``);
- a listing says which secrets each item has (``present``) and which of those its
  settings need are missing (``missing``: kept in memory before a restart);
- ``owners`` is what a move of every secret to another backend copies;
- ``import_file`` / ``export_file`` (for settings that have them: profiles) bring
  items in from a shared file and write them out, never with a secret.

When the file was changed but the secrets could not all be, ``SecretsFailed`` says so
(the item is saved or deleted; its cause is why the secrets were not).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

from etcdmon_gui.model.secrets import SecretEdits, SecretStoreError
from etcdmon_gui.store.secrets import MemoryKeyring, SecretStore


class SettingsError(Exception):
    """A change was refused; the message says why and never holds a secret."""


class ImportRefused(SettingsError):
    """Nothing was imported; the message says why. ``notices`` are what reading the
    file found to tell all the same (a password left out of it)."""

    def __init__(self, message: str, notices: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.notices = list(notices)


class ImportClash(ImportRefused):
    """An import would replace the items ``names`` (same names) and was not asked to:
    nothing was imported. Ask, then import again with ``replace``."""

    def __init__(self, message: str, names: Sequence[str], notices: Sequence[str] = ()) -> None:
        super().__init__(message, notices)
        self.names = list(names)


class SecretsFailed(Exception):
    """The file was changed, but the item's secrets could not all be (see
    ``__cause__``)."""

    def __init__(self, item: object) -> None:
        super().__init__("the secrets were not all changed")
        self.item = item


class Owner(Protocol):
    """What an item needs to own secrets: a stable id, and a name to show."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


ItemT = TypeVar("ItemT", bound=Owner)
ListingT = TypeVar("ListingT")


class SettingsStore(ABC, Generic[ItemT, ListingT]):
    """A settings file of items that own secrets; see the module docstring.

    ``ListingT`` is what ``load`` returns and the dialog is shown (the items, perhaps
    with the problems of the file); an item is named by a *key* in requests (what the
    file's own store looks items up by: a profile's name, a channel's id).
    """

    noun: ClassVar[str]  # "profile": in messages
    plural: ClassVar[str]  # "profiles"

    def __init__(self, secrets: SecretStore) -> None:
        self.secrets = secrets

    # -- what a subclass says ----------------------------------------------------------

    @abstractmethod
    def load(self) -> ListingT:
        """The file as it is now."""

    @abstractmethod
    def items(self, listing: ListingT) -> Sequence[ItemT]:
        """The items of a listing."""

    @abstractmethod
    def _write(self, old_key: str | None, item: ItemT) -> None:
        """Add ``item`` (``old_key`` None) or replace the item ``old_key``; raise a
        ``SettingsError`` and write nothing when the file refuses it."""

    @abstractmethod
    def _remove(self, key: str) -> ItemT:
        """Take the item ``key`` out of the file and return it."""

    @abstractmethod
    def owned_secrets(self, item: ItemT) -> tuple[str, ...]:
        """Every secret field an item like this may own (what a delete removes)."""

    @abstractmethod
    def needed_secrets(self, item: ItemT) -> tuple[str, ...]:
        """The secret fields ``item`` reads with its settings as they are."""

    @abstractmethod
    def missing_secret(self, item: ItemT, field: str) -> str:
        """What to tell the user when a needed secret is neither given nor stored."""

    def new_secrets(self, item: ItemT, edits: SecretEdits) -> dict[str, str]:
        """The secrets an edit brings, checked; raise a ``SettingsError`` for a bad one.
        By default: the values given, blank ones left out."""
        return {f: v for f, v in edits.values.items() if v}

    def label(self, key: str) -> str:
        """How a message names the item ``key``."""
        return key

    def import_file(self, path: str, replace: bool) -> object:
        """Add the items of an exported file (``replace``: those of the same name
        too); what was done, or ``ImportRefused`` (``ImportClash``) with nothing
        changed. Settings that cannot be imported refuse."""
        raise SettingsError(f"{self.plural} cannot be imported")

    def export_file(self, path: str, keys: Sequence[str]) -> int:
        """Write the items ``keys`` (all when empty), never a secret, to ``path``
        whole; how many were written. Settings that cannot be exported refuse."""
        raise SettingsError(f"{self.plural} cannot be exported")

    # -- the rules ---------------------------------------------------------------------

    def present(
        self, items: Sequence[ItemT]
    ) -> tuple[dict[str, list[str]], SecretStoreError | None]:
        """Item id -> the secrets really stored, and the first failure to tell (a
        locked keyring: the items are listed all the same)."""
        present: dict[str, list[str]] = {}
        problem = None
        for item in items:
            try:
                present[item.id] = self.secrets.present(item.id, self.owned_secrets(item))
            except SecretStoreError as exc:
                problem = problem or exc
        return present, problem

    def missing(
        self, items: Sequence[ItemT], present: Mapping[str, Sequence[str]]
    ) -> dict[str, list[str]]:
        """Item id -> the secrets its settings need that are not stored (only items
        with some missing, and only those ``present`` could tell about)."""
        out: dict[str, list[str]] = {}
        for item in items:
            if item.id not in present:
                continue
            lacking = [f for f in self.needed_secrets(item) if f not in present[item.id]]
            if lacking:
                out[item.id] = lacking
        return out

    def owners(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every item in the file now and the secret fields it may own: what a move to
        another backend copies. Raises when the file cannot be read."""
        return [(item.id, self.owned_secrets(item)) for item in self.items(self.load())]

    def gather(
        self, item: ItemT, edits: SecretEdits, *, all_fields: bool = False
    ) -> dict[str, str]:
        """The secrets ``item`` needs that are to be written: new values, and (for a
        clone, or with ``all_fields``) the stored ones. Raises a ``SettingsError`` when a
        needed one is neither given nor stored."""
        given = self.new_secrets(item, edits)
        owner = edits.copy_from or item.id
        out: dict[str, str] = {}
        for field in self.needed_secrets(item):
            if field in given:
                out[field] = given[field]
                continue
            stored = self.secrets.get(owner, field)
            if stored is None:
                raise SettingsError(self.missing_secret(item, field))
            if all_fields or owner != item.id:
                out[field] = stored
        return out

    def save(self, old_key: str | None, item: ItemT, edits: SecretEdits) -> None:
        """Add (``old_key`` None) or replace an item, then its secrets."""
        new = self.gather(item, edits)
        self._write(old_key, item)
        try:
            for field, value in new.items():
                self.secrets.set(item.id, field, value)
            needed = self.needed_secrets(item)
            for field in self.owned_secrets(item):
                if field not in needed:
                    self.secrets.delete(item.id, field)
        except Exception as exc:
            raise SecretsFailed(item) from exc

    def delete(self, key: str) -> ItemT:
        """Remove an item, then every secret it may own; returns the item."""
        gone = self._remove(key)
        try:
            self.secrets.delete_owner(gone.id, self.owned_secrets(gone))
        except Exception as exc:
            raise SecretsFailed(gone) from exc
        return gone

    def scratch(self, item: ItemT, edits: SecretEdits) -> SecretStore:
        """An in-memory store with what ``item`` needs (stored secrets overridden by
        the new ones), for a test of settings that need not be saved. Writes nothing."""
        store = SecretStore(MemoryKeyring(), self.secrets.info)
        for field, value in self.gather(item, edits, all_fields=True).items():
            store.set(item.id, field, value)
        return store
