//! A bounds-checked cursor over received bytes.
//!
//! Every read returns `None` instead of panicking when the input is short, so decoders turn a short
//! buffer into a [`super::DecodeError`] with the offset where it happened. Sub-readers created with
//! [`Reader::sub`] cannot see past the length they were given, which bounds every nested parse (the
//! class of bug behind several BGP parser CVEs; see `reliability-anchors.md` §1.5).

/// A cursor over a byte slice that never reads out of bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    /// Offset of `buf[0]` within the whole message, for error reports.
    base: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, whose first byte sits at `base` in the message.
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, base, pos: 0 }
    }

    /// Offset of the next unread byte within the whole message.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// Takes exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Takes exactly `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A reader over the next `n` bytes, which are consumed from `self`.
    pub(crate) fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        let base = self.offset();
        let s = self.take(n)?;
        Some(Reader::new(s, base))
    }

    /// Consumes everything left and returns it.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let s = self.rest();
        self.pos = self.buf.len();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_return_none_and_do_not_advance() {
        let mut r = Reader::new(&[1, 2, 3], 10);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u16(), None);
        assert_eq!(r.offset(), 12);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
        assert_eq!(r.take(usize::MAX), None);
    }

    #[test]
    fn a_sub_reader_cannot_see_past_its_length() {
        let mut r = Reader::new(&[1, 2, 3, 4], 0);
        let mut s = r.sub(2).unwrap();
        assert_eq!(s.offset(), 0);
        assert_eq!(s.u32(), None);
        assert_eq!(s.u16(), Some(0x0102));
        assert_eq!(r.u16(), Some(0x0304));
        assert_eq!(r.sub(1).map(|_| ()), None);
    }
}
