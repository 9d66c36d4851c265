//! Dissection of the first bytes of one direction of a flow: a TLS ClientHello (SNI, offered
//! versions, ALPN), a TLS ServerHello (chosen version), an HTTP request line with its Host
//! header, or an HTTP status line.
//!
//! The bytes are hostile: everything here is bounded by the input, clips the text it keeps and
//! never panics. TLS handshake bodies and extensions are read with `tls-parser`, HTTP heads with
//! `httparse`; a message cut short still yields the fields that arrived whole.

use tls_parser::{TlsExtension, TlsVersion};

/// The longest text kept from any field (request target, SNI, reason phrase).
pub const MAX_TEXT: usize = 256;

/// Headers `httparse` may read in one head.
const MAX_HEADERS: usize = 64;

/// What the first bytes of one direction are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dissection {
    /// No payload byte was seen.
    #[default]
    Nothing,
    /// A TLS ClientHello.
    ClientHello(ClientHello),
    /// A TLS ServerHello.
    ServerHello(ServerHello),
    /// A readable HTTP request.
    Request(Request),
    /// A readable HTTP response.
    Response(Response),
    /// Bytes that are none of those; `tls` when they are TLS records of another kind.
    Other {
        /// The bytes are TLS records (say, encrypted application data).
        tls: bool,
    },
}

/// A TLS ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// The server name asked for.
    pub sni: Option<String>,
    /// Offered versions (`supported_versions`, else the legacy field), GREASE left out.
    pub versions: Vec<String>,
    /// Offered ALPN protocols.
    pub alpn: Vec<String>,
    /// The whole message arrived.
    pub complete: bool,
}

/// A TLS ServerHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHello {
    /// The chosen version (`supported_versions` for TLS 1.3, else the legacy field).
    pub version: String,
    /// The chosen ALPN protocol.
    pub alpn: Option<String>,
    /// The whole message arrived.
    pub complete: bool,
}

/// An HTTP request head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method token.
    pub method: String,
    /// The request target, clipped to [`MAX_TEXT`].
    pub target: Option<String>,
    /// The Host header.
    pub host: Option<String>,
    /// The whole head arrived.
    pub complete: bool,
}

/// An HTTP status line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: Option<String>,
    /// The whole head arrived.
    pub complete: bool,
}

impl Dissection {
    /// Readable HTTP: a request or a response in clear.
    pub fn is_http(&self) -> bool {
        matches!(self, Dissection::Request(_) | Dissection::Response(_))
    }

    /// The value of `kind` in the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Dissection::Nothing => "none",
            Dissection::ClientHello(_) => "tls-client-hello",
            Dissection::ServerHello(_) => "tls-server-hello",
            Dissection::Request(_) => "http-request",
            Dissection::Response(_) => "http-response",
            Dissection::Other { tls: true } => "tls-other",
            Dissection::Other { tls: false } => "other",
        }
    }
}

/// Dissects the first bytes of one direction of a flow; also says how many of the bytes the
/// first message took (record headers included), so a caller can tell how many segments
/// carried it.
pub fn dissect(bytes: &[u8]) -> (Dissection, usize) {
    if bytes.is_empty() {
        return (Dissection::Nothing, 0);
    }
    if looks_like_tls(bytes) {
        return tls(bytes);
    }
    let other = (Dissection::Other { tls: false }, bytes.len());
    if bytes.starts_with(b"HTTP/") {
        return response(bytes).unwrap_or(other);
    }
    request(bytes).unwrap_or(other)
}

/// A TLS record header: content type 20-23 and major version 3.
fn looks_like_tls(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && (20..=23).contains(&bytes[0]) && bytes[1] == 3
}

