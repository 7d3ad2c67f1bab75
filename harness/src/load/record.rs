//! The records load producers send: ids up front, then filler that is a pure function of the ids,
//! so a reader recomputes what it should have received instead of anyone storing it.

const MAGIC: &str = "KH1";

/// `KH1 <run> <producer> <seq> <size> ` then filler up to `size` bytes (the size is carried so a
/// truncated record is caught, not only an altered one).
pub fn encode(run: &str, producer: u32, seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    for part in [MAGIC.as_bytes(), run.as_bytes()] {
        out.extend_from_slice(part);
        out.push(b' ');
    }
    for n in [u64::from(producer), seq, size as u64] {
        out.extend_from_slice(digits(n, &mut [0; 20]));
        out.push(b' ');
    }
    let start = out.len();
    // a-z repeated from a phase set by the ids: copy whole cycles of a doubled alphabet instead of
    // computing each byte (the same bytes as `filler`).
    const ALPHABET: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    if size > start {
        let phase = usize::from(filler(producer, seq, start) - b'a');
        let mut left = size - start;
        while left > 0 {
            let n = left.min(26);
            out.extend_from_slice(&ALPHABET[phase..phase + n]);
            left -= n;
        }
    }
}

/// The decimal digits of `n`, written at the end of `buf`.
pub(crate) fn digits(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut n = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

fn filler(producer: u32, seq: u64, i: usize) -> u8 {
    let x = seq
        .wrapping_mul(31)
        .wrapping_add(u64::from(producer).wrapping_mul(17))
        .wrapping_add(i as u64);
    b'a' + (x % 26) as u8
}

/// The key of record `seq` among `keys` distinct keys; `None` when records go without a key.
pub fn key(seq: u64, keys: u32) -> Option<String> {
    (keys > 0).then(|| format!("key-{}", seq.wrapping_mul(2_654_435_761) % u64::from(keys)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// One of this run's records; `intact` says whether its bytes are what its ids imply.
    Ours {
        producer: u32,
        seq: u64,
        intact: bool,
    },
    /// A harness record of another run (a reused topic).
    OtherRun,
    /// Not a harness record at all.
    Foreign,
}

pub fn decode(run: &str, bytes: &[u8]) -> Decoded {
    let mut fields = bytes.splitn(6, |b| *b == b' ');
    let (Some(magic), Some(r), Some(p), Some(s), Some(z)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Decoded::Foreign;
    };
    if magic != MAGIC.as_bytes() {
        return Decoded::Foreign;
    }
    if r != run.as_bytes() {
        return Decoded::OtherRun;
    }
    let parse = |f: &[u8]| {
        std::str::from_utf8(f)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
    };
    let (Some(producer), Some(seq)) = (parse(p).and_then(|v| u32::try_from(v).ok()), parse(s))
    else {
        return Decoded::Foreign;
    };
    let rest = fields.next().unwrap_or_default();
    let start = bytes.len() - rest.len();
    let size_ok =
        parse(z).is_some_and(|size| size == bytes.len() as u64 || (size as usize) < start);
    let intact = size_ok
        && rest
            .iter()
            .enumerate()
            .all(|(i, b)| *b == filler(producer, seq, start + i));
    Decoded::Ours {
        producer,
        seq,
        intact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut buf = Vec::new();
        encode("run1", 3, 42, 128, &mut buf);
        assert_eq!(buf.len(), 128);
        assert_eq!(
            decode("run1", &buf),
            Decoded::Ours {
                producer: 3,
                seq: 42,
                intact: true
            }
        );
        assert_eq!(decode("run2", &buf), Decoded::OtherRun);
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(
            decode("run1", &buf),
            Decoded::Ours {
                producer: 3,
                seq: 42,
                intact: false
            }
        );
        encode("run1", 3, 42, 128, &mut buf);
        buf.truncate(100);
        assert_eq!(
            decode("run1", &buf),
            Decoded::Ours {
                producer: 3,
                seq: 42,
                intact: false
            }
        );
        assert_eq!(decode("run1", b"hello world"), Decoded::Foreign);
    }

    #[test]
    fn keys_are_stable_and_bounded() {
        assert_eq!(key(7, 0), None);
        assert_eq!(key(7, 10), key(7, 10));
        assert!((0..1000).filter_map(|s| key(s, 10)).all(|k| k.len() <= 5));
    }
}
