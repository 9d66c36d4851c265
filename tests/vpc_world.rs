//! Tests of the simulated VPC itself (tests/vpc/world.py), without egress-probe.
//!
//! Each test brings up its own world under a unique name and asserts, from
//! inside the instance namespace with small Python scripts, that the world
//! behaves as documented: DNS, IMDS modes, S3/STS/CloudFront over HTTP and
//! HTTPS with the world's CA, the router's firewall, and a clean teardown.
//! They skip (pass with a `skipping:` line) when not run as root.

mod common;

use common::vpc::{DnsMode, ImdsMode, Options, World, tool_path};
use serde_json::{Value, json};
use std::process::Command;

/// Helpers prepended to every script: raw DNS queries, HTTP(S) requests and TCP connects.
/// Every helper returns plain JSON-able data and never raises for network failures.
const PY: &str = r#"
import http.client, json, random, socket, ssl, struct, sys, time

def _name(buf, pos):
    labels, end = [], None
    for _ in range(128):
        n = buf[pos]
        if n & 0xC0 == 0xC0:
            end = end or pos + 2
            pos = ((n & 0x3F) << 8) | buf[pos + 1]
        elif n == 0:
            return ".".join(labels), end or pos + 1
        else:
            labels.append(buf[pos + 1:pos + 1 + n].decode())
            pos += 1 + n
    raise ValueError("name loop")

def _recv(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("short read")
        data += chunk
    return data

def dns(name, qtype, tcp=False, server="198.51.100.2", timeout=2.0):
    codes = {"A": 1, "AAAA": 28, "CNAME": 5}
    query = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    query += struct.pack(">HH", codes[qtype], 1)
    start = time.time()
    try:
        if tcp:
            s = socket.create_connection((server, 53), timeout=timeout)
            s.sendall(struct.pack(">H", len(query)) + query)
            reply = _recv(s, struct.unpack(">H", _recv(s, 2))[0])
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(query, (server, 53))
            reply = s.recv(4096)
        s.close()
    except (OSError, EOFError) as err:
        return {"error": type(err).__name__, "secs": time.time() - start}
    flags, qd, an = struct.unpack(">HHH", reply[2:8])
    pos = 12
    for _ in range(qd):
        pos = _name(reply, pos)[1] + 4
    answers = []
    for _ in range(an):
        owner, pos = _name(reply, pos)
        rtype, _, _, length = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        data = reply[pos:pos + length]
        if rtype == 1:
            value = socket.inet_ntop(socket.AF_INET, data)
        elif rtype == 28:
            value = socket.inet_ntop(socket.AF_INET6, data)
        elif rtype == 5:
            value = _name(reply, pos)[0]
        else:
            value = data.hex()
        answers.append([owner, {1: "A", 28: "AAAA", 5: "CNAME"}.get(rtype, str(rtype)), value])
        pos += length
    return {"rcode": flags & 15, "answers": answers}

def resolve(name):
    try:
        return sorted({ai[4][0] for ai in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)})
    except socket.gaierror as err:
        return "gaierror %d" % err.errno

def request(host, path="/", method="GET", port=80, tls=False, addr=None, headers=None, timeout=3.0, ca=None):
    start = time.time()
    out = {}
    try:
        sock = socket.create_connection((addr or host, port), timeout=timeout)
        if tls:
            ctx = ssl.create_default_context(cafile=ca)
            sock = ctx.wrap_socket(sock, server_hostname=host)
            out["handshake_secs"] = time.time() - start
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = sock
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        out.update(status=resp.status, headers={k.lower(): v for k, v in resp.getheaders()},
                   body=body.decode("utf-8", "replace"))
    except Exception as err:
        out["error"] = "%s: %s" % (type(err).__name__, err)
    out["secs"] = time.time() - start
    return out

def connect(addr, port, timeout=1.5):
    start = time.time()
    try:
        socket.create_connection((addr, port), timeout=timeout).close()
        result = "ok"
    except TimeoutError:
        result = "timeout"
    except ConnectionRefusedError:
        result = "refused"
    except OSError as err:
        result = "error %s" % err.errno
    return {"result": result, "secs": time.time() - start}

def imds(method, path, headers=None, timeout=1.5):
    return request("169.254.169.254", path, method=method, headers=headers, timeout=timeout)

