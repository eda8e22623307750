"""The one error a channel raises, and the scrubbing that keeps secrets out of texts
(``etcdmon_gui.scrub``'s, re-exported here for the channels)."""

from __future__ import annotations

from etcdmon_gui.scrub import redact_url as redact_url
from etcdmon_gui.scrub import scrub as scrub


class ChannelError(Exception):
    """A delivery attempt failed; the message is readable and holds no secret.

    ``permanent`` says that trying again cannot help (a refused login, a 4xx answer, a
    missing secret): the dispatcher then fails the delivery at once instead of
    retrying. ``retry_after`` is the server's requested wait in seconds, if it gave one.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
