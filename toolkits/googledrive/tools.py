"""Google Drive hooks: the fixed request parts a tool implies (alt=media, the folder MIME type, trashed=true)
and a useful default `fields` selection, since Drive v3 answers only id, name and mimeType otherwise."""

from __future__ import annotations

from typing import Any

FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = ("id,name,mimeType,parents,size,createdTime,modifiedTime,owners(displayName,emailAddress),"
               "webViewLink,shared,starred,trashed,description")


def all_drives(arguments: dict[str, Any]) -> dict[str, Any]:
    """Files on shared drives work too (Drive refuses them unless the call says it supports them)."""
    return {"supportsAllDrives": True} | arguments


def list_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return all_drives({"fields": f"nextPageToken,incompleteSearch,files({FILE_FIELDS})"} | arguments)


def file_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return all_drives({"fields": FILE_FIELDS} | arguments)


def download(arguments: dict[str, Any]) -> dict[str, Any]:
    return all_drives(arguments) | {"alt": "media"}


def folder(arguments: dict[str, Any]) -> dict[str, Any]:
    return file_fields(arguments) | {"mimeType": FOLDER}


def trash(arguments: dict[str, Any]) -> dict[str, Any]:
    return file_fields(arguments) | {"trashed": True}


def about_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """Drive refuses about.get without a field selection."""
    return {"fields": "user,storageQuota"} | arguments


def permission_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return all_drives({"fields": "nextPageToken,permissions(id,type,role,emailAddress,domain,displayName)"}
                      | arguments)


def _quoted(value: Any) -> str:
    """Text inside a Drive query string literal: backslashes and single quotes escaped."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def folder_query(arguments: dict[str, Any]) -> dict[str, Any]:
    """A folder search in Drive's query language, from a name and an optional parent folder."""
    rest = {k: v for k, v in arguments.items() if k not in ("name", "parent_id")}
    terms = [f"mimeType = '{FOLDER}'", f"name contains '{_quoted(arguments['name'])}'", "trashed = false"]
    if arguments.get("parent_id"):
        terms.append(f"'{_quoted(arguments['parent_id'])}' in parents")
    return list_fields(rest | {"q": " and ".join(terms)})
