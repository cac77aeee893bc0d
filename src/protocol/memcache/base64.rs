//! Standard base64 with padding, for meta commands' binary keys (the `b` flag). Small enough
//! not to warrant a dependency; decoding refuses anything memcached's decoder refuses.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn value(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&c| c == byte).map(|i| i as u32)
}

/// Decodes `text`; `None` if it is empty, not a multiple of 4 long, or has a stray character.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (index, quad) in text.chunks(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != quads) {
            return None;
        }
        let mut bits = 0u32;
        for &byte in &quad[..4 - padding] {
            bits = (bits << 6) | value(byte)?;
        }
        bits <<= 6 * padding as u32;
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        out.extend_from_slice(&bytes[..3 - padding]);
    }
    Some(out)
}

/// Encodes `data` with padding.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let mut bits = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            bits |= (byte as u32) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        for data in [
            &b""[..],
            b"t",
            b"te",
            b"tes",
            b"test",
            b"\x00\xff\x10binary",
        ] {
            let text = encode(data);
            if !data.is_empty() {
                assert_eq!(decode(&text).as_deref(), Some(data));
            }
        }
        assert_eq!(encode(b"test"), b"dGVzdA==");
        assert_eq!(decode(b"dGVzdA=="), Some(b"test".to_vec()));
        assert_eq!(decode(b"dGVzdA="), None);
        assert_eq!(decode(b"dG=zdA=="), None);
        assert_eq!(decode(b"dGV*dA=="), None);
    }
}
