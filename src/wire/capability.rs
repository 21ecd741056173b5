//! STUB (replaced by the real capability codec).
#![allow(missing_docs)]
use super::family::Family;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Multiprotocol(Family),
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartFamily;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPathFamily;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddPathMode {
    Receive,
}