fn tls(bytes: &[u8]) -> (Dissection, usize) {
    let (handshake, complete, consumed) = handshake_message(bytes);
    let Some((&kind, rest)) = handshake.split_first() else {
        return (Dissection::Other { tls: true }, consumed);
    };
    let body = rest.get(3..).unwrap_or_default();
    let dissection = match kind {
        1 => Dissection::ClientHello(client_hello(body, complete)),
        2 => server_hello(body, complete),
        _ => Dissection::Other { tls: true },
    };
    (dissection, consumed)
}

/// The first handshake message, gathered from as many handshake records as it spans; whether
/// it arrived whole; and how many input bytes it took.
fn handshake_message(bytes: &[u8]) -> (Vec<u8>, bool, usize) {
    let mut message = Vec::new();
    let mut position = 0;
    while let Some(header) = bytes.get(position..position + 5)
        && header[0] == 22
    {
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let available = &bytes[position + 5..];
        let fragment = &available[..length.min(available.len())];
        message.extend_from_slice(fragment);
        if let Some(total) = announced_length(&message)
            && message.len() >= total
        {
            let surplus = message.len() - total;
            message.truncate(total);
            return (message, true, position + 5 + fragment.len() - surplus);
        }
        position += 5 + fragment.len();
        if fragment.len() < length {
            break;
        }
    }
    let consumed = if position == 0 { bytes.len() } else { position };
    (message, false, consumed)
}

/// Type byte, 24-bit length and body: the length the message announces, once it is known.
fn announced_length(message: &[u8]) -> Option<usize> {
    let header = message.get(..4)?;
    let body =
        (usize::from(header[1]) << 16) | (usize::from(header[2]) << 8) | usize::from(header[3]);
    Some(4 + body)
}

fn client_hello(body: &[u8], complete: bool) -> ClientHello {
    let mut hello = ClientHello {
        complete,
        ..ClientHello::default()
    };
    // tls-parser drops the extensions of a message cut short; they are then walked by hand.
    let (legacy, extensions) = match tls_parser::parse_tls_handshake_client_hello(body) {
        Ok((_, parsed)) if parsed.ext.is_some() => {
            (Some(parsed.version), parsed.ext.unwrap_or_default())
        }
        _ => client_hello_by_hand(body),
    };

    for extension in extension_list(extensions, tls_parser::parse_tls_client_hello_extension) {
        match extension {
            TlsExtension::SNI(names) => {
                hello.sni = names
                    .iter()
                    .find(|(kind, _)| kind.0 == 0)
                    .map(|(_, name)| text(name));
            }
            TlsExtension::SupportedVersions(versions) => {
                hello.versions = versions
                    .iter()
                    .filter(|v| !is_grease(v.0))
                    .map(|v| version_name(*v))
                    .collect();
            }
            TlsExtension::ALPN(protocols) => {
                hello.alpn = protocols.iter().map(|p| text(p)).collect();
            }
            _ => {}
        }
    }
    if hello.versions.is_empty()
        && let Some(legacy) = legacy
    {
        hello.versions.push(version_name(legacy));
    }
    hello
}

/// A ClientHello cut short: the legacy version and whatever part of the extensions arrived.
fn client_hello_by_hand(body: &[u8]) -> (Option<TlsVersion>, &[u8]) {
    let mut reader = Reader(body);
    let legacy = reader.u16().map(TlsVersion);
    let extensions = (|| {
        reader.skip(32)?;
        let session = usize::from(reader.u8()?);
        reader.skip(session)?;
        let suites = usize::from(reader.u16()?);
        reader.skip(suites)?;
        let methods = usize::from(reader.u8()?);
        reader.skip(methods)?;
        let length = usize::from(reader.u16()?);
        Some(&reader.0[..length.min(reader.0.len())])
    })();
    (legacy, extensions.unwrap_or_default())
}

