//! The Confluent wire format of a Kafka record value: magic byte 0, the writer schema's registry id
//! as 4 bytes big-endian, then the Avro binary datum.

/// Bytes before the Avro body: the magic byte and the schema id.
pub const HEADER_LEN: usize = 5;
/// The only magic byte defined.
pub const MAGIC: u8 = 0;

/// Write `schema_id` and `body` in the wire format into `out`, which is cleared first.
pub fn frame(schema_id: u32, body: &[u8], out: &mut Vec<u8>) {
    start(schema_id, out);
    out.extend_from_slice(body);
}

/// Start a value in the wire format in `out`, which is cleared first: the magic byte and
/// `schema_id`, for the Avro body to be appended.
pub fn start(schema_id: u32, out: &mut Vec<u8>) {
    out.clear();
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Why bytes are not in the wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer than the 5 header bytes (the number is how many there were).
    #[error("{0} bytes, shorter than the 5-byte schema registry header")]
    TooShort(usize),
    /// The first byte is not 0.
    #[error("magic byte {0}, not 0: not in the schema registry wire format")]
    BadMagic(u8),
}

/// Split wire-format bytes into the schema id and the Avro body.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::TooShort(bytes.len()));
    }
    if bytes[0] != MAGIC {
        return Err(WireError::BadMagic(bytes[0]));
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((id, &bytes[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_and_unframe() {
        let mut out = vec![9, 9, 9];
        frame(0x0102_0304, b"abc", &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4, b'a', b'b', b'c']);
        assert_eq!(unframe(&out), Ok((0x0102_0304, &b"abc"[..])));
        frame(7, b"", &mut out);
        assert_eq!(out, [0, 0, 0, 0, 7]);
        assert_eq!(unframe(&out), Ok((7, &b""[..])));
        start(0x0102_0304, &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn unframe_errors() {
        assert_eq!(unframe(b""), Err(WireError::TooShort(0)));
        assert_eq!(unframe(&[0, 0, 0, 1]), Err(WireError::TooShort(4)));
        assert_eq!(unframe(&[1, 0, 0, 0, 1]), Err(WireError::BadMagic(1)));
        assert_eq!(
            WireError::BadMagic(123).to_string(),
            "magic byte 123, not 0: not in the schema registry wire format"
        );
    }
}
