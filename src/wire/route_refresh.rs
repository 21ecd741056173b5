//! STUB
#![allow(missing_docs)]
use super::error::{DecodeError, DecodeErrorKind};
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRefresh;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteRefreshSubtype {
    Normal,
}
impl RouteRefresh {
    pub(crate) fn decode_body(_b: &[u8], f: &[u8]) -> Result<RouteRefresh, DecodeError> {
        Err(DecodeError::new(
            0,
            DecodeErrorKind::BadRouteRefreshLength(f.len() as u16),
        ))
    }
    pub(crate) fn encode_body(&self, _o: &mut impl bytes::BufMut) {}
}