/// The extensions that arrived whole, each read by `parse`; a cut-off one ends the list.
fn extension_list<'a>(
    mut bytes: &'a [u8],
    parse: fn(&'a [u8]) -> tls_parser::IResult<&'a [u8], TlsExtension<'a>>,
) -> Vec<TlsExtension<'a>> {
    let mut extensions = Vec::new();
    while bytes.len() >= 4 {
        let length = 4 + usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if bytes.len() < length {
            break;
        }
        if let Ok((_, extension)) = parse(&bytes[..length]) {
            extensions.push(extension);
        }
        bytes = &bytes[length..];
    }
    extensions
}

fn server_hello(body: &[u8], complete: bool) -> Dissection {
    let Some(legacy) = body
        .get(..2)
        .map(|v| TlsVersion(u16::from_be_bytes([v[0], v[1]])))
    else {
        return Dissection::Other { tls: true };
    };
    let mut hello = ServerHello {
        version: version_name(legacy),
        alpn: None,
        complete,
    };
    let extensions = tls_parser::parse_tls_handshake_server_hello(body)
        .map(|(_, parsed)| parsed.ext.unwrap_or_default())
        .unwrap_or_default();
    for extension in extension_list(extensions, tls_parser::parse_tls_server_hello_extension) {
        match extension {
            TlsExtension::SupportedVersions(versions) => {
                if let Some(chosen) = versions.first() {
                    hello.version = version_name(*chosen);
                }
            }
            TlsExtension::ALPN(protocols) => {
                hello.alpn = protocols.first().map(|p| text(p));
            }
            _ => {}
        }
    }
    Dissection::ServerHello(hello)
}

fn request(bytes: &[u8]) -> Option<(Dissection, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let status = parsed.parse(bytes);
    let method = parsed.method?.to_string();
    let (complete, consumed) = head_length(&status, bytes.len());
    if status.is_err() && parsed.path.is_none() {
        return None;
    }
    let target = parsed
        .path
        .map(|path| text(path.as_bytes()))
        .or_else(|| long_target(bytes, &method));
    let host = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| text(h.value));
    let request = Request {
        method: text(method.as_bytes()),
        target,
        host,
        complete,
    };
    Some((Dissection::Request(request), consumed))
}

/// Whether an HTTP head arrived whole, and the bytes it took (all of them when it did not).
fn head_length(status: &httparse::Result<usize>, available: usize) -> (bool, usize) {
    match status {
        Ok(httparse::Status::Complete(length)) => (true, *length),
        _ => (false, available),
    }
}

/// The start of a request target too long to arrive whole (say, a 64 KB request line).
fn long_target(bytes: &[u8], method: &str) -> Option<String> {
    let rest = bytes.get(method.len()..)?.strip_prefix(b" ")?;
    (!rest.is_empty()).then(|| text(rest.split(|&b| b == b' ').next().unwrap_or(rest)))
}

fn response(bytes: &[u8]) -> Option<(Dissection, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let status = parsed.parse(bytes);
    let code = parsed.code?;
    let (complete, consumed) = head_length(&status, bytes.len());
    let response = Response {
        status: code,
        reason: parsed
            .reason
            .filter(|r| !r.is_empty())
            .map(|r| text(r.as_bytes())),
        complete,
    };
    Some((Dissection::Response(response), consumed))
}

/// `TLSv1_3`, `TLSv1_2`, ... (the spelling of the report's `tls.version`); others in hex.
fn version_name(version: TlsVersion) -> String {
    match version.0 {
        0x0304 => "TLSv1_3".into(),
        0x0303 => "TLSv1_2".into(),
        0x0302 => "TLSv1_1".into(),
        0x0301 => "TLSv1_0".into(),
        0x0300 => "SSLv3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// Bytes as text a person can read: invalid UTF-8 and control characters replaced, clipped.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_TEXT * 4)])
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(MAX_TEXT)
        .collect()
}

/// A cursor over bytes that says None instead of reading past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes = self.0.get(..2)?;
        self.0 = &self.0[2..];
        Some(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn skip(&mut self, count: usize) -> Option<()> {
        self.0 = self.0.get(count..)?;
        Some(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
