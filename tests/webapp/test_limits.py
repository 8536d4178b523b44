"""Rate limits per client: each kind's 429, shared counts in Redis, the proxy hop, failing open."""

from __future__ import annotations

import io
import logging
import re
import socket
import threading

import pytest
import redis
from stockPredictor.errors import SettingError

from Flask_webapp import api_examples, rate_limits

SENTENCE = re.compile(r"^Too many (?P<what>[a-z ]+) from your address: the limit is "
                      r"(?P<amount>\d+) (?P<period>a second|a minute|an hour|a day); "
                      r"try again in (?P<wait>\d+) (?P<unit>s|min)$")


def _upload(client, path, headers=None):
    form = {"horizon": "2", "file": (io.BytesIO(path.read_bytes()), "MYCO.csv")}
    return client.post("/api/v1/forecast", data=form, content_type="multipart/form-data",
                       headers=headers or {})


def _refused(answer, what: str, amount: int, period: str) -> None:
    """``answer`` is the 429 of this limit: Retry-After, and the sentence in JSON or a page."""
    assert answer.status_code == 429
    retry_after = int(answer.headers["Retry-After"])
    if answer.is_json:
        body = answer.get_json()
        assert body["error"] == "too_many_requests"
        sentence = body["message"]
    else:
        page = answer.get_data(as_text=True)
        assert "<h1>Too many requests</h1>" in page
        sentence = re.search(r'role="alert">([^<]+)<', page)[1]
    found = SENTENCE.match(sentence)
    assert found, sentence
    assert (found["what"], int(found["amount"]), found["period"]) == (what, amount, period)
    window = {"a minute": 60, "an hour": 3600}[period]
    assert 1 <= retry_after <= window
    wait = int(found["wait"]) * (60 if found["unit"] == "min" else 1)
    assert wait - 60 < retry_after <= wait  # minutes are rounded up


def test_forecasts_share_one_count_across_pages_downloads_and_the_api(make_app):
    client = make_app(RATE_LIMIT_FORECASTS="3 per minute").test_client()
    assert client.get("/prediction/IBM").status_code == 200
    assert client.get("/prediction/IBM/forecast.csv").status_code == 200
    assert client.post("/api/v1/forecast", json={"ticker": "IBM"}).status_code == 200
    _refused(client.get("/api/v1/forecast/IBM"), "forecasts", 3, "a minute")
    _refused(client.get("/prediction/MSFT"), "forecasts", 3, "a minute")
    # Other kinds keep their own counts, and health checks are never limited.
    assert client.get("/").status_code == 200
    assert client.get("/forecasts").status_code == 200
    assert all(client.get(path).status_code == 200
               for path in ["/healthz", "/api/v1/healthz"] * 5)


def test_a_post_to_the_form_without_a_file_counts_as_a_forecast(make_app):
    client = make_app(RATE_LIMIT_FORECASTS="1 per minute").test_client()
    assert client.post("/predict", data={"ticker": "IBM", "horizon": "2"}).status_code == 303
    _refused(client.post("/predict", data={"ticker": "IBM", "horizon": "2"}),
             "forecasts", 1, "a minute")


def test_uploads_have_their_own_limit(make_app, ibm_csv):
    client = make_app(RATE_LIMIT_UPLOADS="1 per hour").test_client()
    assert _upload(client, ibm_csv).status_code == 200
    _refused(_upload(client, ibm_csv), "uploads", 1, "an hour")
    form = {"horizon": "2", "file": (io.BytesIO(ibm_csv.read_bytes()), "MYCO.csv")}
    _refused(client.post("/predict", data=form, content_type="multipart/form-data"),
             "uploads", 1, "an hour")
    # A forecast of a ticker is not an upload, even sent as a multipart form.
    assert client.post("/api/v1/forecast", data={"ticker": "IBM"},
                       content_type="multipart/form-data").status_code == 200


