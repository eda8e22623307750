"""One module per notification channel type.

Each module declares its type whole: the settings model (fields with titles, the
secrets it owns), the sender, the payload it sends, and a module-level
``KIND = ChannelKind(...)`` that ``notify.registry`` finds. Shared pieces live beside
this package: ``notify.base`` (settings base, sender base), ``notify.payloads``
(common payload helpers, Alertmanager's format), ``notify.http`` (one POST),
``notify.retry`` (the dispatcher's back-off).

This ``__init__`` imports none of them: the registry imports each on first use.
"""
