//! The TCP and HTTP fault proxy.
