use bytes::{Bytes, BytesMut};

use super::binary::{self, opcode};
use super::meta::{self, Kind};
use super::text::{Command, StoreKind};
use super::*;

/// Everything the parser makes of `input`, fed whole; `Err` at the end if it closed.
fn parse_all(chunks: &[&[u8]], limits: &Limits) -> (Vec<Parsed>, bool) {
    let mut parser = MemcacheParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(parsed)) => out.push(parsed),
                Ok(None) => break,
                Err(Close) => return (out, true),
            }
        }
    }
    (out, false)
}

/// Parses `input` whole and split at every byte, checking all give the same requests.
fn parse(input: &[u8]) -> (Vec<Parsed>, bool) {
    let limits = Limits {
        item_size_max: 2048,
    };
    let whole = parse_all(&[input], &limits);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(parse_all(&[a, b], &limits), whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(parse_all(&bytes, &limits), whole, "byte by byte");
    whole
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

#[test]
fn text_storage_and_retrieval() {
    let (out, closed) = parse(b"set k 5 0 3\r\nabc\r\ngets a b\nappend k 0 0 1 noreply\r\nx\r\n");
    assert!(!closed);
    assert_eq!(
        out,
        vec![
            Parsed::Text(Command::Store {
                kind: StoreKind::Set,
                key: b("k"),
                flags: 5,
                exptime: 0,
                data: b("abc"),
                cas_unique: 0,
                noreply: false,
            }),
            Parsed::Text(Command::Get {
                keys: vec![b("a"), b("b")],
                cas: true,
                touch: None,
            }),
            Parsed::Text(Command::Store {
                kind: StoreKind::Append,
                key: b("k"),
                flags: 0,
                exptime: 0,
                data: b("x"),
                cas_unique: 0,
                noreply: true,
            }),
        ]
    );
}

#[test]
fn text_errors_match_memcached() {
    let errors = |input: &[u8]| -> Vec<Parsed> { parse(input).0 };
    // A block longer than announced: bad data chunk, then the rest read as a command.
    assert_eq!(
        errors(b"set k 0 0 3\r\nabcde\r\n"),
        vec![Parsed::Error(text::BAD_CHUNK), Parsed::Error(text::ERROR)]
    );
    // Under noreply the chunk error is silent, the leftovers are not.
    assert_eq!(
        errors(b"set k 0 0 3 noreply\r\nabcde\r\n"),
        vec![Parsed::Error(text::ERROR)]
    );
    assert_eq!(
        errors(b"set k 0 0 -1\r\nabc\r\n"),
        vec![Parsed::Error(text::BAD_FORMAT), Parsed::Error(text::ERROR)]
    );
    let long_key = format!("get {}\r\n", "k".repeat(251));
    assert_eq!(
        errors(long_key.as_bytes()),
        vec![Parsed::Error(text::BAD_FORMAT)]
    );
    assert_eq!(
        errors(b"garbage\r\nset\r\nGET k\r\nx\r\n"),
        vec![Parsed::Error(text::ERROR); 4]
    );
    assert_eq!(
        errors(b"incr k abc\r\ndelete k 1\r\nflush_all x\r\n"),
        vec![
            Parsed::Error("CLIENT_ERROR invalid numeric delta argument"),
            Parsed::Error("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"),
            Parsed::Error("CLIENT_ERROR invalid exptime argument"),
        ]
    );
}

#[test]
fn too_large_items_are_swallowed() {
    let data = vec![b'a'; 3000];
    let mut input = b"set k 0 0 3000\r\n".to_vec();
    input.extend_from_slice(&data);
    input.extend_from_slice(b"\r\nversion\r\n");
    let (out, _) = parse(&input);
    assert_eq!(
        out,
        vec![
            Parsed::Text(Command::TooLarge {
                key: b("k"),
                drop_existing: true,
                noreply: false,
            }),
            Parsed::Text(Command::Version),
        ]
    );
    let limits = Limits::default();
    assert!(!item_too_large(&limits, 1, 1_048_516, 0));
    assert!(item_too_large(&limits, 1, 1_048_517, 0));
    assert!(item_too_large(&limits, 1, 1_048_516, 7));
}

#[test]
fn long_lines_close_unless_multiget() {
    let (_, closed) = parse_all(&[&[b'x'; 3000]], &Limits::default());
    assert!(closed);
    let mut multiget = b"get ".to_vec();
    multiget.extend(std::iter::repeat_n(&b"k "[..], 1500).flatten());
    let (out, closed) = parse_all(&[&multiget], &Limits::default());
    assert!(!closed && out.is_empty());
    multiget.extend_from_slice(b"\r\n");
    let (out, _) = parse_all(&[&multiget], &Limits::default());
    assert!(matches!(&out[0], Parsed::Text(Command::Get { keys, .. }) if keys.len() == 1500));
}

#[test]
fn meta_flags() {
    let (out, _) = parse(b"mg k v f t c O123 T30 q\r\nms a 2 F5 MA C9 b\r\nhi\r\nmn\r\n");
    let Parsed::Meta(get) = &out[0] else {
        panic!("{:?}", out[0])
    };
    assert_eq!(get.kind, Kind::Get);
    assert_eq!(get.flags.len(), 7);
    assert!(get.options.value && get.options.quiet);
    assert_eq!(get.options.ttl, Some(30));
    // "a" is not valid base64: the error comes after the swallowed block.
    assert_eq!(out[1], Parsed::Error("CLIENT_ERROR error decoding key"));
    assert!(matches!(
        &out[2],
        Parsed::Meta(meta::Command {
            kind: Kind::Noop,
            ..
        })
    ));
    let (out, _) = parse(b"ms dGVzdA== 2 b F5 MA C9\r\nhi\r\n");
    let Parsed::Meta(set) = &out[0] else {
        panic!("{:?}", out[0])
    };
    assert_eq!(
        (&set.key[..], set.key_binary, &set.data[..]),
        (&b"test"[..], true, &b"hi"[..])
    );
    assert_eq!(
        (
            set.options.client_flags,
            set.options.mode,
            set.options.compare_cas
        ),
        (5, Some(b'A'), Some(9))
    );
    let errors = |input: &[u8]| parse(input).0;
    assert_eq!(
        errors(b"mg\r\nmg k zz\r\nmg k v v\r\nmz k\r\nms k\r\nms k abc\r\n"),
        vec![
            Parsed::Error(text::ERROR),
            Parsed::Error("CLIENT_ERROR invalid flag"),
            Parsed::Error("CLIENT_ERROR duplicate flag"),
            Parsed::Error(text::ERROR),
            Parsed::Error(text::BAD_FORMAT),
            Parsed::Error(text::BAD_FORMAT),
        ]
    );
    assert_eq!(
        errors(b"ms k 2 MX\r\nab\r\nma k MX\r\nmd k zz\r\n"),
        vec![
            Parsed::Error("CLIENT_ERROR invalid mode for ms M token"),
            Parsed::Error("CLIENT_ERROR invalid mode for ma M token"),
            Parsed::Error("CLIENT_ERROR invalid or duplicate flag"),
        ]
    );
}

fn packet(op: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32) -> Vec<u8> {
    let mut out = vec![binary::REQUEST_MAGIC, op];
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.push(extras.len() as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    out.extend_from_slice(&opaque.to_be_bytes());
    out.extend_from_slice(&7u64.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

#[test]
fn binary_packets() {
    let mut input = packet(opcode::SET, &[0, 0, 0, 5, 0, 0, 0, 0], b"key", b"value", 42);
    input.extend(packet(opcode::GETKQ, &[], b"key", &[], 43));
    let (out, closed) = parse(&input);
    assert!(!closed);
    assert_eq!(
        out[0],
        Parsed::Binary(binary::Request {
            opcode: opcode::SET,
            opaque: 42,
            cas: 7,
            extras: Bytes::from_static(&[0, 0, 0, 5, 0, 0, 0, 0]),
            key: b("key"),
            value: b("value"),
            too_large: false,
        })
    );
    let Parsed::Binary(set) = &out[0] else {
        panic!()
    };
    assert_eq!(set.extra_u32(0), Some(5));
    assert!(matches!(&out[1], Parsed::Binary(r) if r.opcode == opcode::GETKQ && r.opaque == 43));
    // A second packet with a bad magic closes the connection.
    let mut bad = packet(opcode::NOOP, &[], &[], &[], 1);
    bad.extend_from_slice(&[0x81; 24]);
    let (out, closed) = parse(&bad);
    assert_eq!(out.len(), 1);
    assert!(closed);
    // A body larger than any item is swallowed and reported.
    let big = packet(opcode::SET, &[0; 8], b"k", &vec![b'x'; 4000], 9);
    let (out, _) = parse(&big);
    assert!(matches!(&out[0], Parsed::Binary(r) if r.too_large && r.opaque == 9));
}

#[test]
fn binary_response_encoding() {
    let mut out = BytesMut::new();
    binary::encode_error(&mut out, opcode::GET, binary::Status::KeyNotFound, 5);
    assert_eq!(out.len(), 24 + 9);
    assert_eq!(&out[..2], &[binary::RESPONSE_MAGIC, opcode::GET]);
    assert_eq!(&out[6..8], &[0, 1]);
    assert_eq!(&out[24..], b"Not found");
}

#[test]
fn fuzz_body_survives_pseudo_random_input() {
    let mut rng = fastrand::Rng::with_seed(4);
    let seeds: [&[u8]; 4] = [
        b"set k 0 0 3\r\nabc\r\n",
        b"mg k v c t N30 O1 b\r\n",
        &[0x80, 0x01, 0, 1, 8, 0, 0, 0, 0, 0, 0, 10],
        b"get a b c\r\nincr x 5\r\n",
    ];
    for round in 0..3000 {
        let mut input = seeds[round % seeds.len()].to_vec();
        for _ in 0..rng.usize(0..6) {
            let at = rng.usize(0..=input.len());
            input.insert(at, rng.u8(..));
        }
        for target in [FuzzTarget::Text, FuzzTarget::Meta, FuzzTarget::Binary] {
            fuzz_one_input(target, &input);
        }
    }
}

#[test]
fn tokens_split_on_runs_of_spaces() {
    let cases: [(&[u8], &[&[u8]]); 5] = [
        (b"", &[]),
        (b"   ", &[]),
        (b"get k", &[b"get", b"k"]),
        (b"  set  key 0   0 5  ", &[b"set", b"key", b"0", b"0", b"5"]),
        (b"a\tb c", &[b"a\tb", b"c"]),
    ];
    for (line, expected) in cases {
        let tokens = super::text::Tokens::split(Bytes::copy_from_slice(line));
        assert_eq!(tokens.len(), expected.len(), "{line:?}");
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(&tokens[i], *want);
            assert_eq!(&tokens.bytes(i)[..], *want);
        }
        assert_eq!(tokens.to_vec(0).len(), expected.len());
    }
}

#[test]
fn tokens_split_word_at_a_time_agrees_with_a_byte_loop() {
    // Every line up to 11 bytes over bytes around the space's value (0x1f, 0x20, 0x21, 0xa0
    // would fool a borrowing zero-byte test) and 0x00, across the 8-byte word boundary.
    let alphabet = [b' ', 0x1f, 0x21, 0xa0, 0x00, b'k'];
    let naive = |line: &[u8]| -> Vec<Vec<u8>> {
        line.split(|&byte| byte == b' ')
            .filter(|token| !token.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let mut checked = 0;
    for len in 0..=11u32 {
        // Fewer symbols for the longest lines keeps the count near a million.
        let symbols = if len > 8 { 3 } else { alphabet.len() };
        let total = (symbols as u64).pow(len);
        for mut n in 0..total {
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    let byte = alphabet[(n % symbols as u64) as usize];
                    n /= symbols as u64;
                    byte
                })
                .collect();
            let tokens = super::text::Tokens::split(Bytes::copy_from_slice(&line));
            let got: Vec<Vec<u8>> = (0..tokens.len()).map(|i| tokens[i].to_vec()).collect();
            assert_eq!(got, naive(&line), "{line:?}");
            checked += 1;
        }
    }
    assert!(checked > 100_000);
}

#[test]
fn numbers_parse_as_memcached_does() {
    assert_eq!(parse_u64(b"0"), Some(0));
    assert_eq!(parse_u64(b"+42"), Some(42));
    assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"18446744073709551616"), None);
    assert_eq!(parse_u64(b""), None);
    assert_eq!(parse_u64(b"+"), None);
    assert_eq!(parse_u64(b"-1"), None);
    assert_eq!(parse_u64(b"12a"), None);
    assert_eq!(parse_i32(b"-1"), Some(-1));
    assert_eq!(parse_i32(b"+7"), Some(7));
    assert_eq!(parse_i32(b"2147483648"), Some(i32::MIN));
    assert_eq!(parse_i32(b"99999999999999999999"), None);
    assert_eq!(parse_i32(b"-"), None);
}
