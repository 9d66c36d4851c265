#!/usr/bin/env python3
"""A simulated AWS VPC for egress-probe's integration tests, built from Linux network namespaces.

This module owns the test *world*: the namespaces, links, addresses, routes,
firewall, DNS, TLS material and the server processes that stand in for AWS.
The servers' wire behaviour lives in ``servers.py`` next to this file. Needs
root, iproute2, nftables, dnsmasq, openssl and python3 (stdlib only).

Usage::

    python3 tests/vpc/world.py up   --name P --state-dir DIR [options]   # prints one JSON object
    python3 tests/vpc/world.py down --name P --state-dir DIR

``P`` is 1-8 characters ``[a-z0-9]``, unique per concurrently running world;
namespaces are named ``ep-P-ROLE``. ``up`` first tears down whatever an
earlier world of the same name left behind, and tears everything down again
if it fails halfway. ``down`` is idempotent: it kills the processes recorded
in ``DIR/pids`` (only if their command line still names DIR), then every
process left inside the world's namespaces, deletes the namespaces by name
and removes ``/etc/netns/ep-P-*``. It leaves ``DIR`` (logs) in place.

Options of ``up`` (all composable):

    --imds ok|none|hop-limit|disabled|v1-only|garbage|hang   (default ok)
        ok: IMDSv2, tokens required. none: 169.254.169.254 is not configured
        anywhere (connects fail at once with host unreachable). hop-limit: the
        token PUT never answers, v1 GETs work. disabled: everything 403.
        v1-only: PUT 405, GETs work without token. garbage: tokens work, every
        answer is non-JSON junk. hang: TCP accepted, nothing ever answered.
    --public-ipv4 ADDR       the instance has this public IPv4 (else 404)
    --dns ok|blackhole       blackhole: the resolver address swallows queries
    --drop80                 the router silently drops TCP/80 to the S3 addresses (NACL)
    --interface-endpoint     S3 interface endpoint with private DNS: s3.us-west-2
                             and *.s3.us-west-2 resolve to 198.51.100.200 (ns vpce)
    --global-elsewhere       accepted for clarity; always true: s3.amazonaws.com
                             resolves into the us-east-1 namespace
    --s3-latency-ms N        every S3 server sleeps N ms before each TLS handshake
                             and before each response (netem is not available)
    --egress nat|igw|none    how IPv4 traffic that is not in-region S3 leaves
                             (default nat): through the NAT gateway namespace, through
                             the internet gateway namespace (needs --public-ipv4: it
                             does one-to-one NAT to that address), or nowhere (a route
                             table without a default route: silently dropped)
    --mss N                  the router clamps the MSS of every forwarded SYN and
                             SYN-ACK to N, so the instance sends segments of N bytes
    --no-offload             segmentation offload off on the instance's eth0
                             (``ethtool -K eth0 tso off gso off``): capture sees the
                             segments the peer receives, not one large frame
    --tls-stall              us-west-2 S3 HTTPS completes the handshake, then is silent
    --bucket-mode NAME=MODE  repeatable; MODE: public | private | endpoint-deny |
                             repo | repo-deny | repo-elsewhere:REGION (a yum repository:
                             KEY/mirror.list lists one mirror, KEY/repodata/repomd.xml answers;
                             repo-deny refuses repomd.xml naming the endpoint policy;
                             repo-elsewhere lists a mirror in REGION, path style) |
                             owner-endpoint-deny (anonymous: plain Access Denied; signed:
                             the message names the VPC endpoint policy, as S3 does for the
                             owner's account) |
                             redirect:REGION | missing | not-xml. Unknown buckets
                             are 404 NoSuchBucket. The Amazon Linux repo hosts
                             (used whole as bucket names, as S3 does for CNAMEs)
                             default to private, as the real ones deny listing.

Topology (IPv4 and IPv6)::

    inst  eth0 198.51.100.10/25 2001:db8:100::10/64 (MAC 0e:00:00:00:00:01)
      |   default via 198.51.100.1 / 2001:db8:100::1; 169.254.169.254 on-link
    rtr   to-inst: 198.51.100.1/25, 198.51.100.2 (VPC resolver, dnsmasq),
      |            2001:db8:100::1/64, 169.254.169.254/32 (IMDS)
      |   forwarding on; nft table inet egress_world; 169.254/16 -> void0, rejected
      |-- to-s3a  link 1 --> s3a  us-west-2: S3 203.0.113.10 2001:db8:a::10, STS 203.0.113.40
      |-- to-s3b  link 2 --> s3b  us-east-1: S3 203.0.113.74 2001:db8:b::10
      |-- to-cf   link 3 --> cf   GLOBAL CloudFront 192.0.2.10, checkip echo 192.0.2.20
      |-- to-vpce 198.51.100.129/25 --> vpce 198.51.100.200/25 (only with --interface-endpoint)
      |-- to-nat  --> nat  NAT gateway: private 198.51.100.140/32, public 203.0.113.129/32
      |                    (only with --egress nat)
      `-- to-igw  link 4 --> igw  internet gateway, one-to-one NAT of the instance to the
                           --public-ipv4 address (only with --egress igw)

Paths (IPv4): the router keeps the VPC's route table for traffic from the instance
(``ip rule iif to-inst lookup 100``): the in-region S3 prefixes of the ip-ranges
fixture (203.0.113.0/27) go straight to s3a, as a gateway endpoint's prefix-list
route does; everything else goes to the NAT gateway, the internet gateway, or
nowhere (``--egress``). Traffic from the NAT and internet gateways and the VPC's
own addresses use the main table (host routes to every service). Like the VPC
router, the test router never shows in a trace: nftables raises the TTL (hop
limit) of every packet it receives by one before forwarding takes one off; the
internet gateway is transparent the same way. The NAT gateway decrements the TTL
and answers traces from its private address. IPv6 is routed directly.

Point-to-point link N uses 203.0.113.(192+4(N-1))/30 (router .1 of the /30,
server .2) and 2001:db8:ff:N::1|2/64; 203.0.113.192/26 is not in the ip-ranges
fixture and holds links 1-16. Service addresses sit as /32 (/128) on the
server's eth0 and the router routes exactly those. To extend (e.g. a NAT and
an internet-gateway namespace, as ``attach_nat`` does), add the role to ``ROLES`` (so ``down`` deletes
it) and build it from ``add_namespace`` / ``add_link`` / ``add_address`` /
``add_route`` with the next free link index, the way ``attach_site`` does;
203.0.113.128/26 holds public addresses (the NAT gateway's, an instance's). The
router's firewall is one nft table; add other tables rather than editing it.
ICMP errors of the router are not rate limited, so TTL traces see each hop.

DNS: dnsmasq on 198.51.100.2 is the VPC resolver (``--no-resolv --no-hosts``,
anything outside amazonaws.com / amazonlinux.com is NXDOMAIN). It forwards
those two zones to an authoritative server (``servers.py dns-zone``) on
127.0.0.1:5300 in rtr, because dnsmasq alone cannot CNAME wildcards and answers
AAAA queries on IPv4-only ``address=`` zones with NXDOMAIN instead of NODATA.
The records are in ``dns_records()`` and in the JSON (``dns.records``);
``subdomains: true`` means the record also answers every name below it.
``/etc/netns/ep-P-inst/resolv.conf`` points the instance at 198.51.100.2
(``options timeout:1 attempts:1``); ``/etc/netns/ep-P-inst/hosts`` holds only
localhost, so the host's /etc/hosts never leaks into the instance.

TLS: ``up`` makes a private CA and one server certificate (EC P-256) in
``DIR/tls``; its SANs are every DNS name above, plus ``*.NAME`` for records
that cover subdomains. Pass ``ca_file`` from the JSON as ``--ca-file``.

State dir layout: ``world.json`` (the ``up`` output), ``pids/*.pid``,
``logs/*.log`` (servers, dnsmasq query log), ``ready/``, ``tls/``, ``cache/``
(for ``EGRESS_PROBE_CACHE_DIR``), ``imds.json``, ``zone.json``, ``dnsmasq.conf``,
``nft.conf``.

Safety: every address used is documentation space (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) or 169.254.169.254, and is
only ever configured or contacted inside the world's own namespaces; nothing
here sends traffic from the root namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS_PY = HERE / "servers.py"
IP_RANGES_FIXTURE = HERE.parent / "fixtures" / "vpc-ip-ranges.json"

ROLES = ("inst", "rtr", "s3a", "s3b", "cf", "vpce", "nat", "igw")
NAME_RE = re.compile(r"^[a-z0-9]{1,8}$")
READY_TIMEOUT = 10.0

# ---- the instance, as IMDS describes it ----------------------------------------
REGION = "us-west-2"
AVAILABILITY_ZONE = "us-west-2a"
ACCOUNT_ID = "111122223333"
INSTANCE_ID = "i-0123456789abcdef0"
INSTANCE_TYPE = "t3.micro"
AMI_ID = "ami-0abcdef1234567890"
MAC = "0e:00:00:00:00:01"
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNET_ID = "subnet-0123abcd"
VPC_CIDR = "198.51.100.0/24"
SUBNET_CIDR = "198.51.100.0/25"
PRINCIPAL_ARN = "arn:aws:sts::%s:assumed-role/app/%s" % (ACCOUNT_ID, INSTANCE_ID)

# ---- address plan ------------------------------------------------------------------
INST_V4, INST_V6 = "198.51.100.10", "2001:db8:100::10"
ROUTER_V4, ROUTER_V6 = "198.51.100.1", "2001:db8:100::1"
RESOLVER_V4 = "198.51.100.2"
SUBNET_V4_LEN, SUBNET_V6_LEN = 25, 64
IMDS_V4 = "169.254.169.254"
ENDPOINT_ROUTER_V4, VPCE_V4 = "198.51.100.129", "198.51.100.200"
S3A_V4, S3A_V6, STS_V4 = "203.0.113.10", "2001:db8:a::10", "203.0.113.40"
S3B_V4, S3B_V6 = "203.0.113.74", "2001:db8:b::10"
CF_V4 = "192.0.2.10"
ECHO_V4 = "192.0.2.20"
NAT_PRIVATE_V4, NAT_PUBLIC_V4 = "198.51.100.140", "203.0.113.129"
IGW_LINK = 4
VPC_TABLE = "100"
# The in-region S3 prefixes of the ip-ranges fixture: a gateway endpoint's prefix list.
GATEWAY_ENDPOINT_PREFIXES = ("203.0.113.0/27",)
EGRESS_MODES = ("nat", "igw", "none")
# The router (and internet gateway) raise TTLs up to this one by one, so they never show.
TRANSPARENT_TTL = 64
ZONE_ADDR, ZONE_PORT = "127.0.0.1", 5300
DNS_TTL = 5


def link_v4(index: int) -> tuple[str, str]:
    """(router, peer) addresses of point-to-point link ``index`` (1-based) as /30 CIDRs."""
    base = 192 + 4 * (index - 1)
    assert 192 <= base <= 252
    return "203.0.113.%d/30" % (base + 1), "203.0.113.%d/30" % (base + 2)


def link_v6(index: int) -> tuple[str, str]:
    return "2001:db8:ff:%x::1/64" % index, "2001:db8:ff:%x::2/64" % index


def bare(cidr: str) -> str:
    return cidr.split("/", 1)[0]


# ---- the server namespaces ---------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """One server process in a site: an HTTP(S) flavor of servers.py on some addresses."""

    key: str  # name in the JSON "services" map
    flavor: str  # s3 | sts | cloudfront
    v4: tuple[str, ...]
    v6: tuple[str, ...] = ()


@dataclass(frozen=True)
class Site:
    """A namespace behind the router on its own point-to-point link."""

    role: str
    region: str
    link: int
    services: tuple[Service, ...]


SITES = (
    Site("s3a", "us-west-2", 1, (Service("s3_us_west_2", "s3", (S3A_V4,), (S3A_V6,)),
                                 Service("sts_us_west_2", "sts", (STS_V4,)))),
    Site("s3b", "us-east-1", 2, (Service("s3_us_east_1", "s3", (S3B_V4,), (S3B_V6,)),)),
    Site("cf", "GLOBAL", 3, (Service("cloudfront", "cloudfront", (CF_V4,)),
                             Service("checkip", "echo", (ECHO_V4,)))),
)
VPCE_SERVICE = Service("s3_vpce", "s3", (VPCE_V4,))

DEFAULT_BUCKETS = {
    "amazonlinux.us-west-2.amazonaws.com": "private",
    "repo.us-west-2.amazonaws.com": "private",
    "packages.us-west-2.amazonaws.com": "private",
    "al2023-repos-us-west-2-de612dc2": "private",
}


# ---- options -------------------------------------------------------------------------

IMDS_MODES = ("ok", "none", "hop-limit", "disabled", "v1-only", "garbage", "hang")
BUCKET_MODE_RE = re.compile(
    r"^(public|private|endpoint-deny|owner-endpoint-deny|missing|not-xml|redirect:[a-z0-9-]+|"
    r"repo|repo-deny|repo-elsewhere:[a-z0-9-]+)$")


@dataclass
class Options:
    imds: str = "ok"
    public_ipv4: str | None = None
    dns: str = "ok"
    drop80: bool = False
    interface_endpoint: bool = False
    s3_latency_ms: int = 0
    tls_stall: bool = False
    egress: str = "nat"
    mss: int | None = None
    no_offload: bool = False
    buckets: dict[str, str] = field(default_factory=dict)
    fail_after: str | None = None  # testing hook: raise after this stage


# The instance role's test credentials: tests assert these never appear in a report or a log.
ROLE_SECRET = "worldSecretKeyNeverPrintedEXAMPLEKEY0001"
ROLE_TOKEN = "worldSessionTokenNeverPrinted0001"


def bucket_mode(spec: str) -> tuple[str, str]:
    name, sep, mode = spec.partition("=")
    if not sep or not name or not BUCKET_MODE_RE.match(mode):
        raise argparse.ArgumentTypeError("expected NAME=MODE (public, private, endpoint-deny, "
                                         "redirect:REGION, missing, not-xml), got %r" % spec)
    return name, mode


# ---- running commands -------------------------------------------------------------


class WorldError(RuntimeError):
    pass


def run(*argv: str) -> str:
    """Run a command to completion; its stderr becomes the WorldError when it fails."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        raise WorldError("%s: command not found" % argv[0]) from None
    if proc.returncode != 0:
        raise WorldError("%s failed (%d): %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc.stdout


class World:
    """Names and paths of one world; the builders below take it as first argument."""

    def __init__(self, name: str, state_dir: Path, opts: Options):
        self.name = name
        self.state = state_dir
        self.opts = opts
        self.roles: list[str] = []
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []

    def ns(self, role: str) -> str:
        return "ep-%s-%s" % (self.name, role)

    def path(self, *parts: str) -> Path:
        return self.state.joinpath(*parts)

    def ip(self, role: str, *args: str) -> None:
        run("ip", "-n", self.ns(role), *args)

    def exec(self, role: str, *argv: str) -> str:
        return run("ip", "netns", "exec", self.ns(role), *argv)


# ---- topology building blocks ------------------------------------------------------


def add_namespace(w: World, role: str) -> None:
    run("ip", "netns", "add", w.ns(role))
    w.roles.append(role)
    w.ip(role, "link", "set", "lo", "up")
    # Addresses are usable at once (no duplicate address detection in a lab).
    w.exec(role, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
           "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.accept_ra=0")


def add_link(w: World, role_a: str, if_a: str, role_b: str, if_b: str, mac_b: str | None = None) -> None:
    """A veth pair created directly inside both namespaces (names never touch the root ns)."""
    run("ip", "link", "add", if_a, "netns", w.ns(role_a), "type", "veth",
        "peer", "name", if_b, "netns", w.ns(role_b))
    if mac_b:
        w.ip(role_b, "link", "set", if_b, "address", mac_b)
    w.ip(role_a, "link", "set", if_a, "up")
    w.ip(role_b, "link", "set", if_b, "up")


def add_address(w: World, role: str, ifname: str, cidr: str) -> None:
    if ":" in cidr:
        w.ip(role, "-6", "addr", "add", cidr, "dev", ifname, "nodad")
    else:
        w.ip(role, "addr", "add", cidr, "dev", ifname)


def add_route(w: World, role: str, dest: str, via: str | None = None, dev: str | None = None,
              kind: str | None = None, scope: str | None = None) -> None:
    """``ip route add [kind] dest [via V] [dev D] [scope S]``; the family follows dest or via."""
    family = "-6" if ":" in (dest + (via or "")) else "-4"
    argv = ["route", "add"] + ([kind] if kind else []) + [dest]
    argv += (["via", via] if via else []) + (["dev", dev] if dev else []) + (["scope", scope] if scope else [])
    w.ip(role, family, *argv)


def enable_forwarding(w: World, role: str) -> None:
    """Make ``role`` a router whose ICMP errors (unreachable, time exceeded) are never rate limited."""
    w.exec(role, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
           "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")


# ---- the world's parts -------------------------------------------------------------


def build_router_and_instance(w: World) -> None:
    add_namespace(w, "rtr")
    add_namespace(w, "inst")
    enable_forwarding(w, "rtr")
    add_link(w, "rtr", "to-inst", "inst", "eth0", mac_b=MAC)
    for cidr in ("%s/%d" % (ROUTER_V4, SUBNET_V4_LEN), "%s/%d" % (RESOLVER_V4, SUBNET_V4_LEN),
                 "%s/%d" % (ROUTER_V6, SUBNET_V6_LEN)):
        add_address(w, "rtr", "to-inst", cidr)
    # Link-local space is never forwarded: without IMDS, 169.254.169.254 is unreachable. The
    # route leads into a stub veth so that the firewall can reject at once (the kernel rate
    # limits the ICMP errors of an "unreachable" route, so connects would sometimes hang).
    add_link(w, "rtr", "void0", "rtr", "void1")
    add_route(w, "rtr", "169.254.0.0/16", dev="void0")
    add_address(w, "inst", "eth0", "%s/%d" % (INST_V4, SUBNET_V4_LEN))
    add_address(w, "inst", "eth0", "%s/%d" % (INST_V6, SUBNET_V6_LEN))
    add_route(w, "inst", "default", via=ROUTER_V4)
    add_route(w, "inst", "default", via=ROUTER_V6)
    if w.opts.imds != "none":
        add_address(w, "rtr", "to-inst", IMDS_V4 + "/32")
        add_route(w, "inst", IMDS_V4 + "/32", dev="eth0", scope="link")
    write_instance_etc(w)


def write_instance_etc(w: World) -> None:
    """Files that ``ip netns exec ep-P-inst`` bind-mounts over /etc."""
    etc = Path("/etc/netns") / w.ns("inst")
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver %s\noptions timeout:1 attempts:1\n" % RESOLVER_V4)
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")


def attach_site(w: World, site: Site) -> None:
    """A server namespace on its own /30 (+/64) link to the router, with host routes to its services."""
    add_namespace(w, site.role)
    rif = "to-" + site.role
    add_link(w, "rtr", rif, site.role, "eth0")
    (r4, p4), (r6, p6) = link_v4(site.link), link_v6(site.link)
    for role, ifname, cidr in (("rtr", rif, r4), ("rtr", rif, r6), (site.role, "eth0", p4), (site.role, "eth0", p6)):
        add_address(w, role, ifname, cidr)
    add_route(w, site.role, "default", via=bare(r4))
    add_route(w, site.role, "default", via=bare(r6))
    for svc in site.services:
        for addr in svc.v4:
            add_address(w, site.role, "eth0", addr + "/32")
            add_route(w, "rtr", addr + "/32", via=bare(p4))
        for addr in svc.v6:
            add_address(w, site.role, "eth0", addr + "/128")
            add_route(w, "rtr", addr + "/128", via=bare(p6))


def attach_endpoint(w: World) -> None:
    """The S3 interface endpoint's ENI: namespace vpce on the VPC's second subnet 198.51.100.128/25."""
    add_namespace(w, "vpce")
    add_link(w, "rtr", "to-vpce", "vpce", "eth0")
    add_address(w, "rtr", "to-vpce", ENDPOINT_ROUTER_V4 + "/25")
    add_address(w, "vpce", "eth0", VPCE_V4 + "/25")
    add_route(w, "vpce", "default", via=ENDPOINT_ROUTER_V4)


def make_gateway(w: World, role: str) -> None:
    """A router namespace that sends packets back out the interface they came in on."""
    add_namespace(w, role)
    enable_forwarding(w, role)
    w.exec(role, "sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0",
           "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.all.rp_filter=0",
           "net.ipv4.conf.default.rp_filter=0")


def attach_nat(w: World) -> None:
    """The NAT gateway: in the VPC (private address), source NAT to its public address."""
    make_gateway(w, "nat")
    add_link(w, "rtr", "to-nat", "nat", "eth0")
    add_address(w, "nat", "eth0", NAT_PRIVATE_V4 + "/32")
    add_address(w, "nat", "eth0", NAT_PUBLIC_V4 + "/32")
    add_route(w, "nat", ROUTER_V4 + "/32", dev="eth0", scope="link")
    w.ip("nat", "route", "add", "default", "via", ROUTER_V4, "dev", "eth0", "src", NAT_PRIVATE_V4)
    w.ip("rtr", "route", "add", NAT_PRIVATE_V4 + "/32", "dev", "to-nat")
    w.ip("rtr", "route", "add", NAT_PUBLIC_V4 + "/32", "via", NAT_PRIVATE_V4, "dev", "to-nat")
    w.ip("rtr", "route", "add", "default", "via", NAT_PRIVATE_V4, "dev", "to-nat", "table", VPC_TABLE)
    nft(w, "nat", "nat_gateway.conf", "table ip nat_gateway {\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    ip saddr %s ip daddr != %s snat to %s;\n"
        "  }\n}\n" % (VPC_CIDR, VPC_CIDR, NAT_PUBLIC_V4))


def attach_igw(w: World) -> None:
    """The internet gateway: one-to-one NAT between the instance and its public address."""
    public = w.opts.public_ipv4
    make_gateway(w, "igw")
    add_link(w, "rtr", "to-igw", "igw", "eth0")
    r4, p4 = link_v4(IGW_LINK)
    add_address(w, "rtr", "to-igw", r4)
    add_address(w, "igw", "eth0", p4)
    add_route(w, "igw", "default", via=bare(r4))
    w.ip("rtr", "route", "add", public + "/32", "via", bare(p4))
    w.ip("rtr", "route", "add", "default", "via", bare(p4), "table", VPC_TABLE)
    nft(w, "igw", "internet_gateway.conf", "table ip internet_gateway {\n"
        "  chain prerouting {\n"
        "    type nat hook prerouting priority dstnat; policy accept;\n"
        "    ip daddr %s dnat to %s;\n"
        "  }\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    ip saddr %s snat to %s;\n"
        "  }\n}\n" % (public, INST_V4, INST_V4, public))
    write_transparency(w, "igw")


def build_egress(w: World) -> None:
    """The VPC's route table for the instance's IPv4 traffic (table 100 in the router)."""
    w.ip("rtr", "-4", "rule", "add", "to", VPC_CIDR, "lookup", "main", "pref", "90")
    w.ip("rtr", "-4", "rule", "add", "to", "169.254.0.0/16", "lookup", "main", "pref", "91")
    w.ip("rtr", "-4", "rule", "add", "iif", "to-inst", "lookup", VPC_TABLE, "pref", "100")
    s3a_peer = bare(link_v4(1)[1])
    for prefix in GATEWAY_ENDPOINT_PREFIXES:
        w.ip("rtr", "route", "add", prefix, "via", s3a_peer, "table", VPC_TABLE)
    if w.opts.egress == "nat":
        attach_nat(w)
    elif w.opts.egress == "igw":
        attach_igw(w)
    else:
        w.ip("rtr", "route", "add", "blackhole", "default", "table", VPC_TABLE)


def nft(w: World, role: str, name: str, text: str) -> None:
    conf = w.path(name)
    conf.write_text(text)
    w.exec(role, "nft", "-f", str(conf))


def write_transparency(w: World, role: str) -> None:
    """Raise every TTL (hop limit) up to TRANSPARENT_TTL by one, so forwarding leaves it as it
    was and ``role`` never shows in a trace. nft cannot add to a field, hence one rule per
    value, highest first so that a raised value is not raised again."""
    rules = "".join("    ip ttl %d ip ttl set %d;\n    ip6 hoplimit %d ip6 hoplimit set %d;\n"
                    % (n, n + 1, n, n + 1) for n in range(TRANSPARENT_TTL, 0, -1))
    nft(w, role, "transparent-%s.conf" % role, "table inet transparent {\n"
        "  chain prerouting {\n"
        "    type filter hook prerouting priority raw; policy accept;\n"
        + rules + "  }\n}\n")


def write_mss_clamp(w: World) -> None:
    nft(w, "rtr", "mss.conf", "table inet mss_clamp {\n"
        "  chain forward {\n"
        "    type filter hook forward priority mangle; policy accept;\n"
        "    tcp flags & syn == syn tcp option maxseg size set %d;\n"
        "  }\n}\n" % w.opts.mss)


def write_firewall(w: World) -> None:
    """The router's nftables ruleset (its own table, so later parts can add theirs)."""
    rules = ['oifname "void0" reject with icmp type host-unreachable;']
    if w.opts.drop80:  # like a NACL rule on the S3 addresses (STS and CloudFront keep port 80)
        s3 = [svc for site in SITES for svc in site.services if svc.flavor == "s3"] + [VPCE_SERVICE]
        v4 = ", ".join(a for svc in s3 for a in svc.v4)
        v6 = ", ".join(a for svc in s3 for a in svc.v6)
        rules.append("ip daddr { %s } tcp dport 80 drop;" % v4)
        rules.append("ip6 daddr { %s } tcp dport 80 drop;" % v6)
    text = ("table inet egress_world {\n"
            "  chain forward_filter {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            + "".join("    %s\n" % r for r in rules)
            + "  }\n}\n")
    conf = w.path("nft.conf")
    conf.write_text(text)
    w.exec("rtr", "nft", "-f", str(conf))


def build_topology(w: World) -> None:
    build_router_and_instance(w)
    for site in SITES:
        attach_site(w, site)
    if w.opts.interface_endpoint:
        attach_endpoint(w)
    build_egress(w)
    write_firewall(w)
    write_transparency(w, "rtr")
    if w.opts.mss:
        write_mss_clamp(w)
    if w.opts.no_offload:
        w.exec("inst", "ethtool", "-K", "eth0", "tso", "off", "gso", "off")


# ---- DNS -------------------------------------------------------------------------------


def record(name: str, a=(), aaaa=(), cname: str | None = None, subdomains: bool = False) -> dict:
    return {"name": name, "a": list(a), "aaaa": list(aaaa), "cname": cname, "subdomains": subdomains}


def dns_records(opts: Options) -> list[dict]:
    west = VPCE_V4 if opts.interface_endpoint else S3A_V4
    return [
        record("s3.us-west-2.amazonaws.com", [west], subdomains=True),
        record("s3.dualstack.us-west-2.amazonaws.com", [S3A_V4], [S3A_V6], subdomains=True),
        record("s3.us-east-1.amazonaws.com", [S3B_V4], subdomains=True),
        record("s3.dualstack.us-east-1.amazonaws.com", [S3B_V4], [S3B_V6], subdomains=True),
        record("s3.amazonaws.com", cname="s3-1-w.amazonaws.com", subdomains=True),
        record("s3-1-w.amazonaws.com", [S3B_V4]),
        record("sts.us-west-2.amazonaws.com", [STS_V4]),
        record("sts.amazonaws.com", [STS_V4]),
        record("amazonlinux.us-west-2.amazonaws.com", [S3A_V4]),
        record("repo.us-west-2.amazonaws.com", [S3A_V4]),
        record("packages.us-west-2.amazonaws.com", [S3A_V4]),
        record("ip-ranges.amazonaws.com", [CF_V4]),
        record("checkip.amazonaws.com", [ECHO_V4]),
        record("cdn.amazonlinux.com", [CF_V4]),
    ]


DNS_ZONES = ("amazonaws.com", "amazonlinux.com")


def start_dns(w: World) -> None:
    if w.opts.dns == "blackhole":
        spawn_server(w, "dns-blackhole", "rtr", ["dns-blackhole", "--listen", RESOLVER_V4])
        return
    zone = w.path("zone.json")
    zone.write_text(json.dumps({"apexes": list(DNS_ZONES), "ttl": DNS_TTL, "records": dns_records(w.opts)}, indent=1))
    spawn_server(w, "dns-zone", "rtr", ["dns-zone", "--zone", str(zone), "--listen", ZONE_ADDR,
                                        "--port", str(ZONE_PORT)])
    lines = ["no-resolv", "no-hosts", "user=root", "bind-interfaces", "listen-address=" + RESOLVER_V4,
             "local=/#/", "log-queries", "log-facility=" + str(w.path("logs", "dnsmasq.log")),
             "pid-file=" + str(w.path("pids", "dnsmasq.pid"))]
    lines += ["server=/%s/%s#%d" % (z, ZONE_ADDR, ZONE_PORT) for z in DNS_ZONES]
    conf = w.path("dnsmasq.conf")
    conf.write_text("\n".join(lines) + "\n")
    # dnsmasq daemonizes once its sockets are bound; the pid file names the daemon.
    w.exec("rtr", "dnsmasq", "--conf-file=" + str(conf))


# ---- TLS -------------------------------------------------------------------------------


def tls_names(opts: Options) -> list[str]:
    names = []
    for rec in dns_records(opts):
        names.append(rec["name"])
        if rec["subdomains"]:
            names.append("*." + rec["name"])
    return names


def make_pki(w: World) -> dict[str, str]:
    """A private CA and one server certificate for every name the world serves."""
    tls = w.path("tls")
    tls.mkdir(exist_ok=True)
    ca_key, ca_pem, key, csr, pem = (str(tls / n) for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    (tls / "ca.cnf").write_text(
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nO = egress-probe tests\nCN = egress-probe test CA %s\n"
        "[v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n" % w.name)
    (tls / "server.ext").write_text(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
        "subjectAltName = %s\n" % ", ".join("DNS:" + n for n in tls_names(w.opts)))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "30",
        "-config", str(tls / "ca.cnf"), "-extensions", "v3_ca")
    run("openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=s3.%s.amazonaws.com" % REGION)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-days", "30",
        "-set_serial", "0x" + secrets.token_hex(8), "-extfile", str(tls / "server.ext"), "-out", pem)
    return {"ca": ca_pem, "cert": pem, "key": key}


