//! eks-sim: a local stand-in for the Kubernetes and EKS APIs that eks-iam-sync talks to.
//!
//! One process simulates one or more EKS clusters on 127.0.0.1: an EKS REST-JSON API and an
//! admin API on one plain-HTTP port, and a Kubernetes API subset (ConfigMaps, discovery) over
//! HTTPS on one port per cluster. Callers authenticate with real EKS bearer tokens, which are
//! verified by hand ([`token`], [`sigv4`]) against a table of test credentials (temporary
//! credentials it was not given are asked of STS, [`sts`]) and mapped through the cluster's
//! CURRENT aws-auth ([`aws_auth`]) and access entries ([`identity`]). Clusters live in
//! accounts: an EKS caller sees its own account's ([`state`]).
//!
//! It deliberately imports nothing from the product: it speaks only the wire formats, so it
//! cannot share the product's bugs. Tests build the routers with [`kube_api::app`],
//! [`eks_api::app`] and [`admin::app`] (no socket), or start a real server with
//! [`server::spawn`].

pub mod access_entries;
pub mod admin;
pub mod arn;
pub mod aws_auth;
pub mod cli;
pub mod cluster;
pub mod configmaps;
pub mod credentials;
pub mod eks_api;
pub mod eks_error;
pub mod faults;
pub mod identity;
pub mod kube_api;
pub mod kube_discovery;
pub mod kube_status;
pub mod server;
pub mod sigv4;
pub mod state;
pub mod sts;
pub mod tls;
pub mod token;

pub use server::{RunningSim, spawn};
pub use state::{SimConfig, SimState};
