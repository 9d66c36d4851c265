#!/usr/bin/env python3
"""Servers that play AWS inside the simulated VPC built by ``world.py``.

This module owns the *wire behaviour* of every fake AWS endpoint in the test
world. Each subcommand is one long-running process meant to be started inside
a network namespace, e.g. ``ip netns exec ep-P-s3a python3 servers.py http ...``:

``http``
    An HTTP (:80) + HTTPS (:443) server on one or more addresses (IPv4 and/or
    IPv6), answering with one *flavor*:

    * ``s3``: like Amazon S3 for anonymous ``GET``/``HEAD``. On the bare service
      host (``s3.REGION.amazonaws.com``, ``s3.dualstack.REGION...``,
      ``s3.amazonaws.com``, an IP literal) ``GET /`` is a 307 to
      https://aws.amazon.com/s3/ and ``/BUCKET[/KEY]`` is path-style. Hosts
      ``BUCKET.s3[.dualstack][.REGION].amazonaws.com`` are virtual-hosted, and
      any other host name is taken whole as the bucket name (CNAME style, as S3
      does). What a bucket answers is its *mode* (see ``BUCKET_MODES``);
      buckets that are not configured do not exist (404 NoSuchBucket). A
      public bucket lists one object, ``hello.txt``, which GET returns.
    * ``sts``: like STS for unsigned requests (403 MissingAuthenticationToken,
      with ``x-amzn-RequestId``).
    * ``cloudfront``: like the CloudFront distribution behind
      ip-ranges.amazonaws.com: ``GET /ip-ranges.json`` serves a file, other
      paths are 403 AccessDenied; ``Server: CloudFront``.
    * ``echo``: like checkip.amazonaws.com: every ``GET`` answers the caller's
      source address and a newline, as text.

    ``--latency-ms`` sleeps before every response and before every TLS
    handshake (one simulated round trip each). ``--tls-stall`` completes the TLS
    handshake and then never sends a byte.

``imds``
    The EC2 instance metadata service on 169.254.169.254:80. ``--mode`` is one
    of ``ok`` (IMDSv2, tokens required), ``hop-limit`` (token PUT never answers,
    IMDSv1 GETs work), ``disabled`` (everything 403), ``v1-only`` (no token
    support: PUT 405, GETs work), ``garbage`` (tokens work, every answer is
    non-JSON junk), ``hang`` (accepts TCP, never answers). The metadata itself
    is a JSON file ``{path: text}`` of leaves; directory listings are derived.

``dns-zone``
    A minimal authoritative DNS server (UDP and TCP) for the zones in a JSON
    file written by world.py. The VPC resolver (dnsmasq) forwards to it; it
    exists because dnsmasq can neither CNAME a wildcard nor answer NODATA to
    AAAA queries on an IPv4-only ``address=/zone/`` (it says NXDOMAIN).

``dns-blackhole``
    Reads DNS queries over UDP and TCP on port 53 and never answers.

Every server writes ``--ready-file`` once all its sockets listen. All of them
are bounded: at most ``MAX_CONNECTIONS`` concurrent connections, request heads
limited by http.server, bodies by ``MAX_BODY``, idle connections time out and
held ("hanging") connections are released after ``HOLD_LIMIT`` seconds. Worker
threads are daemons and SIGTERM/SIGINT keep their default action, so a server
exits as soon as it is killed. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http
import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from xml.sax.saxutils import escape

MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 30.0
HOLD_LIMIT = 300.0
MAX_BODY = 64 * 1024

BUCKET_MODES = ("public", "private", "endpoint-deny", "owner-endpoint-deny", "redirect:REGION", "missing", "not-xml",
                "repo", "repo-deny", "repo-elsewhere:REGION")

S3_DOC_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# A service endpoint host: s3.amazonaws.com, s3.us-west-2..., s3.dualstack.us-west-2...,
# s3-us-west-2..., s3-external-1..., s3-1-w... (the legacy global name's target).
S3_SERVICE_HOST = re.compile(r"^s3(\.dualstack)?([.-][a-z0-9-]+)?\.amazonaws\.com$")


# --------------------------------------------------------------------------
# Responses and connection plumbing shared by the HTTP servers
# --------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    host: str  # lower case, without port or trailing dot
    path: str  # percent-decoded, without query
    query: dict[str, list[str]]
    headers: object  # http.client.HTTPMessage
    body: bytes
    client: str = ""  # the peer's address, as this server sees it


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class Hold:
    """Returned by an app instead of a Response: keep the connection, never answer."""


HOLD = Hold()


class App:
    """Base class of the request handlers plugged into ``Server``."""

    server_header = ""
    latency = 0.0
    tls_stall = False
    hold_everything = False  # accept connections but never read or answer

    def delay(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)

    def handle(self, req: Request) -> Response | Hold:
        raise NotImplementedError


def hold(conn: socket.socket) -> None:
    """Keep a connection open without answering until the peer closes it or HOLD_LIMIT passes."""
    deadline = time.monotonic() + HOLD_LIMIT
    conn.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue
        except (OSError, ssl.SSLError):
            return


def http_date() -> str:
    return formatdate(usegmt=True)


def host_only(raw: str) -> str:
    """The host part of a Host header, lower-cased, without port and trailing dot."""
    raw = raw.strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw
    if raw.count(":") == 1:
        raw = raw.split(":", 1)[0]
    return raw.rstrip(".")


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    """Parses one HTTP/1.1 request at a time and lets the server's App answer it."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def version_string(self) -> str:  # used by send_error() only
        return self.server.app.server_header

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))

    def dispatch(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self.send_error(411, "Length Required")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self.send_error(413 if length > 0 else 400)
            return
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        req = Request(
            method=self.command,
            host=host_only(self.headers.get("Host", "")),
            path=urllib.parse.unquote(split.path or "/"),
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client=str(self.client_address[0]),
        )
        app = self.server.app
        resp = app.handle(req)
        if isinstance(resp, Hold):
            self.close_connection = True
            hold(self.connection)
            return
        app.delay()
        self.send_response_only(resp.status)
        self.send_header("Date", http_date())
        if app.server_header:
            self.send_header("Server", app.server_header)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = dispatch


class Server(socketserver.ThreadingTCPServer):
    """A threading TCP server on one address and port, optionally TLS, bounded in connections.

    The TLS handshake runs in the connection's own thread, so a client that
    never handshakes cannot block the accept loop.
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: str, port: int, app: App, tls: ssl.SSLContext | None = None):
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.app = app
        self.tls = tls
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((address, port), Handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        request.settimeout(IDLE_TIMEOUT)
        conn = request
        try:
            if self.app.hold_everything:
                hold(conn)
                return
            if self.tls is not None:
                self.app.delay()
                conn = self.tls.wrap_socket(request, server_side=True)
                if self.app.tls_stall:
                    hold(conn)
                    return
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        sys.stderr.write("%s connection error: %r\n" % (client_address[0], err))


def serve(servers: list[socketserver.BaseServer], ready_file: str | None) -> None:
    """Run every server in a daemon thread, signal readiness and wait to be killed."""
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, ready_file)
    while True:
        signal.pause()


# --------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------


def amz_request_id() -> str:
    return secrets.token_hex(8).upper()


def amz_id_2() -> str:
    return base64.b64encode(os.urandom(57)).decode()


def xml_doc(root: str, fields: list[tuple[str, str]]) -> bytes:
    inner = "".join("<%s>%s</%s>" % (k, escape(v), k) for k, v in fields)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%s>%s</%s>' % (root, inner, root)).encode()


class S3App(App):
    """Anonymous S3 semantics for service, path-style and virtual-hosted requests."""

    server_header = "AmazonS3"
    hello = b"hello from the simulated VPC\n"

    def __init__(self, region: str, buckets: dict[str, str], principal_arn: str):
        self.region = region
        self.buckets = buckets
        self.principal_arn = principal_arn

    # -- routing
    def handle(self, req: Request) -> Response:
        rid, hid = amz_request_id(), amz_id_2()
        if req.method not in ("GET", "HEAD"):
            return self.error(rid, hid, 405, "MethodNotAllowed",
                              "The specified method is not allowed against this resource.",
                              [("Method", req.method), ("ResourceType", "SERVICE")])
        bucket = self.bucket_of_host(req.host)
        if bucket is None:  # service endpoint: path style
            name, _, key = req.path.lstrip("/").partition("/")
            if not name:
                return Response(307, self.amz(rid, hid) + [("Location", "https://aws.amazon.com/s3/")])
            return self.bucket_response(rid, hid, name, key, virtual=False, signed=signed(req))
        return self.bucket_response(rid, hid, bucket, req.path.lstrip("/"), virtual=True,
                                    signed=signed(req))

    @staticmethod
    def bucket_of_host(host: str) -> str | None:
        """None for a service endpoint host, else the bucket the host names."""
        if not host or is_ip_literal(host) or S3_SERVICE_HOST.match(host):
            return None
        labels = host.split(".")
        for i in range(1, len(labels)):
            if S3_SERVICE_HOST.match(".".join(labels[i:])):
                return ".".join(labels[:i])
        return host  # CNAME-style: the whole host is the bucket name

    # -- answers
    def amz(self, rid: str, hid: str) -> list[tuple[str, str]]:
        return [("x-amz-request-id", rid), ("x-amz-id-2", hid)]

    def error(self, rid, hid, status, code, message, extra=(), headers=()) -> Response:
        fields = [("Code", code), ("Message", message), *extra, ("RequestId", rid), ("HostId", hid)]
        return Response(status, self.amz(rid, hid) + [("Content-Type", "application/xml"), *headers],
                        xml_doc("Error", fields))

    def bucket_response(self, rid, hid, bucket, key, virtual, signed=False) -> Response:
        mode = self.buckets.get(bucket, "missing")
        if mode == "owner-endpoint-deny":
            # S3 names the denying policy type only to the bucket owner's account.
            mode = "endpoint-deny" if signed else "private"
        region_header = [("x-amz-bucket-region", self.region)]
        if mode == "public":
            return self.public(rid, hid, bucket, key)
        if mode == "private":
            return self.error(rid, hid, 403, "AccessDenied", "Access Denied", headers=region_header)
        if mode == "endpoint-deny":
            action = "s3:GetObject" if key else "s3:ListBucket"
            resource = "arn:aws:s3:::%s%s" % (bucket, "/" + key if key else "")
            message = ('User: %s is not authorized to perform: %s on resource: "%s" '
                       "because no VPC endpoint policy allows the %s action"
                       % (self.principal_arn, action, resource, action))
            return self.error(rid, hid, 403, "AccessDenied", message, headers=region_header)
        if mode.startswith("redirect:"):
            region = mode.split(":", 1)[1]
            service = "s3.amazonaws.com" if region == "us-east-1" else "s3.%s.amazonaws.com" % region
            endpoint = "%s.%s" % (bucket, service) if virtual else service
            return self.error(rid, hid, 301, "PermanentRedirect",
                              "The bucket you are attempting to access must be addressed using the "
                              "specified endpoint. Please send all future requests to this endpoint.",
                              [("Endpoint", endpoint), ("Bucket", bucket)],
                              [("x-amz-bucket-region", region)])
        if mode.startswith("repo"):
            return self.repository(rid, hid, bucket, key, mode)
        if mode == "not-xml":
            body = (b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>"
                    b"<body><h1>Forbidden</h1><p>Access to this bucket is blocked.</p></body></html>\n")
            return Response(403, self.amz(rid, hid) + [("Content-Type", "text/html; charset=utf-8")], body)
        return self.error(rid, hid, 404, "NoSuchBucket", "The specified bucket does not exist",
                          [("BucketName", bucket)])

    def repository(self, rid, hid, bucket, key, mode) -> Response:
        """A yum repository bucket: listing refused, a mirror list and a repomd.xml."""
        headers = self.amz(rid, hid) + [("x-amz-bucket-region", self.region)]
        if not key:
            return self.error(rid, hid, 403, "AccessDenied", "Access Denied", headers=headers[2:])
        if key.endswith("mirror.list"):
            root = key[: -len("mirror.list")].rstrip("/") + "/mirror"
            if mode.startswith("repo-elsewhere:"):
                region = mode.split(":", 1)[1]
                line = "http://s3.%s.amazonaws.com/amazonlinux-2-repos-%s/%s" % (region, region, root)
            elif "." in bucket:
                line = "http://%s/%s" % (bucket, root)
            else:
                line = "https://%s.s3.dualstack.%s.amazonaws.com/%s" % (bucket, self.region, root)
            return Response(200, headers + [("Content-Type", "text/plain")], (line + "\n").encode())
        if key.endswith("repodata/repomd.xml"):
            if mode == "repo-deny":
                message = ('User: anonymous is not authorized to perform: s3:GetObject on resource: '
                           '"arn:aws:s3:::%s/%s" with an explicit deny in a VPC endpoint policy'
                           % (bucket, key))
                return self.error(rid, hid, 403, "AccessDenied", message, headers=headers[2:])
            body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">'
                    b"<revision>1764504000</revision></repomd>\n")
            return Response(200, headers + [("Content-Type", "text/xml")], body)
        return self.error(rid, hid, 404, "NoSuchKey", "The specified key does not exist.", [("Key", key)])

    def public(self, rid, hid, bucket, key) -> Response:
        etag = '"%s"' % hashlib.md5(self.hello).hexdigest()
        headers = self.amz(rid, hid) + [("x-amz-bucket-region", self.region)]
        if not key:
            contents = ("<Contents><Key>hello.txt</Key><LastModified>2026-11-30T12:00:00.000Z</LastModified>"
                        "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                        % (escape(etag, {'"': "&quot;"}), len(self.hello)))
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="%s"><Name>%s</Name>'
                    "<Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                    "%s</ListBucketResult>" % (S3_DOC_NS, escape(bucket), contents)).encode()
            return Response(200, headers + [("Content-Type", "application/xml")], body)
        if key == "hello.txt":
            return Response(200, headers + [("Content-Type", "text/plain"), ("ETag", etag),
                                            ("Last-Modified", "Mon, 30 Nov 2026 12:00:00 GMT"),
                                            ("Accept-Ranges", "bytes")], self.hello)
        return self.error(rid, hid, 404, "NoSuchKey", "The specified key does not exist.", [("Key", key)])


# --------------------------------------------------------------------------
# STS and CloudFront
# --------------------------------------------------------------------------


def signed(req) -> bool:
    """A SigV4-signed request (header form)."""
    return req.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")


class StsApp(App):
    """STS answering unsigned requests the way the Query API does."""

    def handle(self, req: Request) -> Response:
        rid = str(uuid.uuid4())
        signed = "Authorization" in req.headers or "X-Amz-Signature" in req.query
        code, message = (("InvalidClientTokenId", "The security token included in the request is invalid.")
                         if signed else ("MissingAuthenticationToken", "Request is missing Authentication Token"))
        body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n'
                "    <Type>Sender</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n"
                "  <RequestId>%s</RequestId>\n</ErrorResponse>\n" % (code, message, rid)).encode()
        return Response(403, [("x-amzn-RequestId", rid), ("Content-Type", "text/xml")], body)


class CloudFrontApp(App):
    """A CloudFront distribution that serves one file at /ip-ranges.json."""

    server_header = "CloudFront"

    def __init__(self, ip_ranges: bytes):
        self.ip_ranges = ip_ranges
        self.etag = '"%s"' % hashlib.md5(ip_ranges).hexdigest()

    def handle(self, req: Request) -> Response:
        cf = [("Via", "1.1 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)"),
              ("X-Amz-Cf-Pop", "SEA73-P1"),
              ("X-Amz-Cf-Id", base64.urlsafe_b64encode(os.urandom(42)).decode())]
        if req.method in ("GET", "HEAD") and req.path == "/ip-ranges.json":
            return Response(200, [("Content-Type", "application/json"), ("ETag", self.etag),
                                  ("Last-Modified", "Mon, 30 Nov 2026 12:00:00 GMT"),
                                  ("X-Cache", "Hit from cloudfront"), *cf], self.ip_ranges)
        body = xml_doc("Error", [("Code", "AccessDenied"), ("Message", "Access Denied"),
                                 ("RequestId", amz_request_id()), ("HostId", amz_id_2())])
        return Response(403, [("Content-Type", "application/xml"), ("X-Cache", "Error from cloudfront"), *cf], body)


class EchoApp(App):
    """checkip.amazonaws.com: the caller's source address, one line of text."""

    def handle(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, [("Content-Type", "text/plain")], b"Method Not Allowed\n")
        address = req.client[7:] if req.client.startswith("::ffff:") else req.client
        return Response(200, [("Content-Type", "text/plain;charset=UTF-8")], (address + "\n").encode())


# --------------------------------------------------------------------------
# IMDS
# --------------------------------------------------------------------------

IMDS_MODES = ("ok", "hop-limit", "disabled", "v1-only", "garbage", "hang")
IMDS_VERSIONS = ("1.0", "2007-01-19", "2009-04-04", "2012-01-12", "2016-09-02", "2018-09-24",
                 "2020-10-27", "2021-07-15", "2022-09-24", "2024-04-11", "latest")
TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TOKENS = 1024
GARBAGE = b'<html>\xff\xfe garbage \x00 {"region": ]]> not json at all\n'


def imds_error_page(status: int) -> bytes:
    title = "%d - %s" % (status, http.HTTPStatus(status).phrase)
    return ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            " <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n </body>\n</html>\n"
            % (title, title)).encode()