# ---- IMDS ------------------------------------------------------------------------------


def identity_document() -> str:
    """Pretty-printed like the real one (two-space indent, ``"key" : value``)."""
    fields = [("accountId", ACCOUNT_ID), ("architecture", "x86_64"), ("availabilityZone", AVAILABILITY_ZONE),
              ("billingProducts", None), ("devpayProductCodes", None), ("marketplaceProductCodes", None),
              ("imageId", AMI_ID), ("instanceId", INSTANCE_ID), ("instanceType", INSTANCE_TYPE),
              ("kernelId", None), ("pendingTime", "2026-11-30T11:58:00Z"), ("privateIp", INST_V4),
              ("ramdiskId", None), ("region", REGION), ("version", "2017-09-30")]
    return "{\n" + ",\n".join('  "%s" : %s' % (k, json.dumps(v)) for k, v in fields) + "\n}"


def imds_leaves(opts: Options) -> dict[str, str]:
    """Every metadata leaf path and its text; servers.py derives the directory listings."""
    md = "/latest/meta-data/"
    nic = md + "network/interfaces/macs/%s/" % MAC
    hostname = "ip-%s.%s.compute.internal" % (INST_V4.replace(".", "-"), REGION)
    leaves = {
        md + "ami-id": AMI_ID,
        md + "ami-launch-index": "0",
        md + "ami-manifest-path": "(unknown)",
        md + "hostname": hostname,
        md + "instance-action": "none",
        md + "instance-id": INSTANCE_ID,
        md + "instance-life-cycle": "on-demand",
        md + "instance-type": INSTANCE_TYPE,
        md + "ipv6": INST_V6,
        md + "local-hostname": hostname,
        md + "local-ipv4": INST_V4,
        md + "mac": MAC,
        md + "placement/availability-zone": AVAILABILITY_ZONE,
        md + "placement/availability-zone-id": "usw2-az1",
        md + "placement/region": REGION,
        md + "reservation-id": "r-0fedcba9876543210",
        md + "security-groups": "default",
        md + "services/domain": "amazonaws.com",
        md + "services/partition": "aws",
        nic + "device-number": "0",
        nic + "interface-id": "eni-0123456789abcdef0",
        nic + "ipv6s": INST_V6,
        nic + "local-hostname": hostname,
        nic + "local-ipv4s": INST_V4,
        nic + "mac": MAC,
        nic + "owner-id": ACCOUNT_ID,
        nic + "security-group-ids": "sg-0123456789abcdef0",
        nic + "security-groups": "default",
        nic + "subnet-id": SUBNET_ID,
        nic + "subnet-ipv4-cidr-block": SUBNET_CIDR,
        nic + "subnet-ipv6-cidr-blocks": "2001:db8:100::/64",
        nic + "vpc-id": VPC_ID,
        nic + "vpc-ipv4-cidr-block": VPC_CIDR,
        nic + "vpc-ipv4-cidr-blocks": VPC_CIDR,
        nic + "vpc-ipv6-cidr-blocks": "2001:db8:100::/56",
        md + "iam/security-credentials/egress-probe-role": json.dumps({
            "Code": "Success", "LastUpdated": "2026-11-30T12:00:00Z", "Type": "AWS-HMAC",
            "AccessKeyId": "ASIAWORLDEXAMPLE", "SecretAccessKey": ROLE_SECRET,
            "Token": ROLE_TOKEN, "Expiration": "2099-01-01T00:00:00Z"}),
        "/latest/dynamic/instance-identity/document": identity_document(),
        "/latest/dynamic/instance-identity/signature": "c2lnbmF0dXJlIG9mIHRoZSB0ZXN0IHdvcmxkIChub3QgdmFsaWQp",
        "/latest/dynamic/instance-identity/pkcs7": "cGtjczcgb2YgdGhlIHRlc3Qgd29ybGQgKG5vdCB2YWxpZCk=",
    }
    if opts.public_ipv4:
        public_name = "ec2-%s.%s.compute.amazonaws.com" % (opts.public_ipv4.replace(".", "-"), REGION)
        leaves[md + "public-ipv4"] = opts.public_ipv4
        leaves[md + "public-hostname"] = public_name
        leaves[nic + "public-ipv4s"] = opts.public_ipv4
        leaves[nic + "public-hostname"] = public_name
    return leaves


