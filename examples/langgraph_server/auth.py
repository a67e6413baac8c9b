"""Who is calling: the LangGraph server's custom auth names the user of every request.

A stand-in: the caller says who they are in an ``X-User-Id`` header. In production, verify a
credential here instead (your identity provider's token in ``Authorization``) and return its
subject. The identity becomes ``runtime.server_info.user.identity`` in every run, which is the
user ``AuthorizationMiddleware`` and the toolkit act for: one person's runs only ever reach that
person's Scalekit accounts.
"""

from __future__ import annotations

import re
from typing import Any

from langgraph_sdk import Auth

auth = Auth()
_USER = re.compile(r"[A-Za-z0-9._@-]{1,64}")


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
    user = headers.get(b"x-user-id", b"").decode()
    if not _USER.fullmatch(user):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Sign in first")
    return {"identity": user}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Threads, runs and their state belong to the user who made them; nobody else sees them."""
    if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
        value["metadata"]["owner"] = ctx.user.identity
    elif isinstance(value, dict) and "metadata" in value:
        value["metadata"] = {"owner": ctx.user.identity}
    return {"owner": ctx.user.identity}
