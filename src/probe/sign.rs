//! `--sign`: SigV4 signatures for requests to the user's own buckets, with the instance role's
//! credentials, so S3 names the policy type that denies a request from the owner's account.
//! Credentials never reach the report or the logs.

use std::fmt;
use std::time::SystemTime;

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use serde::Deserialize;

/// Temporary credentials of the instance role.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token.
    pub token: String,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("token", &"** redacted **")
            .finish()
    }
}

/// The headers that sign `GET https://host/path` for S3 in `region`.
pub fn s3_get_headers(
    credentials: &RoleCredentials,
    region: &str,
    host: &str,
    path: &str,
    now: SystemTime,
) -> anyhow::Result<Vec<(String, String)>> {
    let identity = Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(credentials.token.clone()),
        None,
        "instance-role",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .context("signing parameters")?
        .into();
    let url = format!("https://{host}{path}");
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::once(("host", host)),
        SignableBody::Bytes(&[]),
    )
    .context("a signable request")?;
    let (instructions, _) = sign(request, &params).context("signing")?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> RoleCredentials {
        RoleCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            token: "session-token-secret".into(),
        }
    }

    #[test]
    fn headers_carry_a_v4_signature_for_s3_in_the_region() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_504_000);
        let headers = s3_get_headers(
            &credentials(),
            "us-west-2",
            "b.s3.us-west-2.amazonaws.com",
            "/",
            at,
        )
        .unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        };
        let authorization = get("authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20251130/us-west-2/s3/aws4_request"
            ),
            "{authorization}"
        );
        assert!(authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date"));
        assert_eq!(get("x-amz-date"), "20251130T120000Z");
        assert_eq!(get("x-amz-security-token"), "session-token-secret");
        assert!(
            !authorization.contains("wJalrXUtnFEMI"),
            "the secret never travels"
        );
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let shown = format!("{:?}", credentials());
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("session-token-secret"));
    }
}
