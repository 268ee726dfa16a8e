"""Google Drive hooks: the fixed request parts a tool implies (alt=media, the folder MIME type, trashed=true)
and a useful default `fields` selection, since Drive v3 answers only id, name and mimeType otherwise."""

from __future__ import annotations

from typing import Any

FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = ("id,name,mimeType,parents,size,createdTime,modifiedTime,owners(displayName,emailAddress),"
               "webViewLink,shared,starred,trashed,description")


def list_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"fields": f"nextPageToken,incompleteSearch,files({FILE_FIELDS})"} | arguments


def file_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"fields": FILE_FIELDS} | arguments


def download(arguments: dict[str, Any]) -> dict[str, Any]:
    return arguments | {"alt": "media"}


def folder(arguments: dict[str, Any]) -> dict[str, Any]:
    return file_fields(arguments) | {"mimeType": FOLDER}


def trash(arguments: dict[str, Any]) -> dict[str, Any]:
    return file_fields(arguments) | {"trashed": True}


def about_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """Drive refuses about.get without a field selection."""
    return {"fields": "user,storageQuota"} | arguments


def permission_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"fields": "nextPageToken,permissions(id,type,role,emailAddress,domain,displayName)"} | arguments
