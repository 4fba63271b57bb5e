//! Fuzz target for the aws-auth reader and writer (`Section::parse`, `AwsAuth::read`, the
//! planner and `emit::rewrite`, and the manifest reader).
//!
//! Input: one flag byte, then UTF-8 text split on NUL into mapRoles, mapUsers, mapAccounts
//! and the ledger annotation. A small desired set is derived from the input itself (the ARNs
//! and account ids it mentions, plus a few fixed ones), so the planner adds, changes, removes
//! and collides with what is there. Checked:
//! - nothing panics;
//! - unreadable content is refused, never written;
//! - a written result always re-reads, with every unmanaged entry's bytes kept in order
//!   (flow entries: verbatim behind `- `), untouched sections byte for byte, the same
//!   unmanaged values first, and a second plan on the result changes nothing.

#![no_main]

#[path = "../check/aws_auth.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
