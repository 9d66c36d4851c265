//! What an AWS hostname itself says: service, region, partition, bucket and endpoint form.
//!
//! Names are read from the right: the partition's DNS suffix first, then the region label, then
//! the service label, so bucket names containing dots never confuse the region.

/// DNS suffixes of the AWS partitions, longest first so `.com.cn` wins over `.com`.
const PARTITIONS: &[(&str, &str)] = &[
    ("amazonaws.com.cn", "aws-cn"),
    ("csp.hci.ic.gov", "aws-iso-f"),
    ("sc2s.sgov.gov", "aws-iso-b"),
    ("cloud.adc-e.uk", "aws-iso-e"),
    ("c2s.ic.gov", "aws-iso"),
    ("amazonaws.eu", "aws-eusc"),
    ("amazonaws.com", "aws"),
];

/// The forms of S3 and STS names this module recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `s3.REGION.amazonaws.com` and its virtual-hosted bucket names.
    S3Regional,
    /// `s3.dualstack.REGION...`.
    S3DualStack,
    /// `s3-REGION.amazonaws.com`, the legacy dash form.
    S3LegacyDash,
    /// `s3-fips.REGION...` and `s3-fips-REGION...`.
    S3Fips,
    /// `s3.amazonaws.com`: the legacy global name, served from us-east-1.
    S3Global,
    /// `s3-accelerate...` and multi-region access points: no region in the name.
    S3Edge,
    /// `s3-website...`.
    S3Website,
    /// `s3-accesspoint...`, `s3-object-lambda...`.
    S3AccessPoint,
    /// `s3-control...`.
    S3Control,
    /// `*.s3.REGION.vpce.amazonaws.com`: an interface endpoint's own DNS name.
    S3InterfaceEndpoint,
    /// `sts.REGION.amazonaws.com`.
    StsRegional,
    /// `sts.amazonaws.com`.
    StsGlobal,
    /// `amazonlinux.REGION`, `repo.REGION`, `packages.REGION` (Amazon Linux 1 and 2).
    AmazonLinuxRepo,
    /// `cdn.amazonlinux.com`: CloudFront, never reachable through an S3 endpoint.
    AmazonLinuxCdn,
    /// Another `SERVICE.REGION.amazonaws.com` name.
    OtherRegional,
}

impl Form {
    /// A short stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::S3Regional => "s3-regional",
            Form::S3DualStack => "s3-dualstack",
            Form::S3LegacyDash => "s3-legacy-dash",
            Form::S3Fips => "s3-fips",
            Form::S3Global => "s3-global",
            Form::S3Edge => "s3-edge",
            Form::S3Website => "s3-website",
            Form::S3AccessPoint => "s3-access-point",
            Form::S3Control => "s3-control",
            Form::S3InterfaceEndpoint => "s3-interface-endpoint",
            Form::StsRegional => "sts-regional",
            Form::StsGlobal => "sts-global",
            Form::AmazonLinuxRepo => "amazon-linux-repo",
            Form::AmazonLinuxCdn => "amazon-linux-cdn",
            Form::OtherRegional => "aws-regional",
        }
    }

    /// True for the S3 forms.
    pub fn is_s3(self) -> bool {
        self.as_str().starts_with("s3")
    }
}

/// What a hostname says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInfo {
    /// The endpoint form.
    pub form: Form,
    /// The region named in the hostname, if any.
    pub region: Option<String>,
    /// The partition whose DNS suffix the name ends in.
    pub partition: Option<&'static str>,
    /// The bucket of a virtual-hosted name.
    pub bucket: Option<String>,
    /// A warning about the name itself (a form that never existed, a placeholder region).
    pub note: Option<&'static str>,
}

/// Reads a hostname; `None` when it is not an AWS name this module knows.
pub fn parse(host: &str) -> Option<NameInfo> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "cdn.amazonlinux.com" {
        return Some(info(Form::AmazonLinuxCdn, None, None, None));
    }
    let (rest, partition) = PARTITIONS.iter().find_map(|&(suffix, partition)| {
        let rest = host.strip_suffix(suffix)?.strip_suffix('.')?;
        Some((rest, partition))
    })?;
    let labels: Vec<&str> = rest.split('.').collect();
    let mut found = regional(&labels).or_else(|| dashed(&labels))?;
    found.partition = Some(partition);
    Some(found)
}

