//! AS_PATH and AS4_PATH (RFC 4271 §4.3 and §5.1.2, RFC 5065 §3, RFC 6793 §4).
//!
//! ```text
//! +-----------------+-----------------+----------------------------------+
//! | segment type(1) | segment len(1)  | len × AS number (2 or 4 octets)  |  ... repeated
//! +-----------------+-----------------+----------------------------------+
//! ```
//!
//! AS numbers are always held as `u32`. On a session without the 4-octet AS capability the codec
//! reads and writes 2-octet numbers, substitutes [`AS_TRANS`] for numbers that do not fit, and carries
//! the real path in AS4_PATH; [`merge_as4_path`] rebuilds the real path on receipt (RFC 6793 §4.2.3).

use std::fmt;

use bytes::BufMut;

use super::reader::Reader;

/// The 2-octet placeholder for a 4-octet AS number (RFC 6793 §2).
pub const AS_TRANS: u32 = 23456;

/// Path segment types (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentType {
    /// AS_SET (1): unordered, counts as one AS in path length.
    Set,
    /// AS_SEQUENCE (2): ordered.
    Sequence,
    /// AS_CONFED_SEQUENCE (3): not counted in path length (RFC 5065 §5.3).
    ConfedSequence,
    /// AS_CONFED_SET (4): not counted in path length.
    ConfedSet,
}

impl SegmentType {
    fn code(self) -> u8 {
        match self {
            SegmentType::Set => 1,
            SegmentType::Sequence => 2,
            SegmentType::ConfedSequence => 3,
            SegmentType::ConfedSet => 4,
        }
    }

