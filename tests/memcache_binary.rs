//! The binary protocol over real sockets: every opcode memccapable exercises, the quiet and
//! key-returning variants, GAT/TOUCH, and the error statuses with memcached 1.6.18's texts.

mod common;

use common::*;

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const DELETE: u8 = 0x04;
const INCREMENT: u8 = 0x05;
const DECREMENT: u8 = 0x06;
const QUIT: u8 = 0x07;
const FLUSH: u8 = 0x08;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const APPEND: u8 = 0x0e;
const PREPEND: u8 = 0x0f;
const STAT: u8 = 0x10;
const SETQ: u8 = 0x11;
const ADDQ: u8 = 0x12;
const REPLACEQ: u8 = 0x13;
const DELETEQ: u8 = 0x14;
const INCREMENTQ: u8 = 0x15;
const DECREMENTQ: u8 = 0x16;
const QUITQ: u8 = 0x17;
const FLUSHQ: u8 = 0x18;
const APPENDQ: u8 = 0x19;
const PREPENDQ: u8 = 0x1a;
const TOUCH: u8 = 0x1c;
const GAT: u8 = 0x1d;
const GATQ: u8 = 0x1e;
const GATK: u8 = 0x23;
const GATKQ: u8 = 0x24;

fn packet(op: u8, key: &[u8], extras: &[u8], value: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
    let mut out = vec![0x80, op];
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.push(extras.len() as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    out.extend_from_slice(&opaque.to_be_bytes());
    out.extend_from_slice(&cas.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

fn store_extras(flags: u32, exptime: u32) -> Vec<u8> {
    let mut extras = flags.to_be_bytes().to_vec();
    extras.extend_from_slice(&exptime.to_be_bytes());
    extras
}

fn arith_extras(delta: u64, initial: u64, exptime: u32) -> Vec<u8> {
    let mut extras = delta.to_be_bytes().to_vec();
    extras.extend_from_slice(&initial.to_be_bytes());
    extras.extend_from_slice(&exptime.to_be_bytes());
    extras
}

/// One response: opcode, status, opaque, cas, extras, key, value.
#[derive(Debug, Clone, PartialEq)]
struct Response {
    op: u8,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

fn read_response(mc: &mut RawClient) -> Response {
    let header = mc.read_exact_len(24);
    assert_eq!(header[0], 0x81, "response magic");
    let key_len = u16::from_be_bytes([header[2], header[3]]) as usize;
    let extras_len = header[4] as usize;
    let body_len = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    let body = mc.read_exact_len(body_len);
    Response {
        op: header[1],
        status: u16::from_be_bytes([header[6], header[7]]),
        opaque: u32::from_be_bytes(header[12..16].try_into().unwrap()),
        cas: u64::from_be_bytes(header[16..24].try_into().unwrap()),
        extras: body[..extras_len].to_vec(),
        key: body[extras_len..extras_len + key_len].to_vec(),
        value: body[extras_len + key_len..].to_vec(),
    }
}

/// Sends `packets` and a NOOP, and returns the responses before the NOOP's.
fn exchange(mc: &mut RawClient, packets: &[Vec<u8>]) -> Vec<Response> {
    let mut bytes: Vec<u8> = packets.concat();
    bytes.extend(packet(NOOP, b"", b"", b"", 0xfeed, 0));
    mc.send(&bytes);
    let mut responses = Vec::new();
    loop {
        let response = read_response(mc);
        if response.op == NOOP && response.opaque == 0xfeed {
            return responses;
        }
        responses.push(response);
    }
}

/// (opcode, status, opaque, value) of each response, the fields most checks need.
fn summary(responses: &[Response]) -> Vec<(u8, u16, u32, Vec<u8>)> {
    responses
        .iter()
        .map(|r| (r.op, r.status, r.opaque, r.value.clone()))
        .collect()
}

#[test]
fn get_variants_and_quiet_misses() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        let responses = exchange(
            &mut mc,
            &[
                packet(SET, b"k", &store_extras(5, 0), b"v", 1, 0),
                packet(GET, b"k", b"", b"", 2, 0),
                packet(GETK, b"k", b"", b"", 3, 0),
                packet(GETQ, b"miss", b"", b"", 4, 0),
                packet(GETKQ, b"miss", b"", b"", 5, 0),
                packet(GETKQ, b"k", b"", b"", 6, 0),
                packet(GET, b"miss", b"", b"", 7, 0),
                packet(GETK, b"miss", b"", b"", 8, 0),
            ],
        );
        assert_eq!(responses.len(), 6, "{responses:?}");
        let stored_cas = responses[0].cas;
        assert_ne!(stored_cas, 0);
        assert_eq!(
            responses[1],
            Response {
                op: GET,
                status: 0,
                opaque: 2,
                cas: stored_cas,
                extras: 5u32.to_be_bytes().to_vec(),
                key: vec![],
                value: b"v".to_vec(),
            }
        );
        assert_eq!(
            (responses[2].key.as_slice(), responses[2].opaque),
            (&b"k"[..], 3)
        );
        assert_eq!(
            (responses[3].key.as_slice(), responses[3].opaque),
            (&b"k"[..], 6)
        );
        assert_eq!(
            summary(&responses[4..]),
            vec![(GET, 1, 7, b"Not found".to_vec()), (GETK, 1, 8, vec![])]
        );
        assert_eq!(responses[5].key, b"miss");
    });
}

#[test]
fn storage_opcodes_and_their_statuses() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        let none = store_extras(0, 0);
        let responses = exchange(
            &mut mc,
            &[
                packet(ADD, b"k", &none, b"v", 1, 0),
                packet(ADD, b"k", &none, b"v", 2, 0),
                packet(REPLACE, b"x", &none, b"v", 3, 0),
                packet(APPEND, b"x", b"", b"v", 4, 0),
                packet(PREPEND, b"k", b"", b"p", 5, 0),
                packet(APPEND, b"k", b"", b"a", 6, 0),
                packet(GET, b"k", b"", b"", 7, 0),
                packet(ADDQ, b"k", &none, b"v", 8, 0),
                packet(REPLACEQ, b"x", &none, b"v", 9, 0),
                packet(SETQ, b"q", &none, b"v", 10, 0),
                packet(APPENDQ, b"q", b"", b"w", 11, 0),
                packet(PREPENDQ, b"q", b"", b"u", 12, 0),
                packet(GET, b"q", b"", b"", 13, 0),
                packet(REPLACE, b"q", &none, b"r", 14, 0),
            ],
        );
        assert_eq!(
            summary(&responses),
            vec![
                (ADD, 0, 1, vec![]),
                (ADD, 2, 2, b"Data exists for key.".to_vec()),
                (REPLACE, 1, 3, b"Not found".to_vec()),
                (APPEND, 5, 4, b"Not stored.".to_vec()),
                (PREPEND, 0, 5, vec![]),
                (APPEND, 0, 6, vec![]),
                (GET, 0, 7, b"pva".to_vec()),
                (ADDQ, 2, 8, b"Data exists for key.".to_vec()),
                (REPLACEQ, 1, 9, b"Not found".to_vec()),
                (GET, 0, 13, b"uvw".to_vec()),
                (REPLACE, 0, 14, vec![]),
            ]
        );
        // CAS: a mismatch is "exists", on a missing key "not found"; deletes compare it too.
        let cas = responses[10].cas;
        let responses = exchange(
            &mut mc,
            &[
                packet(SET, b"q", &none, b"s", 1, cas + 1),
                packet(SET, b"nope", &none, b"s", 2, cas),
                packet(SET, b"q", &none, b"s", 3, cas),
                packet(DELETE, b"q", b"", b"", 4, cas),
                packet(DELETE, b"q", b"", b"", 5, 0),
                packet(DELETE, b"q", b"", b"", 6, 0),
                packet(DELETEQ, b"k", b"", b"", 7, 0),
                packet(DELETEQ, b"k", b"", b"", 8, 0),
            ],
        );
        assert_eq!(
            summary(&responses),
            vec![
                (SET, 2, 1, b"Data exists for key.".to_vec()),
                (SET, 1, 2, b"Not found".to_vec()),
                (SET, 0, 3, vec![]),
                (DELETE, 2, 4, b"Data exists for key.".to_vec()),
                (DELETE, 0, 5, vec![]),
                (DELETE, 1, 6, b"Not found".to_vec()),
                (DELETEQ, 1, 8, b"Not found".to_vec()),
            ]
        );
    });
}

