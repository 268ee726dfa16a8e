"""The PostgreSQL backend (`database_url = "postgresql://…"`): an asyncpg pool (`db.py`) running the shared stores
and schema of `server/store/sql/`."""
