"""Several server processes on one database: each replica's identity and heartbeat, and the workbench
that lives on one replica and is reached from the others (docs/replicas.md)."""