def start_imds(w: World) -> None:
    if w.opts.imds == "none":
        return
    data = w.path("imds.json")
    data.write_text(json.dumps(imds_leaves(w.opts), indent=1))
    spawn_server(w, "imds", "rtr", ["imds", "--mode", w.opts.imds, "--data", str(data), "--listen", IMDS_V4])


# ---- server processes --------------------------------------------------------------


def spawn_server(w: World, tag: str, role: str, args: list[str]) -> None:
    """Start ``servers.py ARGS`` inside a namespace, detached; remember its pid and ready file."""
    ready = w.path("ready", tag)
    ready.unlink(missing_ok=True)
    log = open(w.path("logs", tag + ".log"), "ab")
    argv = ["ip", "netns", "exec", w.ns(role), sys.executable, str(SERVERS_PY), *args, "--ready-file", str(ready)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    w.path("pids", tag + ".pid").write_text("%d\n" % proc.pid)
    w.processes.append((tag, proc, ready))


def start_web_servers(w: World, tls: dict[str, str]) -> None:
    buckets = dict(DEFAULT_BUCKETS, **w.opts.buckets)
    placed = [(site.role, site.region, svc) for site in SITES for svc in site.services]
    if w.opts.interface_endpoint:
        placed.append(("vpce", REGION, VPCE_SERVICE))
    for role, region, svc in placed:
        args = ["http", "--flavor", svc.flavor, "--region", region, "--cert", tls["cert"], "--key", tls["key"]]
        args += [a for addr in svc.v4 + svc.v6 for a in ("--listen", addr)]
        if svc.flavor == "s3":
            args += ["--principal-arn", PRINCIPAL_ARN, "--latency-ms", str(w.opts.s3_latency_ms)]
            args += [a for name, mode in sorted(buckets.items()) for a in ("--bucket", "%s=%s" % (name, mode))]
            if w.opts.tls_stall and role == "s3a":
                args.append("--tls-stall")
        if svc.flavor == "cloudfront":
            args += ["--ip-ranges", str(IP_RANGES_FIXTURE)]
        spawn_server(w, svc.key, role, args)


def wait_ready(w: World) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(w.processes)
    while pending:
        for item in list(pending):
            tag, proc, ready = item
            if ready.exists():
                pending.remove(item)
            elif proc.poll() is not None:
                log = w.path("logs", tag + ".log").read_text(errors="replace")[-2000:]
                raise WorldError("server %s exited with %s before it was ready:\n%s" % (tag, proc.returncode, log))
        if pending and time.monotonic() > deadline:
            raise WorldError("servers not ready after %.0fs: %s" % (READY_TIMEOUT, [p[0] for p in pending]))
        time.sleep(0.02)


# ---- up / down -------------------------------------------------------------------------


def describe(w: World, tls: dict[str, str]) -> dict:
    """The facts a test needs, printed by ``up``."""
    o = w.opts
    services = {svc.key: {"ns": w.ns(site.role), "region": site.region, "flavor": svc.flavor,
                          "ipv4": list(svc.v4), "ipv6": list(svc.v6)}
                for site in SITES for svc in site.services}
    if o.interface_endpoint:
        services[VPCE_SERVICE.key] = {"ns": w.ns("vpce"), "region": REGION, "flavor": "s3",
                                      "ipv4": list(VPCE_SERVICE.v4), "ipv6": []}
    return {
        "name": w.name,
        "state_dir": str(w.state),
        "namespaces": {role: w.ns(role) for role in w.roles},
        "instance_ns": w.ns("inst"),
        "region": REGION,
        "instance": {"ipv4": INST_V4, "ipv6": INST_V6, "mac": MAC, "router_ipv4": ROUTER_V4,
                     "router_ipv6": ROUTER_V6, "vpc_cidr": VPC_CIDR, "subnet_cidr": SUBNET_CIDR},
        "imds_url": "http://" + IMDS_V4,
        "imds": {"mode": o.imds, "url": "http://" + IMDS_V4, "region": REGION,
                 "availability_zone": AVAILABILITY_ZONE, "account_id": ACCOUNT_ID, "instance_id": INSTANCE_ID,
                 "instance_type": INSTANCE_TYPE, "ami_id": AMI_ID, "mac": MAC, "vpc_id": VPC_ID,
                 "subnet_id": SUBNET_ID, "public_ipv4": o.public_ipv4},
        "dns": {"mode": o.dns, "resolver": RESOLVER_V4, "ttl": DNS_TTL, "records": dns_records(o)},
        "services": services,
        "ca_file": tls["ca"],
        "ip_ranges": str(IP_RANGES_FIXTURE),
        "cache_dir": str(w.path("cache")),
        "buckets": dict(DEFAULT_BUCKETS, **o.buckets),
        "egress": {"mode": o.egress, "gateway_endpoint_prefixes": list(GATEWAY_ENDPOINT_PREFIXES),
                   "nat": {"private_ipv4": NAT_PRIVATE_V4, "public_ipv4": NAT_PUBLIC_V4}
                   if o.egress == "nat" else None,
                   "igw": {"public_ipv4": o.public_ipv4, "link": bare(link_v4(IGW_LINK)[1])}
                   if o.egress == "igw" else None,
                   "echo_url": "https://checkip.amazonaws.com/"},
        "options": {"imds": o.imds, "public_ipv4": o.public_ipv4, "dns": o.dns, "drop80": o.drop80,
                    "interface_endpoint": o.interface_endpoint, "global_elsewhere": True,
                    "s3_latency_ms": o.s3_latency_ms, "tls_stall": o.tls_stall, "egress": o.egress,
                    "mss": o.mss, "no_offload": o.no_offload},
    }


def checkpoint(w: World, stage: str) -> None:
    if w.opts.fail_after == stage:
        raise WorldError("failing after stage %r as requested (--fail-after)" % stage)


def up(name: str, state_dir: Path, opts: Options) -> dict:
    down(name, state_dir)  # whatever a crashed earlier run left behind
    for sub in ("logs", "cache", "tls"):
        shutil.rmtree(state_dir / sub, ignore_errors=True)
    for sub in ("pids", "logs", "ready", "cache"):
        state_dir.joinpath(sub).mkdir(parents=True, exist_ok=True)
    w = World(name, state_dir, opts)
    try:
        tls = make_pki(w)
        build_topology(w)
        checkpoint(w, "topology")
        start_imds(w)
        start_dns(w)
        start_web_servers(w, tls)
        wait_ready(w)
        checkpoint(w, "servers")
        info = describe(w, tls)
        w.path("world.json").write_text(json.dumps(info, indent=2) + "\n")
        return info
    except BaseException:
        down(name, state_dir)
        raise


def process_is_gone(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True  # it was our child and is reaped now
    except ChildProcessError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def stop_pids(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL whatever is still there after a second."""
    for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 1.0)):
        alive = [p for p in pids if not process_is_gone(p)]
        for pid in alive:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if not process_is_gone(p)]
            time.sleep(0.02)
        pids = alive


def recorded_pids(state_dir: Path) -> list[int]:
    """Pids from DIR/pids whose command line still mentions DIR (so a reused pid is never hit)."""
    pids = []
    for pidfile in sorted(state_dir.joinpath("pids").glob("*.pid")):
        try:
            pid = int(pidfile.read_text().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if str(state_dir).encode() in f.read():
                    pids.append(pid)
        except (ValueError, OSError):
            pass
        pidfile.unlink(missing_ok=True)
    return pids


def existing_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def down(name: str, state_dir: Path) -> None:
    stop_pids(recorded_pids(state_dir))
    present = existing_namespaces()
    for role in ROLES:
        ns = "ep-%s-%s" % (name, role)
        if ns in present:
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
            stop_pids([int(p) for p in out.split() if p.isdigit()])
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
    for sub in ("ready",):
        shutil.rmtree(state_dir / sub, ignore_errors=True)


# ---- command line --------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Simulated AWS VPC for egress-probe tests (see module docstring).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("up", "down"):
        p = sub.add_parser(cmd)
        p.add_argument("--name", required=True, help="world prefix P: 1-8 of [a-z0-9]")
        p.add_argument("--state-dir", required=True, type=Path)
    p = sub.choices["up"]
    p.add_argument("--imds", choices=IMDS_MODES, default="ok")
    p.add_argument("--public-ipv4", metavar="ADDR")
    p.add_argument("--dns", choices=("ok", "blackhole"), default="ok")
    p.add_argument("--drop80", action="store_true")
    p.add_argument("--interface-endpoint", action="store_true")
    p.add_argument("--global-elsewhere", action="store_true", help="the default; accepted for clarity")
    p.add_argument("--s3-latency-ms", type=int, default=0, metavar="N")
    p.add_argument("--tls-stall", action="store_true")
    p.add_argument("--egress", choices=EGRESS_MODES, default="nat")
    p.add_argument("--mss", type=int, metavar="N")
    p.add_argument("--no-offload", action="store_true")
    p.add_argument("--bucket-mode", action="append", default=[], type=bucket_mode, metavar="NAME=MODE")
    p.add_argument("--fail-after", choices=("topology", "servers"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not NAME_RE.match(args.name):
        parser.error("--name must be 1-8 characters of [a-z0-9], got %r" % args.name)
    if args.cmd == "up" and args.egress == "igw" and not args.public_ipv4:
        parser.error("--egress igw needs --public-ipv4 (the address the gateway maps the instance to)")
    if args.cmd == "up" and args.mss is not None and not 48 <= args.mss <= 1460:
        parser.error("--mss must be 48-1460, got %d" % args.mss)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("world.py needs root (network namespaces)", file=sys.stderr)
        return 2
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    state_dir = args.state_dir.resolve()
    if args.cmd == "down":
        down(args.name, state_dir)
        return 0
    opts = Options(imds=args.imds, public_ipv4=args.public_ipv4, dns=args.dns, drop80=args.drop80,
                   interface_endpoint=args.interface_endpoint, s3_latency_ms=args.s3_latency_ms,
                   tls_stall=args.tls_stall, egress=args.egress, mss=args.mss, no_offload=args.no_offload,
                   buckets=dict(args.bucket_mode), fail_after=args.fail_after)
    try:
        info = up(args.name, state_dir, opts)
    except WorldError as err:
        print("world up failed (torn down again): %s" % err, file=sys.stderr)
        return 1
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
