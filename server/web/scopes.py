"""OAuth scopes in plain words for the Connect pages: what a person allows when they sign in.

Keyed by toolkit slug, then scope. A scope not listed here is shown as the provider names it, so a
new toolkit's page is never blank; several scopes may share one sentence (shown once).
"""

from __future__ import annotations

from collections.abc import Iterable

GOOGLE = "https://www.googleapis.com/auth/"

PLAIN_WORDS: dict[str, dict[str, str]] = {
    "github": {
        "repo": "Read and change your repositories, issues and pull requests, including private ones",
        "public_repo": "Read and change your public repositories",
        "read:user": "See your profile",
        "user:email": "See your email addresses",
        "read:org": "See your organizations and teams",
        "workflow": "Change GitHub Actions workflows",
        "gist": "Create and change gists",
        "notifications": "Read your notifications",
    },
    "gmail": {
        GOOGLE + "gmail.modify": "Read, send, label and delete your email (not delete forever)",
        GOOGLE + "gmail.readonly": "Read your email",
        GOOGLE + "gmail.send": "Send email as you",
        "https://mail.google.com/": "Full access to your mailbox, including deleting email for good",
    },
    "googlecalendar": {
        GOOGLE + "calendar": "See, create, change and delete events in all your calendars",
        GOOGLE + "calendar.events": "See, create, change and delete your calendar events",
        GOOGLE + "calendar.readonly": "See your calendars and events",
    },
    "googledrive": {
        GOOGLE + "drive": "See, edit, create and delete all your Google Drive files",
        GOOGLE + "drive.file": "Only the Drive files it creates or you open with it",
        GOOGLE + "drive.readonly": "See and download your Google Drive files",
    },
    "googlesheets": {
        GOOGLE + "spreadsheets": "See, edit, create and delete your spreadsheets",
        GOOGLE + "spreadsheets.readonly": "See your spreadsheets",
    },
    "outlook": {
        "offline_access": "Stay connected when you are not using it (refresh its access)",
        "User.Read": "See your profile",
        "Mail.Read": "Read your email",
        "Mail.ReadWrite": "Read, move and delete your email",
        "Mail.Send": "Send email as you",
        "Calendars.Read": "See your calendar",
        "Calendars.ReadWrite": "See and change your calendar",
    },
    "jira": {
        "read:jira-work": "Read Jira projects, issues and comments",
        "write:jira-work": "Create and change Jira issues and comments",
        "read:jira-user": "See Jira user names and email addresses",
        "offline_access": "Stay connected when you are not using it (refresh its access)",
    },
    "linear": {
        "read": "Read your Linear workspace: issues, projects, teams and comments",
        "write": "Create and change issues and comments in Linear",
    },
    "discord": {
        "identify": "See your Discord user name and avatar",
        "guilds": "See which servers you are in",
    },
    "hubspot": {
        "crm.objects.contacts.read": "See your CRM contacts",
        "crm.objects.contacts.write": "Create and change CRM contacts",
        "crm.objects.companies.read": "See your CRM companies",
        "crm.objects.companies.write": "Create and change CRM companies",
        "crm.objects.deals.read": "See your CRM deals",
        "crm.objects.deals.write": "Create and change CRM deals",
        "crm.objects.owners.read": "See who owns CRM records",
        "oauth": "Identify your HubSpot account",
    },
    "slack": {
        "channels:read": "See the public channels in your workspace",
        "channels:history": "Read messages in public channels",
        "channels:write": "Create and manage public channels",
        "groups:read": "See your private channels",
        "groups:history": "Read messages in your private channels",
        "im:read": "See your direct messages",
        "im:history": "Read your direct messages",
        "im:write": "Start direct messages",
        "mpim:read": "See your group direct messages",
        "mpim:history": "Read your group direct messages",
        "chat:write": "Send messages as you",
        "reactions:read": "See emoji reactions",
        "reactions:write": "Add and remove emoji reactions",
        "users:read": "See people in your workspace",
        "users:read.email": "See the email addresses of people in your workspace",
        "search:read": "Search your workspace's messages and files",
        "files:read": "See files shared in your workspace",
        "pins:write": "Pin and unpin messages",
    },
}


def in_plain_words(slug: str, name: str, scopes: Iterable[str]) -> list[str]:
    """One line per permission, in the order asked, without repeats; unknown scopes as the provider names them."""
    words = PLAIN_WORDS.get(slug, {})
    lines = [words.get(scope) or f"Access that {name} calls “{scope}”" for scope in scopes]
    return list(dict.fromkeys(lines))
