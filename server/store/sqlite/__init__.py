"""The SQLite backend (the default): one file in the data folder, WAL, aiosqlite (`db.py`)."""
