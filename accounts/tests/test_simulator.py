"""The simulator speaks Tradovate's wire protocol (raw HTTP / WebSocket, no client of ours)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
import websocket
from django.conf import settings

from justtrades.testing.fixtures import free_port, wait_until


def login(sim, name="demo", password="demo"):
    resp = requests.post(
        f"{sim.base_url}/auth/accesstokenrequest",
        json={"name": name, "password": password, "appId": "x", "deviceId": "d", "cid": 1},
        timeout=5,
    )
    assert resp.status_code == 200
    return resp.json()


def test_login_answers_tradovate_shapes(tradovate_sim):
    data = login(tradovate_sim)
    assert set(data) >= {"accessToken", "mdAccessToken", "expirationTime", "userId", "name"}
    bad = login(tradovate_sim, password="DEMO")
    assert bad == {
        "errorText": "Incorrect username or password. Please try again, noting that "
        "passwords are case-sensitive."
    }


def test_requests_without_a_token_are_denied(tradovate_sim):
    assert requests.get(f"{tradovate_sim.base_url}/account/list", timeout=5).status_code == 401


def test_business_failures_are_http_200_with_failure_reason(tradovate_sim):
    token = login(tradovate_sim)["accessToken"]
    resp = requests.post(
        f"{tradovate_sim.base_url}/order/placeorder",
        headers={"Authorization": f"Bearer {token}"},
        json={"accountId": 1, "action": "Buy", "symbol": "MNQZ5", "orderQty": 1},
        timeout=5,
    )
    assert resp.status_code == 200
    assert resp.json()["failureReason"] == "Unauthorized"


def test_reference_data_endpoints(tradovate_sim):
    h = {"Authorization": f"Bearer {login(tradovate_sim)['accessToken']}"}
    base = tradovate_sim.base_url
    contract = requests.get(f"{base}/contract/find?name=MNQZ5", headers=h, timeout=5).json()
    assert contract["name"] == "MNQZ5" and contract["providerTickSize"] == 0.25
    product = requests.get(f"{base}/product/find?name=NQ", headers=h, timeout=5).json()
    assert (product["months"], product["valuePerPoint"], product["tickSize"]) == ("HMUZ", 20, 0.25)
    rolled = requests.post(
        f"{base}/contract/rollcontract",
        headers=h,
        json={"name": "MNQZ5", "forward": True, "ifExpired": True},
        timeout=5,
    ).json()
    assert rolled["contract"]["name"] != "MNQZ5"
    maturities = requests.get(
        f"{base}/contractMaturity/deps?masterid={product['id']}", headers=h, timeout=5
    ).json()
    assert sum(1 for m in maturities if m["isFront"]) == 1


def test_websocket_frames_authorize_and_sync(tradovate_sim):
    tok = login(tradovate_sim)
    ws = websocket.create_connection(tradovate_sim.ws_url, timeout=5)
    try:
        assert ws.recv() == "o"
        ws.send("authorize\n1\n\nnot-a-token")
        assert json.loads(ws.recv()[1:])[0] == {"s": 401, "i": 1, "d": "Access is denied"}
        ws.send(f"authorize\n2\n\n{tok['accessToken']}")
        assert json.loads(ws.recv()[1:])[0] == {"s": 200, "i": 2}
        ws.send(f'user/syncrequest\n3\n\n{{"users":[{tok["userId"]}]}}')
        [sync] = json.loads(ws.recv()[1:])
        assert sync["i"] == 3 and sync["s"] == 200
        assert {a["name"] for a in sync["d"]["accounts"]} == {"DEMO0001", "DEMO0002"}
        ws.send("account/list\n4\n\n")
        [accounts] = json.loads(ws.recv()[1:])
        assert accounts["i"] == 4 and len(accounts["d"]) == 2
        # Idle: the server sends "h" heartbeats.
        ws.settimeout(5)
        assert ws.recv() == "h"
    finally:
        ws.close()


def test_penalty_ticket_must_be_waited_for(tradovate_sim):
    tradovate_sim.fault("penalty", path="auth/accesstokenrequest", p_time=1)
    first = login(tradovate_sim)
    assert first["p-time"] == 1 and first["p-captcha"] is False
    body = {"name": "demo", "password": "demo", "p-ticket": first["p-ticket"]}
    early = requests.post(
        f"{tradovate_sim.base_url}/auth/accesstokenrequest", json=body, timeout=5
    ).json()
    assert "p-ticket" in early  # too soon
    time.sleep(1.05)
    late = requests.post(
        f"{tradovate_sim.base_url}/auth/accesstokenrequest", json=body, timeout=5
    ).json()
    assert "accessToken" in late


def run_sim(port, state, *extra):
    env = dict(os.environ, JT_TESTING="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "tradovate_sim",
            "--port",
            str(port),
            "--state",
            str(state),
            "--no-feed",
            "--no-sessions",  # the test runs at any hour
            *extra,
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_up(port):
    def up():
        try:
            return requests.get(f"http://127.0.0.1:{port}/sim/health", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=20, message="simulator start")


@pytest.mark.slow
def test_paper_state_survives_a_simulator_restart(tmp_path):
    port, state = free_port(), tmp_path / "state.json"
    users = tmp_path / "users.json"
    users.write_text(json.dumps([{"name": "eve", "password": "pw", "accounts": ["EVE1"]}]))
    proc = run_sim(port, state, "--users", str(users))
    try:
        wait_up(port)
        base = f"http://127.0.0.1:{port}/v1"
        requests.post(
            f"http://127.0.0.1:{port}/sim/users",
            json={"name": "paper1", "password": "pw2", "accounts": 1},
            headers={"X-Sim-Admin": settings.PAPER_BROKER_ADMIN_TOKEN},
            timeout=5,
        ).raise_for_status()
        tok = requests.post(
            f"{base}/auth/accesstokenrequest", json={"name": "eve", "password": "pw"}, timeout=5
        ).json()
        h = {"Authorization": f"Bearer {tok['accessToken']}"}
        account_id = requests.get(f"{base}/account/list", headers=h, timeout=5).json()[0]["id"]
        placed = requests.post(
            f"{base}/order/placeorder",
            headers=h,
            json={"accountId": account_id, "action": "Buy", "symbol": "MESZ5", "orderQty": 3},
            timeout=5,
        ).json()
        assert "orderId" in placed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert state.exists()
    proc = run_sim(port, state)
    try:
        wait_up(port)
        tok = requests.post(
            f"{base}/auth/accesstokenrequest", json={"name": "paper1", "password": "pw2"}, timeout=5
        ).json()
        assert "accessToken" in tok  # a login provisioned before the restart
        tok = requests.post(
            f"{base}/auth/accesstokenrequest", json={"name": "eve", "password": "pw"}, timeout=5
        ).json()
        h = {"Authorization": f"Bearer {tok['accessToken']}"}
        [position] = requests.get(f"{base}/position/list", headers=h, timeout=5).json()
        assert position["netPos"] == 3
        orders = requests.get(f"{base}/order/list", headers=h, timeout=5).json()
        assert [o["id"] for o in orders] == [placed["orderId"]]
        # Ids keep growing after a restart: no order id is reused.
        again = requests.post(
            f"{base}/order/placeorder",
            headers=h,
            json={"accountId": account_id, "action": "Sell", "symbol": "MESZ5", "orderQty": 3},
            timeout=5,
        ).json()
        assert again["orderId"] > placed["orderId"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_simulator_only_endpoints_can_require_an_admin_token(settings, alice):
    from accounts.brokers.simulator.server import SimConfig, SimServer
    from accounts.services import paper_connection_provision

    server = SimServer(SimConfig(port=0, feed=False, admin_token="s3cret")).start_in_thread()
    try:
        resp = requests.post(
            f"{server.root_url}/sim/users", json={"name": "x", "password": "y"}, timeout=5
        )
        assert resp.status_code == 403
        settings.PAPER_BROKER_URL = server.base_url
        settings.PAPER_BROKER_ADMIN_TOKEN = "s3cret"
        connection = paper_connection_provision(user=alice)
        assert connection.status == "connected"
        assert connection.accounts.get().balance == 50000
    finally:
        server.stop()


def test_the_feed_replays_a_csv_of_ticks(tmp_path):
    from accounts.brokers.simulator.server import SimConfig, SimServer

    ticks = tmp_path / "ticks.csv"
    ticks.write_text(
        "timestamp,symbol,price\n"
        "2025-11-05T14:30:00.00Z,MNQZ5,21000.00\n"
        "2025-11-05T14:30:00.05Z,MNQZ5,21001.25\n"
        "2025-11-05T14:30:00.10Z,MNQZ5,21002.50\n"
    )
    server = SimServer(SimConfig(port=0, replay_path=ticks, replay_speed=1.0)).start_in_thread()
    try:
        seen = set()

        def reached():
            q = requests.get(f"{server.root_url}/sim/quote?symbol=MNQZ5", timeout=5).json()
            seen.add(q["entries"]["Trade"]["price"])
            return 21002.5 in seen

        wait_until(reached, timeout=10, interval=0.01)
    finally:
        server.stop()


def test_the_random_walk_is_seeded_and_moves_in_ticks():
    from decimal import Decimal

    from accounts.brokers.simulator.engine import Engine

    def walk(seed):
        engine = Engine(seed=seed)
        cid, contract = engine.contract("ESZ5")
        engine.book(cid, contract)
        prices = []
        for _ in range(50):
            engine.random_walk([cid])
            prices.append(engine.books[cid].last)
        return prices

    first, again, other = walk(3), walk(3), walk(4)
    assert first == again and first != other
    assert len(set(first)) > 5
    assert all(p % Decimal("0.25") == 0 for p in first)