#[test]
fn counters_touch_and_gat() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        let responses = exchange(
            &mut mc,
            &[
                packet(INCREMENT, b"n", &arith_extras(1, 10, 0), b"", 1, 0),
                packet(INCREMENT, b"n", &arith_extras(5, 10, 0), b"", 2, 0),
                packet(DECREMENT, b"n", &arith_extras(100, 10, 0), b"", 3, 0),
                packet(INCREMENT, b"m", &arith_extras(1, 10, u32::MAX), b"", 4, 0),
                packet(SET, b"t", &store_extras(0, 0), b"ab", 5, 0),
                packet(INCREMENT, b"t", &arith_extras(1, 0, 0), b"", 6, 0),
                packet(INCREMENTQ, b"n", &arith_extras(1, 0, 0), b"", 7, 0),
                packet(DECREMENTQ, b"m", &arith_extras(1, 0, u32::MAX), b"", 8, 0),
            ],
        );
        assert_eq!(
            summary(&responses),
            vec![
                (INCREMENT, 0, 1, 10u64.to_be_bytes().to_vec()),
                (INCREMENT, 0, 2, 15u64.to_be_bytes().to_vec()),
                (DECREMENT, 0, 3, 0u64.to_be_bytes().to_vec()),
                (INCREMENT, 1, 4, b"Not found".to_vec()),
                (SET, 0, 5, vec![]),
                (
                    INCREMENT,
                    6,
                    6,
                    b"Non-numeric server-side value for incr or decr".to_vec()
                ),
                (DECREMENTQ, 1, 8, b"Not found".to_vec()),
            ]
        );
        let ttl = 100u32.to_be_bytes();
        let responses = exchange(
            &mut mc,
            &[
                packet(SET, b"k", &store_extras(3, 0), b"v", 1, 0),
                packet(TOUCH, b"k", &ttl, b"", 2, 0),
                packet(GAT, b"k", &ttl, b"", 3, 0),
                packet(GATK, b"k", &ttl, b"", 4, 0),
                packet(GATQ, b"miss", &ttl, b"", 5, 0),
                packet(GATKQ, b"k", &ttl, b"", 6, 0),
                packet(TOUCH, b"miss", &ttl, b"", 7, 0),
            ],
        );
        assert_eq!(
            summary(&responses),
            vec![
                (SET, 0, 1, vec![]),
                (TOUCH, 0, 2, vec![]),
                (GAT, 0, 3, b"v".to_vec()),
                (GATK, 0, 4, b"v".to_vec()),
                (GATKQ, 0, 6, b"v".to_vec()),
                (TOUCH, 1, 7, b"Not found".to_vec()),
            ]
        );
        assert_eq!(responses[1].extras, 3u32.to_be_bytes());
        let mut con = server.connection();
        let ttl: i64 = query(&mut con, &["TTL", "k"]);
        assert!((98..=100).contains(&ttl), "{ttl}");
    });
}

