//! Unit tests of the Prometheus store.
