"""Webhooks: queue each read for every receiver, send from this process, wait for them at the end.

    hooks = Webhooks(targets, data_dir)     # opens the outbox; raises WebhookError if it cannot
    hooks.start()                           # one sender thread per receiver
    ids = hooks.send(event)                 # committed to the outbox when this returns
    hooks.drain(ids, 30.0)                  # {"queued": 0, "sent": 3, "given_up": 0}
    hooks.close()

`send` also queues an alert when a result's `watchlist` match says `alert` (alpr.watchlist); a
caller that finds an alert another way calls `enqueue_alert` itself.
"""

from __future__ import annotations

import logging
import os
import random
import time

from alpr.config import DEFAULT, WebhookConfig
from alpr.paths import outbox_path
from alpr.webhooks.events import ReadEvent, Target, bodies
from alpr.webhooks.outbox import GivenUp, Outbox, holder_name
from alpr.webhooks.sender import Sender

log = logging.getLogger("alpr.webhooks")


class Webhooks:
    def __init__(
        self,
        targets: tuple[Target, ...],
        data_dir: str | os.PathLike | None = None,
        config: WebhookConfig = DEFAULT.webhook,
        outbox: Outbox | None = None,
    ):
        self.targets = tuple(targets)
        self.config = config
        self.outbox = outbox or Outbox(outbox_path(data_dir), config)
        self.holder = holder_name()
        self._senders: list[Sender] = []
        seed = config.jitter_seed
        self._rngs = [random.Random(None if seed is None else seed + i) for i in range(len(self.targets))]

    @property
    def wants_image(self) -> bool:
        """Whether any receiver gets the photo: callers encode the JPEG only then."""
        return any(t.wants_image for t in self.targets)

    def start(self) -> None:
        if self._senders:
            return
        for target, rng in zip(self.targets, self._rngs):
            sender = Sender(self.outbox, target, self.holder, self.config, rng)
            sender.start()
            self._senders.append(sender)
        waiting = self.outbox.waiting_by_target()
        for target in self.targets:
            if waiting.get(target.url):
                log.warning(
                    "webhook %s: %d deliveries waiting from before; sending them", target.url, waiting[target.url]
                )
        strays = {url: n for url, n in waiting.items() if url not in {t.url for t in self.targets}}
        for url, n in strays.items():
            log.warning("webhook %s: %d deliveries wait for a process started with --webhook %s", url, n, url)

    def send(self, event: ReadEvent) -> list[str]:
        """Queue the read for every receiver (and an alert when a result's watch-list match says
        so); returns the deliveries' ids. Nothing is queued for a read without a plate."""
        alerting = tuple(r for r in event.results if (r.get("watchlist") or {}).get("alert"))
        items = [(t.url, "recognition", *body) for t in self.targets for body in bodies(event, t)]
        if alerting:
            alert = ReadEvent(event.camera_id, event.filename, event.timestamp, alerting, event.image, event.extra)
            items += [(t.url, "alert", *body) for t in self.targets for body in bodies(alert, t, "alert")]
        return self._queue(items)

    def enqueue_alert(self, event: ReadEvent) -> list[str]:
        """Queue `event` as an alert (`hook.event` "alert") for every Plate Recognizer-shaped receiver:
        for a watch-list hit found some other way than the results' `watchlist` field."""
        return self._queue([(t.url, "alert", *body) for t in self.targets for body in bodies(event, t, "alert")])

    def _queue(self, items: list[tuple[str, str, str, bytes]]) -> list[str]:
        if not items:
            return []
        ids, dropped = self.outbox.add(items)
        _say_dropped(dropped, self.config)
        for sender in self._senders:
            sender.wake.set()
        return ids

    def drain(self, ids: list[str], timeout_s: float | None = None) -> dict[str, int]:
        """Wait up to `timeout_s` (default drain_s) until none of `ids` is queued any more; returns
        how many are queued, sent and given up."""
        deadline = time.monotonic() + (self.config.drain_s if timeout_s is None else timeout_s)
        while True:
            states = self.outbox.states(ids)
            if not states["queued"] or time.monotonic() >= deadline:
                return states
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def counts(self) -> dict[str, int]:
        return self.outbox.counts()

    def close(self, timeout_s: float | None = None) -> None:
        """Stop the senders (an attempt under way ends at its time-out) and close the outbox."""
        for sender in self._senders:
            sender.stop()
        wait = self.config.timeout_s * 3 + 1 if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        for sender in self._senders:
            sender.join(max(0.0, deadline - time.monotonic()))
        if any(s.is_alive() for s in self._senders):
            log.warning("webhook senders still waiting for an answer; their deliveries stay queued")
            return  # a sender still uses the outbox: leave it open, the process is ending
        self._senders.clear()
        self.outbox.close()

    def __enter__(self) -> Webhooks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _say_dropped(dropped: list[GivenUp], config: WebhookConfig) -> None:
    if dropped:
        log.warning(
            "webhook outbox full (%d deliveries or %d MB waiting at most, WebhookConfig.max_queued and "
            "max_queued_bytes): gave up the %d oldest, first %s to %s",
            config.max_queued,
            config.max_queued_bytes // 2**20,
            len(dropped),
            dropped[0].id,
            dropped[0].target,
        )
