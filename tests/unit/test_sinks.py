"""The local stand-ins for the mail server and the SMS/push gateways, exercised as real servers over real sockets."""

from __future__ import annotations

import json
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from devkit.sinks import HttpSink, Sinks


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    with Sinks() as s:
        yield s


@pytest.fixture
def client(sinks: Sinks) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sinks.http.url, timeout=5) as c:
        yield c


def _mail(to: str, subject: str, body: str, reference: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "skolit@example.org"
    msg["To"] = to
    msg["Subject"] = subject
    msg["X-Skolit-Reference"] = reference
    msg["Message-ID"] = f"<{reference}@skolit.test>"
    msg.set_content(body)
    return msg


def _until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def test_two_mails_over_one_connection_are_listed(sinks: Sinks, client: httpx.Client) -> None:
    with smtplib.SMTP(sinks.mail.host, sinks.mail.port, timeout=5) as smtp:
        smtp.send_message(_mail("ada@example.org", "Välkommen", "Hej Ada — första", "ref-1"))
        smtp.send_message(_mail("bo@example.org", "Påminnelse", "Hej Bo", "ref-2"))

    items = client.get("/messages", params={"channel": "email"}).json()["items"]
    assert [(m["to"], m["subject"], m["reference"]) for m in items] == [
        (["ada@example.org"], "Välkommen", "ref-1"),
        (["bo@example.org"], "Påminnelse", "ref-2"),
    ]
    assert items[0]["body"].strip() == "Hej Ada — första"
    assert items[0]["from"] == "skolit@example.org"
    assert items[0]["messageId"] == "<ref-1@skolit.test>"
    assert [m["reference"] for m in sinks.messages(to="bo@example.org")] == ["ref-2"]


def test_injected_451_refuses_once_then_accepts(sinks: Sinks) -> None:
    sinks.mail.fail("ada@example.org", code=451)
    with smtplib.SMTP(sinks.mail.host, sinks.mail.port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.send_message(_mail("ada@example.org", "S", "B", "ref-1"))
        assert refused.value.recipients["ada@example.org"][0] == 451
        smtp.send_message(_mail("ada@example.org", "S", "B", "ref-1"))
    assert [m["reference"] for m in sinks.mail.messages()] == ["ref-1"]


def test_sms_is_recorded_and_listed(sinks: Sinks, client: httpx.Client) -> None:
    r = client.post("/sms", json={"reference": "r1", "to": "+46700000001", "body": "Hej", "subject": None, "callbackUrl": None})
    assert r.status_code == 200
    assert r.json() == {"id": "sms-1", "status": "accepted"}
    client.post("/push", json={"reference": "r2", "to": "device-1", "body": "Ping", "subject": "Nytt"})

    items = client.get("/messages", params={"channel": "sms"}).json()["items"]
    assert len(items) == 1
    assert {k: items[0][k] for k in ("channel", "reference", "to", "subject", "body")} == {
        "channel": "sms", "reference": "r1", "to": "+46700000001", "subject": None, "body": "Hej",
    }
    assert [m["channel"] for m in sinks.messages()] == ["sms", "push"]

    assert client.delete("/messages").status_code == 200
    assert client.get("/messages").json() == {"items": []}


def test_injected_503_twice_then_accepted(sinks: Sinks, client: httpx.Client) -> None:
    sinks.http.fail("sms", to="+46700000001", status=503, times=2)
    message = {"reference": "r1", "to": "+46700000001", "body": "Hej"}
    other = client.post("/sms", json={**message, "to": "+46700000002"})
    answers = [client.post("/sms", json=message) for _ in range(3)]

    assert other.status_code == 200
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"error": "try again"}
    assert [m["to"] for m in sinks.messages(channel="sms")] == ["+46700000002", "+46700000001"]


def test_failure_until_cleared(sinks: Sinks, client: httpx.Client) -> None:
    sinks.http.fail("push", status=404, times=-1)
    message = {"reference": "r1", "to": "device-1", "body": "Ping"}
    assert [client.post("/push", json=message).status_code for _ in range(3)] == [404, 404, 404]
    assert client.post("/push", json=message).json() == {"error": "rejected"}
    assert client.post("/control/clear-failures").status_code == 200
    assert client.post("/push", json=message).status_code == 200


@pytest.mark.parametrize("payload", [{"to": "+46700000001", "body": "Hej"}, {"reference": "r1", "to": "+46700000001"}, [1, 2]])
def test_bad_body_is_400(client: httpx.Client, payload: Any) -> None:
    assert client.post("/sms", json=payload).status_code == 400
    assert client.post("/sms", content=b"not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.get("/messages").json() == {"items": []}


def test_control_fail_steers_the_mail_catcher(sinks: Sinks, client: httpx.Client) -> None:
    r = client.post("/control/fail", json={"channel": "email", "to": "*", "status": 550, "times": 1})
    assert r.status_code == 200
    with smtplib.SMTP(sinks.mail.host, sinks.mail.port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.send_message(_mail("ada@example.org", "S", "B", "ref-1"))
        assert refused.value.recipients["ada@example.org"][0] == 550
        smtp.send_message(_mail("ada@example.org", "S", "B", "ref-1"))
    assert len(sinks.messages(channel="email")) == 1
    assert client.post("/control/fail", json={"channel": "fax"}).status_code == 400


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], Any]]

    def do_POST(self) -> None:  # noqa: N802 — the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — keep test output quiet
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    received: list[tuple[dict[str, str], Any]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/callback", received
    finally:
        server.shutdown()
        server.server_close()


def test_delivery_callback(receiver: tuple[str, list[tuple[dict[str, str], Any]]]) -> None:
    url, received = receiver
    with HttpSink(callbacks=True, callback_headers={"X-Skolit-Token": "s3cret"}) as sink, httpx.Client(base_url=sink.url) as c:
        r = c.post("/push", json={"reference": "r1", "to": "device-1", "body": "Ping", "callbackUrl": url})
        assert r.status_code == 200
        headers, body = _until(lambda: received and received[0])
        assert body == {"reference": "r1", "status": "delivered", "gatewayId": r.json()["id"]}
        assert headers["X-Skolit-Token"] == "s3cret"

        c.post("/sms", json={"reference": "r2", "to": "+46700000001", "body": "Hej", "callbackUrl": "http://127.0.0.1:1/nowhere"})
        _until(lambda: sink.callback_errors == 1)


def test_no_callbacks_unless_asked(sinks: Sinks, client: httpx.Client, receiver: tuple[str, list[Any]]) -> None:
    url, received = receiver
    assert client.post("/sms", json={"reference": "r1", "to": "+46700000001", "body": "Hej", "callbackUrl": url}).status_code == 200
    sinks.stop()  # waits for any background task, so a callback would have arrived by now
    assert received == []


def test_env_points_at_the_running_servers(sinks: Sinks) -> None:
    env = sinks.env()
    assert env == {
        "SKOLIT_NOTIFICATION_SMTP_HOST": "127.0.0.1",
        "SKOLIT_NOTIFICATION_SMTP_PORT": str(sinks.mail.port),
        "SKOLIT_NOTIFICATION_SMS_URL": f"{sinks.http.url}/sms",
        "SKOLIT_NOTIFICATION_PUSH_URL": f"{sinks.http.url}/push",
    }
    assert sinks.mail.port != 0 and sinks.http.port != 0
