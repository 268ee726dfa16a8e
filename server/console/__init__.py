"""The admin console at /admin: server-rendered pages for operators (sessions, executions, accounts,
auth configs, tools, audit events), behind a login with the admin key."""
