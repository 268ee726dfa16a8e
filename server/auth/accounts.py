"""Connected accounts (`ca_…`): listing, selection for a session, lifecycle, public views.

Selection rule: an explicit per-call account (id or alias, with `multi_account`), else the session's
pinned `connected_accounts`, else the user's most recently connected ACTIVE account. Every lookup is
scoped by the session's user id, so another user's account is "not found", whatever its id.
"""

from __future__ import annotations

import json
from typing import Any

from server.auth.crypto import SecretBox
from server.catalog.catalog import Catalog
from server.catalog.model import Toolkit
from server.errors import Conflict, ConnectionRequired, Forbidden, InvalidInput, NotFound
from server.sessions.options import SessionOptions
from server.store.interfaces import AccountStore
from server.store.records import AccountRow
from server.values import AccountStatus, Session


def preview(secret: str) -> str:
    """A masked preview such as `ghp_…9f3`: enough to recognise a key, useless to an attacker."""
    return f"{secret[:4]}…{secret[-3:]}" if len(secret) >= 12 else "…"


class AccountService:
    def __init__(self, store: AccountStore, box: SecretBox, catalog: Catalog) -> None:
        self.store = store
        self.box = box
        self.catalog = catalog

    def view(self, account: AccountRow) -> dict[str, Any]:
        data = account.public()
        data["scopes"] = json.loads(account.scopes) if account.scopes else None
        data["is_disabled"] = bool(account.is_disabled)
        data["toolkit"] = {"slug": account.toolkit}
        data["auth_config"] = {"id": account.auth_config_id}
        return data

    async def get(self, account_id: str, user_id: str | None = None) -> AccountRow:
        account = await self.store.get(account_id)
        if account is None or (user_id is not None and account.user_id != user_id):
            raise NotFound(f"connected account {account_id} not found" + (" for this user" if user_id else ""))
        return account

    async def list(self, user_id: str | None, toolkit: str | None = None) -> list[AccountRow]:
        await self.store.expire_stale()
        return await self.store.find(user_id=user_id, toolkit=toolkit)

    async def check_session_options(self, user_id: str, options: SessionOptions) -> None:
        """A session may pin only its own user's accounts, of the right toolkit."""
        for toolkit, refs in (options.connected_accounts or {}).items():
            for ref in [refs] if isinstance(refs, str) else refs:
                account = await self.store.get(ref)
                if account is None or account.user_id != user_id:
                    raise Forbidden(
                        f"connected_accounts.{toolkit}: {ref} is not an account of user {user_id!r}",
                        {"field": f"connected_accounts.{toolkit}", "account": ref},
                    )
                if account.toolkit != toolkit:
                    raise InvalidInput(f"connected_accounts.{toolkit}: {ref} is a {account.toolkit} account")

    async def select(self, session: Session, toolkit: Toolkit, ref: str | None) -> AccountRow | None:
        """The ACTIVE account this call should use, or None when the user has none (caller offers a link)."""
        accounts = await self.store.find(user_id=session.user_id, toolkit=toolkit.slug)
        options = session.options
        pinned = (options.connected_accounts or {}).get(toolkit.slug)
        pinned_ids = [pinned] if isinstance(pinned, str) else list(pinned or [])
        if pinned_ids:
            accounts = [a for a in accounts if a.id in pinned_ids]
            accounts.sort(key=lambda a: pinned_ids.index(a.id))
        if ref is not None:
            if not options.multi_account.enable and ref not in pinned_ids:
                raise InvalidInput(
                    "choosing an account per call needs the session option multi_account.enable; "
                    "or pin the account with connected_accounts"
                )
            match = [
                a
                for a in accounts
                if ref in (a.id, a.alias) and a.status not in (AccountStatus.FAILED, AccountStatus.REVOKED)
            ]
            if not match:
                names = [a.alias or a.id for a in accounts if a.status == AccountStatus.ACTIVE]
                raise NotFound(
                    f"no {toolkit.slug} account {ref!r} for this user; available: {names or 'none'}",
                    {"available": names},
                )
            return self._usable(match[0])
        active = [a for a in accounts if a.status == AccountStatus.ACTIVE and not a.is_disabled]
        if len(active) > 1 and options.multi_account.enable and options.multi_account.require_explicit_selection:
            raise InvalidInput(
                f"this user has {len(active)} {toolkit.slug} accounts; pass `account` (id or alias) with the call",
                {"accounts": [{"id": a.id, "alias": a.alias} for a in active]},
            )
        return active[0] if active else None

    def _usable(self, account: AccountRow) -> AccountRow:
        if account.status != AccountStatus.ACTIVE or account.is_disabled:
            state = "disabled" if account.is_disabled else account.status
            raise ConnectionRequired(
                f"{account.toolkit} account {account.alias or account.id} is {state}"
                + (f": {account.status_reason}" if account.status_reason else ""),
                {"connected_account_id": account.id, "status": state},
            )
        return account

    def secret(self, account: AccountRow) -> dict[str, Any]:
        if account.credential is None:
            raise ConnectionRequired(f"{account.toolkit} account {account.id} holds no credential; reconnect it")
        return self.box.open(account.credential)

    async def set_disabled(self, account: AccountRow, disabled: bool, actor: str) -> AccountRow:
        if not disabled and account.status == AccountStatus.REVOKED:
            raise Conflict(
                f"connected account {account.id} was revoked: enabling it cannot bring its credential back; "
                "connect the toolkit again",
                {"status": account.status},
            )
        await self.store.set_disabled(account.id, disabled, actor)
        return await self.get(account.id)

    async def delete(self, account: AccountRow, actor: str) -> None:
        await self.store.delete(account.id, actor)
