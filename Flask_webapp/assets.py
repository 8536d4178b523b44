"""Static files under content-hashed names, compressed once and cached far ahead; answers too.

At start-up ``register`` reads every file under the static folder once, names each by its SHA-256
(``css/app.css`` -> ``css/app.<12 hex>.css``), and writes a served copy of the folder under
CACHE_DIR with gzip and Brotli variants beside each file (``.gz``, ``.br``). WhiteNoise serves
that copy from memory-held file lists: the hashed names with ``Cache-Control: max-age=<10 years>,
public, immutable``, the plain names with a short max-age, each in the encoding the browser
accepts, with ETag, 304s, HEAD and ranges. The copy is keyed by the hash of every file, so a
restart with the same files reuses it and nothing is compressed per request. ``url_for('static',
filename=...)`` gives the hashed name through a ``url_defaults`` function, so templates stay as
they are. Swagger UI's files are addressed as one prefix that a template appends names to
(flask-smorest's OPENAPI_SWAGGER_UI_URL), so its folder, not each file, carries the hash.

HTML and JSON answers are compressed by Flask-Compress (Brotli or gzip, whichever the client
prefers; none below 500 bytes, none for errors), always with ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from wsgiref.headers import Headers

import brotli
from flask import Flask
from flask_compress import Compress
from whitenoise import WhiteNoise

from . import security

log = logging.getLogger(__name__)

# Folders a template addresses as a prefix plus a name: the folder's name carries the hash.
HASHED_FOLDERS = ("vendor/swagger-ui",)
HASH_CHARS = 12
# Plain names stay usable (old links, hand-written URLs), re-checked after a minute.
SHORT_MAX_AGE = 60
# Already compressed: a second pass would only cost time.
SKIP_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".gz",
                           ".br", ".zip"})
# Brotli's best quality (11) takes 4 s on Swagger UI's 1.7 MB bundle for 8% fewer bytes than
# quality 9 (0.15 s); files above this size get 9, so start-up stays about a second.
BEST_BROTLI_UP_TO = 1_000_000
# A variant is kept only when it saves at least 5% (as whitenoise.compress does).
WORTH_KEEPING = 0.95
TREES_KEPT = 3
# Bumped when the served tree's layout or compression settings change.
FORMAT = "1"
# Variants already computed in this process, by (SHA-256, encoding): apps built again in one
# process (the tests build dozens) compress each file once.
_VARIANTS: dict[tuple[str, str], bytes | None] = {}
COMPRESS_CONFIG = {
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    # No answer streams today; one that does is compressed chunk by chunk with Brotli only.
    "COMPRESS_ALGORITHM_STREAMING": ["br"],
    "COMPRESS_MIMETYPES": ["text/html", "application/json", "text/css", "text/javascript",
                           "application/javascript", "text/plain", "text/csv", "image/svg+xml"],
    "COMPRESS_MIN_SIZE": 500,
}


@dataclass(frozen=True)
class Manifest:
    """The served tree: each static file's hashed name, each hashed folder's, and where it lies."""

    root: Path
    files: dict[str, str]
    folders: dict[str, str]

    def immutable(self) -> frozenset[str]:
        """The served paths, relative to the static URL, whose content never changes."""
        inside = {f"{alias}/{name[len(folder) + 1:]}" for folder, alias in self.folders.items()
                  for name in self.files if name.startswith(folder + "/")}
        return frozenset(self.files.values()) | inside


def hashed_name(name: str, digest: str) -> str:
    """``css/app.css`` -> ``css/app.<first 12 hex of its SHA-256>.css``."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest[:HASH_CHARS]}{path.suffix}"))


def scan(static: Path) -> dict[str, bytes]:
    """Every file under ``static`` by its path relative to it (POSIX), with its bytes."""
    # Read once: the name's hash and the bytes served are then of the same version of a file.
    return {path.relative_to(static).as_posix(): path.read_bytes()
            for path in sorted(static.rglob("*")) if path.is_file()}


def plan(digests: dict[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """What to serve: served path -> source path; file -> hashed name; folder -> hashed folder."""
    files = {name: hashed_name(name, digest) for name, digest in digests.items()}
    folders = {}
    for folder in HASHED_FOLDERS:
        inside = sorted(name for name in digests if name.startswith(folder + "/"))
        if inside:
            digest = hashlib.sha256("".join(f"{n}\0{digests[n]}\n" for n in inside).encode())
            folders[folder] = f"{folder}.{digest.hexdigest()[:HASH_CHARS]}"
    served = {name: name for name in digests} | {hashed: name for name, hashed in files.items()}
    for folder, alias in folders.items():
        served |= {alias + name[len(folder):]: name for name in digests
                   if name.startswith(folder + "/")}
    return served, files, folders


def variant(data: bytes, digest: str, encoding: str) -> bytes | None:
    """``data`` compressed as ``encoding`` (br or gzip); None when that saves too little."""
    key = (digest, encoding)
    if key not in _VARIANTS:
        if encoding == "br":
            quality = 11 if len(data) <= BEST_BROTLI_UP_TO else 9
            packed = brotli.compress(data, quality=quality)
        else:
            packed = gzip.compress(data, compresslevel=9, mtime=0)  # mtime 0: same bytes each time
        _VARIANTS[key] = packed if len(packed) <= WORTH_KEEPING * len(data) else None
    return _VARIANTS[key]


def build(static: Path, cache_dir: Path) -> Manifest:
    """Write (or reuse) the served tree for the files under ``static`` in ``cache_dir``/static."""
    contents = scan(static)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    served, files, folders = plan(digests)
    key = hashlib.sha256((FORMAT + "".join(f"{n}\0{d}\n" for n, d in digests.items()))
                         .encode()).hexdigest()[:16]
    trees = cache_dir / "static"
    root = trees / f"tree-{key}"
    if not root.is_dir():
        # Written aside and renamed into place: a tree that exists is complete, and of two
        # processes starting together (gunicorn without --preload) the first rename wins.
        trees.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".tree-", dir=trees))
        try:
            _write(contents, work, served, digests)
            try:
                work.rename(root)
            except OSError:
                if not root.is_dir():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    os.utime(root)  # the newest trees are the ones kept
    _prune(trees, keep=root)
    return Manifest(root=root, files=files, folders=folders)