def imds_token(ttl="60"):
    return imds("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

def emit(value):
    print(json.dumps(value))
"#;

/// Runs `PY + body` in the instance namespace and returns the JSON it emitted.
fn py(world: &World, body: &str, args: &[&str]) -> Value {
    let script = format!("{PY}\n{body}");
    let run = world.python_in("inst", &script, args);
    assert_eq!(
        run.code, 0,
        "script failed:\n{}\n{}",
        run.stderr, run.stdout
    );
    run.json
        .unwrap_or_else(|| panic!("script printed no JSON: {}", run.stdout))
}

fn namespaces_named(name: &str) -> Vec<String> {
    let out = Command::new(tool_path("ip").unwrap())
        .args(["netns", "list"])
        .output()
        .expect("ip netns list runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|ns| ns.starts_with(&format!("ep-{name}-")))
        .map(String::from)
        .collect()
}

#[test]
fn dns_answers_like_the_vpc_resolver() {
    let Some(world) = World::up("vwdns", &Options::new()) else {
        return;
    };
    let got = py(
        &world,
        r#"
names = ["s3.us-west-2.amazonaws.com", "my-bucket.s3.us-west-2.amazonaws.com",
         "s3.dualstack.us-west-2.amazonaws.com",
         "al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com",
         "s3.us-east-1.amazonaws.com", "s3.amazonaws.com", "old-bucket.s3.amazonaws.com",
         "sts.us-west-2.amazonaws.com", "sts.amazonaws.com", "amazonlinux.us-west-2.amazonaws.com",
         "repo.us-west-2.amazonaws.com", "packages.us-west-2.amazonaws.com",
         "ip-ranges.amazonaws.com", "cdn.amazonlinux.com", "nope.amazonaws.com", "example.org"]
emit({"a": {n: dns(n, "A") for n in names},
      "aaaa": {n: dns(n, "AAAA") for n in names},
      "tcp": dns("s3.us-west-2.amazonaws.com", "A", tcp=True),
      "gai": {n: resolve(n) for n in names}})
"#,
        &[],
    );
    let addrs = |v: &Value| -> Vec<String> {
        v["answers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a[1] == "A" || a[1] == "AAAA")
            .map(|a| a[2].as_str().unwrap().to_string())
            .collect()
    };
    for (name, want) in [
        ("s3.us-west-2.amazonaws.com", "203.0.113.10"),
        ("my-bucket.s3.us-west-2.amazonaws.com", "203.0.113.10"),
        ("s3.dualstack.us-west-2.amazonaws.com", "203.0.113.10"),
        ("s3.us-east-1.amazonaws.com", "203.0.113.74"),
        ("s3.amazonaws.com", "203.0.113.74"),
        ("old-bucket.s3.amazonaws.com", "203.0.113.74"),
        ("sts.us-west-2.amazonaws.com", "203.0.113.40"),
        ("sts.amazonaws.com", "203.0.113.40"),
        ("amazonlinux.us-west-2.amazonaws.com", "203.0.113.10"),
        ("repo.us-west-2.amazonaws.com", "203.0.113.10"),
        ("packages.us-west-2.amazonaws.com", "203.0.113.10"),
        ("ip-ranges.amazonaws.com", "192.0.2.10"),
        ("cdn.amazonlinux.com", "192.0.2.10"),
    ] {
        assert_eq!(got["a"][name]["rcode"], 0, "{name}: {}", got["a"][name]);
        assert_eq!(addrs(&got["a"][name]), vec![want], "{name}");
        if !name.contains("dualstack") {
            assert_eq!(got["gai"][name], json!([want]), "{name}");
        }
    }
    // IPv4-only names have no AAAA: NODATA, not NXDOMAIN.
    let nodata = &got["aaaa"]["my-bucket.s3.us-west-2.amazonaws.com"];
    assert_eq!(nodata["rcode"], 0, "{nodata}");
    assert!(addrs(nodata).is_empty(), "{nodata}");
    // Dual-stack names have both; the AL2023 repo bucket is covered by the wildcard.
    for name in [
        "s3.dualstack.us-west-2.amazonaws.com",
        "al2023-repos-us-west-2-de612dc2.s3.dualstack.us-west-2.amazonaws.com",
    ] {
        assert_eq!(addrs(&got["aaaa"][name]), vec!["2001:db8:a::10"], "{name}");
        assert_eq!(
            got["gai"][name],
            json!(["2001:db8:a::10", "203.0.113.10"]),
            "{name}"
        );
    }
    // The global endpoint is a CNAME chain into us-east-1, for subdomains too.
    let chain = &got["a"]["old-bucket.s3.amazonaws.com"]["answers"];
    assert_eq!(
        chain[0],
        json!([
            "old-bucket.s3.amazonaws.com",
            "CNAME",
            "s3-1-w.amazonaws.com"
        ])
    );
    assert_eq!(
        chain[1],
        json!(["s3-1-w.amazonaws.com", "A", "203.0.113.74"])
    );
    // Unknown names are NXDOMAIN, inside and outside the AWS zones.
    for name in ["nope.amazonaws.com", "example.org"] {
        assert_eq!(got["a"][name]["rcode"], 3, "{name}: {}", got["a"][name]);
        assert_eq!(got["gai"][name], "gaierror -2", "{name}");
    }
    assert_eq!(addrs(&got["tcp"]), vec!["203.0.113.10"], "{}", got["tcp"]);
}

#[test]
fn imds_v2_token_flow_and_content() {
    let Some(world) = World::up("vwimd", &Options::new()) else {
        return;
    };
    assert_eq!(world.info()["imds_url"], "http://169.254.169.254");
    let got = py(
        &world,
        r#"
token = imds_token()
t = {"X-aws-ec2-metadata-token": token.get("body", "")}
mac = "0e:00:00:00:00:01"
paths = ["/latest/meta-data/placement/region", "/latest/meta-data/placement/availability-zone",
         "/latest/meta-data/instance-id", "/latest/meta-data/instance-type", "/latest/meta-data/ami-id",
         "/latest/meta-data/mac", "/latest/meta-data/local-ipv4", "/latest/meta-data/services/domain",
         "/latest/meta-data/services/partition", "/latest/meta-data/public-ipv4",
         "/latest/meta-data/", "/latest/meta-data/network/interfaces/macs/",
         "/latest/meta-data/network/interfaces/macs/%s/vpc-id" % mac,
         "/latest/meta-data/network/interfaces/macs/%s/subnet-id" % mac,
         "/latest/meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-blocks" % mac,
         "/latest/meta-data/network/interfaces/macs/%s/subnet-ipv4-cidr-block" % mac,
         "/latest/meta-data/network/interfaces/macs/%s/local-ipv4s" % mac,
         "/latest/meta-data/network/interfaces/macs/%s/ipv6s" % mac,
         "/latest/dynamic/instance-identity/document"]
emit({"token": token,
      "no_token": imds("GET", "/latest/meta-data/placement/region"),
      "bad_token": imds("GET", "/latest/meta-data/placement/region", {"X-aws-ec2-metadata-token": "nope"}),
      "no_ttl": imds("PUT", "/latest/api/token"),
      "get": {p: imds("GET", p, t) for p in paths}})
"#,
        &[],
    );
    assert_eq!(got["token"]["status"], 200, "{}", got["token"]);
    assert_eq!(
        got["token"]["headers"]["x-aws-ec2-metadata-token-ttl-seconds"],
        "60"
    );
    assert_eq!(got["no_token"]["status"], 401);
    assert_eq!(got["bad_token"]["status"], 401);
    assert_eq!(got["no_ttl"]["status"], 400);
    let body = |path: &str| -> String {
        let answer = &got["get"][path];
        assert_eq!(answer["status"], 200, "{path}: {answer}");
        answer["body"].as_str().unwrap().to_string()
    };
    let mac = "/latest/meta-data/network/interfaces/macs/0e:00:00:00:00:01/";
    for (path, want) in [
        ("/latest/meta-data/placement/region", "us-west-2"),
        (
            "/latest/meta-data/placement/availability-zone",
            "us-west-2a",
        ),
        ("/latest/meta-data/instance-id", "i-0123456789abcdef0"),
        ("/latest/meta-data/instance-type", "t3.micro"),
        ("/latest/meta-data/ami-id", "ami-0abcdef1234567890"),
        ("/latest/meta-data/mac", "0e:00:00:00:00:01"),
        ("/latest/meta-data/local-ipv4", "198.51.100.10"),
        ("/latest/meta-data/services/domain", "amazonaws.com"),
        ("/latest/meta-data/services/partition", "aws"),
        (
            "/latest/meta-data/network/interfaces/macs/",
            "0e:00:00:00:00:01/",
        ),
        (&format!("{mac}vpc-id"), "vpc-0a1b2c3d4e5f60718"),
        (&format!("{mac}subnet-id"), "subnet-0123abcd"),
        (&format!("{mac}vpc-ipv4-cidr-blocks"), "198.51.100.0/24"),
        (&format!("{mac}subnet-ipv4-cidr-block"), "198.51.100.0/25"),
        (&format!("{mac}local-ipv4s"), "198.51.100.10"),
        (&format!("{mac}ipv6s"), "2001:db8:100::10"),
    ] {
        assert_eq!(body(path), want, "{path}");
    }
    assert_eq!(got["get"]["/latest/meta-data/public-ipv4"]["status"], 404);
    let listing = body("/latest/meta-data/");
    for entry in ["instance-id", "placement/", "network/", "services/"] {
        assert!(listing.lines().any(|l| l == entry), "{entry} in {listing}");
    }
    let doc: Value =
        serde_json::from_str(&body("/latest/dynamic/instance-identity/document")).unwrap();
    assert_eq!(doc["accountId"], "111122223333");
    assert_eq!(doc["region"], "us-west-2");
    assert_eq!(doc["availabilityZone"], "us-west-2a");
    assert_eq!(doc["instanceId"], "i-0123456789abcdef0");
    assert_eq!(doc["instanceType"], "t3.micro");
    assert_eq!(doc["imageId"], "ami-0abcdef1234567890");
    assert_eq!(doc["privateIp"], "198.51.100.10");
}

/// Token PUT, token-less GET and GET with the token (when one came) under one IMDS mode.
fn imds_under(name: &str, opts: Options) -> Option<Value> {
    let world = World::up(name, &opts)?;
    Some(py(
        &world,
        r#"
put = imds_token()
get = imds("GET", "/latest/meta-data/placement/region")
out = {"put": put, "get": get}
if put.get("status") == 200:
    t = {"X-aws-ec2-metadata-token": put["body"]}
    out["with_token"] = imds("GET", "/latest/meta-data/placement/region", t)
    out["document"] = imds("GET", "/latest/dynamic/instance-identity/document", t)
    out["public_ipv4"] = imds("GET", "/latest/meta-data/public-ipv4", t)
emit(out)
"#,
        &[],
    ))
}

#[test]
fn imds_none_fails_at_once() {
    let Some(got) = imds_under("vwi0", Options::new().imds(ImdsMode::Absent)) else {
        return;
    };
    for key in ["put", "get"] {
        let err = got[key]["error"].as_str().unwrap_or_default();
        assert!(err.contains("No route to host"), "{key}: {}", got[key]);
        assert!(got[key]["secs"].as_f64().unwrap() < 1.0, "{}", got[key]);
    }
}

#[test]
fn imds_hop_limit_hangs_the_token_put_only() {
    let Some(got) = imds_under("vwi1", Options::new().imds(ImdsMode::HopLimit)) else {
        return;
    };
    assert!(
        got["put"]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        got["put"]
    );
    assert_eq!(got["get"]["status"], 200);
    assert_eq!(got["get"]["body"], "us-west-2");
}

#[test]
fn imds_disabled_is_403() {
    let Some(got) = imds_under("vwi2", Options::new().imds(ImdsMode::Disabled)) else {
        return;
    };
    assert_eq!(got["put"]["status"], 403);
    assert_eq!(got["get"]["status"], 403);
}

#[test]
fn imds_v1_only_refuses_tokens() {
    let Some(got) = imds_under("vwi3", Options::new().imds(ImdsMode::V1Only)) else {
        return;
    };
    assert_eq!(got["put"]["status"], 405);
    assert_eq!(got["get"]["status"], 200);
    assert_eq!(got["get"]["body"], "us-west-2");
}

#[test]
fn imds_garbage_answers_junk_after_a_good_token() {
    let opts = Options::new()
        .imds(ImdsMode::Garbage)
        .public_ipv4("203.0.113.150");
    let Some(got) = imds_under("vwi4", opts) else {
        return;
    };
    assert_eq!(got["put"]["status"], 200);
    assert_eq!(got["get"]["status"], 401);
    assert_eq!(got["with_token"]["status"], 200);
    let doc = got["document"]["body"].as_str().unwrap();
    assert!(serde_json::from_str::<Value>(doc).is_err(), "{doc}");
    assert_ne!(got["with_token"]["body"], "us-west-2");
}

#[test]
fn imds_hang_accepts_and_never_answers() {
    let Some(got) = imds_under("vwi5", Options::new().imds(ImdsMode::Hang)) else {
        return;
    };
    for key in ["put", "get"] {
        let err = got[key]["error"].as_str().unwrap_or_default();
        assert!(err.contains("timed out"), "{key}: {}", got[key]);
    }
}

#[test]
fn imds_public_ipv4_when_asked() {
    let opts = Options::new().public_ipv4("203.0.113.150");
    let Some(got) = imds_under("vwi6", opts) else {
        return;
    };
    assert_eq!(got["public_ipv4"]["status"], 200);
    assert_eq!(got["public_ipv4"]["body"], "203.0.113.150");
}

#[test]
fn s3_sts_and_cloudfront_answer_over_http_and_https() {
    let opts = Options::new()
        .bucket("pub", "public")
        .bucket("priv", "private")
        .bucket("vpc", "endpoint-deny")
        .bucket("moved", "redirect:eu-west-1")
        .bucket("gone", "missing")
        .bucket("html", "not-xml");
    let Some(world) = World::up("vws3", &opts) else {
        return;
    };
    let ca = world.ca_file();
    let got = py(
        &world,
        r#"
ca = sys.argv[1]
def both(host, path="/", addr=None):
    return {"http": request(host, path, addr=addr), "https": request(host, path, port=443, tls=True, ca=ca, addr=addr)}
emit({
  "west": both("s3.us-west-2.amazonaws.com"),
  "dual6": both("s3.dualstack.us-west-2.amazonaws.com", addr="2001:db8:a::10"),
  "global": both("s3.amazonaws.com"),
  "east6": both("s3.dualstack.us-east-1.amazonaws.com", addr="2001:db8:b::10"),
  "pub": both("pub.s3.us-west-2.amazonaws.com"),
  "pub_path": both("s3.us-west-2.amazonaws.com", "/pub/"),
  "pub_object": both("pub.s3.amazonaws.com", "/hello.txt"),
  "priv": both("priv.s3.us-west-2.amazonaws.com"),
  "vpc": both("vpc.s3.us-west-2.amazonaws.com"),
  "moved": both("moved.s3.us-west-2.amazonaws.com"),
  "gone": both("gone.s3.dualstack.us-west-2.amazonaws.com"),
  "unknown": both("whatever.s3.us-west-2.amazonaws.com"),
  "html": both("html.s3.amazonaws.com"),
  "repo": both("amazonlinux.us-west-2.amazonaws.com"),
  "sts": both("sts.us-west-2.amazonaws.com"),
  "sts_global": both("sts.amazonaws.com"),
  "ranges": both("ip-ranges.amazonaws.com", "/ip-ranges.json"),
  "bad_ca": request("s3.us-west-2.amazonaws.com", port=443, tls=True),
})
"#,
        &[ca.to_str().unwrap()],
    );
    let fixture = std::fs::read_to_string(world.ip_ranges()).unwrap();
    for (key, answer) in got.as_object().unwrap() {
        if key == "bad_ca" {
            continue;
        }
        for scheme in ["http", "https"] {
            let r = &answer[scheme];
            assert!(r["status"].is_number(), "{key} {scheme}: {r}");
        }
    }
    let check = |key: &str, status: u64, needle: &str| {
        for scheme in ["http", "https"] {
            let r = &got[key][scheme];
            assert_eq!(r["status"], status, "{key} {scheme}: {r}");
            let body = r["body"].as_str().unwrap();
            assert!(
                body.contains(needle),
                "{key} {scheme}: {needle:?} in {body}"
            );
        }
    };
    for key in ["west", "dual6", "global", "east6"] {
        check(key, 307, "");
        let r = &got[key]["https"];
        assert_eq!(r["headers"]["location"], "https://aws.amazon.com/s3/");
        assert_eq!(r["headers"]["server"], "AmazonS3");
        let id = r["headers"]["x-amz-request-id"].as_str().unwrap();
        assert!(
            id.len() == 16
                && id
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "{id}"
        );
        assert!(r["headers"]["x-amz-id-2"].is_string());
    }
    check("pub", 200, "<ListBucketResult");
    check("pub_path", 200, "<Name>pub</Name>");
    check("pub_object", 200, "hello");
    check("priv", 403, "<Message>Access Denied</Message>");
    check(
        "vpc",
        403,
        "User: arn:aws:sts::111122223333:assumed-role/app/i-0123456789abcdef0 is not authorized \
         to perform: s3:ListBucket on resource: \"arn:aws:s3:::vpc\" because no VPC endpoint \
         policy allows the s3:ListBucket action",
    );
    check(
        "moved",
        301,
        "<Endpoint>moved.s3.eu-west-1.amazonaws.com</Endpoint>",
    );
    assert_eq!(
        got["moved"]["https"]["headers"]["x-amz-bucket-region"],
        "eu-west-1"
    );
    assert_eq!(
        got["priv"]["https"]["headers"]["x-amz-bucket-region"],
        "us-west-2"
    );
    check("gone", 404, "<Code>NoSuchBucket</Code>");
    check("unknown", 404, "<BucketName>whatever</BucketName>");
    check("html", 403, "<html>");
    assert!(
        got["html"]["https"]["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("text/html")
    );
    check("repo", 403, "AccessDenied");
    check("sts", 403, "MissingAuthenticationToken");
    check("sts_global", 403, "MissingAuthenticationToken");
    assert!(got["sts"]["https"]["headers"]["x-amzn-requestid"].is_string());
    check("ranges", 200, "\"syncToken\": \"1764504000\"");
    assert_eq!(got["ranges"]["https"]["body"], fixture.as_str());
    assert_eq!(got["ranges"]["https"]["headers"]["server"], "CloudFront");
    let bad = got["bad_ca"]["error"].as_str().unwrap_or_default();
    assert!(
        bad.contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        got["bad_ca"]
    );
}

#[test]
fn drop80_drops_port_80_to_s3_only() {
    let Some(world) = World::up("vwd80", &Options::new().drop80()) else {
        return;
    };
    let got = py(
        &world,
        r#"
emit({"west80": connect("203.0.113.10", 80), "west443": connect("203.0.113.10", 443),
      "west80v6": connect("2001:db8:a::10", 80), "east80": connect("203.0.113.74", 80),
      "sts80": connect("203.0.113.40", 80), "cf80": connect("192.0.2.10", 80),
      "closed": connect("203.0.113.10", 8080)})
"#,
        &[],
    );
    for key in ["west80", "west80v6", "east80"] {
        assert_eq!(got[key]["result"], "timeout", "{key}: {}", got[key]);
    }
    for key in ["west443", "sts80", "cf80"] {
        assert_eq!(got[key]["result"], "ok", "{key}: {}", got[key]);
    }
    assert_eq!(got["closed"]["result"], "refused");
}

#[test]
fn blackhole_dns_times_out() {
    let Some(world) = World::up("vwbh", &Options::new().dns(DnsMode::Blackhole)) else {
        return;
    };
    let got = py(
        &world,
        r#"
start = time.time()
gai = resolve("s3.us-west-2.amazonaws.com")
emit({"gai": gai, "gai_secs": time.time() - start,
      "udp": dns("s3.us-west-2.amazonaws.com", "A", timeout=1.0),
      "tcp": dns("s3.us-west-2.amazonaws.com", "A", tcp=True, timeout=1.0)})
"#,
        &[],
    );
    // resolv.conf says timeout:1 attempts:1; EAI_AGAIN is -3.
    assert_eq!(got["gai"], "gaierror -3", "{got}");
    assert!(got["gai_secs"].as_f64().unwrap() >= 0.9, "{got}");
    assert_eq!(got["udp"]["error"], "TimeoutError", "{got}");
    assert_eq!(got["tcp"]["error"], "TimeoutError", "{got}");
}

#[test]
fn interface_endpoint_takes_over_the_regional_names() {
    let opts = Options::new().interface_endpoint().bucket("pub", "public");
    let Some(world) = World::up("vwvpe", &opts) else {
        return;
    };
    assert_eq!(world.info()["namespaces"]["vpce"], "ep-vwvpe-vpce");
    let got = py(
        &world,
        r#"
emit({"regional": resolve("s3.us-west-2.amazonaws.com"),
      "bucket": resolve("pub.s3.us-west-2.amazonaws.com"),
      "dualstack": resolve("s3.dualstack.us-west-2.amazonaws.com"),
      "https": request("pub.s3.us-west-2.amazonaws.com", port=443, tls=True, ca=sys.argv[1])})
"#,
        &[world.ca_file().to_str().unwrap()],
    );
    assert_eq!(got["regional"], json!(["198.51.100.200"]));
    assert_eq!(got["bucket"], json!(["198.51.100.200"]));
    assert_eq!(got["dualstack"], json!(["2001:db8:a::10", "203.0.113.10"]));
    assert_eq!(got["https"]["status"], 200, "{}", got["https"]);
    assert_eq!(got["https"]["headers"]["x-amz-bucket-region"], "us-west-2");
}

#[test]
fn latency_and_tls_stall() {
    let opts = Options::new().s3_latency_ms(300).tls_stall();
    let Some(world) = World::up("vwlat", &opts) else {
        return;
    };
    let got = py(
        &world,
        r#"
ca = sys.argv[1]
emit({"west80": request("s3.us-west-2.amazonaws.com"),
      "west443": request("s3.us-west-2.amazonaws.com", port=443, tls=True, ca=ca, timeout=2.0),
      "east443": request("s3.us-east-1.amazonaws.com", port=443, tls=True, ca=ca)})
"#,
        &[world.ca_file().to_str().unwrap()],
    );
    let west80 = &got["west80"];
    assert_eq!(west80["status"], 307, "{west80}");
    assert!(west80["secs"].as_f64().unwrap() >= 0.3, "{west80}");
    // The stalled server completes the handshake, then says nothing.
    let west443 = &got["west443"];
    assert!(
        west443["handshake_secs"].as_f64().unwrap() >= 0.3,
        "{west443}"
    );
    assert!(
        west443["error"].as_str().unwrap().contains("timed out"),
        "{west443}"
    );
    // us-east-1 does not stall but has the latency on the handshake and the answer.
    let east443 = &got["east443"];
    assert_eq!(east443["status"], 307, "{east443}");
    assert!(east443["secs"].as_f64().unwrap() >= 0.6, "{east443}");
}

#[test]
fn teardown_leaves_nothing_behind() {
    let Some(world) = World::up("vwtd", &Options::new().interface_endpoint()) else {
        return;
    };
    // inst, rtr, s3a, s3b, cf, vpce and the NAT gateway of the default egress.
    assert_eq!(namespaces_named("vwtd").len(), 7);
    let pids: Vec<u32> = std::fs::read_dir(world.state_dir().join("pids"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(pids.len() >= 7, "{pids:?}");
    let state_dir = world.state_dir().to_path_buf();
    drop(world);
    assert_eq!(namespaces_named("vwtd"), Vec::<String>::new());
    assert!(!std::path::Path::new("/etc/netns/ep-vwtd-inst").exists());
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false);
        assert!(!alive, "pid {pid} survived the teardown");
    }
    assert!(!state_dir.exists());

    // A world that fails halfway is torn down by `up` itself; `down` stays idempotent.
    let state = std::env::temp_dir().join("egress-probe-vpc-vwtdf");
    for stage in ["topology", "servers"] {
        let out = Command::new(tool_path("python3").unwrap())
            .arg(common::vpc::world_script())
            .args([
                "up",
                "--name",
                "vwtdf",
                "--fail-after",
                stage,
                "--state-dir",
            ])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{stage}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("torn down"));
        assert_eq!(namespaces_named("vwtdf"), Vec::<String>::new(), "{stage}");
        assert!(!std::path::Path::new("/etc/netns/ep-vwtdf-inst").exists());
    }
    for _ in 0..2 {
        let out = Command::new(tool_path("python3").unwrap())
            .arg(common::vpc::world_script())
            .args(["down", "--name", "vwtdf", "--state-dir"])
            .arg(&state)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let _ = std::fs::remove_dir_all(&state);
}
