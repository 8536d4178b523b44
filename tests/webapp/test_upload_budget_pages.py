"""Upload budgets through the app: nothing stored for a refused upload on any path, the sender
kept as a hash, an expired link answered 410 with why, and the view clock."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockPredictor.data.sample import from_sample
from stockPredictor.store.models import Upload, UploadContent

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def _csv(path, days: int, skip: int = 0):
    # The bundled IBM prices as a Yahoo export: ``days`` rows, ``skip`` newest left out, so
    # each call's bytes differ. 3,200 rows are ~194 kB.
    frame = from_sample("IBM")
    frame = frame.iloc[len(frame) - days - skip:len(frame) - skip]
    lines = [HEADER] + [
        f"{d:%Y-%m-%d},{r.open:.4f},{r.high:.4f},{r.low:.4f},{r.close:.4f},{r.close:.4f},"
        f"{r.volume:.0f}" for d, r in zip(frame.index, frame.itertuples())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _post(client, url, path, name="MYCO.csv", address="198.51.100.1", **fields):
    with path.open("rb") as handle:
        return client.post(url, data={"horizon": "4", **fields, "file": (handle, name)},
                           content_type="multipart/form-data",
                           environ_base={"REMOTE_ADDR": address})


def _counts(app) -> tuple[int, int]:
    with Session(app.extensions["database"].engine) as session:
        return (session.scalar(select(func.count()).select_from(Upload)),
                session.scalar(select(func.count()).select_from(UploadContent)))


def _id(answer) -> int:
    where = answer.headers.get("Location") or answer.get_json()["url"]
    return int(re.search(r"/prediction/upload/(\d+)", where).group(1))


@pytest.mark.parametrize("url", ["/predict", "/api/v1/forecast"])
@pytest.mark.parametrize("fields", [{"as_of": "2000-03-10"}, {"model": "nope"},
                                    {"horizon": "31"}, {"level": "0.3"}])
def test_a_refused_forecast_of_a_valid_file_stores_nothing(app, ibm_csv, url, fields):
    answer = _post(app.test_client(), url, ibm_csv, **fields)
    assert 400 <= answer.status_code < 500
    assert _counts(app) == (0, 0)


@pytest.mark.parametrize("url", ["/predict", "/api/v1/forecast"])
@pytest.mark.parametrize("content", [b"not a price file\n", b"Date,Close\n2013-01-02,abc\n",
                                     b"\x1f\x8b broken gzip", b""])
def test_a_file_that_cannot_be_read_stores_nothing(app, tmp_path, url, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    answer = _post(app.test_client(), url, path)
    assert 400 <= answer.status_code < 500
    assert _counts(app) == (0, 0)


@pytest.mark.parametrize("url", ["/predict", "/api/v1/forecast"])
def test_an_accepted_upload_is_stored_once_with_its_sender_hashed(app, ibm_csv, url):
    client = app.test_client()
    first = _post(client, url, ibm_csv, address="198.51.100.1")
    again = _post(client, url, ibm_csv, name="OTHER.csv", address="198.51.100.1")
    other = _post(client, url, ibm_csv, name="THIRD.csv", address="203.0.113.9")
    assert {first.status_code, again.status_code, other.status_code} <= {200, 303}
    assert len({_id(first), _id(again), _id(other)}) == 3
    assert _counts(app) == (3, 1)
    with Session(app.extensions["database"].engine) as session:
        senders = session.scalars(select(Upload.client).order_by(Upload.id)).all()
    assert senders[0] == senders[1] != senders[2]
    assert all(re.fullmatch(r"[0-9a-f]{32}", sender) for sender in senders)
    assert not any("198.51" in sender or "203.0" in sender for sender in senders)


def test_a_sender_over_its_budget_loses_its_oldest_link_which_then_says_why(make_app, tmp_path):
    app = make_app(UPLOAD_CLIENT_BUDGET_MB=1)  # five ~194 kB files a sender
    client = app.test_client()
    theirs = _id(_post(client, "/api/v1/forecast", _csv(tmp_path / "t.csv", 3200),
                       address="203.0.113.9"))
    mine = [_id(_post(client, "/api/v1/forecast", _csv(tmp_path / f"{i}.csv", 3200, skip=i),
                      name=f"F{i}.csv")) for i in range(1, 7)]
    gone = client.get(f"/prediction/upload/{mine[0]}?horizon=4")
    html = gone.get_data(as_text=True)
    assert gone.status_code == 410 and gone.mimetype == "text/html"
    assert (f"the link to upload {mine[0]} has expired: its file was removed to make room "
            "for newer uploads; upload the file again to forecast it") in html
    assert client.get(f"/prediction/upload/{mine[0]}/forecast.json").status_code == 410
    for kept in (theirs, *mine[1:]):
        assert client.get(f"/prediction/upload/{kept}/forecast.json").status_code == 200
    # An id never issued is another answer: unknown, not expired.
    unknown = client.get(f"/prediction/upload/{mine[-1] + 1}")
    assert unknown.status_code == 404 and "has expired" not in unknown.get_data(as_text=True)


def test_an_upload_nobody_viewed_expires_and_its_link_says_so(app, ibm_csv, tmp_path):
    client = app.test_client()
    old = _id(_post(client, "/api/v1/forecast", ibm_csv))
    engine = app.extensions["database"].engine
    with Session(engine) as session, session.begin():
        session.execute(update(Upload).values(
            viewed_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=91)))
    _post(client, "/api/v1/forecast", _csv(tmp_path / "new.csv", 400, skip=3))  # purges
    gone = client.get(f"/prediction/upload/{old}")
    assert gone.status_code == 410
    assert "removed after 90 days without a visit" in gone.get_data(as_text=True)
    assert _counts(app) == (2, 1)  # the expired link's row stays, its file is gone


def _viewed(app, upload_id) -> dt.datetime:
    with Session(app.extensions["database"].engine) as session:
        moment = session.scalar(select(Upload.viewed_at).where(Upload.id == upload_id))
    return moment.replace(tzinfo=None)


def test_a_page_view_moves_the_purge_clock_and_a_download_does_not(app, ibm_csv):
    client = app.test_client()
    upload_id = _id(_post(client, "/api/v1/forecast", ibm_csv))
    earlier = dt.datetime(2026, 1, 5, 12, 0)
    with Session(app.extensions["database"].engine) as session, session.begin():
        session.execute(update(Upload).values(viewed_at=earlier))
    for path in (f"/prediction/upload/{upload_id}/forecast.csv",
                 f"/prediction/upload/{upload_id}/forecast.json"):
        assert client.get(path).status_code == 200
    assert _viewed(app, upload_id) == earlier
    assert client.get(f"/prediction/upload/{upload_id}").status_code == 200
    moved = _viewed(app, upload_id)
    assert moved > earlier + dt.timedelta(days=1)
    assert client.get(f"/prediction/upload/{upload_id}").status_code == 200
    assert _viewed(app, upload_id) == moved  # the same day: no write
