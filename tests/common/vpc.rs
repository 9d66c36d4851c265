//! Test support for the simulated VPC built by `tests/vpc/world.py`.
//!
//! This module owns the Rust side of a test world: it checks the preconditions
//! (root and the `ip`, `nft`, `dnsmasq`, `python3`, `openssl` tools), brings a
//! world up under a per-test name, runs commands inside its namespaces with a
//! hard wall-clock limit, and tears the world down by name when the [`World`]
//! is dropped (also when the test panics). The world itself (namespaces,
//! addresses, DNS, IMDS, S3-like servers) is documented in `world.py`.
//!
//! ```ignore
//! let Some(world) = World::up("mytest", &Options::new().drop80()) else { return };
//! let run = world.run_check(&["--region", "us-west-2"]);
//! assert_eq!(run.code, 0, "{}", run.stderr);
//! ```
//!
//! Names are 1-8 characters `[a-z0-9]` and should be unique across all test
//! binaries (use a per-file prefix, e.g. `vw` in vpc_world.rs): two worlds of
//! one name never run at once (an flock on `$TMPDIR/egress-probe-vpc-NAME.lock`
//! makes the second wait), so a clash costs time. The state directory is
//! `$TMPDIR/egress-probe-vpc-NAME`; it is removed after a passing test and
//! kept (with server logs and the dnsmasq query log) after a failing one, or
//! always when `EGRESS_PROBE_KEEP_WORLD` is set.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long any command run in a world may take before it is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The IMDS address as the binary is told to use it.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254";

const TOOLS: [&str; 5] = ["ip", "nft", "dnsmasq", "python3", "openssl"];
const EXTRA_TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// What answers at 169.254.169.254 (`--imds` of world.py).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImdsMode {
    /// IMDSv2: token PUT works, GETs need the token (401 without).
    #[default]
    Ok,
    /// Nothing there: the address is not configured, connects fail at once (`--imds none`).
    Absent,
    /// Token PUT never answers (hop limit 1 behind a container); v1 GETs work.
    HopLimit,
    /// Every request is 403.
    Disabled,
    /// No token support: PUT is 405, GETs work without a token.
    V1Only,
    /// Tokens work, every answer is non-JSON junk.
    Garbage,
    /// TCP is accepted and nothing is ever answered.
    Hang,
}

impl ImdsMode {
    pub fn as_arg(self) -> &'static str {
        match self {
            ImdsMode::Ok => "ok",
            ImdsMode::Absent => "none",
            ImdsMode::HopLimit => "hop-limit",
            ImdsMode::Disabled => "disabled",
            ImdsMode::V1Only => "v1-only",
            ImdsMode::Garbage => "garbage",
            ImdsMode::Hang => "hang",
        }
    }
}

/// What answers at the VPC resolver 198.51.100.2 (`--dns` of world.py).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DnsMode {
    /// dnsmasq with the world's records; unknown names are NXDOMAIN.
    #[default]
    Ok,
    /// Queries over UDP and TCP are read and never answered.
    Blackhole,
}

/// How IPv4 traffic that is not in-region S3 leaves the world's VPC (`--egress` of world.py).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Egress {
    /// Through the NAT gateway namespace (private 198.51.100.140, public 203.0.113.129).
    #[default]
    Nat,
    /// Through the internet gateway namespace, one-to-one NAT to `public_ipv4`.
    InternetGateway,
    /// Nowhere: the route table has no default route.
    None,
}

impl Egress {
    pub fn as_arg(self) -> &'static str {
        match self {
            Egress::Nat => "nat",
            Egress::InternetGateway => "igw",
            Egress::None => "none",
        }
    }
}

