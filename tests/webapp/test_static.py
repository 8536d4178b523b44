"""Static files under content-hashed names, compressed and cached far ahead; compressed answers."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest

from Flask_webapp import assets, security

STATIC = Path(__file__).resolve().parents[2] / "Flask_webapp" / "static"
PAGES = ["/", "/predict", "/prediction/IBM?horizon=4", "/api/v1/docs"]
# A 12-hex content hash before the suffix (app.<hash>.css) or ending a folder's name.
HASH = re.compile(r"\.([0-9a-f]{12})(?=[./])")
DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}
# A form's CSRF token is signed with the second it was made: two requests a second apart differ
# there and nowhere else.
CSRF = re.compile(rb'(name="csrf_token" value=")[^"]*(")')

YEAR = 365 * 24 * 3600
FIXED = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
         "Referrer-Policy": "same-origin"}


def _steady(page: bytes) -> bytes:
    """The page with its CSRF tokens blanked."""
    return CSRF.sub(rb"\1\2", page)


def _static_urls(client, page: str) -> list[str]:
    html = client.get(page).get_data(as_text=True)
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+)"', html)
    assert urls, f"{page} links no static file"
    return urls


def _on_disk(url: str) -> Path:
    """The file a hashed static URL stands for: the URL without its hash, under static/."""
    return STATIC / HASH.sub("", url).removeprefix("/static/")


def _max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    assert found, f"no max-age in {cache_control!r}"
    return int(found.group(1))


@pytest.mark.parametrize("page", PAGES)
def test_pages_link_static_files_by_the_hash_of_their_content(client, page):
    for url in _static_urls(client, page):
        found = HASH.search(url)
        assert found, f"{url} on {page} has no content hash in its name"
        on_disk = _on_disk(url)
        assert on_disk.is_file(), url
        if on_disk.parent.name == "swagger-ui":
            # Swagger UI's files share their folder's hash (a template appends their names).
            assert HASH.search(url.rsplit("/", 1)[0] + "/"), url
        else:
            assert hashlib.sha256(on_disk.read_bytes()).hexdigest().startswith(found.group(1)), url


@pytest.mark.parametrize("page", PAGES)
def test_hashed_static_files_are_cached_far_ahead_and_compressed(client, page):
    for url in _static_urls(client, page):
        body = _on_disk(url).read_bytes()
        plain = client.get(url)
        assert plain.status_code == 200 and plain.data == body, url
        assert "Content-Encoding" not in plain.headers
        cache_control = plain.headers["Cache-Control"]
        assert "immutable" in cache_control and _max_age(cache_control) >= YEAR, url
        for encoding, decode in DECODE.items():
            answer = client.get(url, headers={"Accept-Encoding": encoding})
            assert answer.status_code == 200, url
            assert answer.headers.get("Content-Encoding") == encoding, (url, encoding)
            assert len(answer.data) < len(body), (url, encoding)
            assert decode(answer.data) == body, (url, encoding)
            assert "Accept-Encoding" in answer.headers["Vary"]
            assert "immutable" in answer.headers["Cache-Control"]


def test_swagger_ui_is_served_from_a_hashed_folder_and_compressed(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    bundle = re.search(r'src="(/static/vendor/swagger-ui\.[0-9a-f]{12}/swagger-ui-bundle\.js)"',
                       html)
    assert bundle, "the docs page does not load Swagger UI from a hashed folder"
    answer = client.get(bundle.group(1), headers={"Accept-Encoding": "gzip, br"})
    assert answer.headers["Content-Encoding"] == "br"
    assert brotli.decompress(answer.data) == (
        STATIC / "vendor/swagger-ui/swagger-ui-bundle.js").read_bytes()


@pytest.mark.parametrize("name", ["css/app.css", "js/charts.js",
                                  "vendor/swagger-ui/swagger-ui.css"])
def test_plain_static_names_still_work_with_a_short_cache(client, name):
    body = (STATIC / name).read_bytes()
    answer = client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "gzip" and gzip.decompress(answer.data) == body
    cache_control = answer.headers["Cache-Control"]
    assert "immutable" not in cache_control and _max_age(cache_control) <= 3600
    assert client.get(f"/static/{name}").data == body


def test_a_static_file_answers_head_and_304(client):
    url = _static_urls(client, "/")[0]
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    head = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]
    again = client.get(url, headers={"Accept-Encoding": "gzip",
                                     "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("url", ["/", "/prediction/IBM?horizon=4", "/api/v1/openapi.json",
                                 "/api/v1/models"])
def test_html_and_json_are_compressed_when_asked_and_plain_when_not(client, url):
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    assert len(plain.data) > 500, "too small to be worth compressing; pick a larger answer"
    for encoding, decode in DECODE.items():
        answer = client.get(url, headers={"Accept-Encoding": encoding})
        assert answer.headers.get("Content-Encoding") == encoding, (url, encoding)
        assert answer.mimetype == plain.mimetype
        assert int(answer.headers["Content-Length"]) == len(answer.data) < len(plain.data)
        # Byte for byte the same page: its data: download links and every number intact.
        assert _steady(decode(answer.data)) == _steady(plain.data), (url, encoding)
        assert "Accept-Encoding" in answer.headers["Vary"]


def test_brotli_is_preferred_and_identity_is_respected(client):
    assert client.get("/", headers={"Accept-Encoding": "gzip, deflate, br, zstd"}).headers[
        "Content-Encoding"] == "br"
    assert "Content-Encoding" not in client.get("/", headers={
        "Accept-Encoding": "identity"}).headers


@pytest.mark.parametrize("url", ["/", "/api/v1/openapi.json", "/static/css/app.css"])
def test_compressed_answers_keep_the_security_headers(client, url):
    answer = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    for name, value in FIXED.items():
        assert answer.headers[name] == value, name
    assert answer.headers["Content-Security-Policy"] == security.CSP


def test_head_of_a_compressed_page_has_no_body(client):
    answer = client.head("/", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["Content-Encoding"] == "gzip"


def test_error_pages_and_small_answers_are_left_plain(client):
    missing = client.get("/no/such/page", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404 and b"<h1>" in missing.data
    small = client.get("/api/v1/nothing-here", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 404 and small.json["error"]
    assert "Content-Encoding" not in missing.headers and "Content-Encoding" not in small.headers


def test_the_served_tree_is_built_once_and_named_by_content(tmp_path):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body { color: black; }\n" * 200)
    first = assets.build(static, tmp_path / "cache")
    served = first.root / first.files["css/site.css"]
    expected = hashlib.sha256((static / "css" / "site.css").read_bytes()).hexdigest()[:12]
    assert first.files["css/site.css"] == f"css/site.{expected}.css"
    assert gzip.decompress(Path(f"{served}.gz").read_bytes()) == served.read_bytes()
    assert brotli.decompress(Path(f"{served}.br").read_bytes()) == served.read_bytes()
    inode = Path(f"{served}.br").stat().st_ino
    # A restart with the same files reuses what was written; a changed file gets a new name.
    assert assets.build(static, tmp_path / "cache").root == first.root
    assert Path(f"{served}.br").stat().st_ino == inode
    (static / "css" / "site.css").write_text("body { color: navy; }\n" * 200)
    changed = assets.build(static, tmp_path / "cache")
    assert changed.root != first.root
    assert changed.files["css/site.css"] != first.files["css/site.css"]


def test_static_files_get_hsts_only_when_the_router_says_https(client):
    url = _static_urls(client, "/")[0]
    secure = client.get(url, headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"] == security.HSTS
    assert "Strict-Transport-Security" not in client.get(url).headers