#[test]
fn server_opcodes_and_errors() {
    let server = TestServer::start_memcached_with(2, &[("item-size-max", "2kb")]);
    let mut mc = server.memcached_raw();
    let responses = exchange(
        &mut mc,
        &[
            packet(SET, b"k", &store_extras(0, 0), b"v", 1, 0),
            packet(VERSION, b"", b"", b"", 2, 0),
            packet(FLUSHQ, b"", b"", b"", 3, 0),
            packet(GET, b"k", b"", b"", 4, 0),
            packet(SET, b"k", &store_extras(0, 0), b"v", 5, 0),
            packet(FLUSH, b"", b"", b"", 6, 0),
            packet(GET, b"k", b"", b"", 7, 0),
            packet(0x55, b"", b"", b"", 8, 0),
            packet(SET, b"big", &store_extras(0, 0), &[b'x'; 3000], 9, 0),
        ],
    );
    assert_eq!(responses[1].op, VERSION);
    assert!(responses[1].value.starts_with(b"1.6."));
    assert_eq!(
        summary(&responses[2..]),
        vec![
            (GET, 1, 4, b"Not found".to_vec()),
            (SET, 0, 5, vec![]),
            (FLUSH, 0, 6, vec![]),
            (GET, 1, 7, b"Not found".to_vec()),
            (0x55, 0x81, 8, b"Unknown command".to_vec()),
            (SET, 3, 9, b"Too large.".to_vec()),
        ]
    );
    // STAT: one response per statistic, then an empty one.
    mc.send(&packet(STAT, b"", b"", b"", 10, 0));
    let mut names = Vec::new();
    loop {
        let response = read_response(&mut mc);
        assert_eq!((response.op, response.status), (STAT, 0));
        if response.key.is_empty() {
            break;
        }
        names.push(String::from_utf8(response.key).unwrap());
    }
    assert!(names.contains(&"curr_items".to_string()), "{names:?}");
    // A malformed packet (GET with extras) gets "Invalid arguments" and the connection closes.
    mc.send(&packet(GET, b"k", b"xx", b"", 11, 0));
    let response = read_response(&mut mc);
    assert_eq!(
        (response.status, response.value.as_slice()),
        (4, &b"Invalid arguments"[..])
    );
    assert_eq!(mc.read_to_close(), b"");
    // A bad magic closes without a word.
    let mut mc = server.memcached_raw();
    mc.send(&packet(NOOP, b"", b"", b"", 12, 0));
    assert_eq!(read_response(&mut mc).opaque, 12);
    mc.send(&[0x81; 24]);
    assert_eq!(mc.read_to_close(), b"");
    // QUIT answers then closes; QUITQ just closes.
    let mut mc = server.memcached_raw();
    mc.send(&packet(QUIT, b"", b"", b"", 13, 0));
    assert_eq!(read_response(&mut mc).op, QUIT);
    assert_eq!(mc.read_to_close(), b"");
    let mut mc = server.memcached_raw();
    mc.send(&packet(QUITQ, b"", b"", b"", 14, 0));
    assert_eq!(mc.read_to_close(), b"");
}
