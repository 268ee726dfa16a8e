"""The store contract (`server/store/interfaces.py`), checked through `open_store(url)` only.

Every backend must pass this file unchanged: add a way to make its URL (a fresh, empty database) to
`BACKENDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from server.errors import Conflict, NotFound
from server.store import open_store, sqlite_url
from server.store.errors import AlreadyExists, ReferenceMissing, VersionConflict
from server.store.interfaces import Store
from server.store.records import AccountRow, AuditKey, ExecutionRow, LinkRow, PageKey, SessionFilter, now
from server.values import AccountStatus
from tests.postgres import new_database

pytestmark = pytest.mark.anyio
BACKENDS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda folder: sqlite_url(folder / "c.db"),
    "postgres": lambda folder: new_database(),
}


@pytest.fixture(params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in sorted(BACKENDS)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(BACKENDS[request.param](tmp_path))
    try:
        yield opened
    finally:
        await opened.aclose()


def _account(account_id: str, alias: str | None = None, user: str = "u1") -> AccountRow:
    ts = now()
    return AccountRow(id=account_id, user_id=user, toolkit="keyed", auth_config_id=None, alias=alias,
                      status=AccountStatus.INITIATED, status_reason=None, is_disabled=0, scopes=None, credential=None,
                      credential_preview=None, expires_at=None, created_at=ts, updated_at=ts)


def _link(token_hash: str, account_id: str) -> LinkRow:
    ts = now()
    return LinkRow(token_hash=token_hash, token=b"sealed", account_id=account_id, session_id=None,
                   callback_url=None, state_hash=None, pkce_verifier=None, expires_at=ts + 600, opened_at=None,
                   used_at=None, created_at=ts)


def _execution(log_id: str, session_id: str = "sess_a", status: str = "success") -> ExecutionRow:
    return ExecutionRow(log_id, session_id, "u1", "MATH_EVALUATE", "math", None, "sha256:x", status, None, now(), 0.5,
                        "mcp")


async def test_sessions_compare_and_set_and_history(store: Store) -> None:
    await store.sessions.insert("sess_a", "u1", {"toolkits": ["math"]})
    updated = await store.sessions.update("sess_a", {"toolkits": ["text"]}, expected_version=1)
    assert (updated.config_version, updated.config) == (2, {"toolkits": ["text"]})
    with pytest.raises(VersionConflict):
        await store.sessions.update("sess_a", {"toolkits": ["math"]}, expected_version=1)
    assert [h["config_version"] for h in await store.sessions.history("sess_a")] == [1, 2]
    assert [s.id for s in await store.sessions.list_by_user("u1")] == ["sess_a"]
    assert await store.sessions.delete("sess_a") is True
    assert await store.sessions.get("sess_a") is None
    with pytest.raises(NotFound):
        await store.sessions.update("sess_a", {}, expected_version=2)
    assert await store.sessions.delete("sess_a") is False


async def test_mcp_clients_belong_to_a_live_session(store: Store) -> None:
    await store.sessions.insert("sess_a", "u1", {})
    await store.mcp_clients.register("mcp_1", "sess_a", "client", "1.0", "2025-06-18")
    row = await store.mcp_clients.get("mcp_1")
    assert row is not None and row.session_id == "sess_a" and row.terminated_at is None
    await store.mcp_clients.terminate("mcp_1")
    ended = await store.mcp_clients.get("mcp_1")
    assert ended is not None and ended.terminated_at is not None
    await store.sessions.delete("sess_a")
    assert await store.mcp_clients.list_by_session("sess_a") == []
    with pytest.raises(ReferenceMissing) as raised:
        await store.mcp_clients.register("mcp_2", "sess_a", None, None, None)
    assert isinstance(raised.value, NotFound)


async def test_accounts_transitions_are_guarded_and_audited(store: Store) -> None:
    await store.accounts.insert(_account("ca_1", alias="work"), _link("h1", "ca_1"), "initiated", "api")
    with pytest.raises(AlreadyExists) as taken:
        await store.accounts.insert(_account("ca_2", alias="work"), None, "initiated", "api")
    assert isinstance(taken.value, Conflict)
    assert await store.accounts.get("ca_2") is None, "a refused insert writes nothing"
    assert await store.accounts.set_status("ca_1", AccountStatus.ACTIVE, None, "activated", "user",
                                           credential=b"secret", preview="…", only_if=(AccountStatus.INITIATED,))
    assert not await store.accounts.set_status("ca_1", AccountStatus.FAILED, "late", "failed", "provider",
                                               only_if=(AccountStatus.INITIATED,))
    account = await store.accounts.get("ca_1")
    assert account is not None and account.status is AccountStatus.ACTIVE and account.credential == b"secret"
    assert [a.id for a in await store.accounts.find(user_id="u1", statuses=(AccountStatus.ACTIVE,))] == ["ca_1"]
    assert await store.accounts.find(user_id="u2") == []
    assert [e["event"] for e in await store.accounts.events("ca_1")] == ["initiated", "activated"]
    assert await store.accounts.use_link("h1") and not await store.accounts.use_link("h1")


async def test_executions_are_committed_when_record_returns(store: Store) -> None:
    await asyncio.gather(*(store.executions.record(_execution(f"log_{i}")) for i in range(50)),
                         store.executions.record(_execution("log_err", status="error")))
    assert (await store.executions.get("log_7")) is not None
    assert len(await store.executions.list_by_session("sess_a", limit=100)) == 51
    assert await store.executions.used_toolkits("sess_a") == {"math": 50}
    await store.executions.record(_execution("log_more"))
    assert await store.executions.used_toolkits("sess_a") == {"math": 51}
    resent = await store.executions.get("log_7")
    assert resent is not None
    await store.executions.record(resent)  # a batch sent again after its commit was lost in transit
    assert len(await store.executions.list_by_session("sess_a", limit=100)) == 52


async def test_a_begun_execution_is_running_until_its_outcome_replaces_it(store: Store) -> None:
    started = _execution("log_b", status="running")
    await store.executions.begin(started)
    assert (await store.executions.get("log_b")).status == "running"  # type: ignore[union-attr]
    assert await store.executions.used_toolkits("sess_a") == {}
    store.executions.finish(replace(started, status="success", duration_ms=7.0, account_id="ca_1"))
    done = await store.executions.get("log_b")  # a read waits for the rows queued before it
    assert done is not None and (done.status, done.duration_ms, done.account_id) == ("success", 7.0, "ca_1")
    assert await store.executions.used_toolkits("sess_a") == {"math": 1}
    await store.executions.record(started)  # the first row sent again (its commit lost in transit)
    assert (await store.executions.get("log_b")).status == "success"  # type: ignore[union-attr]
    assert len(await store.executions.list_by_session("sess_a")) == 1


async def test_memory_meta_reencryption_and_integrity(store: Store) -> None:
    assert await store.memory.remember("u1", "sess_a", {"github": ["repo is acme/api", "repo is acme/api"]}) == 1
    assert await store.memory.recall("u1", ["github", "slack"]) == {"github": ["repo is acme/api"]}
    assert await store.memory.recall("u2", ["github"]) == {}
    await store.meta.set("canary", "old")
    await store.meta.set("canary", "v1")
    assert await store.meta.get("canary") == "v1" and await store.meta.get("missing") is None
    await store.accounts.insert(_account("ca_1"), _link("h1", "ca_1"), "initiated", "api")
    changed = await store.reencrypt(lambda blob: blob.upper(), meta_keys=("canary",))
    link = await store.accounts.link_by_token("h1")
    assert changed == 1 and link is not None and link.token == b"SEALED"
    assert await store.meta.get("canary") == "V1"
    assert await store.integrity_problems() == []


async def test_session_stamp_sees_version_client_and_deletion_in_one_read(store: Store) -> None:
    await store.sessions.insert("sess_a", "u1", {})
    await store.sessions.insert("sess_b", "u1", {})
    await store.mcp_clients.register("mcp_1", "sess_a", None, None, None)
    stamp = await store.sessions.stamp("sess_a", "mcp_1")
    assert stamp is not None and (stamp.config_version, stamp.client_session_id, stamp.client_terminated) == (
        1,
        "sess_a",
        False,
    )
    other = await store.sessions.stamp("sess_b", "mcp_1")
    assert other is not None and other.client_session_id == "sess_a"  # the caller compares: not this session's
    unknown = await store.sessions.stamp("sess_a", "mcp_nope")
    assert unknown is not None and unknown.client_session_id is None
    await store.sessions.update("sess_a", {"toolkits": ["math"]}, expected_version=1)
    await store.mcp_clients.terminate("mcp_1")
    moved = await store.sessions.stamp("sess_a", "mcp_1")
    assert moved is not None and (moved.config_version, moved.client_terminated) == (2, True)
    assert (await store.sessions.stamp("sess_a")) is not None
    await store.sessions.delete("sess_a")
    assert await store.sessions.stamp("sess_a", "mcp_1") is None


async def test_workbench_owner_is_claimed_once_and_taken_over_by_compare_and_set(store: Store) -> None:
    await store.replicas.heartbeat("r1", "http://127.0.0.1:1")
    await store.replicas.heartbeat("r2", None)
    assert await store.replicas.workbench_owner("sess_a") is None
    won = await asyncio.gather(*(store.replicas.claim_workbench("sess_a", r, None) for r in ("r1", "r2", "r1")))
    assert sorted(won) == [False, False, True]
    owner = await store.replicas.workbench_owner("sess_a")
    assert owner is not None and owner.heartbeat_at is not None
    first = owner.replica_id
    assert owner.url == ("http://127.0.0.1:1" if first == "r1" else None)
    second = "r2" if first == "r1" else "r1"
    assert await store.replicas.claim_workbench("sess_a", second, replacing="r_other") is False
    assert await store.replicas.claim_workbench("sess_a", second, replacing=first) is True
    owner = await store.replicas.workbench_owner("sess_a")
    assert owner is not None and owner.replica_id == second
    await store.replicas.remove(second)  # a clean stop drops its row; its claims stay, seen as stopped
    gone = await store.replicas.workbench_owner("sess_a")
    assert gone is not None and gone.replica_id == second and (gone.heartbeat_at, gone.url) == (None, None)
    await store.replicas.release_workbench("sess_a")
    assert await store.replicas.workbench_owner("sess_a") is None
    assert await store.replicas.claim_workbench("sess_a", first, None) is True


async def test_lock_is_exclusive_times_out_and_is_released(store: Store) -> None:
    inside: list[int] = []
    peak = 0

    async def worker(n: int) -> None:
        nonlocal peak
        async with store.locks.hold("refresh:acc_1", wait_seconds=10):
            inside.append(n)
            peak = max(peak, len(inside))
            await asyncio.sleep(0.01)
            inside.remove(n)

    await asyncio.gather(*(worker(n) for n in range(8)))
    assert peak == 1
    async with store.locks.hold("refresh:acc_1", wait_seconds=1):
        with pytest.raises(Conflict):  # LockTimeout is a Conflict (409)
            async with store.locks.hold("refresh:acc_1", wait_seconds=0.05):
                pass
        async with store.locks.hold("refresh:acc_2", wait_seconds=0.05):  # other names are independent
            pass
    async with store.locks.hold("refresh:acc_1", wait_seconds=0.05):  # released
        pass


async def test_meta_set_if_absent_keeps_the_first_value(store: Store) -> None:
    won = await asyncio.gather(*(store.meta.set_if_absent("token_secret", f"v{n}") for n in range(5)))
    assert len(set(won)) == 1 and won[0] in {f"v{n}" for n in range(5)}
    assert await store.meta.get("token_secret") == won[0]
    await store.meta.set("token_secret", "replaced")
    assert await store.meta.set_if_absent("token_secret", "later") == "replaced"


async def test_sessions_page_by_keyset_with_filters(store: Store) -> None:
    configs = [{"toolkits": {"enable": ["math"]}}, {"toolkits": {"enable": ["text"]}, "tools": {"github": {}}}, {}]
    for i in range(9):
        await store.sessions.insert(f"sess_{i}", f"u{i % 2}", configs[i % 3])
    rows = await store.sessions.page(SessionFilter(), None, 4)
    seen = [r.id for r in rows]
    while rows:
        rows = await store.sessions.page(SessionFilter(), PageKey(rows[-1].created_at, rows[-1].id), 4)
        seen += [r.id for r in rows]
    assert seen == [f"sess_{i}" for i in reversed(range(9))], "newest first, every row once"
    assert [r.id for r in await store.sessions.page(SessionFilter(user_id="u1"), None, 10)] == [
        "sess_7", "sess_5", "sess_3", "sess_1"]
    assert [r.id for r in await store.sessions.page(SessionFilter(toolkit="math"), None, 10)] == [
        "sess_6", "sess_3", "sess_0"]
    assert [r.id for r in await store.sessions.page(SessionFilter(toolkit="github", user_id="u1"), None, 10)] == [
        "sess_7", "sess_1"]
    first = await store.sessions.page(SessionFilter(toolkit="math"), None, 1)
    assert [r.id for r in await store.sessions.page(
        SessionFilter(toolkit="math"), PageKey(first[0].created_at, first[0].id), 10)] == ["sess_3", "sess_0"]
    middle = (await store.sessions.get("sess_4"), await store.sessions.get("sess_7"))
    assert middle[0] is not None and middle[1] is not None
    window = SessionFilter(created_from=middle[0].created_at, created_to=middle[1].created_at)
    assert [r.id for r in await store.sessions.page(window, None, 10)] == ["sess_6", "sess_5", "sess_4"]
    await store.sessions.update("sess_0", {"toolkits": {"enable": ["text"]}}, expected_version=1)
    assert [r.id for r in await store.sessions.page(SessionFilter(toolkit="math"), None, 10)] == ["sess_6", "sess_3"]
    await store.sessions.delete("sess_6")
    assert [r.id for r in await store.sessions.page(SessionFilter(toolkit="math"), None, 10)] == ["sess_3"]


async def test_executions_page_by_keyset(store: Store) -> None:
    for i in range(7):
        await store.executions.record(_execution(f"log_{i}"))
    await store.executions.record(_execution("log_other", session_id="sess_b"))
    first = await store.executions.page_by_session("sess_a", None, 3)
    rest = await store.executions.page_by_session("sess_a", PageKey(first[-1].started_at, first[-1].id), 10)
    assert [r.id for r in first + rest] == [f"log_{i}" for i in reversed(range(7))]


async def test_accounts_page_shows_last_refresh_and_no_other_user(store: Store) -> None:
    for i in range(5):
        await store.accounts.insert(_account(f"ca_{i}", user="u1" if i < 4 else "u2"), None, "initiated", "api")
    await store.accounts.set_status("ca_1", AccountStatus.ACTIVE, None, "refreshed", "system", credential=b"x")
    rows = await store.accounts.page("u1", None, None, 2)
    rows += await store.accounts.page("u1", None, PageKey(rows[-1].account.created_at, rows[-1].account.id), 10)
    assert [r.account.id for r in rows] == ["ca_3", "ca_2", "ca_1", "ca_0"]
    refreshed = {r.account.id: r.last_refreshed_at for r in rows}
    assert refreshed["ca_1"] is not None and refreshed["ca_0"] is None
    assert [r.account.id for r in await store.accounts.page(None, "keyed", None, 10)][0] == "ca_4"
    assert await store.accounts.page(None, "github", None, 10) == []


async def test_audit_merges_operator_and_account_events_by_keyset(store: Store) -> None:
    await store.accounts.insert(_account("ca_1"), None, "initiated", "api")
    await store.audit.record("console.login", "console", None)
    await store.accounts.set_status("ca_1", AccountStatus.REVOKED, None, "revoked", "console")
    await store.audit.record("console.revoke", "console", "ca_1", "user u1")
    everything = await store.audit.page(None, 10)
    assert [(e.source, e.event) for e in everything] == [
        ("console", "console.revoke"), ("account", "revoked"), ("console", "console.login"), ("account", "initiated")]
    assert everything[1].target == "ca_1" and everything[1].user_id == "u1" and everything[0].detail == "user u1"
    paged, after = [], None
    while True:
        chunk = await store.audit.page(after, 1)
        if not chunk:
            break
        paged += chunk
        after = chunk[-1].key()
    assert paged == everything
    assert await store.audit.page(AuditKey(0.0, "account", 0), 10) == []


async def test_console_logins_end_at_close_or_expiry(store: Store) -> None:
    ts = now()
    await store.console_logins.open("h_live", ts + 60)
    await store.console_logins.open("h_old", ts + 1)
    assert await store.console_logins.alive("h_live", ts) and await store.console_logins.alive("h_old", ts)
    assert not await store.console_logins.alive("h_old", ts + 2), "expired"
    await store.console_logins.close("h_live")
    assert not await store.console_logins.alive("h_live", ts)
    assert not await store.console_logins.alive("h_never", ts)
async def test_vectors_are_kept_by_model_and_digest(store: Store) -> None:
    first = {f"d{i:03d}": bytes([i % 256]) * 1536 for i in range(600)}  # more digests than one query binds
    assert await store.vectors.put_many("minilm", first) == 600
    assert await store.vectors.put_many("minilm", {"d000": b"\xff" * 1536, "new": b"\x01" * 1536}) == 1
    got = await store.vectors.get_many("minilm", [*first, "new", "absent"])
    assert set(got) == {*first, "new"} and got["d000"] == first["d000"] and got["d599"] == first["d599"]
    assert await store.vectors.get_many("other-model", list(first)) == {}  # a model's vectors are its own
    assert await store.vectors.get_many("minilm", []) == {}
