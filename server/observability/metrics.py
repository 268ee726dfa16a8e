"""Prometheus metrics (prometheus-client), one registry per app so servers in one process stay apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def child_processes() -> int:
    """Direct children of this process: the workbench's sandboxed interpreters and shells."""
    total = 0
    for task in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            total += len(task.read_text().split())
        except OSError:
            continue
    return total


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "concierge_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "concierge_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_seconds = Histogram(
            "concierge_meta_tool_duration_seconds",
            "Meta tool call latency",
            ["tool", "source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.executions = Counter(
            "concierge_executions", "Tool executions logged, by status and source", ["status", "source"], registry=r
        )
        self.refreshes = Counter(
            "concierge_token_refreshes", "OAuth token refreshes, by outcome", ["outcome"], registry=r
        )
        self.rate_limited = Counter(
            "concierge_rate_limit_refusals", "Requests refused by a rate limit", ["scope"], registry=r
        )
        self.workbench_processes = Gauge(
            "concierge_workbench_processes", "Child processes of the server (workbench sandboxes)", registry=r
        )
        self.workbench_processes.set_function(child_processes)
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus-client checks the labels and takes a lock on every
        `labels()` call, and the hot path asks for the same few series on every request."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def observe_executions(self, store: Any) -> None:
        """Counts every execution's outcome as the store is given it (wraps `record` and `finish`; the
        "running" rows of `begin` are not outcomes)."""
        record, finish = store.record, store.finish

        def count(row: Any) -> None:
            self.child(self.executions, row.status, row.source).inc()

        async def counted(row: Any) -> None:
            count(row)
            await record(row)

        def finished(row: Any) -> None:
            count(row)
            finish(row)

        store.record, store.finish = counted, finished

    def observe_refreshes(self, accounts_store: Any) -> None:
        """Counts token refreshes as the account store records them: `refreshed`, or an ACTIVE account
        `expired` because its refresh failed."""
        set_status = accounts_store.set_status

        async def counted(
            account_id: str, status: str, reason: str | None, event: str, actor: str, **kwargs: Any
        ) -> bool:
            changed = await set_status(account_id, status, reason, event, actor, **kwargs)
            if event == "refreshed":
                self.refreshes.labels("ok").inc()
            elif event == "expired" and kwargs.get("only_if") == ("ACTIVE",) and changed:
                self.refreshes.labels("failed").inc()
            return changed

        accounts_store.set_status = counted
