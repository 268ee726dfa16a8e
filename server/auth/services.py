"""The auth layer as one object the runtime holds: encryption, configs, accounts, links, credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.auth.accounts import AccountService
from server.auth.configs import AuthConfigService
from server.auth.connect_flow import ConnectFlow
from server.auth.credentials import AccountCredentials
from server.auth.crypto import SecretBox
from server.auth.rotation import CANARY_KEY
from server.catalog.catalog import Catalog
from server.catalog.model import Toolkit
from server.config import Settings
from server.errors import ConciergeError, InvalidInput
from server.sessions.options import SessionOptions
from server.store.interfaces import Store
from server.store.records import AccountRow
from server.values import AccountStatus, Session


@dataclass(frozen=True)
class AuthServices:
    box: SecretBox
    configs: AuthConfigService
    accounts: AccountService
    flow: ConnectFlow
    credentials: AccountCredentials

    @classmethod
    async def start(cls, settings: Settings, store: Store, catalog: Catalog) -> AuthServices:
        box = SecretBox.from_settings(
            settings.encryption_key.get_secret_value() if settings.encryption_key else None, settings.data_dir
        )
        canary = box.check_canary(await store.meta.get(CANARY_KEY))
        if canary is not None:
            await store.meta.set(CANARY_KEY, canary)
        configs = AuthConfigService(store.auth_configs, box, catalog, settings)
        accounts = AccountService(store.accounts, box, catalog)
        flow = ConnectFlow(accounts, configs, settings.base_url, settings.connect_link_ttl_seconds)
        return cls(box, configs, accounts, flow, AccountCredentials(accounts, configs, flow, store.locks))

    async def check_session_options(self, user_id: str, options: SessionOptions) -> None:
        await self.accounts.check_session_options(user_id, options)
        for toolkit, config_id in (options.auth_configs or {}).items():
            config = await self.configs.get(config_id)
            if config.toolkit != toolkit:
                raise InvalidInput(f"auth_configs.{toolkit}: {config_id} belongs to toolkit {config.toolkit}")

    async def connection_state(self, session: Session, toolkit: Toolkit) -> tuple[AccountRow | None, str]:
        """The account a call would use now (or None) and one sentence about it for the agent."""
        try:
            account = await self.accounts.select(session, toolkit, None)
        except ConciergeError as exc:
            return None, exc.message
        if account is not None:
            return account, f"{toolkit.name} is connected ({account.alias or account.id}); its tools can run."
        recent = await self.accounts.store.find(user_id=session.user_id, toolkit=toolkit.slug)
        why = (
            f" (last attempt: {recent[0].status.lower()}"
            + (f": {recent[0].status_reason})" if recent[0].status_reason else ")")
            if recent
            else ""
        )
        return None, (
            f"{toolkit.name} is not connected for this user{why}. Call COMPOSIO_MANAGE_CONNECTIONS with "
            f"toolkits=['{toolkit.slug}'] and show the user the link."
        )

    async def status_for_search(self, session: Session, toolkit: Toolkit) -> dict[str, Any]:
        """One `toolkit_connection_statuses` entry of COMPOSIO_SEARCH_TOOLS."""
        if not toolkit.needs_auth:
            return {
                "toolkit": toolkit.slug,
                "description": toolkit.description,
                "has_active_connection": True,
                "connection_details": {"auth_scheme": "NO_AUTH"},
                "status_message": f"{toolkit.name} needs no authentication; its tools can run right away.",
            }
        account, message = await self.connection_state(session, toolkit)
        details: dict[str, Any] | None = None
        if account is not None:
            details = {
                "connected_account_id": account.id,
                "alias": account.alias,
                "status": account.status,
                "auth_config_id": account.auth_config_id,
            }
        if session.options.multi_account.enable:
            details = (details or {}) | {
                "accounts": [
                    {"id": a.id, "alias": a.alias, "status": a.status}
                    for a in await self.accounts.store.find(
                        user_id=session.user_id, toolkit=toolkit.slug, statuses=(AccountStatus.ACTIVE,)
                    )
                ]
            }
        return {
            "toolkit": toolkit.slug,
            "description": toolkit.description,
            "has_active_connection": account is not None,
            "connection_details": details,
            "status_message": message,
        }