/// How the world differs from the default one. Build with the chaining helpers.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub imds: ImdsMode,
    /// The instance's public IPv4 in IMDS (404 when None).
    pub public_ipv4: Option<String>,
    pub dns: DnsMode,
    /// The router silently drops TCP port 80 towards the S3 namespaces.
    pub drop80: bool,
    /// S3 interface endpoint with private DNS (s3.us-west-2 -> 198.51.100.200).
    pub interface_endpoint: bool,
    /// Every S3 server sleeps this long before each TLS handshake and each response.
    pub s3_latency_ms: u64,
    /// The us-west-2 S3 HTTPS server completes the handshake and then never answers.
    pub tls_stall: bool,
    /// `(bucket, mode)`; mode is public, private, endpoint-deny, redirect:REGION, missing or not-xml.
    pub buckets: Vec<(String, String)>,
    /// How traffic that is not in-region S3 leaves.
    pub egress: Egress,
    /// The router clamps the MSS of forwarded SYNs and SYN-ACKs to this.
    pub mss: Option<u16>,
    /// Segmentation offload off on the instance's eth0.
    pub no_offload: bool,
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn imds(mut self, mode: ImdsMode) -> Self {
        self.imds = mode;
        self
    }
    pub fn public_ipv4(mut self, addr: &str) -> Self {
        self.public_ipv4 = Some(addr.to_string());
        self
    }
    pub fn dns(mut self, mode: DnsMode) -> Self {
        self.dns = mode;
        self
    }
    pub fn drop80(mut self) -> Self {
        self.drop80 = true;
        self
    }
    pub fn interface_endpoint(mut self) -> Self {
        self.interface_endpoint = true;
        self
    }
    pub fn s3_latency_ms(mut self, ms: u64) -> Self {
        self.s3_latency_ms = ms;
        self
    }
    pub fn tls_stall(mut self) -> Self {
        self.tls_stall = true;
        self
    }
    pub fn bucket(mut self, name: &str, mode: &str) -> Self {
        self.buckets.push((name.to_string(), mode.to_string()));
        self
    }
    pub fn egress(mut self, egress: Egress) -> Self {
        self.egress = egress;
        self
    }
    pub fn mss(mut self, mss: u16) -> Self {
        self.mss = Some(mss);
        self
    }
    pub fn no_offload(mut self) -> Self {
        self.no_offload = true;
        self
    }

    /// The `world.py up` options.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--imds".to_string(),
            self.imds.as_arg().to_string(),
            "--dns".to_string(),
            match self.dns {
                DnsMode::Ok => "ok",
                DnsMode::Blackhole => "blackhole",
            }
            .to_string(),
            "--s3-latency-ms".to_string(),
            self.s3_latency_ms.to_string(),
            "--egress".to_string(),
            self.egress.as_arg().to_string(),
        ];
        if let Some(mss) = self.mss {
            args.extend(["--mss".to_string(), mss.to_string()]);
        }
        if let Some(addr) = &self.public_ipv4 {
            args.extend(["--public-ipv4".to_string(), addr.clone()]);
        }
        for (flag, on) in [
            ("--drop80", self.drop80),
            ("--interface-endpoint", self.interface_endpoint),
            ("--tls-stall", self.tls_stall),
            ("--no-offload", self.no_offload),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        for (name, mode) in &self.buckets {
            args.extend(["--bucket-mode".to_string(), format!("{name}={mode}")]);
        }
        args
    }
}

/// The outcome of a command run inside a world.
#[derive(Clone, Debug)]
pub struct CheckRun {
    /// Exit code, or 128 + signal number when the process was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// stdout parsed as JSON, when it is JSON.
    pub json: Option<serde_json::Value>,
}

/// A running simulated VPC; dropping it tears it down.
pub struct World {
    name: String,
    state_dir: PathBuf,
    info: serde_json::Value,
    /// Held (flock) from before `up` until after the teardown in Drop.
    _lock: std::fs::File,
}

