//! CloudWatch Logs sink: events packed into `PutLogEvents` calls within AWS's limits
//! ([`packer`]) and sent with stream creation, retries and rejection counting
//! ([`service`]).

pub mod packer;
pub mod service;
