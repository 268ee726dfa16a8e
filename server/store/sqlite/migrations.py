"""Versioned schema. Append a new entry to change the schema; never edit a shipped one.

The version lives in `PRAGMA user_version`: an older database upgrades in place at start, a newer
one (written by a later Concierge) is refused rather than misread.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sessions, their config history, executions, tool memory, MCP clients, server metadata
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        config TEXT NOT NULL,
        config_version INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id, created_at);
    CREATE TABLE session_config_history (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        config_version INTEGER NOT NULL,
        config TEXT NOT NULL,
        changed_at REAL NOT NULL,
        PRIMARY KEY (session_id, config_version)
    );
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tool_slug TEXT NOT NULL,
        toolkit TEXT NOT NULL,
        account_id TEXT,
        arguments_digest TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        started_at REAL NOT NULL,
        duration_ms REAL NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX executions_session ON executions(session_id, started_at);
    CREATE TABLE tool_memory (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        toolkit TEXT NOT NULL,
        fact TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (user_id, toolkit, fact)
    );
    CREATE TABLE mcp_clients (
        mcp_session_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        client_name TEXT,
        client_version TEXT,
        protocol_version TEXT,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        terminated_at REAL
    );
    CREATE INDEX mcp_clients_session ON mcp_clients(session_id);
    CREATE TABLE server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: auth configs, connected accounts, connect links, connection audit events
    """
    CREATE TABLE auth_configs (
        id TEXT PRIMARY KEY,
        toolkit TEXT NOT NULL,
        name TEXT NOT NULL,
        auth_scheme TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        credentials BLOB,
        scopes TEXT,
        authorize_params TEXT,
        restrict_to_tools TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX auth_configs_toolkit ON auth_configs(toolkit, created_at);
    CREATE TABLE connected_accounts (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        toolkit TEXT NOT NULL,
        auth_config_id TEXT REFERENCES auth_configs(id),
        alias TEXT,
        status TEXT NOT NULL,
        status_reason TEXT,
        is_disabled INTEGER NOT NULL DEFAULT 0,
        scopes TEXT,
        credential BLOB,
        credential_preview TEXT,
        expires_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX connected_accounts_user ON connected_accounts(user_id, toolkit, status);
    CREATE UNIQUE INDEX connected_accounts_alias ON connected_accounts(user_id, toolkit, alias)
        WHERE alias IS NOT NULL AND status NOT IN ('FAILED', 'EXPIRED', 'REVOKED');
    CREATE TABLE connect_links (
        token_hash TEXT PRIMARY KEY,
        token BLOB NOT NULL,
        account_id TEXT NOT NULL REFERENCES connected_accounts(id) ON DELETE CASCADE,
        session_id TEXT,
        callback_url TEXT,
        state_hash TEXT UNIQUE,
        pkce_verifier BLOB,
        expires_at REAL NOT NULL,
        opened_at REAL,
        used_at REAL,
        created_at REAL NOT NULL
    );
    CREATE INDEX connect_links_account ON connect_links(account_id);
    CREATE TABLE auth_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        toolkit TEXT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        detail TEXT,
        at REAL NOT NULL
    );
    CREATE INDEX auth_events_account ON auth_events(account_id, at);
    """,
    # 3: config history written by the database itself, so a session write is one statement
    """
    CREATE TRIGGER session_history_on_insert AFTER INSERT ON sessions BEGIN
        INSERT INTO session_config_history (session_id, config_version, config, changed_at)
        VALUES (NEW.id, NEW.config_version, NEW.config, NEW.updated_at);
    END;
    CREATE TRIGGER session_history_on_update AFTER UPDATE OF config_version ON sessions BEGIN
        INSERT INTO session_config_history (session_id, config_version, config, changed_at)
        VALUES (NEW.id, NEW.config_version, NEW.config, NEW.updated_at);
    END;
    """,
    # 4: upstream MCP servers registered at run time, and every upstream's last known tool list
    """
    CREATE TABLE upstreams (
        name TEXT PRIMARY KEY,
        definition TEXT,
        tools TEXT,
        tools_refreshed_at REAL,
        oauth TEXT,
        oauth_client BLOB,
        created_at REAL NOT NULL
    );
    """,
    # 5: replicas sharing the database, the owner of each session's workbench, store-wide locks
    """
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        url TEXT,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    );
    CREATE TABLE workbench_owners (
        session_id TEXT PRIMARY KEY,
        replica_id TEXT NOT NULL,
        since REAL NOT NULL
    );
    CREATE INDEX workbench_owners_replica ON workbench_owners(replica_id);
    CREATE TABLE store_locks (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
