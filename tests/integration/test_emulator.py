"""The emulator's REST API, auth pages, faults and counters, over real loopback HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from scalekit_langchain.testing import ScalekitEmulator

GMAIL_CAL = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]


class Api:
    """A tiny authenticated REST client for the tests."""

    def __init__(self, emu: ScalekitEmulator) -> None:
        self.emu = emu
        self.http = httpx.Client(base_url=emu.env_url, timeout=10)
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        r = self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.emu.client_id,
                "client_secret": self.emu.client_secret,
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def create_config(self, name: str, mappings: list[dict[str, Any]] | None = None) -> Any:
        r = self("POST", "/api/v1/mcp/configs", json={
            "name": name, "description": f"about {name}",
            "connection_tool_mappings": GMAIL_CAL if mappings is None else mappings,
        })
        assert r.status_code == 201, r.text
        return r.json()["config"]

    def ensure(self, config_name: str, user: str, name: str | None = None) -> Any:
        body = {"config_name": config_name, "user_identifier": user}
        if name:
            body["name"] = name
        r = self("POST", "/api/v1/mcp/instances", json=body)
        assert r.status_code == 200, r.text
        return r.json()["instance"]


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as e:
        yield e


@pytest.fixture
def api(emu: ScalekitEmulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.http.close()


def assert_error(r: httpx.Response, status: int, grpc: int, error_code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == grpc
    detail = body["details"][0]
    assert detail["@type"] == "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
    assert detail["error_code"] == error_code
    assert detail["request_info"]["request_id"] == r.headers["x-request-id"]
    return body


# --- OAuth token ------------------------------------------------------------------------------


def test_token_ok_and_wrong_secret(emu: ScalekitEmulator) -> None:
    with httpx.Client(base_url=emu.env_url) as http:
        r = http.post("/oauth/token", data={"grant_type": "client_credentials",
                                            "client_id": emu.client_id,
                                            "client_secret": emu.client_secret})
        body = r.json()
        assert r.status_code == 200
        assert body["token_type"] == "Bearer" and body["scope"] == "openid"
        assert body["expires_in"] == 3600 and body["access_token"]
        r = http.post("/oauth/token", data={"grant_type": "client_credentials",
                                            "client_id": emu.client_id, "client_secret": "nope"})
        assert_error(r, 401, 16, "UNAUTHENTICATED")
        r = http.post("/oauth/token", data={"grant_type": "password", "client_id": emu.client_id,
                                            "client_secret": emu.client_secret})
        assert r.status_code == 400
        assert_error(http.get("/api/v1/mcp/configs"), 401, 16, "UNAUTHENTICATED")
        bad = http.get("/api/v1/mcp/configs", headers={"Authorization": "Bearer junk"})
        assert_error(bad, 401, 16, "UNAUTHENTICATED")


def test_token_expiry_by_ttl_and_on_demand() -> None:
    clock = [1_000_000.0]
    with ScalekitEmulator(token_ttl=60, now=lambda: clock[0], client_id="cid",
                          client_secret="sec") as emu:
        assert (emu.client_id, emu.client_secret) == ("cid", "sec")
        api = Api(emu)
        try:
            assert api("GET", "/api/v1/mcp/configs").status_code == 200
            clock[0] += 61
            assert_error(api("GET", "/api/v1/mcp/configs"), 401, 16, "UNAUTHENTICATED")
            api.token = api.fetch_token()
            assert api("GET", "/api/v1/mcp/configs").status_code == 200
            emu.expire_access_tokens()
            assert api("GET", "/api/v1/mcp/configs").status_code == 401
            api.token = api.fetch_token()
            assert api("GET", "/api/v1/mcp/configs").status_code == 200
        finally:
            api.http.close()


# --- configs ----------------------------------------------------------------------------------


def test_config_crud(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("daily-digest")
    assert cfg["id"].startswith("cfg_") and len(cfg["id"]) == 4 + 18
    assert cfg["name"] == "daily-digest" and cfg["description"] == "about daily-digest"
    m0, m1 = cfg["connection_tool_mappings"]
    assert m0["connection_name"] == "MY_GMAIL" and m0["provider"] == "GMAIL"
    assert m0["connection_id"].startswith("conn_")
    assert m0["tools"] == ["gmail_fetch_mails", "gmail_send_message"]
    assert m1["provider"] == "GOOGLECALENDAR"
    assert cfg["mcp_server_url"].startswith(f"{emu.env_url}/mcp/v3/servers/")

    got = api("GET", f"/api/v1/mcp/configs/{cfg['id']}")
    assert got.status_code == 200 and got.json()["config"] == cfg

    r = api("PUT", f"/api/v1/mcp/configs/{cfg['id']}", json={
        "description": "new", "connection_tool_mappings": [{"connection_name": "MY_SLACK"}]})
    assert r.status_code == 200, r.text
    updated = r.json()["config"]
    assert updated["description"] == "new"
    assert [m["connection_name"] for m in updated["connection_tool_mappings"]] == ["MY_SLACK"]
    assert updated["connection_tool_mappings"][0]["tools"] == []
    rename = api("PUT", f"/api/v1/mcp/configs/{cfg['id']}", json={"name": "other"})
    assert_error(rename, 400, 3, "INVALID_ARGUMENT")

    assert api("DELETE", f"/api/v1/mcp/configs/{cfg['id']}").json() == {}
    assert_error(api("GET", f"/api/v1/mcp/configs/{cfg['id']}"), 404, 5, "NOT_FOUND")
    assert_error(api("DELETE", f"/api/v1/mcp/configs/{cfg['id']}"), 404, 5, "NOT_FOUND")
    assert_error(api("PUT", "/api/v1/mcp/configs/cfg_1", json={}), 404, 5, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name", "connection_tool_mappings": []}, "name"),
        ({"name": "", "connection_tool_mappings": []}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "connection_tool_mappings": [{"connection_name": "NOPE"}]},
         "connection_tool_mappings[0].connection_name"),
        ({"name": "ok", "connection_tool_mappings": [
            {"connection_name": "MY_GMAIL", "tools": ["slack_send_message"]}]},
         "connection_tool_mappings[0].tools"),
        ({"name": "ok", "connection_tool_mappings": [{"connection_name": "MY_GMAIL"}] * 26},
         "connection_tool_mappings"),
    ],
)
def test_config_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    r = api("POST", "/api/v1/mcp/configs", json=body)
    err = assert_error(r, 400, 3, "INVALID_ARGUMENT")
    violations = err["details"][0]["validation_error_info"]["field_violations"]
    assert violations[0]["field"] == field and violations[0]["description"]


def test_config_duplicate_name_409(api: Api) -> None:
    api.create_config("dup")
    r = api("POST", "/api/v1/mcp/configs", json={"name": "dup", "connection_tool_mappings": []})
    assert_error(r, 409, 6, "ALREADY_EXISTS")


def test_config_pagination_and_filters(api: Api) -> None:
    for i in range(35):
        mappings = [{"connection_name": "MY_SLACK"}] if i % 5 == 0 else None
        api.create_config(f"cfg-{i:02d}", mappings)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        r = api("GET", "/api/v1/mcp/configs", params={"page_size": 30, "page_token": token})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total_size"] == 35
        seen += [c["name"] for c in body["configs"]]
        pages += 1
        token = body["next_page_token"]
        if not token:
            break
    assert pages == 2 and seen == [f"cfg-{i:02d}" for i in range(35)]

    first = api("GET", "/api/v1/mcp/configs").json()
    assert len(first["configs"]) == 10 and first["prev_page_token"] == ""
    second = api("GET", "/api/v1/mcp/configs",
                 params={"page_size": 10, "page_token": first["next_page_token"]}).json()
    assert second["configs"][0]["name"] == "cfg-10" and second["prev_page_token"]
    back = api("GET", "/api/v1/mcp/configs",
               params={"page_size": 10, "page_token": second["prev_page_token"]}).json()
    assert back["configs"] == first["configs"]

    too_big = assert_error(api("GET", "/api/v1/mcp/configs", params={"page_size": 31}),
                           400, 3, "INVALID_ARGUMENT")
    assert too_big["message"] == "Validation error"
    fv = too_big["details"][0]["validation_error_info"]["field_violations"]
    assert fv[0]["field"] == "page_size"
    assert_error(api("GET", "/api/v1/mcp/configs", params={"page_token": "garbage!"}),
                 400, 3, "INVALID_ARGUMENT")

    def names(**params: Any) -> list[str]:
        r = api("GET", "/api/v1/mcp/configs", params={"page_size": 30, **params})
        assert r.status_code == 200, r.text
        return [c["name"] for c in r.json()["configs"]]

    assert names(**{"filter.name": "CFG-07"}) == ["cfg-07"]
    assert names(**{"filter.provider": "SLACK"}) == [f"cfg-{i:02d}" for i in range(0, 35, 5)]
    assert names(search="FG-3") == [f"cfg-{i}" for i in range(30, 35)]
    target = api("GET", "/api/v1/mcp/configs", params={"filter.name": "cfg-12"}).json()
    cfg12 = target["configs"][0]
    assert names(**{"filter.id": cfg12["id"]}) == ["cfg-12"]
    assert names(**{"filter.mcp_server_url": cfg12["mcp_server_url"]}) == ["cfg-12"]
    assert names(**{"filter.name": "missing"}) == []


# --- instances --------------------------------------------------------------------------------


def test_instances_ensure_idempotent_and_crud(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("assistant")
    a = api.ensure("assistant", "alice@example.com")
    assert a == api.ensure("assistant", "alice@example.com")
    assert a["id"].startswith("inst_") and a["name"] == "assistant"
    assert a["user_identifier"] == "alice@example.com"
    assert a["config"]["id"] == cfg["id"]
    assert a["url"].startswith(f"{emu.env_url}/mcp/v2/servers/")
    assert len(a["url"].rsplit("/", 1)[1]) >= 32
    assert a["last_used_at"] == "0001-01-01T00:00:00Z" and a["updated_at"].endswith("Z")
    assert emu.connection_status("alice@example.com", "MY_GMAIL") == "PENDING_AUTH"
    mapping = a["config"]["connection_tool_mappings"][0]
    assert mapping["connected_account_status"] == "PENDING_AUTH"

    b = api.ensure("assistant", "alice@example.com", name="second")
    c = api.ensure("assistant", "bob@example.com")
    assert len({a["id"], b["id"], c["id"]}) == 3
    assert_error(api("POST", "/api/v1/mcp/instances", json={"config_name": "assistant"}),
                 400, 3, "INVALID_ARGUMENT")
    assert_error(api("POST", "/api/v1/mcp/instances",
                     json={"config_name": "nope", "user_identifier": "x"}), 404, 5, "NOT_FOUND")

    listing = api("GET", "/api/v1/mcp/instances",
                  params={"filter.user_identifier": "alice@example.com"}).json()
    assert {i["id"] for i in listing["instances"]} == {a["id"], b["id"]}
    assert listing["total_size"] == 2 and listing["next_page_token"] == ""
    assert [i["id"] for i in api("GET", "/api/v1/mcp/instances",
                                 params={"search": "BOB"}).json()["instances"]] == [c["id"]]
    assert api("GET", f"/api/v1/mcp/instances/{a['id']}").json()["instance"] == a
    patched = api("PATCH", f"/api/v1/mcp/instances/{b['id']}", json={"name": "renamed"})
    assert patched.json()["instance"]["name"] == "renamed"
    assert api("DELETE", f"/api/v1/mcp/instances/{b['id']}").json() == {}
    assert_error(api("GET", f"/api/v1/mcp/instances/{b['id']}"), 404, 5, "NOT_FOUND")

    assert api("DELETE", f"/api/v1/mcp/configs/{cfg['id']}").status_code == 200
    for inst in (a, c):
        assert_error(api("GET", f"/api/v1/mcp/instances/{inst['id']}"), 404, 5, "NOT_FOUND")
    assert api("GET", "/api/v1/mcp/instances").json()["instances"] == []


def test_auth_state_links_and_auth_page(api: Api, emu: ScalekitEmulator) -> None:
    api.create_config("assistant")
    inst = api.ensure("assistant", "alice")
    path = f"/api/v1/mcp/instances/{inst['id']}:get_auth_state"
    plain = api("POST", path).json()["connections"]
    assert [c["connection_name"] for c in plain] == ["MY_GMAIL", "MY_CALENDAR"]
    assert all(c["authentication_link"] == "" for c in plain)
    assert plain[0]["connected_account_status"] == "PENDING_AUTH"
    assert plain[0]["connected_account_id"].startswith("ca_")
    assert plain[0]["provider"] == "GMAIL" and plain[0]["connection_id"].startswith("conn_")

    linked = api("POST", path, params={"include_auth_links": "true"}).json()["connections"]
    link = linked[0]["authentication_link"]
    assert link.startswith(f"{emu.env_url}/connect/")
    in_body = api("POST", path, json={"include_auth_links": True}).json()["connections"]
    assert in_body[1]["authentication_link"].startswith(f"{emu.env_url}/connect/")

    page = api.http.get(link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "MY_GMAIL" in page.text and "gmail" in page.text and "alice" in page.text
    assert "<form" in page.text and 'method="post"' in page.text
    done = api.http.post(link)
    assert done.status_code == 200 and "Authorized" in done.text
    assert emu.connection_status("alice", "MY_GMAIL") == "ACTIVE"
    after = api("POST", path).json()["connections"]
    assert [c["connected_account_status"] for c in after] == ["ACTIVE", "PENDING_AUTH"]
    assert api.http.get(f"{emu.env_url}/connect/unknown").status_code == 404
    assert_error(api("POST", "/api/v1/mcp/instances/inst_1:get_auth_state"), 404, 5, "NOT_FOUND")


def test_auth_link_expires() -> None:
    clock = [2_000_000.0]
    with ScalekitEmulator(now=lambda: clock[0], auth_link_ttl=60) as emu:
        api = Api(emu)
        try:
            cfg = api.create_config("assistant")
            r = api("POST", f"/api/v1/mcp/configs/{cfg['id']}/connected_accounts",
                    json={"identifier": "carol", "include_auth_link": True})
            link = r.json()["connected_accounts"][0]["authentication_link"]
            clock[0] += 61
            assert api.http.get(link).status_code == 410
            assert api.http.post(link).status_code == 410
            assert emu.connection_status("carol", "MY_GMAIL") == "PENDING_AUTH"
        finally:
            api.http.close()


def test_connected_accounts_both_modes(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("assistant")
    path = f"/api/v1/mcp/configs/{cfg['id']}/connected_accounts"
    existing = api("POST", path, json={"identifier": "dave"}).json()["connected_accounts"]
    assert [(a["connected_account_id"], a["connected_account_status"],
             a["authentication_link"]) for a in existing] == [("", "", "")] * 2
    assert emu.connection_status("dave", "MY_GMAIL") is None
    created = api("POST", path, json={"identifier": "dave", "include_auth_link": True})
    accounts = created.json()["connected_accounts"]
    assert all(a["connected_account_status"] == "PENDING_AUTH" for a in accounts)
    assert all(a["authentication_link"].startswith(emu.env_url) for a in accounts)
    assert all(a["connected_account_id"].startswith("ca_") for a in accounts)
    emu.authorize("dave", "MY_CALENDAR")
    again = api("POST", path, json={"identifier": "dave"}).json()["connected_accounts"]
    assert [a["connected_account_status"] for a in again] == ["PENDING_AUTH", "ACTIVE"]
    assert again[0]["connected_account_id"] == accounts[0]["connected_account_id"]
    assert_error(api("POST", path, json={}), 400, 3, "INVALID_ARGUMENT")
    assert_error(api("POST", "/api/v1/mcp/configs/cfg_9/connected_accounts",
                     json={"identifier": "dave"}), 404, 5, "NOT_FOUND")


def test_session_token_jwt(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("assistant")
    path = f"/api/v1/mcp/configs/{cfg['id']}/tokens"
    not_active = api("POST", path, json={"identifier": "erin"})
    assert not_active.status_code == 400
    emu.authorize("erin", "MY_GMAIL")
    assert api("POST", path, json={"identifier": "erin"}).status_code == 400
    emu.authorize("erin", "MY_CALENDAR")
    before = int(time.time())
    r = api("POST", path, json={"identifier": "erin", "expiry": "120.9s"})
    assert r.status_code == 200, r.text
    token, expires_at = r.json()["token"], r.json()["expires_at"]

    jwks = api.http.get("/keys").json()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == jwks["keys"][0]["kid"]
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=cfg["mcp_server_url"])
    assert claims["sub"] == "erin" and claims["mcp_cfg"] == cfg["id"]
    assert claims["token_type"] == "mcp_session"
    gmail = emu.connection_status("erin", "MY_GMAIL")
    assert gmail == "ACTIVE" and len(claims["ca_ids"]) == 2
    assert all(ca.startswith("ca_") for ca in claims["ca_ids"])
    assert claims["exp"] - claims["iat"] == 120 and claims["iat"] >= before
    assert expires_at.endswith("Z")

    default = jwt.decode(api("POST", path, json={"identifier": "erin"}).json()["token"],
                         options={"verify_signature": False})
    assert default["exp"] - default["iat"] == 3600
    for expiry in ("59s", "86401s", "1h", "abc"):
        bad = api("POST", path, json={"identifier": "erin", "expiry": expiry})
        assert_error(bad, 400, 3, "INVALID_ARGUMENT")
    for expiry in ("60s", "86400s"):
        assert api("POST", path, json={"identifier": "erin", "expiry": expiry}).status_code == 200
    assert api("POST", path, json={"identifier": ""}).status_code == 400
    assert api("POST", path, json={"identifier": "x" * 256}).status_code == 400
    assert_error(api("POST", "/api/v1/mcp/configs/cfg_0/tokens", json={"identifier": "erin"}),
                 404, 5, "NOT_FOUND")


def test_live_secrets_and_known_users(api: Api, emu: ScalekitEmulator) -> None:
    assert emu.live_secrets() == {api.token}  # the access token the Api fetched
    assert emu.known_users() == set()
    api.create_config("secrets")
    inst = api.ensure("secrets", "ulla")
    path = f"/api/v1/mcp/instances/{inst['id']}:get_auth_state"
    links = api("POST", path, params={"include_auth_links": "true"}).json()["connections"]
    link_tokens = {c["authentication_link"].rsplit("/", 1)[-1] for c in links}
    assert len(link_tokens) == 2
    secret = inst["url"].rsplit("/", 1)[-1]
    assert emu.live_secrets() == {api.token, secret, *link_tokens}
    emu.authorize("vera", "MY_SLACK")
    assert emu.known_users() == {"ulla", "vera"}
    api("DELETE", f"/api/v1/mcp/instances/{inst['id']}")
    assert secret not in emu.live_secrets()


# --- faults and counting ----------------------------------------------------------------------


def test_latency(api: Api, emu: ScalekitEmulator) -> None:
    emu.set_latency(0.2, kind="configs.")
    t0 = time.perf_counter()
    assert api("GET", "/api/v1/mcp/configs").status_code == 200
    assert time.perf_counter() - t0 >= 0.2
    t0 = time.perf_counter()
    api("GET", "/api/v1/mcp/instances")
    assert time.perf_counter() - t0 < 0.2
    emu.set_latency(0)
    t0 = time.perf_counter()
    api("GET", "/api/v1/mcp/configs")
    assert time.perf_counter() - t0 < 0.2


def test_fail_next_status_with_retry_after(api: Api, emu: ScalekitEmulator) -> None:
    emu.fail_next(429, count=2, kind="configs.list", retry_after=3)
    assert api("GET", "/api/v1/mcp/instances").status_code == 200
    for _ in range(2):
        r = api("GET", "/api/v1/mcp/configs")
        assert_error(r, 429, 8, "RATE_LIMITED")
        assert r.headers["retry-after"] == "3"
    assert api("GET", "/api/v1/mcp/configs").status_code == 200
    emu.fail_next(503)
    assert_error(api("GET", "/keys"), 503, 14, "UNAVAILABLE")
    emu.fail_next(500)
    emu.clear_faults()
    assert api("GET", "/keys").status_code == 200


@pytest.mark.parametrize(
    ("mode", "content_type"),
    [("garbage", "text/plain"), ("malformed_json", "application/json"),
     ("wrong_content_type", "text/html")],
)
def test_fail_next_bad_bodies(api: Api, emu: ScalekitEmulator, mode: Any,
                              content_type: str) -> None:
    emu.fail_next(200, kind="configs.", mode=mode)
    r = api("GET", "/api/v1/mcp/configs")
    assert r.status_code == 200 and r.headers["content-type"].startswith(content_type)
    with pytest.raises(ValueError):
        r.json()
    assert api("GET", "/api/v1/mcp/configs").json()["configs"] == []


def test_fail_next_hang_does_not_block_stop() -> None:
    emu = ScalekitEmulator().start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=emu.env_url, timeout=20) as http:
                http.get("/keys")
        except BaseException as exc:
            errors.append(exc)

    try:
        emu.fail_next(500, kind="keys", mode="hang")
        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive()
        emu.fail_next(500, kind="keys", mode="hang")
        with httpx.Client(base_url=emu.env_url, timeout=5) as http, pytest.raises(
            httpx.ReadTimeout
        ):
            http.get("/keys", timeout=0.3)
    finally:
        t0 = time.perf_counter()
        emu.stop()
        assert time.perf_counter() - t0 < 5
    thread.join(5)
    assert not thread.is_alive()


def test_unknown_route_and_counts(api: Api, emu: ScalekitEmulator) -> None:
    emu.reset_counts()
    assert_error(api.http.get("/nope"), 404, 5, "NOT_FOUND")
    cfg = api.create_config("counted")
    api("GET", "/api/v1/mcp/configs")
    api("GET", f"/api/v1/mcp/configs/{cfg['id']}")
    inst = api.ensure("counted", "u")
    api("POST", f"/api/v1/mcp/instances/{inst['id']}:get_auth_state")
    api.http.post("/_emulator/counts", headers=emu.control_headers)  # not counted
    counts = emu.counts()
    assert counts == {"other": 1, "configs.create": 1, "configs.list": 1, "configs.get": 1,
                      "instances.ensure": 1, "instances.auth_state": 1}
    assert emu.count("configs.") == 3 and emu.count("instances.") == 2
    counts["other"] = 99
    assert emu.count("other") == 1
    emu.reset_counts()
    assert emu.counts() == {}


def test_control_routes(api: Api, emu: ScalekitEmulator) -> None:
    def post(path: str, **kwargs: Any) -> httpx.Response:
        return api.http.post(path, headers=emu.control_headers, **kwargs)

    assert post("/_emulator/authorize", json={"user_identifier": "zed",
                                              "connection_name": "MY_SLACK"}).json() == {
        "status": "ACTIVE"}
    assert post("/_emulator/expire_connection", json={
        "user_identifier": "zed", "connection_name": "MY_SLACK"}).json()["status"] == "EXPIRED"
    assert post("/_emulator/disconnect", json={
        "user_identifier": "zed", "connection_name": "MY_SLACK"}).json()["status"] == (
        "DISCONNECTED")
    assert emu.connection_status("zed", "MY_SLACK") == "DISCONNECTED"
    assert post("/_emulator/authorize", json={"user_identifier": "zed",
                                              "connection_name": "NOPE"}).status_code == 400
    post("/_emulator/fail_next", json={"status": 502, "kind": "keys"})
    assert api.http.get("/keys").status_code == 502
    post("/_emulator/expire_access_tokens")
    assert api("GET", "/api/v1/mcp/configs").status_code == 401
    data = post("/_emulator/user_data", json={"user_identifier": "zed"}).json()
    assert len(data["inbox"]) == 5 and data["sent"] == []
    assert post("/_emulator/counts").json()["counts"]["keys"] == 1


def test_restart_keeps_state_and_port(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("persisted")
    port, url = emu.port, emu.env_url
    emu.authorize("amy", "MY_GMAIL")
    emu.restart()
    assert emu.port == port and emu.env_url == url
    api.http.close()
    api.http = httpx.Client(base_url=emu.env_url, timeout=10)
    assert api("GET", f"/api/v1/mcp/configs/{cfg['id']}").json()["config"] == cfg
    assert emu.connection_status("amy", "MY_GMAIL") == "ACTIVE"


def test_stop_releases_port_and_threads() -> None:
    before = {t.name for t in threading.enumerate()}
    emu = ScalekitEmulator()
    with emu:
        port = emu.port
    assert {t.name for t in threading.enumerate()} <= before | {"asyncio_0"}
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    emu.stop()  # idempotent


async def test_async_context_manager() -> None:
    async with ScalekitEmulator() as emu, httpx.AsyncClient(base_url=emu.env_url) as http:
        assert (await http.get("/keys")).status_code == 200
    assert not emu.running


# --- hardening: control token, Host and Origin ---------------------------------------------


def test_control_routes_need_the_token(api: Api, emu: ScalekitEmulator) -> None:
    path = "/_emulator/authorize"
    body = {"user_identifier": "zed", "connection_name": "MY_SLACK"}
    r = api.http.post(path, json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = api.http.post(path, json=body, headers={"X-Emulator-Token": "guess"})
    assert r.status_code == 403
    r = api.http.post(path, json=body, headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 403  # a REST access token is not the control token
    assert emu.connection_status("zed", "MY_SLACK") is None
    r = api.http.post(path, json=body, headers={"Authorization": f"Bearer {emu.control_token}"})
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}
    assert api.http.get("/_emulator/counts", headers=emu.control_headers).status_code == 200
    assert emu.counts() == {"oauth.token": 1}  # refused and control requests are not counted


def test_control_token_is_kept_across_restart_and_can_be_chosen() -> None:
    with ScalekitEmulator(control_token="fixed-token") as emu:
        assert emu.control_token == "fixed-token"
        emu.restart()
        with httpx.Client(base_url=emu.env_url, timeout=10) as http:
            r = http.post("/_emulator/counts", headers={"X-Emulator-Token": "fixed-token"})
            assert r.status_code == 200
    assert ScalekitEmulator().control_token != ScalekitEmulator().control_token


@pytest.mark.parametrize("path", ["/keys", "/oauth/token", "/_emulator/counts",
                                  "/mcp/v2/servers/whatever", "/connect/x"])
def test_foreign_host_is_refused(api: Api, emu: ScalekitEmulator, path: str) -> None:
    emu.reset_counts()
    for host in ("evil.example", f"evil.example:{emu.port}", f"127.0.0.1:{emu.port + 1}",
                 "127.0.0.1"):
        r = api.http.post(path, headers={"host": host, **emu.control_headers})
        assert r.status_code == 403, (host, r.text)
        assert "Host" in r.json()["error"]
    assert emu.counts() == {}
    for host in (f"localhost:{emu.port}", f"127.0.0.1:{emu.port}", f"LOCALHOST:{emu.port}"):
        assert api.http.get("/keys", headers={"host": host}).status_code == 200


def test_foreign_origin_is_refused(api: Api, emu: ScalekitEmulator) -> None:
    cfg = api.create_config("origins")
    inst = api.ensure("origins", "olga")
    states = api("POST", f"/api/v1/mcp/instances/{inst['id']}:get_auth_state",
                 params={"include_auth_links": "true"}).json()["connections"]
    link = states[0]["authentication_link"]
    for origin in ("http://evil.example", f"http://localhost:{emu.port + 1}", "null",
                   f"https://127.0.0.1:{emu.port}"):
        assert api.http.post(link, headers={"origin": origin}).status_code == 403, origin
        r = api("GET", f"/api/v1/mcp/configs/{cfg['id']}", headers={"origin": origin})
        assert r.status_code == 403
        r = api.http.post("/_emulator/counts", headers={"origin": origin, **emu.control_headers})
        assert r.status_code == 403
    assert emu.connection_status("olga", "MY_GMAIL") == "PENDING_AUTH"
    # The auth page's own form posts with its own origin: accepted.
    assert api.http.post(link, headers={"origin": emu.env_url}).status_code == 200
    assert emu.connection_status("olga", "MY_GMAIL") == "ACTIVE"


def test_non_loopback_host_needs_allow_remote() -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        ScalekitEmulator(host="0.0.0.0")
    ScalekitEmulator(host="0.0.0.0", allow_remote=True)  # not started: nothing to clean up
    ScalekitEmulator(host="localhost")
    ScalekitEmulator(host="::1")


def test_cli_emulator_options(capsys: pytest.CaptureFixture[str]) -> None:
    from scalekit_langchain.cli import REFUSAL_MODE_CHOICES, main
    from scalekit_langchain.testing import REFUSAL_MODES

    assert REFUSAL_MODE_CHOICES == REFUSAL_MODES
    assert main(["emulator", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    # A bad choice is one error line and exit code 2, not an argparse SystemExit.
    assert main(["emulator", "--refusal-mode", "teapot"]) == 2
    assert "teapot" in capsys.readouterr().err


def test_cli_emulator_prints_control_token_and_modes() -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "scalekit_langchain.cli", "emulator", "--refusal-mode", "hidden",
         "--answer-mode", "json", "--control-token", "tok-123"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("Press Ctrl-C"):
                break
        assert "control_token  tok-123" in lines
        assert "refusal_mode   hidden" in lines and "answer_mode    json" in lines
        env_url = next(x.split("=", 1)[1] for x in lines if "SCALEKIT_ENV_URL=" in x)
        with httpx.Client(base_url=env_url, timeout=10) as http:
            assert http.post("/_emulator/refusal_mode").status_code == 401
            r = http.post("/_emulator/refusal_mode", headers={"X-Emulator-Token": "tok-123"})
            assert r.json() == {"mode": "hidden"}
            r = http.post("/_emulator/answer_mode", headers={"X-Emulator-Token": "tok-123"})
            assert r.json() == {"mode": "json"}
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode == 0