def test_ledger_listings_have_their_own_limit(make_app):
    client = make_app(RATE_LIMIT_LEDGER="2 per minute").test_client()
    assert client.get("/forecasts").status_code == 200
    assert client.get("/api/v1/forecasts").status_code == 200
    _refused(client.get("/api/v1/forecasts?limit=5"), "ledger listings", 2, "a minute")
    _refused(client.get("/forecasts"), "ledger listings", 2, "a minute")
    assert client.get("/api/v1/forecast/IBM").status_code == 200


def test_a_view_marked_as_jobs_counts_against_the_jobs_limit(make_app):
    app = make_app(RATE_LIMIT_JOBS="1 per hour")

    @rate_limits.jobs
    def start_job():
        return {"queued": True}

    app.add_url_rule("/test-job", "test_job", start_job, methods=["POST"])
    client = app.test_client()
    assert client.post("/test-job", data={}).status_code == 200
    _refused(client.post("/test-job", data={}), "training jobs", 1, "an hour")
    assert client.get("/api/v1/forecast/IBM").status_code == 200


def test_other_pages_share_a_generous_count_and_health_checks_none(make_app):
    client = make_app(RATE_LIMIT_OTHER="2 per minute").test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/models").status_code == 200
    _refused(client.get("/glossary"), "requests", 2, "a minute")
    _refused(client.get("/api/v1/stocks/IBM"), "requests", 2, "a minute")
    assert client.get("/api/v1/healthz").status_code == 200
    assert client.get("/prediction/IBM").status_code == 200  # forecasts count on their own


def test_the_default_forecast_limit_answers_as_the_documented_example(make_app):
    client = make_app().test_client()
    answers = [client.get("/api/v1/forecast/IBM?horizon=1").status_code for _ in range(61)]
    assert answers == [200] * 60 + [429]
    body = client.get("/api/v1/forecast/IBM").get_json()
    seconds = re.compile(r"\d+ s$")
    example = api_examples.ERRORS[429]
    assert {**body, "message": seconds.sub("N s", body["message"])} == {
        **example, "message": seconds.sub("N s", example["message"])}


def test_limits_can_be_turned_off(make_app):
    client = make_app(RATE_LIMITS="0", RATE_LIMIT_FORECASTS="1 per minute").test_client()
    assert [client.get("/api/v1/forecast/IBM").status_code for _ in range(4)] == [200] * 4


@pytest.mark.parametrize("name, value", [("RATE_LIMIT_FORECASTS", "often"),
                                         ("RATE_LIMIT_UPLOADS", "0 per hour"),
                                         ("RATE_LIMIT_LEDGER", "5 per fortnight"),
                                         ("REDIS_URL", "http://127.0.0.1:6379"),
                                         ("REDIS_URL", "rediss://h:6380?ssl_cert_reqs=maybe")])
def test_a_limit_that_cannot_be_used_stops_the_app_naming_it(make_app, name, value):
    with pytest.raises(SettingError, match=f"^{name}=.* is not valid: expected "):
        make_app(**{name: value})


# --- the client's address -----------------------------------------------------------------

def test_only_the_last_proxy_hop_of_x_forwarded_for_names_the_client(make_app):
    client = make_app(RATE_LIMIT_FORECASTS="2 per minute").test_client()

    def forecast(forwarded: str) -> int:
        return client.get("/api/v1/forecast/IBM", headers={"X-Forwarded-For": forwarded})

    # A client writing its own entries in front of what Heroku's router appends stays itself.
    assert forecast("10.0.0.1, 203.0.113.7").status_code == 200
    assert forecast("10.0.0.2, 203.0.113.7").status_code == 200
    _refused(forecast("10.0.0.3, 203.0.113.7"), "forecasts", 2, "a minute")
    # Another address, as the router sees it, is another client.
    assert forecast("203.0.113.7, 198.51.100.9").status_code == 200
    assert forecast("198.51.100.10").status_code == 200