fn info(
    form: Form,
    region: Option<&str>,
    bucket: Option<String>,
    note: Option<&'static str>,
) -> NameInfo {
    NameInfo {
        form,
        region: region.map(str::to_string),
        partition: None,
        bucket,
        note,
    }
}

/// The labels before `end`, joined: the bucket of a virtual-hosted name.
fn bucket_of(labels: &[&str], end: usize) -> Option<String> {
    (end > 0).then(|| labels[..end].join("."))
}

/// Names whose last label (before the partition suffix) is a region: `SERVICE[.dualstack].REGION`.
fn regional(labels: &[&str]) -> Option<NameInfo> {
    let (&region, before) = labels.split_last()?;
    if region == "vpce" {
        let (&region, before) = before.split_last()?;
        return interface_endpoint(before, region);
    }
    let placeholder = region == "default";
    if !is_region(region) && !placeholder {
        return None;
    }
    let (&service, mut head) = before.split_last()?;
    let mut dualstack = false;
    let mut service = service;
    if service == "dualstack" {
        dualstack = true;
        let (&inner, rest) = head.split_last()?;
        service = inner;
        head = rest;
    }
    let bucket = bucket_of(head, head.len());
    let region = Some(region);

    let form = match service {
        "s3" if dualstack => Form::S3DualStack,
        "s3" | "s3-r-w" | "s3-w" => Form::S3Regional,
        "s3-fips" => Form::S3Fips,
        "s3-website" => Form::S3Website,
        "s3-accesspoint" | "s3-object-lambda" => Form::S3AccessPoint,
        "s3-control" => Form::S3Control,
        "sts" | "sts-fips" => Form::StsRegional,
        "amazonlinux" | "repo" | "packages" if head.is_empty() => Form::AmazonLinuxRepo,
        _ if placeholder => return None,
        _ => Form::OtherRegional,
    };
    let note = placeholder.then_some(
        "the region is the placeholder `default`: cloud-init could not read it at first boot",
    );
    Some(info(form, region.filter(|_| !placeholder), bucket, note))
}

/// `[BUCKET.]vpce-ID.s3.REGION.vpce.amazonaws.com` and its zonal, access point and control forms.
fn interface_endpoint(labels: &[&str], region: &str) -> Option<NameInfo> {
    let (&service, head) = labels.split_last()?;
    if !is_region(region) || !matches!(service, "s3" | "s3-outposts") {
        return None;
    }
    let vpce = head.iter().rposition(|label| label.starts_with("vpce-"))?;
    let bucket = bucket_of(head, vpce).filter(|b| b != "accesspoint" && b != "control");
    Some(info(Form::S3InterfaceEndpoint, Some(region), bucket, None))
}

/// Names with no dotted region: the global names and the legacy `s3-REGION` dash forms.
fn dashed(labels: &[&str]) -> Option<NameInfo> {
    let (&last, head) = labels.split_last()?;
    let mut service = last;
    let mut head = head;
    if service == "dualstack" {
        let (&inner, rest) = head.split_last()?;
        service = inner;
        head = rest;
    }
    let bucket = bucket_of(head, head.len());

    let global = match service {
        "s3" => Some(Form::S3Global),
        "s3-accelerate" | "s3-global" => Some(Form::S3Edge),
        "sts" => Some(Form::StsGlobal),
        _ => None,
    };
    if let Some(form) = global {
        return Some(info(form, None, bucket, None));
    }
    if service == "s3-external-1" {
        return Some(info(Form::S3LegacyDash, Some("us-east-1"), bucket, None));
    }

    let (form, region) = if let Some(region) = service.strip_prefix("s3-fips-") {
        (Form::S3Fips, region)
    } else if let Some(region) = service.strip_prefix("s3-website-") {
        (Form::S3Website, region)
    } else if let Some(region) = service.strip_prefix("s3-") {
        (
            Form::S3LegacyDash,
            region.strip_suffix("-w").unwrap_or(region),
        )
    } else {
        return None;
    };
    if !is_region(region) {
        return None;
    }
    let note = (form == Form::S3LegacyDash && region == "us-east-1")
        .then_some("`s3-us-east-1` never existed: use `s3.us-east-1.amazonaws.com`");
    Some(info(form, Some(region), bucket, note))
}

/// True for labels shaped like a region: `us-east-1`, `us-gov-west-1`, `eusc-de-east-1`.
pub fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && words
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && (2..=4).contains(&words[0].len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(host: &str) -> Option<String> {
        parse(host).and_then(|info| info.region)
    }

    #[test]
    fn regional_dualstack_and_virtual_hosted_forms() {
        assert_eq!(
            region("s3.us-west-2.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
        let dotted = parse("images.example.com.s3.us-east-1.amazonaws.com").unwrap();
        assert_eq!(dotted.bucket.as_deref(), Some("images.example.com"));
        assert_eq!(dotted.region.as_deref(), Some("us-east-1"));
        let al2023 =
            parse("al2023-repos-us-east-1-de612dc2.s3.dualstack.us-east-1.amazonaws.com").unwrap();
        assert_eq!(al2023.form, Form::S3DualStack);
        assert_eq!(
            al2023.bucket.as_deref(),
            Some("al2023-repos-us-east-1-de612dc2")
        );
    }

    #[test]
    fn global_names_carry_no_region() {
        let global = parse("s3.amazonaws.com").unwrap();
        assert_eq!((global.form, global.region), (Form::S3Global, None));
        assert_eq!(
            parse("bucket.s3.amazonaws.com").unwrap().bucket.as_deref(),
            Some("bucket")
        );
        assert_eq!(parse("sts.amazonaws.com").unwrap().form, Form::StsGlobal);
        assert_eq!(
            parse("sts.eu-west-1.amazonaws.com").unwrap().form,
            Form::StsRegional
        );
        assert_eq!(
            parse("cdn.amazonlinux.com").unwrap().form,
            Form::AmazonLinuxCdn
        );
    }

    #[test]
    fn legacy_dash_fips_china_and_govcloud() {
        assert_eq!(
            region("s3-us-west-1.amazonaws.com").as_deref(),
            Some("us-west-1")
        );
        assert!(parse("s3-us-east-1.amazonaws.com").unwrap().note.is_some());
        assert_eq!(
            region("s3-fips-us-gov-west-1.amazonaws.com").as_deref(),
            Some("us-gov-west-1")
        );
        let china = parse("s3.dualstack.cn-north-1.amazonaws.com.cn").unwrap();
        assert_eq!(china.partition, Some("aws-cn"));
        assert_eq!(china.region.as_deref(), Some("cn-north-1"));
        assert_eq!(
            region("s3-us-west-2-w.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn amazon_linux_hosts_and_the_default_placeholder() {
        let al2 = parse("amazonlinux.eu-central-1.amazonaws.com").unwrap();
        assert_eq!(al2.form, Form::AmazonLinuxRepo);
        let placeholder = parse("amazonlinux.default.amazonaws.com").unwrap();
        assert_eq!(placeholder.region, None);
        assert!(placeholder.note.unwrap().contains("default"));
        assert_eq!(parse("example.com"), None);
        assert_eq!(parse("amazonaws.com"), None);
    }

    #[test]
    fn interface_endpoint_names() {
        let named = parse("bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com").unwrap();
        assert_eq!(named.form, Form::S3InterfaceEndpoint);
        assert_eq!(named.bucket.as_deref(), Some("bucket"));
        let control = parse("control.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com").unwrap();
        assert_eq!(control.bucket, None);
    }

    /// The public vectors, when the shared data is present: every name with a region must map to
    /// it, and every name without one must not invent one.
    #[test]
    fn shared_hostname_vectors() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/s3-hostnames/s3-hostname-vectors.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping: {} is absent", path.display());
            return;
        };
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for vector in doc["vectors"].as_array().unwrap() {
            let host = vector["host"].as_str().unwrap();
            let kind = vector["kind"].as_str().unwrap();
            if kind == "cname-numbered-eu-west-1" {
                continue; // a numbered CNAME target: its region is not in the name
            }
            let expected = vector["expected_region"].as_str();
            assert_eq!(region(host).as_deref(), expected, "{host} ({kind})");
            checked += 1;
        }
        assert!(checked > 40, "only {checked} vectors");
    }
}
