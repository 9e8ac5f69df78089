//! syntax stage.
