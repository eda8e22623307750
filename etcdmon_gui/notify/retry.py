"""How often and how patiently a delivery is tried: the dispatcher's retry policy.

The exponential back-off itself is tenacity's ``wait_exponential`` (with its guard
against overflowing floats on a large attempt number); the dispatcher does not run a
tenacity retry loop, because its retries are scheduled on a timeline shared by every
delivery (so that one alert's deliveries to one channel keep their order), not slept
through on a thread. Jitter and the cap are applied here, so that a given ``fraction``
always yields the same wait.

An alert's delivery is bounded by time, not by tries: it is retried for
``retry_for_s`` (a day by default) from when it was first queued, the waits growing
to ``max_delay_s`` (five minutes) and staying there, so a receiver that is down for
hours still gets what it missed when it is back, and the last RESOLVED in particular.
A test notification is bounded by ``attempts``, so the button answers within a minute.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, wait_exponential

DAY_S = 86_400.0


class RetryPolicy(BaseModel):
    """Exponential back-off: the wait before try n+1 is ``base_delay_s * factor**(n-1)``,
    spread by +-``jitter`` (a fraction) so many failed
    deliveries do not retry in lock-step, and capped at ``max_delay_s``. A server's
    Retry-After (capped too) wins. An alert's delivery is given up ``retry_for_s`` after
    it was queued (its last try at that moment); a test notification after ``attempts``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        title="Test attempts",
        description="Tries per test notification, the first one included",
    )
    retry_for_s: float = Field(
        default=DAY_S,
        ge=0,
        le=30 * DAY_S,
        allow_inf_nan=False,
        title="Keep retrying for (s)",
        description="How long an alert's notification is retried before it is given up",
    )
    base_delay_s: float = Field(default=2.0, ge=0, le=3600, title="First retry after (s)")
    max_delay_s: float = Field(default=300.0, ge=0, le=86400, title="Longest wait (s)")
    factor: float = Field(default=2.0, ge=1, le=10, title="Back-off factor")
    jitter: float = Field(default=0.1, ge=0, le=1, title="Jitter (fraction)")

    def delay(self, failures: int, fraction: float = 0.5) -> float:
        """Seconds to wait after the ``failures``-th failed try. ``fraction`` in [0, 1)
        picks the point in the jitter band (0.5: no jitter)."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = max(failures, 1)
        raw = wait_exponential(multiplier=self.base_delay_s, exp_base=self.factor)(state)
        spread = 1.0 + self.jitter * (2.0 * fraction - 1.0)
        return float(min(self.max_delay_s, raw * spread))
