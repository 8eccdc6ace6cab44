//! Destinations a tenant's logs are delivered to, one module per sink.

pub mod cloudwatch;
pub mod s3;
