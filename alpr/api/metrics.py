"""Prometheus text exposition (format 0.0.4) of the server's counters and histograms.

A few dozen lines instead of prometheus_client: the server needs two counters and two histograms.
Each uvicorn worker keeps its own; a scrape sees the worker that answered it (docs/api.md).
"""

from __future__ import annotations

import threading
from collections import defaultdict

# Seconds. Reads take 0.1-2 s on a CPU; the low buckets catch the per-stage times and 429s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._errors: dict[tuple[str, int], int] = defaultdict(int)
        self._latency: dict[str, list] = {}
        self._stages: dict[str, list] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, method, status)] += 1
            if status >= 400:
                self._errors[(route, status)] += 1
            _observe(self._latency, route, seconds)

    def stages(self, timings_ms: dict[str, float]) -> None:
        with self._lock:
            for stage, ms in timings_ms.items():
                _observe(self._stages, stage, ms / 1000)

    def text(self) -> str:
        with self._lock:
            lines = [
                "# HELP alpr_api_requests_total HTTP requests answered, by route, method and status.",
                "# TYPE alpr_api_requests_total counter",
            ]
            for (route, method, status), n in sorted(self._requests.items()):
                lines.append(f'alpr_api_requests_total{{route="{route}",method="{method}",status="{status}"}} {n}')
            lines += [
                "# HELP alpr_api_errors_total Requests answered with a 4xx or 5xx status, by route and status.",
                "# TYPE alpr_api_errors_total counter",
            ]
            for (route, status), n in sorted(self._errors.items()):
                lines.append(f'alpr_api_errors_total{{route="{route}",status="{status}"}} {n}')
            lines += _histogram(
                "alpr_api_request_duration_seconds", "Time from request to response, by route.", "route", self._latency
            )
            lines += _histogram(
                "alpr_pipeline_stage_seconds", "Time of each pipeline stage per photo read.", "stage", self._stages
            )
        return "\n".join(lines) + "\n"


def _observe(table: dict[str, list], key: str, seconds: float) -> None:
    counts = table.setdefault(key, [[0] * len(BUCKETS), 0, 0.0])  # per-bucket counts, count, sum
    for i, bound in enumerate(BUCKETS):
        if seconds <= bound:
            counts[0][i] += 1
    counts[1] += 1
    counts[2] += seconds


def _histogram(name: str, help_text: str, label: str, table: dict[str, list]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for key, (buckets, count, total) in sorted(table.items()):
        for bound, n in zip(BUCKETS, buckets):
            lines.append(f'{name}_bucket{{{label}="{key}",le="{bound}"}} {n}')
        lines.append(f'{name}_bucket{{{label}="{key}",le="+Inf"}} {count}')
        lines.append(f'{name}_sum{{{label}="{key}"}} {total:.6f}')
        lines.append(f'{name}_count{{{label}="{key}"}} {count}')
    return lines


# The outbox's counters (alpr/webhooks/outbox.py) by their name in /metrics.
_GIVEN_UP = {"given_up_refused": "refused", "given_up_expired": "expired", "given_up_full": "outbox_full"}


def webhook_lines(counts: dict[str, int]) -> list[str]:
    """The webhook outbox's counters: they live in its SQLite file, so every worker reports the
    same totals, and they survive restarts."""
    given_up = sum(counts.get(name, 0) for name in _GIVEN_UP)
    lines = [
        "# HELP alpr_webhook_deliveries_total Webhook deliveries queued, sent, retried (failed attempts "
        "followed by a retry) and given up, since the outbox was created.",
        "# TYPE alpr_webhook_deliveries_total counter",
    ]
    for outcome in ("queued", "sent", "retried"):
        lines.append(f'alpr_webhook_deliveries_total{{outcome="{outcome}"}} {counts.get(outcome, 0)}')
    lines.append(f'alpr_webhook_deliveries_total{{outcome="given_up"}} {given_up}')
    lines += [
        "# HELP alpr_webhook_given_up_total Webhook deliveries given up, by why: the receiver refused "
        "(3xx/4xx), still failing after WebhookConfig.max_age_s, or the outbox was full.",
        "# TYPE alpr_webhook_given_up_total counter",
    ]
    for name, reason in _GIVEN_UP.items():
        lines.append(f'alpr_webhook_given_up_total{{reason="{reason}"}} {counts.get(name, 0)}')
    lines += [
        "# HELP alpr_webhook_waiting Webhook deliveries in the outbox waiting to be sent.",
        "# TYPE alpr_webhook_waiting gauge",
        f"alpr_webhook_waiting {counts.get('waiting', 0)}",
    ]
    return lines