    fn from_code(c: u8) -> Option<SegmentType> {
        Some(match c {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }

    fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

/// One path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Segment {
    /// Segment type.
    pub kind: SegmentType,
    /// AS numbers, 4-octet values.
    pub asns: Vec<u32>,
}

/// An AS path: a list of segments (RFC 4271 §4.3 type code 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsPath {
    /// Segments in wire order; the first is the most recently prepended.
    pub segments: Vec<Segment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty when `asns` is empty, as for locally originated routes).
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> AsPath {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            AsPath::default()
        } else {
            AsPath {
                segments: vec![Segment {
                    kind: SegmentType::Sequence,
                    asns,
                }],
            }
        }
    }

    /// Path length for the decision process: each AS in a sequence counts one, an AS_SET counts
    /// one, confederation segments count zero (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// The neighbouring AS: first AS of a leading AS_SEQUENCE (RFC 4271 §9.1.2.2 c).
    pub fn first_as(&self) -> Option<u32> {
        let s = self.segments.first()?;
        (s.kind == SegmentType::Sequence)
            .then(|| s.asns.first().copied())
            .flatten()
    }

    /// How many times `asn` appears anywhere in the path (loop detection, RFC 4271 §9.1.2).
    pub fn count(&self, asn: u32) -> usize {
        self.segments
            .iter()
            .flat_map(|s| s.asns.iter())
            .filter(|&&a| a == asn)
            .count()
    }

    /// Every AS number in wire order (sets flattened).
    pub fn asns(&self) -> impl Iterator<Item = u32> + '_ {
        self.segments.iter().flat_map(|s| s.asns.iter().copied())
    }

    /// Prepends `asn` to the leading AS_SEQUENCE, or adds one (RFC 4271 §5.1.2).
    pub fn prepend(&mut self, asn: u32) {
        match self.segments.first_mut() {
            Some(s) if s.kind == SegmentType::Sequence && s.asns.len() < 255 => {
                s.asns.insert(0, asn)
            }
            _ => self.segments.insert(
                0,
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![asn],
                },
            ),
        }
    }

    /// Whether a 2-octet encoding loses information (some AS number above 65535), so that
    /// AS4_PATH must accompany it (RFC 6793 §4.2.2).
    pub fn needs_as4(&self) -> bool {
        self.asns().any(|a| a > 0xffff)
    }

    /// Decodes a path. `Err(())` means malformed: unknown segment type, a zero-length segment, or
    /// a segment overrunning the attribute (RFC 7606 §7.2).
    pub(crate) fn decode(mut r: Reader<'_>, four_octet: bool) -> Result<AsPath, ()> {
        let width = if four_octet { 4 } else { 2 };
        let mut segments = Vec::with_capacity((r.remaining() / (2 + width)).min(8));
        while !r.is_empty() {
            let kind = SegmentType::from_code(r.u8().ok_or(())?).ok_or(())?;
            let n = usize::from(r.u8().ok_or(())?);
            if n == 0 {
                return Err(());
            }
            let raw = r.take(n * width).ok_or(())?;
            let asns = if four_octet {
                raw.chunks_exact(4)
                    .map(|c| u32::from_be_bytes(c.try_into().unwrap_or_default()))
                    .collect()
            } else {
                raw.chunks_exact(2)
                    .map(|c| u32::from(u16::from_be_bytes(c.try_into().unwrap_or_default())))
                    .collect()
            };
            segments.push(Segment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// Encoded length with 2- or 4-octet numbers; segments longer than 255 are split.
    pub(crate) fn encoded_len(&self, four_octet: bool, skip_confed: bool) -> usize {
        let width = if four_octet { 4 } else { 2 };
        self.segments
            .iter()
            .filter(|s| !(skip_confed && s.kind.is_confed()))
            .map(|s| s.asns.len().div_ceil(255) * 2 + s.asns.len() * width)
            .sum()
    }

    /// Encodes the path. With 2-octet numbers, values above 65535 become [`AS_TRANS`]
    /// (RFC 6793 §4.2.2). `skip_confed` drops confederation segments, as AS4_PATH requires.
    pub(crate) fn encode(&self, four_octet: bool, skip_confed: bool, out: &mut impl BufMut) {
        for s in self
            .segments
            .iter()
            .filter(|s| !(skip_confed && s.kind.is_confed()))
        {
            for chunk in s.asns.chunks(255) {
                out.put_u8(s.kind.code());
                out.put_u8(chunk.len() as u8);
                for &a in chunk {
                    if four_octet {
                        out.put_u32(a);
                    } else {
                        out.put_u16(u16::try_from(a).unwrap_or(AS_TRANS as u16));
                    }
                }
            }
        }
    }
}

/// Rebuilds the real path from AS_PATH and AS4_PATH received from a 2-octet speaker
/// (RFC 6793 §4.2.3): when AS_PATH holds fewer ASes than AS4_PATH, AS4_PATH is ignored; otherwise
/// the leading ASes of AS_PATH that AS4_PATH lacks are put in front of AS4_PATH. Confederation
/// segments in AS4_PATH are dropped (RFC 6793 §3).
pub fn merge_as4_path(as_path: &AsPath, as4_path: &AsPath) -> AsPath {
    let as4 = AsPath {
        segments: as4_path
            .segments
            .iter()
            .filter(|s| !s.kind.is_confed())
            .cloned()
            .collect(),
    };
    let (n, n4) = (as_path.path_len(), as4.path_len());
    if n < n4 {
        return as_path.clone();
    }
    let mut keep = n - n4;
    let mut segments = Vec::with_capacity(as_path.segments.len() + as4.segments.len());
    for s in &as_path.segments {
        if keep == 0 {
            break;
        }
        match s.kind {
            SegmentType::Sequence => {
                let take = keep.min(s.asns.len());
                segments.push(Segment {
                    kind: s.kind,
                    asns: s.asns.get(..take).unwrap_or(&[]).to_vec(),
                });
                keep -= take;
            }
            SegmentType::Set => {
                segments.push(s.clone());
                keep -= 1;
            }
            _ => segments.push(s.clone()),
        }
    }
    for s in as4.segments {
        match segments.last_mut() {
            Some(last) if last.kind == SegmentType::Sequence && s.kind == SegmentType::Sequence => {
                last.asns.extend_from_slice(&s.asns)
            }
            _ => segments.push(s),
        }
    }
    AsPath { segments }
}

impl fmt::Display for AsPath {
    /// BIRD/GoBGP style: `64512 64513 {65001 65002} (65100)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(a: &[u32]) -> Segment {
        Segment {
            kind: SegmentType::Sequence,
            asns: a.to_vec(),
        }
    }

    #[test]
    fn four_octet_path_round_trips_rfc6793_3() {
        // AS_SEQUENCE of 2: 4200000001 64512; AS_SET of 1: 65001
        let bytes = [
            2, 2, 0xfa, 0x56, 0xea, 0x01, 0, 0, 0xfc, 0x00, 1, 1, 0, 0, 0xfd, 0xe9,
        ];
        let p = AsPath::decode(Reader::new(&bytes, 0), true).unwrap();
        assert_eq!(
            p.segments,
            vec![
                seq(&[4200000001, 64512]),
                Segment {
                    kind: SegmentType::Set,
                    asns: vec![65001]
                }
            ]
        );
        assert_eq!(p.encoded_len(true, false), bytes.len());
        let mut out = Vec::new();
        p.encode(true, false, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.to_string(), "4200000001 64512 {65001}");
        assert_eq!(p.path_len(), 3);
    }

    #[test]
    fn two_octet_encoding_substitutes_as_trans_rfc6793_4_2_2() {
        let p = AsPath::from_sequence([4200000001, 64512]);
        assert!(p.needs_as4());
        let mut out = Vec::new();
        p.encode(false, false, &mut out);
        assert_eq!(out, [2, 2, 0x5b, 0xa0, 0xfc, 0x00]);
    }

    #[test]
    fn malformed_paths_are_rejected_rfc7606_7_2() {
        for bad in [&[5u8, 1, 0, 1][..], &[2, 0], &[2, 2, 0, 1, 0], &[2]] {
            assert!(
                AsPath::decode(Reader::new(bad, 0), false).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn confederation_segments_do_not_count_and_sets_count_once_rfc5065_5_3() {
        let p = AsPath {
            segments: vec![
                Segment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![65100, 65101],
                },
                seq(&[64512, 64513]),
                Segment {
                    kind: SegmentType::Set,
                    asns: vec![1, 2, 3],
                },
            ],
        };
        assert_eq!(p.path_len(), 3);
        assert_eq!(p.to_string(), "(65100 65101) 64512 64513 {1 2 3}");
    }

    #[test]
    fn as4_merge_keeps_leading_ases_the_old_speaker_added_rfc6793_4_2_3() {
        // An OLD speaker 65001 prepended itself to a path that came with AS4_PATH.
        let as_path = AsPath::from_sequence([65001, AS_TRANS, 64512]);
        let as4 = AsPath::from_sequence([4200000001, 64512]);
        assert_eq!(
            merge_as4_path(&as_path, &as4),
            AsPath::from_sequence([65001, 4200000001, 64512])
        );
    }

    #[test]
    fn as4_path_longer_than_as_path_is_ignored_rfc6793_4_2_3() {
        let as_path = AsPath::from_sequence([65001]);
        let as4 = AsPath::from_sequence([4200000001, 64512]);
        assert_eq!(merge_as4_path(&as_path, &as4), as_path);
    }

    #[test]
    fn prepend_extends_the_leading_sequence_or_starts_one() {
        let mut p = AsPath::default();
        p.prepend(64512);
        p.prepend(64513);
        assert_eq!(p, AsPath::from_sequence([64513, 64512]));
        let mut p = AsPath {
            segments: vec![Segment {
                kind: SegmentType::Set,
                asns: vec![1],
            }],
        };
        p.prepend(7);
        assert_eq!(p.to_string(), "7 {1}");
    }

    #[test]
    fn a_segment_over_255_ases_is_split_on_encode() {
        let p = AsPath::from_sequence(1..=300);
        let mut out = Vec::new();
        p.encode(true, false, &mut out);
        assert_eq!(out.len(), p.encoded_len(true, false));
        let back = AsPath::decode(Reader::new(&out, 0), true).unwrap();
        assert_eq!(back.segments.len(), 2);
        assert_eq!(
            back.asns().collect::<Vec<_>>(),
            (1..=300).collect::<Vec<_>>()
        );
    }
}
