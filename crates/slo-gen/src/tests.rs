//! End-to-end tests against an in-process server on 127.0.0.1.
