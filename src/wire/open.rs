//! STUB
#![allow(missing_docs)]
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open;
impl Open {
    pub(crate) fn decode_body(_b: &[u8], base: usize) -> Result<Open, DecodeError> {
        Err(DecodeError::new(base, DecodeErrorKind::MalformedOpen))
    }
    pub(crate) fn encode_body(&self, _o: &mut bytes::BytesMut) -> Result<(), EncodeError> {
        Ok(())
    }
}