def _write(contents: dict[str, bytes], work: Path, served: dict[str, str],
           digests: dict[str, str]) -> None:
    # One copy of each content; every other name for it is a hard link to that copy.
    first: dict[str, Path] = {}
    for target, source in served.items():
        digest = digests[source]
        out = work / target
        out.parent.mkdir(parents=True, exist_ok=True)
        if digest in first:
            for suffix in ("", ".gz", ".br"):
                original = first[digest].with_name(first[digest].name + suffix)
                if original.exists():
                    _link(original, out.with_name(out.name + suffix))
            continue
        data = contents[source]
        out.write_bytes(data)
        first[digest] = out
        if PurePosixPath(source).suffix.lower() in SKIP_SUFFIXES:
            continue
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            packed = variant(data, digest, encoding)
            if packed is not None:
                out.with_name(out.name + suffix).write_bytes(packed)


def _link(original: Path, out: Path) -> None:
    try:
        os.link(original, out)
    except OSError:  # a file system without hard links
        shutil.copyfile(original, out)


def _prune(trees: Path, keep: Path) -> None:
    # Trees of earlier file versions: keep a few (a process still running may serve one).
    old = sorted((p for p in trees.glob("tree-*") if p != keep),
                 key=lambda p: p.stat().st_mtime, reverse=True)
    # And half-written trees of processes killed while writing them, once surely abandoned.
    abandoned = [p for p in trees.glob(".tree-*") if time.time() - p.stat().st_mtime > 3600]
    for tree in old[TREES_KEPT - 1:] + abandoned:
        shutil.rmtree(tree, ignore_errors=True)


def _security_headers(headers: Headers, path: str, url: str) -> None:
    # WhiteNoise answers before Flask, so security.py's after_request never sees these files.
    # HSTS depends on the request's scheme, which a file's fixed headers cannot know: _WhiteNoise.
    for name, value in security.HEADERS.items():
        headers[name] = value


class _WhiteNoise(WhiteNoise):
    """WhiteNoise that adds HSTS over HTTPS, as security.py does for every other answer."""

    @staticmethod
    def serve(static_file, environ: dict, start_response):
        """Serve ``static_file``, with HSTS when the request came over HTTPS."""
        if environ.get("wsgi.url_scheme") != "https":  # set by ProxyFix from the router's word
            return WhiteNoise.serve(static_file, environ, start_response)

        def start(status: str, headers: list, exc_info=None):
            hsts = ("Strict-Transport-Security", security.HSTS)
            return start_response(status, [*headers, hsts], exc_info)
        return WhiteNoise.serve(static_file, environ, start)


def _served_urls(app: Flask, manifest: Manifest) -> Iterator[str]:
    prefix = app.static_url_path.rstrip("/") + "/"
    return (prefix + name for name in manifest.immutable())


def register(app: Flask, cache_dir: Path) -> Manifest:
    """Serve the static folder hashed, compressed and cached; compress HTML and JSON answers."""
    try:
        manifest = build(Path(app.static_folder), cache_dir)
    except OSError as exc:
        # A read-only CACHE_DIR must not stop the app: the tree goes to the system's temp folder.
        fallback = Path(tempfile.gettempdir()) / "stock-predictor"
        log.warning("cannot write static files under %s (%s); using %s", cache_dir, exc, fallback)
        manifest = build(Path(app.static_folder), fallback)
    immutable = frozenset(_served_urls(app, manifest))

    def hashed_static(endpoint: str, values: dict) -> None:
        # url_for('static', filename='css/app.css') -> /static/css/app.<hash>.css
        if endpoint == "static" and values.get("filename") in manifest.files:
            values["filename"] = manifest.files[values["filename"]]

    app.url_defaults(hashed_static)
    # flask-smorest reads this when the Api is created: a prefix the docs template appends to.
    prefix = app.static_url_path.rstrip("/") + "/"
    swagger = app.config.get("OPENAPI_SWAGGER_UI_URL") or ""
    if swagger.startswith(prefix) and swagger[len(prefix):].rstrip("/") in manifest.folders:
        app.config["OPENAPI_SWAGGER_UI_URL"] = (
            prefix + manifest.folders[swagger[len(prefix):].rstrip("/")] + "/")
    app.wsgi_app = _WhiteNoise(app.wsgi_app, root=manifest.root, prefix=app.static_url_path,
                               max_age=SHORT_MAX_AGE, allow_all_origins=False,
                               immutable_file_test=lambda path, url: url in immutable,
                               add_headers_function=_security_headers)
    for name, value in COMPRESS_CONFIG.items():
        app.config.setdefault(name, value)
    Compress(app)
    app.extensions["static_manifest"] = manifest
    return manifest