class ImdsApp(App):
    """IMDS with sessions (tokens) and per-mode failure behaviour."""

    server_header = "EC2ws"

    def __init__(self, mode: str, leaves: dict[str, str]):
        self.mode = mode
        self.hold_everything = mode == "hang"
        self.leaves = {p.rstrip("/"): v for p, v in leaves.items()}
        self.dirs: dict[str, set[str]] = {}
        for path in self.leaves:
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                parent = "/" + "/".join(parts[:depth])
                child = parts[depth] + ("/" if depth + 1 < len(parts) else "")
                self.dirs.setdefault(parent, set()).add(child)
        self.tokens: dict[str, float] = {}
        self.lock = threading.Lock()

    def page(self, status: int, headers=()) -> Response:
        return Response(status, [("Content-Type", "text/html"), *headers], imds_error_page(status))

    def text(self, body: str | bytes) -> Response:
        data = body if isinstance(body, bytes) else body.encode()
        return Response(200, [("Content-Type", "text/plain"), ("Accept-Ranges", "none"),
                              ("Last-Modified", http_date())], data)

    def token_valid(self, token: str | None) -> bool:
        with self.lock:
            expiry = self.tokens.get(token or "")
            return expiry is not None and expiry > time.monotonic()

    def handle(self, req: Request) -> Response | Hold:
        if self.mode == "disabled":
            return self.page(403)
        if req.method == "PUT":
            return self.put_token(req)
        if req.method not in ("GET", "HEAD"):
            return self.page(405)
        token = req.headers.get(TOKEN_HEADER)
        if self.mode in ("ok", "garbage") and not self.token_valid(token):
            return self.page(401)
        if self.mode == "hop-limit" and token is not None and not self.token_valid(token):
            return self.page(401)
        if self.mode == "garbage":
            return self.text(GARBAGE)
        return self.lookup(req.path)

    def put_token(self, req: Request) -> Response | Hold:
        if self.mode == "v1-only":
            return self.page(405)
        if self.mode == "hop-limit":
            return HOLD  # the answer would die at the extra hop: the client just waits
        if req.path != TOKEN_PATH:
            return self.page(403 if req.path.endswith("/api/token") else 405)
        if "X-Forwarded-For" in req.headers:
            return self.page(403)
        try:
            ttl = int(req.headers.get(TTL_HEADER, ""))
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= 21600:
            return self.page(400)
        token = base64.b64encode(b"\x01\x00\x04" + os.urandom(39)).decode()
        now = time.monotonic()
        with self.lock:
            if len(self.tokens) >= MAX_TOKENS:
                self.tokens = {t: e for t, e in self.tokens.items() if e > now}
                while len(self.tokens) >= MAX_TOKENS:
                    self.tokens.pop(next(iter(self.tokens)))
            self.tokens[token] = now + ttl
        return Response(200, [("Content-Type", "text/plain"), (TTL_HEADER, str(ttl))], token.encode())

    def lookup(self, path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return self.text("\n".join(IMDS_VERSIONS))
        if parts[0] not in IMDS_VERSIONS:
            return self.page(404)
        key = "/latest/" + "/".join(parts[1:]) if len(parts) > 1 else "/latest"
        key = key.rstrip("/")
        if key == "/latest":
            return self.text("dynamic\nmeta-data")
        if key in self.leaves and not path.endswith("/"):
            return self.text(self.leaves[key])
        if key in self.dirs:
            return self.text("\n".join(sorted(self.dirs[key])))
        return self.page(404)


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

QTYPE_A, QTYPE_NS, QTYPE_CNAME, QTYPE_SOA, QTYPE_AAAA, QTYPE_ANY = 1, 2, 5, 6, 28, 255
RCODE_OK, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = 0, 1, 3, 4, 5


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def dns_rr(owner: str, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return dns_name(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


class Zone:
    """Authoritative data: records by name, each optionally covering all subdomains.

    A record is ``{"name", "a": [...], "aaaa": [...], "cname": str|None,
    "subdomains": bool}``. A query name matches its exact record, else the
    record of its closest ancestor that covers subdomains. Names under an apex
    that match nothing are NXDOMAIN (or NODATA when they are empty
    non-terminals); names outside every apex are REFUSED.
    """

    def __init__(self, apexes: list[str], records: list[dict], ttl: int):
        self.apexes = [a.lower() for a in apexes]
        self.records = {r["name"].lower(): r for r in records}
        self.ttl = ttl

    def apex_of(self, name: str) -> str | None:
        for apex in self.apexes:
            if name == apex or name.endswith("." + apex):
                return apex
        return None

    def find(self, name: str) -> dict | None:
        if name in self.records:
            return self.records[name]
        labels = name.split(".")
        for i in range(1, len(labels)):
            rec = self.records.get(".".join(labels[i:]))
            if rec is not None and rec.get("subdomains"):
                return rec
        return None

    def exists(self, name: str) -> bool:
        """True for names with data and for empty non-terminals (ancestors of names with data)."""
        if self.find(name) is not None or name in self.apexes:
            return True
        return any(r.endswith("." + name) for r in self.records)

    def soa(self, apex: str) -> bytes:
        rdata = dns_name("ns.vpc.internal") + dns_name("hostmaster.vpc.internal")
        rdata += struct.pack(">IIIII", 1, 7200, 900, 1209600, self.ttl)
        return dns_rr(apex, QTYPE_SOA, self.ttl, rdata)

    def answer(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        tid, flags, qdcount = struct.unpack(">HHH", query[:6])
        if flags & 0x8000:
            return None  # a response, not a query
        opcode = (flags >> 11) & 0xF
        pos, labels = 12, []
        try:
            if qdcount != 1:
                raise ValueError
            while query[pos]:
                length = query[pos]
                if length & 0xC0:
                    raise ValueError
                labels.append(query[pos + 1 : pos + 1 + length].decode("ascii"))
                pos += 1 + length
            qtype, qclass = struct.unpack(">HH", query[pos + 1 : pos + 5])
            question = query[12 : pos + 5]
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            return struct.pack(">HHHHHH", tid, 0x8000 | (flags & 0x0100) | RCODE_FORMERR, 0, 0, 0, 0)
        name = ".".join(labels).lower()
        if opcode != 0:
            rcode, answers, authority = RCODE_NOTIMP, [], []
        elif qclass != 1:
            rcode, answers, authority = RCODE_REFUSED, [], []
        else:
            rcode, answers, authority = self.resolve(name, qtype)
        aa = 0x0400 if rcode != RCODE_REFUSED else 0
        head = struct.pack(">HHHHHH", tid, 0x8000 | aa | (flags & 0x0100) | rcode, 1, len(answers), len(authority), 0)
        return head + question + b"".join(answers) + b"".join(authority)

    def resolve(self, name: str, qtype: int) -> tuple[int, list[bytes], list[bytes]]:
        """(rcode, answer RRs, authority RRs) for one question, following in-zone CNAMEs."""
        apex = self.apex_of(name)
        if apex is None:
            return RCODE_REFUSED, [], []
        answers: list[bytes] = []
        for _ in range(8):  # CNAME chain limit
            rec = self.find(name)
            if rec is None:
                if name == apex and qtype in (QTYPE_SOA, QTYPE_ANY):
                    return RCODE_OK, answers + [self.soa(apex)], []
                rcode = RCODE_OK if self.exists(name) else RCODE_NXDOMAIN
                return rcode, answers, [self.soa(apex)]
            target = rec.get("cname")
            if target:
                answers.append(dns_rr(name, QTYPE_CNAME, self.ttl, dns_name(target)))
                name = target.lower()
                if qtype in (QTYPE_CNAME, QTYPE_ANY) or self.apex_of(name) is None:
                    return RCODE_OK, answers, []
                continue
            found = []
            if qtype in (QTYPE_A, QTYPE_ANY):
                found += [dns_rr(name, QTYPE_A, self.ttl, socket.inet_pton(socket.AF_INET, a))
                          for a in rec.get("a", [])]
            if qtype in (QTYPE_AAAA, QTYPE_ANY):
                found += [dns_rr(name, QTYPE_AAAA, self.ttl, socket.inet_pton(socket.AF_INET6, a))
                          for a in rec.get("aaaa", [])]
            return RCODE_OK, answers + found, ([] if found else [self.soa(apex)])
        return RCODE_OK, answers, [self.soa(apex)]


class DnsTcpServer(socketserver.ThreadingTCPServer):
    """DNS over TCP (two-byte length prefix); ``zone`` None means never answer."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: str, port: int, zone: Zone | None):
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.zone = zone
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((address, port), socketserver.BaseRequestHandler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        request.settimeout(IDLE_TIMEOUT)
        if self.zone is None:
            hold(request)
            return
        stream = request.makefile("rb")
        while True:
            head = stream.read(2)
            if len(head) < 2:
                return
            query = stream.read(struct.unpack(">H", head)[0])
            reply = self.zone.answer(query)
            if reply is None:
                return
            request.sendall(struct.pack(">H", len(reply)) + reply)

    def handle_error(self, request, client_address):
        sys.stderr.write("%s dns/tcp error: %r\n" % (client_address[0], sys.exc_info()[1]))


def udp_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    return sock


def udp_loop(sock: socket.socket, zone: Zone | None) -> None:
    while True:
        data, peer = sock.recvfrom(4096)
        if zone is None:
            continue
        try:
            reply = zone.answer(data)
        except Exception as err:  # never let one bad packet end the server
            sys.stderr.write("dns/udp error: %r\n" % err)
            continue
        if reply is not None:
            sock.sendto(reply, peer)


def serve_dns(address: str, port: int, zone: Zone | None, ready_file: str | None) -> None:
    udp = udp_socket(address, port)
    tcp = DnsTcpServer(address, port, zone)
    threading.Thread(target=udp_loop, args=(udp, zone), daemon=True).start()
    serve([tcp], ready_file)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def parse_bucket_mode(spec: str) -> tuple[str, str]:
    name, sep, mode = spec.partition("=")
    prefixed = any(mode.startswith(p) and len(mode) > len(p) for p in ("redirect:", "repo-elsewhere:"))
    if not sep or not name or not (mode in BUCKET_MODES or prefixed):
        raise argparse.ArgumentTypeError("expected NAME=MODE with MODE one of %s, got %r" % (", ".join(BUCKET_MODES), spec))
    return name, mode


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    web = sub.add_parser("http", help="S3/STS/CloudFront/checkip-like HTTP and HTTPS server")
    web.add_argument("--flavor", choices=("s3", "sts", "cloudfront", "echo"), required=True)
    web.add_argument("--listen", action="append", required=True, help="address; repeatable")
    web.add_argument("--http-port", type=int, default=80)
    web.add_argument("--https-port", type=int, default=443)
    web.add_argument("--cert", required=True)
    web.add_argument("--key", required=True)
    web.add_argument("--region", default="us-east-1", help="region this S3 answers for")
    web.add_argument("--bucket", action="append", default=[], type=parse_bucket_mode, help="NAME=MODE")
    web.add_argument("--principal-arn", default="arn:aws:sts::111122223333:assumed-role/app/i-0123456789abcdef0")
    web.add_argument("--ip-ranges", help="file served as /ip-ranges.json (cloudfront)")
    web.add_argument("--latency-ms", type=int, default=0)
    web.add_argument("--tls-stall", action="store_true")
    web.add_argument("--ready-file")

    imds = sub.add_parser("imds", help="EC2 instance metadata service")
    imds.add_argument("--mode", choices=IMDS_MODES, default="ok")
    imds.add_argument("--data", required=True, help="JSON {path: text} of metadata leaves")
    imds.add_argument("--listen", default="169.254.169.254")
    imds.add_argument("--port", type=int, default=80)
    imds.add_argument("--ready-file")

    zone = sub.add_parser("dns-zone", help="authoritative DNS for a JSON zone file")
    zone.add_argument("--zone", required=True, help='JSON {"apexes": [...], "ttl": N, "records": [...]}')
    zone.add_argument("--listen", default="127.0.0.1")
    zone.add_argument("--port", type=int, default=53)
    zone.add_argument("--ready-file")

    hole = sub.add_parser("dns-blackhole", help="read DNS queries, never answer")
    hole.add_argument("--listen", required=True)
    hole.add_argument("--port", type=int, default=53)
    hole.add_argument("--ready-file")

    args = parser.parse_args(argv)
    if args.cmd == "http":
        if args.flavor == "s3":
            app: App = S3App(args.region, dict(args.bucket), args.principal_arn)
        elif args.flavor == "sts":
            app = StsApp()
        elif args.flavor == "echo":
            app = EchoApp()
        else:
            with open(args.ip_ranges, "rb") as f:
                app = CloudFrontApp(f.read())
        app.latency = args.latency_ms / 1000.0
        app.tls_stall = args.tls_stall
        tls = tls_context(args.cert, args.key)
        servers = []
        for address in args.listen:
            servers.append(Server(address, args.http_port, app))
            servers.append(Server(address, args.https_port, app, tls))
        serve(servers, args.ready_file)
    elif args.cmd == "imds":
        with open(args.data) as f:
            leaves = json.load(f)
        serve([Server(args.listen, args.port, ImdsApp(args.mode, leaves))], args.ready_file)
    elif args.cmd == "dns-zone":
        with open(args.zone) as f:
            spec = json.load(f)
        serve_dns(args.listen, args.port, Zone(spec["apexes"], spec["records"], spec.get("ttl", 5)), args.ready_file)
    else:
        serve_dns(args.listen, args.port, None, args.ready_file)


if __name__ == "__main__":
    main(sys.argv[1:])
