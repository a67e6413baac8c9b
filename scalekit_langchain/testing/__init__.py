"""A local Scalekit emulator for tests, demos and offline development.

Start one with ``with ScalekitEmulator() as emu:`` and point the client at ``emu.env_url``
with ``emu.client_id`` / ``emu.client_secret``. ``REFUSAL_MODES`` lists the ways its MCP
servers can refuse a tool whose connection is not ACTIVE (``refusal_mode=``), ``ANSWER_MODES``
the ways they answer a POST (``answer_mode=``), ``MCP_ERAS`` the MCP protocol eras they speak
(``mcp_era=``: ``handshake``, ``both`` or ``new``, the sessionless 2026-07-28 revision).

Readings chosen where the contract is unsure (its section 11), and other emulator choices:

1. ``POST /api/v1/mcp/configs`` answers **201**; every other successful call answers 200.
2. ``access_level`` is read from the tokens body as ``access_level`` or ``accessLevel``
   (``FULL`` default or ``READ_ONLY``); it becomes the JWT claim ``access_level``. A READ_ONLY
   token lists only tools annotated ``readOnlyHint``; calling another is the unknown-tool
   ``isError`` result (nothing runs).
3. ``connected_account_status`` is UPPERCASE (``ACTIVE``, ``PENDING_AUTH``, ``EXPIRED``,
   ``DISCONNECTED``; ``status_case="lower"`` sends them in lower case); ``""`` when there is no
   account.
4. ``include_auth_links`` of ``:get_auth_state`` is read from the query string; if absent, from
   a JSON body. Truthy strings: ``1``, ``true``, ``yes``, ``on``.
5. The instance ``url`` (``/mcp/v2/servers/<secret>``) is a bearer-less capability URL: the
   last path segment is the credential.
6. Validation errors carry ``validation_error_info.field_violations`` with ``field`` and
   ``description``; their ``message`` is ``"Validation error"`` (or a short sentence for
   invalid mappings).
7. The default ``page_size`` is 10 (0 also means default); every field is always emitted,
   ``next_page_token`` / ``prev_page_token`` are ``""`` at the ends. Page tokens are opaque
   (base64 of an offset); a malformed one is a 400.
8. When links are asked for (``include_auth_links`` / ``include_auth_link``) every connection
   gets a fresh link, whatever its status. Links live ``auth_link_ttl`` seconds (default 60,
   the real lifetime; tests and demos that wait may raise it); an expired link answers 410
   with a page that says so, an unknown one 404. A link stays usable until it expires.
9. Connection names are matched case-insensitively and echoed in their configured spelling;
   mapping the same connection twice in one config is a 400.
10. ``tools`` of a mapping are echoed as given; empty means every tool of the provider.
11. An instance created without ``name`` is named after its config; ensure is idempotent per
    (config, user, name). Instance JSON nests the config with the user's
    ``connected_account_id``/``connected_account_status`` on each mapping.
12. Minting a session token for a config with no mappings, or with any mapped connection not
    ACTIVE for the identifier, is a 400 (``error_code`` FAILED_PRECONDITION). ``expiry``
    accepts ``"<seconds>s"`` with optional fraction (dropped), 60 s to 24 h inclusive.
13. Session tokens: header ``kid``; claims ``iss`` (env URL), ``sub``, ``aud`` (the config's
    ``mcp_server_url``), ``mcp_cfg``, ``ca_ids``, ``iat``, ``exp``, ``token_type`` =
    ``mcp_session``, ``access_level``. A virtual server checks signature, ``aud``, ``exp``,
    ``token_type`` and ``mcp_cfg``; an MCP session opened there is bound to the URL and the
    token's user, so a renewed token for the same user keeps the session usable.
14. A ``fail_next`` fault in ``status`` mode uses the same JSON error body on MCP URLs as on
    REST ones. ``Retry-After`` is whole seconds, or the fractional value as given.
    ``clear_faults()`` clears queued faults and latency.
15. MCP servers answer with SSE by default (as the SDK servers do; ``answer_mode="json"``
    for plain JSON). Sessions do not expire by idleness; they end on DELETE, on
    :meth:`ScalekitEmulator.drop_mcp_sessions`, on restart and when their instance or config
    is deleted. Tool arguments are checked against the tool's JSON schema with the SDK's
    message (``Input validation error: ...``), using one compiled validator per tool. The
    refusal of a tool of a non-ACTIVE connection comes after that check.
16. ``drop_after`` sends the response head, swallows the body and lets uvicorn close the
    connection: a plain HTTP client sees a transport error; the ``mcp`` SDK client (which
    ignores broken SSE streams) sees no result until its read timeout.
17. ``POST /api/v1/mcp/connections/<connection_name>/tokens`` mints a token for the
    per-connection server ``/mcp/v3/connections/<connection_name>`` (claim ``conn_id``
    instead of ``mcp_cfg``). It behaves as with the hosted connected-accounts widget enabled:
    a user with no ACTIVE account still gets a token; the tools refuse at call time.
18. MCP protocol eras: ``mcp_era="handshake"`` by default (what the project had measured);
    ``both`` and ``new`` serve 2026-07-28 (``server/discover``, no session, ``-32022`` with
    ``data.supported``); a doctor profile sets it from what a live server answered. 2026-07-28
    extras behind settings (``emu.mcp_settings``): ``url_elicitation_tools`` answer
    ``input_required`` with a URL elicitation first; ``task_tools`` answer with a task handle
    (tasks extension; ``tasks/get`` says ``working`` once, then ``completed``; ``tasks/result``
    gives the result); wire shapes in :mod:`~scalekit_langchain.testing._mcp_eras`.
"""

from __future__ import annotations

from scalekit_langchain.testing.emulator import (
    ANSWER_MODES,
    MCP_ERAS,
    REFUSAL_MODES,
    AnswerMode,
    McpEra,
    RefusalMode,
    ScalekitEmulator,
)

__all__ = [
    "ANSWER_MODES",
    "MCP_ERAS",
    "REFUSAL_MODES",
    "AnswerMode",
    "McpEra",
    "RefusalMode",
    "ScalekitEmulator",
]
