//! Thin AWS adapters for the Lambda: read IAM ([`iam`]), describe EKS clusters ([`eks`]), and
//! read and write EKS access entries ([`access_entries`]), and read a configuration kept in
//! SSM or S3 ([`config_store`]), and write the function's own objects to S3 ([`bucket`]).
//!
//! They turn SDK calls into plain values ([`iam::IamUser`], [`eks::ClusterInfo`]) and SDK
//! failures into typed errors that name the operation and the entity, so a log line says what
//! failed. They never decide anything: what to map, plan or write is the reconciler's job.
//!
//! Two rules hold everywhere here:
//! - A failed read is an error, never an empty result. "Does not exist" (IAM `NoSuchEntity`,
//!   EKS `ResourceNotFoundException`) is the only failure turned into a value (`None`,
//!   [`eks::EksError::NotFound`]); throttling, access denied or a broken page stays an error.
//! - Retries belong to the SDK client (its retry config, standard mode by default); an error
//!   returned from here already went through them. `is_retryable()` on the errors tells the
//!   caller whether trying again later (the next invocation) can help.
//!
//! Paginated reads (IAM GetGroup/ListGroupsForUser/ListRoles, EKS ListAccessEntries and
//! ListAssociatedAccessPolicies) go through the SDK's paginators and one shared reader,
//! `paging`, which keeps the checks the paginators lack (a truncated page without a marker, a
//! repeated marker, a page limit): see its module doc for what the paginators do and don't do.
//!
//! Every client has connect, attempt and operation timeouts ([`timeouts`]): a stalled answer
//! is a timeout error (classified as transient), never a hang.
//!
//! Endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_IAM`, `AWS_ENDPOINT_URL_EKS`,
//! `AWS_ENDPOINT_URL_STS`) come from the `SdkConfig` loaded by aws-config; the per-region and
//! per-role clients of [`eks::EksClusters`] are derived from that config and keep them.

pub mod access_entries;
pub mod bucket;
pub mod config_store;
pub mod eks;
pub mod iam;
mod paging;
pub mod timeouts;

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes AWS services use for throttling (aws-runtime's retry classifier list).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes meaning the caller's identity may not do this (or is not a valid identity).
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Error codes of a service-side, passing failure.
const TRANSIENT_CODES: &[&str] = &[
    "ServiceFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// What kind of failure an SDK error is, with a one-line message for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Throttled(String),
    Denied(String),
    /// Timeouts, connection failures, 5xx: trying again later may work.
    Transient(String),
    Other(String),
}

/// Classifies an SDK error after the client's own retries.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let context = || DisplayErrorContext(err).to_string().replace('\n', " ");
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Failure::Transient(context()),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            let message = match (code, service.err().message()) {
                ("", _) => format!("HTTP {status}: {}", context()),
                (code, Some(message)) if !message.is_empty() => format!("{code}: {message}"),
                (code, _) => code.to_owned(),
            };
            if THROTTLING_CODES.contains(&code) || status == 429 {
                Failure::Throttled(message)
            } else if DENIED_CODES.contains(&code) {
                Failure::Denied(message)
            } else if TRANSIENT_CODES.contains(&code) || status >= 500 {
                Failure::Transient(message)
            } else {
                Failure::Other(message)
            }
        }
        _ => Failure::Other(context()),
    }
}
