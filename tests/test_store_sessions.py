from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import Conflict, NotFound
from server.store.sql.sessions import SqlSessionStore as SessionStore
from server.store.sqlite.db import Database


@pytest.mark.anyio
async def test_every_config_version_is_kept_in_history_and_a_lost_race_writes_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    store = SessionStore(db)
    try:
        await store.insert("sess_a", "u1", {"toolkits": ["math"]})
        updated = await store.update("sess_a", {"toolkits": ["text"]}, expected_version=1)
        assert updated.config_version == 2 and updated.config == {"toolkits": ["text"]}
        with pytest.raises(Conflict, match="config_version is 2, expected 1"):
            await store.update("sess_a", {"toolkits": ["sqlite"]}, expected_version=1)
        with pytest.raises(NotFound):
            await store.update("sess_missing", {}, expected_version=1)
        history = await store.history("sess_a")
        assert [(h["config_version"], h["config"]) for h in history] == [
            (1, {"toolkits": ["math"]}), (2, {"toolkits": ["text"]})]
        assert (await store.get("sess_a")).config == {"toolkits": ["text"]}
        assert await store.delete("sess_a") is True and await store.delete("sess_a") is False
        assert await store.history("sess_a") == []
    finally:
        await db.close()