def test_with_no_proxy_trusted_x_forwarded_for_changes_nothing(make_app):
    client = make_app(RATE_LIMIT_FORECASTS="2 per minute", PROXY_HOPS="0").test_client()
    answers = [client.get("/api/v1/forecast/IBM", headers={"X-Forwarded-For": f"10.0.0.{i}"})
               for i in range(3)]
    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    _refused(answers[2], "forecasts", 2, "a minute")


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same subscriber's network
    ("::ffff:203.0.113.7", "203.0.113.7"),
])
def test_an_ipv6_client_counts_by_its_64_network(app, address, key):
    with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        assert rate_limits.client_key() == key


# --- Redis --------------------------------------------------------------------------------

@pytest.fixture
def shared_redis(redis_url):
    """The run's Redis server, emptied: counts from another test do not carry over."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    connection.close()
    return redis_url


def test_two_workers_on_one_redis_share_the_count(make_app, shared_redis):
    workers = [make_app(REDIS_URL=shared_redis, RATE_LIMIT_FORECASTS="3 per minute").test_client()
               for _ in range(2)]
    answers = [workers[i % 2].get("/api/v1/forecast/IBM").status_code for i in range(4)]
    assert answers == [200, 200, 200, 429]
    # Without Redis each process counts alone: the same requests all pass.
    alone = [make_app(RATE_LIMIT_FORECASTS="3 per minute").test_client() for _ in range(2)]
    assert [alone[i % 2].get("/api/v1/forecast/IBM").status_code for i in range(4)] == [200] * 4


def test_a_rediss_url_with_a_self_signed_certificate_is_used(make_app):
    from tests.redis_server import redis_server, unavailable

    if unavailable(tls=True):
        pytest.skip(f"Redis tests not run: {unavailable(tls=True)}")
    with redis_server(tls=True) as url:
        assert url.startswith("rediss://")
        client = make_app(REDIS_URL=url, RATE_LIMIT_FORECASTS="2 per minute").test_client()
        answers = [client.get("/api/v1/forecast/IBM").status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        # Asking for the certificate to be verified fails on it, and so fails open.
        verified = make_app(REDIS_URL=f"{url}?ssl_cert_reqs=required",
                            RATE_LIMIT_FORECASTS="1 per minute").test_client()
        assert [verified.get("/api/v1/forecast/IBM").status_code for _ in range(3)] == [200] * 3


def test_redis_going_down_fails_open_and_comes_back(make_app, monkeypatch, caplog):
    from tests.redis_server import redis_server, unavailable
    from tests.servers import free_port

    if unavailable():
        pytest.skip(f"Redis tests not run: {unavailable()}")
    port = free_port()
    with redis_server(port=port) as url:
        client = make_app(REDIS_URL=url, RATE_LIMIT_FORECASTS="2 per minute").test_client()
        assert [client.get("/api/v1/forecast/IBM").status_code for _ in range(3)] == [
            200, 200, 429]
    with caplog.at_level(logging.WARNING, logger=rate_limits.__name__):
        # Down: served, never a 500 nor a 429, and said once in the log.
        assert [client.get("/api/v1/forecast/IBM").status_code for _ in range(4)] == [200] * 4
    said = [record.getMessage() for record in caplog.records if record.name == rate_limits.__name__]
    assert len(said) == 1 and said[0].startswith("rate limits are off for 30 s")
    assert "127.0.0.1" not in said[0] and str(port) not in said[0]
    monkeypatch.setattr(rate_limits, "STORE_RETRY", 0.0)
    with redis_server(port=port):
        # Back (the retry is immediate here): the count starts again from an empty Redis.
        assert [client.get("/api/v1/forecast/IBM").status_code for _ in range(3)] == [
            200, 200, 429]


def test_a_redis_that_never_answers_is_asked_once_per_retry_interval(make_app):
    # A listener that accepts connections and never answers, as a hung Redis does.
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        client = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/0",
                          RATE_LIMIT_FORECASTS="1 per minute").test_client()
        assert [client.get("/api/v1/forecast/IBM").status_code for _ in range(5)] == [200] * 5
        assert len(accepted) == 1  # the first request waited out the timeout; the rest did not
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()