impl World {
    /// Brings up the world `name` (1-8 of `[a-z0-9]`, unique among concurrent tests).
    ///
    /// Returns None, after printing a `skipping:` line, when the machine cannot
    /// host a world (not root, or a tool missing). Panics when the world fails
    /// to come up on a machine that can host it.
    pub fn up(name: &str, opts: &Options) -> Option<World> {
        if let Err(why) = vpc_available() {
            eprintln!(
                "skipping: the simulated VPC needs root (and ip/nft/dnsmasq/python3/openssl): {why}"
            );
            return None;
        }
        assert!(
            !name.is_empty()
                && name.len() <= 8
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "world name {name:?} must be 1-8 characters of [a-z0-9]"
        );
        // Another process (a second `cargo test` on this machine) may use the same name:
        // worlds of one name take turns.
        let lock_path = std::env::temp_dir().join(format!("egress-probe-vpc-{name}.lock"));
        let lock = std::fs::File::create(&lock_path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", lock_path.display()));
        lock.lock()
            .unwrap_or_else(|err| panic!("cannot lock {}: {err}", lock_path.display()));
        // Built first so that a failing or hanging `up` is torn down by Drop as well.
        let mut world = World {
            name: name.to_string(),
            state_dir: std::env::temp_dir().join(format!("egress-probe-vpc-{name}")),
            info: serde_json::Value::Null,
            _lock: lock,
        };
        let mut cmd = Command::new(tool_path("python3").expect("python3 was found before"));
        cmd.arg(world_script())
            .args(["up", "--name", name, "--state-dir"])
            .arg(&world.state_dir)
            .args(opts.to_args());
        let run = run_with_deadline(cmd, RUN_TIMEOUT, "world.py up");
        match (run.code, run.json) {
            (0, Some(info)) => world.info = info,
            (code, _) => panic!(
                "world {name} did not come up (exit {code}):\n{}\n{}",
                run.stderr, run.stdout
            ),
        }
        Some(world)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JSON object `world.py up` printed (addresses, namespaces, DNS records, ...).
    pub fn info(&self) -> &serde_json::Value {
        &self.info
    }

    /// The namespace of a role: inst, rtr, s3a, s3b, cf, vpce, nat, igw.
    pub fn ns(&self, role: &str) -> String {
        format!("ep-{}-{role}", self.name)
    }

    /// The namespace the instance (and so egress-probe) runs in.
    pub fn instance_ns(&self) -> String {
        self.ns("inst")
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// PEM of the world's private CA, for `--ca-file`.
    pub fn ca_file(&self) -> PathBuf {
        self.info_path("ca_file")
    }

    /// The ip-ranges.json fixture the world's addresses are attributed with.
    pub fn ip_ranges(&self) -> PathBuf {
        self.info_path("ip_ranges")
    }

    /// A fresh directory for `EGRESS_PROBE_CACHE_DIR`.
    pub fn cache_dir(&self) -> PathBuf {
        self.info_path("cache_dir")
    }

    fn info_path(&self, key: &str) -> PathBuf {
        PathBuf::from(
            self.info[key]
                .as_str()
                .unwrap_or_else(|| panic!("world.py up printed no {key:?}")),
        )
    }

    /// Runs `egress-probe check --format json --ip-ranges FIXTURE --ca-file CA
    /// --imds-endpoint http://169.254.169.254 ARGS...` in the instance namespace
    /// with `EGRESS_PROBE_CACHE_DIR` inside the state dir. Panics after 60 s.
    pub fn run_check(&self, args: &[&str]) -> CheckRun {
        let full = self.check_args(args);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        self.run_probe(&full)
    }

    /// Runs `check` like `run_check`, but without `CAP_NET_RAW`: `setpriv` drops it from the
    /// bounding and inheritable sets first, so the binary cannot get it back (as for an
    /// ordinary user). Panics after 60 s.
    pub fn run_check_without_net_raw(&self, args: &[&str]) -> CheckRun {
        let setpriv = tool_path("setpriv").expect("setpriv (util-linux) is installed");
        let mut cmd = self.netns_command("inst");
        cmd.arg(setpriv)
            .args(["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"])
            .arg(env!("CARGO_BIN_EXE_egress-probe"))
            .args(self.check_args(args))
            .env("EGRESS_PROBE_CACHE_DIR", self.cache_dir())
            .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        run_with_deadline(cmd, RUN_TIMEOUT, "egress-probe")
    }

    fn check_args(&self, args: &[&str]) -> Vec<String> {
        let mut full: Vec<String> = vec!["check".into(), "--format".into(), "json".into()];
        full.push("--ip-ranges".into());
        full.push(self.ip_ranges().to_string_lossy().into_owned());
        full.push("--ca-file".into());
        full.push(self.ca_file().to_string_lossy().into_owned());
        full.push("--imds-endpoint".into());
        full.push(IMDS_ENDPOINT.into());
        full.extend(args.iter().map(|a| a.to_string()));
        full
    }

    /// Runs `egress-probe ARGS...` (no implied options) in the instance namespace,
    /// with `EGRESS_PROBE_CACHE_DIR` set like `run_check`. Panics after 60 s.
    pub fn run_probe(&self, args: &[&str]) -> CheckRun {
        let mut cmd = self.netns_command("inst");
        cmd.arg(env!("CARGO_BIN_EXE_egress-probe"))
            .args(args)
            .env("EGRESS_PROBE_CACHE_DIR", self.cache_dir())
            .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        run_with_deadline(cmd, RUN_TIMEOUT, "egress-probe")
    }

    /// Runs `cmd` inside the namespace of `role` (inst, rtr, s3a, ...). Panics after 60 s.
    pub fn exec_in(&self, role: &str, cmd: &[&str]) -> CheckRun {
        assert!(!cmd.is_empty(), "exec_in needs a command");
        let mut command = self.netns_command(role);
        command.args(cmd);
        run_with_deadline(command, RUN_TIMEOUT, cmd[0])
    }

    /// Runs `python3 -c SCRIPT ARGS...` inside the namespace of `role`.
    pub fn python_in(&self, role: &str, script: &str, args: &[&str]) -> CheckRun {
        let python = tool_path("python3").expect("python3 was found before");
        let python = python.to_string_lossy();
        let mut cmd = vec![python.as_ref(), "-c", script];
        cmd.extend_from_slice(args);
        self.exec_in(role, &cmd)
    }

    fn netns_command(&self, role: &str) -> Command {
        let mut cmd = Command::new(tool_path("ip").expect("ip was found before"));
        cmd.args(["netns", "exec"]).arg(self.ns(role));
        cmd
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let down = Command::new(tool_path("python3").unwrap_or_else(|| "python3".into()))
            .arg(world_script())
            .args(["down", "--name", &self.name, "--state-dir"])
            .arg(&self.state_dir)
            .stdin(Stdio::null())
            .output();
        match down {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "world {}: teardown failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(err) => eprintln!("world {}: teardown did not run: {err}", self.name),
        }
        if thread::panicking() || std::env::var_os("EGRESS_PROBE_KEEP_WORLD").is_some() {
            eprintln!(
                "world {}: state and logs kept in {}",
                self.name,
                self.state_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// `tests/vpc/world.py` of this crate.
pub fn world_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vpc/world.py")
}

/// Ok when this machine can host a world; else why not.
pub fn vpc_available() -> Result<(), String> {
    if !running_as_root() {
        return Err("not running as root".into());
    }
    let missing: Vec<&str> = TOOLS
        .into_iter()
        .filter(|t| tool_path(t).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {}", missing.join(", ")))
    }
}

fn running_as_root() -> bool {
    // The effective uid is the second field of the Uid: line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
        })
        .unwrap_or(false)
}

/// Finds an executable on PATH or in the sbin directories (cargo's PATH may lack them).
pub fn tool_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_TOOL_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| {
                    m.is_file()
                        && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
                .unwrap_or(false)
        })
}

/// Runs `cmd` to completion with its output captured, killing its whole process
/// group and panicking when it is still running after `timeout`.
fn run_with_deadline(mut cmd: Command, timeout: Duration, what: &str) -> CheckRun {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child works") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let group = format!("-{}", child.id());
            let _ = Command::new(tool_path("kill").unwrap_or_else(|| "kill".into()))
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "{what} was still running after {}s and was killed\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            timeout.as_secs()
        );
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let json = serde_json::from_str(stdout.trim()).ok();
    CheckRun {
        code,
        stdout,
        stderr,
        json,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
