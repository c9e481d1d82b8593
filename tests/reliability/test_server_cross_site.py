"""Issue 17, item 1: a web page the user visits cannot use ``pilotfish serve`` (cross-site requests,
DNS rebinding), and the API key is compared in constant time. Real uvicorn on loopback, real
``openai`` client where a client is involved."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
import httpx  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.server import app as app_module  # noqa: E402
from pilotfish.server.app import HostPolicy, ServerThread, create_app  # noqa: E402

SECRET = "The secret passage says the merger closes on 14 March."


class SecretRetriever(pilotfish.Plugin):
    """A retriever whose passage must not leak to another site."""

    name = "secret-retriever"

    @pilotfish.hookimpl
    def retrieve(self, request, k):
        return [pilotfish.Document("d1", SECRET, title="memo", score=1.0, retriever=self.name)]


BODY = {"model": "pilotfish", "messages": [{"role": "user", "content": "when does the merger close?"}]}


@pytest.fixture(scope="module")
def server():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), plugins=[SecretRetriever()], use_entrypoints=False)
    app = create_app(pilot, allowed_hosts=["pilot.lan"], allowed_origins=["http://app.example:3000"])
    with ServerThread(app) as srv:
        yield srv


def _url(server) -> str:
    return server.base_url + "/v1/chat/completions"


def test_the_audited_request_is_refused(server):
    """The audit's request: text/plain, a foreign Origin and Host. It got 200 and the passages."""
    r = httpx.post(_url(server), content=json_bytes(BODY), headers={
        "content-type": "text/plain", "origin": "http://evil.example", "host": "evil.example:8000"})
    assert r.status_code in (400, 403, 415)
    assert SECRET not in r.text and "merger" not in r.text
    assert "access-control-allow-origin" not in r.headers


def test_post_needs_application_json(server):
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"content-type": ctype} if ctype else {}
        r = httpx.post(_url(server), content=json_bytes(BODY), headers=headers)
        assert r.status_code == 415, ctype
        assert r.json()["error"]["code"] == "unsupported_media_type"
    r = httpx.post(_url(server), content=json_bytes(BODY), headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_foreign_host_is_refused_dns_rebinding(server):
    for host in ("evil.example:8000", "evil.example", "127.0.0.1.nip.io", "localhost.evil.example"):
        r = httpx.post(_url(server), json=BODY, headers={"host": host})
        assert r.status_code == 400, host
        assert r.json()["error"]["code"] == "host_not_allowed"
        assert SECRET not in r.text
        assert httpx.get(server.base_url + "/v1/models", headers={"host": host}).status_code == 400
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "localhost", f"[::1]:{server.port}",
                 f"pilot.lan:{server.port}", "PILOT.LAN", "app.localhost"):
        assert httpx.post(_url(server), json=BODY, headers={"host": host}).status_code == 200, host


def test_host_policy():
    default = HostPolicy()
    assert default.allows("localhost:8000") and default.allows("127.0.0.1") and default.allows("[::1]:80")
    assert not default.allows("192.168.1.5:8000") and not default.allows("evil.example")
    bound_all = HostPolicy(["0.0.0.0"])  # `serve --host 0.0.0.0`: any IP literal, no names
    assert bound_all.allows("192.168.1.5:8000") and not bound_all.allows("evil.example:8000")
    assert HostPolicy(["*"]).allows("anything.example")
    assert HostPolicy(["box.lan"]).allows("box.lan:8000") and not HostPolicy(["box.lan"]).allows("box.lan.evil")


def test_cross_origin_is_refused_unless_configured(server):
    r = httpx.post(_url(server), json=BODY, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert SECRET not in r.text and "access-control-allow-origin" not in r.headers
    # a preflight from another site gets no CORS grant either
    r = httpx.options(_url(server), headers={"origin": "http://evil.example", "access-control-request-method": "POST"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    r = httpx.get(server.base_url + "/v1/models", headers={"origin": "null"})
    assert r.status_code == 403
    # the server's own page (same origin) works, without CORS headers
    r = httpx.post(_url(server), json=BODY, headers={"origin": server.base_url})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # a configured origin gets CORS headers and its preflight
    allowed = "http://app.example:3000"
    r = httpx.options(_url(server), headers={"origin": allowed, "access-control-request-method": "POST",
                                              "access-control-request-headers": "content-type, authorization"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == allowed
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = httpx.post(_url(server), json=BODY, headers={"origin": allowed})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == allowed


def test_key_is_compared_in_constant_time_and_health_is_exempt(monkeypatch):
    calls = []
    real = app_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False)
    with ServerThread(create_app(pilot, api_key="sk-right")) as srv:
        for key in ("sk-wrong", "sk-righ", "sk-right-and-more"):
            client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key=key, max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "hi"}])
        assert len(calls) == 3 and all(b == b"sk-right" for _, b in calls)
        right = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-right", max_retries=0)
        assert right.chat.completions.create(model="pilotfish",
                                             messages=[{"role": "user", "content": "hi"}]).choices[0].message.content
        assert httpx.get(srv.base_url + "/v1/models").status_code == 401
        assert httpx.get(srv.base_url + "/health").status_code == 200  # explicitly exempt (documented)
        # the Host check still applies to /health
        assert httpx.get(srv.base_url + "/health", headers={"host": "evil.example"}).status_code == 400


def json_bytes(body: dict) -> bytes:
    import json

    return json.dumps(body).encode()
