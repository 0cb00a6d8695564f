"""The thread that POSTs one receiver's deliveries, oldest first, while this process holds its lease.

A delivery is done on a 2xx (and on ALPR Database's 409, "I hold this read already"). A 5xx, 408,
425, 429, a refused connection or no answer within `timeout_s` is retried: after `base_delay_s`,
doubling up to `max_delay_s`, each delay shortened by a random part of up to `jitter` (a 429's or
503's Retry-After is honoured up to `max_delay_s`). While a receiver fails, only its oldest delivery
probes it; the others wait behind it instead of each timing out in turn. Any other 3xx or 4xx
means the receiver will never take it (a wrong key, a wrong path): given up at once, with the
receiver's answer in the log.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from alpr import __version__
from alpr.config import WebhookConfig
from alpr.errors import WebhookError
from alpr.webhooks.events import Target
from alpr.webhooks.outbox import Delivery, Outbox

log = logging.getLogger("alpr.webhooks")

# Statuses that say "not now" rather than "never".
RETRY_STATUSES = frozenset({408, 425, 429})


def backoff(failures: int, config: WebhookConfig, rng: random.Random) -> float:
    """Seconds before trying a receiver again after `failures` failures in a row."""
    delay = min(config.max_delay_s, config.base_delay_s * 2 ** max(0, failures - 1))
    return delay * (1.0 - config.jitter * rng.random())


class Sender(threading.Thread):
    def __init__(
        self, outbox: Outbox, target: Target, holder: str, config: WebhookConfig, rng: random.Random, wake=None
    ):
        super().__init__(name=f"webhook-sender {target.url}", daemon=True)
        self.outbox, self.target, self.holder, self.config, self.rng = outbox, target, holder, config, rng
        self.wake = wake or threading.Event()
        self._stopping = threading.Event()
        # Failures of this receiver in a row, in this process: the backoff grows with them, and a
        # restarted server starts again from base_delay_s (the receiver may be back by now).
        self._failures = 0
        self._blocked_until = 0.0
        self._renew_at = 0.0  # when this sender's lease must be renewed (0: not held)

    def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=False) as client:
            next_sweep = 0.0
            while not self._stopping.is_set():
                try:
                    now = time.time()
                    if now < self._blocked_until:
                        self._sleep(self._blocked_until - now)
                        continue
                    if now > self._renew_at:  # renewing costs a committed write: once per half lease
                        if not self.outbox.hold(self.target.url, self.holder, now):
                            self._sleep(self.config.poll_s)
                            continue
                        self._renew_at = now + self.config.lease_s / 2 - self.config.timeout_s
                    if now >= next_sweep:
                        for gone in self.outbox.expire(now):
                            log.warning("webhook %s: gave up delivery %s (%s)", gone.target, gone.id, gone.reason)
                        next_sweep = now + 60.0
                    delivery = self.outbox.claim(self.target.url, now)
                    if delivery is None:
                        due = self.outbox.next_due(self.target.url)
                        self._sleep(self.config.poll_s if due is None else min(self.config.poll_s, due - now))
                        continue
                    self._deliver(client, delivery)
                except WebhookError as exc:
                    log.error("webhook %s: %s", self.target.url, exc)
                    self._sleep(self.config.poll_s)
                except Exception:  # a sender that dies silently would strand the queue: say it, go on
                    log.exception("webhook %s: unexpected error in the sender", self.target.url)
                    self._sleep(self.config.poll_s)
        try:
            self.outbox.release(self.target.url, self.holder)
        except Exception:  # closing: the lease lapses on its own
            pass

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.wake.wait(seconds):
            self.wake.clear()

    def _deliver(self, client, delivery: Delivery) -> None:
        import httpx

        headers = {
            "Content-Type": delivery.content_type,
            "Idempotency-Key": delivery.id,
            "User-Agent": f"alpr/{__version__}",
            **self.target.headers(),
        }
        retry_after = None
        try:
            response = client.post(delivery.target, content=delivery.body, headers=headers)
        except httpx.TimeoutException:
            problem = f"no answer within {self.config.timeout_s:g} s (WebhookConfig.timeout_s)"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if self.target.done(status):
                self.outbox.sent(delivery)
                if self._failures:
                    log.warning("webhook %s: answering again (HTTP %d)", self.target.url, status)
                self._failures = 0
                return
            problem = f"HTTP {status}: {_excerpt(response.text)}"
            if status < 500 and status not in RETRY_STATUSES:
                self.outbox.give_up(delivery, "refused", problem)
                log.warning(
                    "webhook %s: gave up delivery %s: the receiver refused it (%s)",
                    self.target.url,
                    delivery.id,
                    problem,
                )
                return
            retry_after = _seconds(response.headers.get("retry-after"))
        now = time.time()
        if now - delivery.created > self.config.max_age_s:
            self.outbox.give_up(delivery, "expired", problem)
            log.warning(
                "webhook %s: gave up delivery %s after %d attempts: %s",
                self.target.url,
                delivery.id,
                delivery.attempts,
                problem,
            )
            return
        self._failures += 1
        delay = backoff(self._failures, self.config, self.rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.config.max_delay_s))
        self.outbox.retry(delivery, now + delay, problem)
        self._blocked_until = now + delay
        if self._failures == 1 or self._failures % 10 == 0:
            log.warning(
                "webhook %s: %s; delivery %s retried in %.1f s (attempt %d)",
                self.target.url,
                problem,
                delivery.id,
                delay,
                delivery.attempts,
            )


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides
