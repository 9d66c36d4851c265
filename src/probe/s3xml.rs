//! S3's XML error body: `<Error><Code>…</Code><Message>…</Message>…</Error>`.

use quick_xml::Reader;
use quick_xml::events::Event;

/// The fields of an S3 error document that the report keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Error {
    /// `Code`, such as `AccessDenied` or `PermanentRedirect`.
    pub code: Option<String>,
    /// `Message`.
    pub message: Option<String>,
    /// `Endpoint` of a redirect.
    pub endpoint: Option<String>,
    /// `BucketRegion`, when present.
    pub bucket_region: Option<String>,
}

/// Parses an S3 error body; `None` when it is not an XML document with an `Error` root.
pub fn parse_error(body: &[u8]) -> Option<S3Error> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut field: Option<String> = None;
    let mut value = String::new();
    let mut error = S3Error::default();
    let mut saw_root = false;

    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let name = start.name().as_ref().to_string();
                if depth == 0 {
                    if name != "Error" {
                        return None;
                    }
                    saw_root = true;
                } else if depth == 1 {
                    field = Some(name);
                    value.clear();
                }
                depth += 1;
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 1
                    && let Some(name) = field.take()
                {
                    let slot = match name.as_str() {
                        "Code" => &mut error.code,
                        "Message" => &mut error.message,
                        "Endpoint" => &mut error.endpoint,
                        "BucketRegion" | "Region" => &mut error.bucket_region,
                        _ => continue,
                    };
                    *slot = Some(std::mem::take(&mut value));
                }
            }
            Ok(Event::Text(text)) if field.is_some() => value.push_str(&text.xml10_content()),
            Ok(Event::CData(data)) if field.is_some() => value.push_str(&data.xml10_content()),
            Ok(Event::GeneralRef(reference)) if field.is_some() => {
                match reference.resolve_char_ref() {
                    Ok(Some(ch)) => value.push(ch),
                    _ => value.push_str(match &*reference {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    }),
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    saw_root.then_some(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_naming_the_endpoint_policy() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::111122223333:assumed-role/app/i-0 is not authorized to perform: s3:ListBucket on resource: &quot;arn:aws:s3:::b&quot; because no VPC endpoint policy allows the s3:ListBucket action</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
        let error = parse_error(body).unwrap();
        assert_eq!(error.code.as_deref(), Some("AccessDenied"));
        let message = error.message.unwrap();
        assert!(
            message.contains("no VPC endpoint policy allows"),
            "{message}"
        );
        assert!(message.contains("\"arn:aws:s3:::b\""), "{message}");
    }

    #[test]
    fn permanent_redirect_keeps_the_endpoint() {
        let body = b"<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>b.s3.us-east-1.amazonaws.com</Endpoint><Bucket>b</Bucket></Error>";
        let error = parse_error(body).unwrap();
        assert_eq!(error.code.as_deref(), Some("PermanentRedirect"));
        assert_eq!(
            error.endpoint.as_deref(),
            Some("b.s3.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn html_truncated_and_empty_bodies_are_not_s3_errors() {
        assert_eq!(parse_error(b"<html><body>Forbidden</body></html>"), None);
        assert_eq!(parse_error(b"not xml at all"), None);
        assert_eq!(parse_error(b""), None);
        let truncated = parse_error(b"<Error><Code>AccessDen");
        assert!(truncated.is_none() || truncated.unwrap().code.is_none());
    }
}
