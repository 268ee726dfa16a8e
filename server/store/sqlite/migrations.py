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
    # 5: the admin console: keyset-ordered listings, the toolkits each session's config names (kept
    # by triggers, so the toolkit filter is an index range), operator audit events, console logins
    """
    DROP INDEX sessions_user;
    CREATE INDEX sessions_user ON sessions(user_id, created_at, id);
    CREATE INDEX sessions_created ON sessions(created_at, id);
    CREATE TABLE session_toolkits (
        toolkit TEXT NOT NULL,
        created_at REAL NOT NULL,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        PRIMARY KEY (toolkit, created_at, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX session_toolkits_session ON session_toolkits(session_id);
    INSERT INTO session_toolkits (toolkit, created_at, session_id)
        SELECT t.value, s.created_at, s.id FROM sessions s, json_each(s.config, '$.toolkits.enable') t
        WHERE t.type = 'text'
        UNION SELECT t.key, s.created_at, s.id FROM sessions s, json_each(s.config, '$.tools') t;
    CREATE TRIGGER session_toolkits_on_insert AFTER INSERT ON sessions BEGIN
        INSERT INTO session_toolkits (toolkit, created_at, session_id)
            SELECT value, NEW.created_at, NEW.id FROM json_each(NEW.config, '$.toolkits.enable') WHERE type = 'text'
            UNION SELECT key, NEW.created_at, NEW.id FROM json_each(NEW.config, '$.tools');
    END;
    CREATE TRIGGER session_toolkits_on_update AFTER UPDATE OF config ON sessions BEGIN
        DELETE FROM session_toolkits WHERE session_id = NEW.id;
        INSERT INTO session_toolkits (toolkit, created_at, session_id)
            SELECT value, NEW.created_at, NEW.id FROM json_each(NEW.config, '$.toolkits.enable') WHERE type = 'text'
            UNION SELECT key, NEW.created_at, NEW.id FROM json_each(NEW.config, '$.tools');
    END;
    CREATE INDEX connected_accounts_created ON connected_accounts(created_at, id);
    CREATE INDEX auth_events_at ON auth_events(at);
    CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        target TEXT,
        detail TEXT
    );
    CREATE INDEX audit_events_at ON audit_events(at);
    CREATE TABLE console_logins (
        token_hash TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
