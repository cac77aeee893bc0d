//! Unit tests of `resp`.

use super::*;

/// How feeding a case's whole input ends.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Every byte consumed.
    Complete,
    /// Some bytes left, waiting for more.
    Pending,
    /// Parsing stopped with this protocol error.
    Error(&'static str),
}
use Outcome::{Complete, Error, Pending};

struct Case {
    input: &'static [u8],
    commands: &'static [&'static [&'static [u8]]],
    outcome: Outcome,
}

const fn case(
    input: &'static [u8],
    commands: &'static [&'static [&'static [u8]]],
    outcome: Outcome,
) -> Case {
    Case {
        input,
        commands,
        outcome,
    }
}

const CASES: &[Case] = &[
    // Multibulk.
    case(b"*1\r\n$4\r\nPING\r\n", &[&[b"PING"]], Complete),
    case(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
        &[&[b"SET", b"k", b"hello"]],
        Complete,
    ),
    case(
        b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        &[&[b"ECHO", b""]],
        Complete,
    ),
    case(
        b"*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\0\xff*\r\n",
        &[&[b"ECHO", b"\r\n\0\xff*"]],
        Complete,
    ),
    case(
        b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n",
        &[&[b"PING"], &[b"ECHO", b"hi"], &[b"PING"]],
        Complete,
    ),
    case(b"*0\r\n", &[], Complete),
    case(b"*0\r\n*1\r\n$4\r\nPING\r\n", &[&[b"PING"]], Complete),
    case(
        b"*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n*0\r\n",
        &[&[b"PING"]],
        Complete,
    ),
    case(b"*-9223372036854775808\r\n", &[], Complete),
    // Redis skips the byte after a header's `\r` and the two after bulk data unchecked.
    case(
        b"*1\rX$4\rYPING??*1\r\n$1\r\na\r\n",
        &[&[b"PING"], &[b"a"]],
        Complete,
    ),
    case(b"*2147483647\r\n$1\r\na\r\n", &[], Pending),
    case(b"*2\r\n$3\r\nGET\r\n", &[], Pending),
    case(b"*2\r\n$3\r\nGET\r\n$3\r\nke", &[], Pending),
    case(b"*1\r\n$536870912\r\n", &[], Pending),
    case(
        b"*1\r\n$4\r\nPING\r\n*1\r\n$3\r\nfoo\r",
        &[&[b"PING"]],
        Pending,
    ),
    // strchr stops at NUL, so the terminator behind it is never seen.
    case(b"*1\0\r\n", &[], Pending),
    case(b"*1\r\n$1\0\r\na\r\n", &[], Pending),
    // Mixed inline and multibulk.
    case(
        b"PING\r\n*1\r\n$4\r\nPING\r\nECHO hi\n*2\r\n$4\r\nECHO\r\n$2\r\nyo\r\n",
        &[&[b"PING"], &[b"PING"], &[b"ECHO", b"hi"], &[b"ECHO", b"yo"]],
        Complete,
    ),
    // Multibulk count errors.
    case(b"*01\r\n", &[], Error("invalid multibulk length")),
    case(b"*+1\r\n", &[], Error("invalid multibulk length")),
    case(b"* 1\r\n", &[], Error("invalid multibulk length")),
    case(b"*1 \r\n", &[], Error("invalid multibulk length")),
    case(b"*\r\n", &[], Error("invalid multibulk length")),
    case(b"*-\r\n", &[], Error("invalid multibulk length")),
    case(b"*-0\r\n", &[], Error("invalid multibulk length")),
    case(b"*1x\r\n", &[], Error("invalid multibulk length")),
    case(b"*2147483648\r\n", &[], Error("invalid multibulk length")),
    case(
        b"*99999999999999999999\r\n",
        &[],
        Error("invalid multibulk length"),
    ),
    case(
        b"*-9223372036854775809\r\n",
        &[],
        Error("invalid multibulk length"),
    ),
    case(
        b"*00000000000000000001\r\n",
        &[],
        Error("invalid multibulk length"),
    ),
    // Bulk header errors.
    case(b"*1\r\n:3\r\n", &[], Error("expected '$', got ':'")),
    case(
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
        &[],
        Error("expected '$', got 'f'"),
    ),
    case(b"*1\r\n\r\n", &[], Error("expected '$', got ' '")),
    case(b"*1\r\n\n\r\n", &[], Error("expected '$', got ' '")),
    case(b"*1\r\n$-1\r\n", &[], Error("invalid bulk length")),
    case(b"*1\r\n$01\r\n", &[], Error("invalid bulk length")),
    case(b"*1\r\n$\r\n", &[], Error("invalid bulk length")),
    case(b"*1\r\n$ 1\r\n", &[], Error("invalid bulk length")),
    case(b"*1\r\n$+1\r\n", &[], Error("invalid bulk length")),
    case(b"*1\r\n$536870913\r\n", &[], Error("invalid bulk length")),
    case(
        b"*1\r\n$4\r\nPING\r\n*1\r\nfoo\r\n",
        &[&[b"PING"]],
        Error("expected '$', got 'f'"),
    ),
    case(
        b"PING\n*1\r\n$-5\r\nPING\n",
        &[&[b"PING"]],
        Error("invalid bulk length"),
    ),
    // Inline.
    case(b"PING\r\n", &[&[b"PING"]], Complete),
    case(b"PING\n", &[&[b"PING"]], Complete),
    case(b" \tSET  k\t v \r\n", &[&[b"SET", b"k", b"v"]], Complete),
    case(b"\n", &[], Complete),
    case(b"\r\n", &[], Complete),
    case(b" \t\n\r\n  \r\nPING\n", &[&[b"PING"]], Complete),
    case(
        b"PING\nPING\r\nECHO a b\n",
        &[&[b"PING"], &[b"PING"], &[b"ECHO", b"a", b"b"]],
        Complete,
    ),
    case(
        b"SET \"a b\" 'c d'\n",
        &[&[b"SET", b"a b", b"c d"]],
        Complete,
    ),
    case(b"SET k \"\" ''\n", &[&[b"SET", b"k", b"", b""]], Complete),
    case(
        b"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\xzz\\q\\xff\"\n",
        &[&[b"ECHO", b"\n\r\t\x08\x07\\\"AJxzzq\xff"]],
        Complete,
    ),
    case(
        b"ECHO 'it\\'s \\n \\x41 \"'\n",
        &[&[b"ECHO", b"it's \\n \\x41 \""]],
        Complete,
    ),
    case(
        b"foo\"bar baz\" x'y'\n",
        &[&[b"foobar baz", b"xy"]],
        Complete,
    ),
    // Vertical tab and form feed are blanks between words but do not end one.
    case(b"\x0b\x0ca\x0bb c\n", &[&[b"a\x0bb", b"c"]], Complete),
    case(b"\"a\"\x0b'b'\x0c\n", &[&[b"a", b"b"]], Complete),
    // Only the `\r` right before `\n` is stripped; another one separates words.
    case(b"a\rb\n", &[&[b"a", b"b"]], Complete),
    case(b"PING\r\r\n", &[&[b"PING"]], Complete),
    case(b"\xff\xfe x\n", &[&[b"\xff\xfe", b"x"]], Complete),
    case(b"PING", &[], Pending),
    case(b"PING\r", &[], Pending),
    case(b"PING\0\n", &[], Pending),
    case(b"PING\nPING\0\n", &[&[b"PING"]], Pending),
    // Inline errors.
    case(b"ECHO \"a\n", &[], Error("unbalanced quotes in request")),
    case(b"ECHO 'a\r\n", &[], Error("unbalanced quotes in request")),
    case(b"ECHO \"a\"x\n", &[], Error("unbalanced quotes in request")),
    case(b"ECHO 'a'x\n", &[], Error("unbalanced quotes in request")),
    case(
        b"ECHO \"a\\\"\n",
        &[],
        Error("unbalanced quotes in request"),
    ),
    case(b"ECHO 'a\\'\n", &[], Error("unbalanced quotes in request")),
    case(b"ECHO \"a\\\n", &[], Error("unbalanced quotes in request")),
    case(
        b"PING\nECHO \"x\n",
        &[&[b"PING"]],
        Error("unbalanced quotes in request"),
    ),
];

/// Commands as plain vectors, for comparing and printing.
type Commands = Vec<Vec<Vec<u8>>>;

fn to_vecs(commands: &[Vec<Bytes>]) -> Commands {
    commands
        .iter()
        .map(|command| command.iter().map(|argument| argument.to_vec()).collect())
        .collect()
}

fn check(what: &str, (commands, error, left): FeedOutcome, expected: &Commands, outcome: Outcome) {
    assert_eq!(&to_vecs(&commands), expected, "{what}: commands");
    let left_len = left.len();
    match outcome {
        Complete => assert!(
            error.is_none() && left.is_empty(),
            "{what}: {error:?}, {left_len} bytes left"
        ),
        Pending => assert!(
            error.is_none() && !left.is_empty(),
            "{what}: {error:?}, {left_len} bytes left"
        ),
        Error(text) => assert_eq!(error, Some(ProtocolError::new(text)), "{what}"),
    }
}

/// Feeds `input` whole, one byte at a time, and in two parts at each split point `splits`
/// yields, checking every way gives the same result.
fn check_all_ways(
    input: &[u8],
    expected: &Commands,
    outcome: Outcome,
    splits: impl Iterator<Item = usize>,
) {
    let limits = ParserLimits::default();
    let shown = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
    check(
        &format!("{shown:?} whole"),
        feed(&[input], &limits),
        expected,
        outcome,
    );
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    check(
        &format!("{shown:?} a byte at a time"),
        feed(&bytes, &limits),
        expected,
        outcome,
    );
    for split in splits {
        let (head, tail) = input.split_at(split);
        check(
            &format!("{shown:?} split at {split}"),
            feed(&[head, tail], &limits),
            expected,
            outcome,
        );
    }
}

#[test]
fn table_fed_whole_bytewise_and_split_everywhere() {
    for case in CASES {
        let expected: Commands = case
            .commands
            .iter()
            .map(|command| command.iter().map(|argument| argument.to_vec()).collect())
            .collect();
        check_all_ways(case.input, &expected, case.outcome, 0..=case.input.len());
    }
}

fn repeat(prefix: &[u8], byte: u8, count: usize, suffix: &[u8]) -> Vec<u8> {
    let mut input = prefix.to_vec();
    input.resize(prefix.len() + count, byte);
    input.extend_from_slice(suffix);
    input
}

#[test]
fn lines_without_terminator_stop_at_64_kib() {
    let some_splits = |len: usize| (0..=len).step_by(4099);
    // (input, expected, outcome); 65,536 bytes may wait for a terminator, 65,537 may not.
    let cases: Vec<(Vec<u8>, Commands, Outcome)> = vec![
        (repeat(b"*", b'0', 65535, b""), vec![], Pending),
        (
            repeat(b"*", b'0', 65536, b""),
            vec![],
            Error("too big mbulk count string"),
        ),
        (repeat(b"*", b'0', 65535, b"\r"), vec![], Pending),
        (
            repeat(b"*", b'0', 65535, b"\r\n"),
            vec![],
            Error("invalid multibulk length"),
        ),
        (repeat(b"*1\r\n$", b'0', 65535, b""), vec![], Pending),
        (
            repeat(b"*1\r\n$", b'0', 65536, b""),
            vec![],
            Error("too big bulk count string"),
        ),
        (
            repeat(b"*1\r\n$", b'0', 65535, b"\r\n"),
            vec![],
            Error("invalid bulk length"),
        ),
        (
            repeat(b"*1\r\n$1\0", b'0', 65534, b""),
            vec![],
            Error("too big bulk count string"),
        ),
        (repeat(b"", b'x', 65536, b""), vec![], Pending),
        (
            repeat(b"", b'x', 65537, b""),
            vec![],
            Error("too big inline request"),
        ),
        (
            repeat(b"", b'x', 65536, b"\n"),
            vec![vec![vec![b'x'; 65536]]],
            Complete,
        ),
        (
            repeat(b"", b'x', 65537, b"\n"),
            vec![],
            Error("too big inline request"),
        ),
        // Behind a NUL the newline stays hidden; what counts is how much is buffered.
        (repeat(b"PING\0", b'x', 65530, b"\n"), vec![], Pending),
        (
            repeat(b"PING\0", b'x', 65531, b"\n"),
            vec![],
            Error("too big inline request"),
        ),
        (
            repeat(b"PING\n", b'x', 65537, b""),
            vec![vec![b"PING".to_vec()]],
            Error("too big inline request"),
        ),
    ];
    for (input, expected, outcome) in cases {
        check_all_ways(&input, &expected, outcome, some_splits(input.len()));
    }
}

#[test]
fn arguments_share_the_request_buffer() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\nPING"[..]);
    let base = buf.as_ptr() as usize;
    let arguments = RespParser::new()
        .parse(&mut buf, &ParserLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(arguments, [&b"foo"[..], b"bar"]);
    assert_eq!(arguments[0].as_ptr() as usize, base + 8);
    assert_eq!(arguments[1].as_ptr() as usize, base + 17);
    assert_eq!(&buf[..], b"PING");
}

#[test]
fn bulk_over_the_limit_fails_before_its_data() {
    let limits = ParserLimits {
        proto_max_bulk_len: 10,
    };
    let mut parser = RespParser::new();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$11\r"[..]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    buf.extend_from_slice(b"\n");
    assert_eq!(
        parser.parse(&mut buf, &limits),
        Err(ProtocolError::new("invalid bulk length"))
    );

    let mut buf = BytesMut::from(&b"*1\r\n$10\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
}

#[test]
fn wanted_counts_the_rest_of_a_bulk() {
    let limits = ParserLimits::default();
    let mut parser = RespParser::new();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$1000\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    assert_eq!(parser.wanted(), 1002);
    buf.extend_from_slice(&[b'v'; 600]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    assert_eq!(parser.wanted(), 402);
    buf.extend_from_slice(&[b'v'; 400]);
    buf.extend_from_slice(b"\r");
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    assert_eq!(parser.wanted(), 1);
    buf.extend_from_slice(b"\n*1\r\n$4\r\nPI");
    let arguments = parser.parse(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(arguments.len(), 2);
    assert_eq!(arguments[1].len(), 1000);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    assert_eq!(parser.wanted(), 4);
    // A line still arriving: unknown. A huge announced count alone reserves nothing.
    let mut buf = BytesMut::from(&b"*2147483647\r\n$12"[..]);
    let mut parser = RespParser::new();
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    assert_eq!(parser.wanted(), 0);
}

#[test]
fn reset_drops_progress_and_errors_reset_themselves() {
    let limits = ParserLimits::default();
    let mut parser = RespParser::new();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nk"[..]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    parser.reset();
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
    assert_eq!(
        parser.parse(&mut buf, &limits),
        Ok(Some(vec![Bytes::from_static(b"PING")]))
    );

    let mut buf = BytesMut::from(&b"*1\r\n$3\r\nfoo\r\n*1\r\nx\r\n"[..]);
    assert!(parser.parse(&mut buf, &limits).unwrap().is_some());
    assert!(parser.parse(&mut buf, &limits).is_err());
    let mut buf = BytesMut::from(&b"PING\n"[..]);
    assert_eq!(
        parser.parse(&mut buf, &limits),
        Ok(Some(vec![Bytes::from_static(b"PING")]))
    );
}

#[test]
fn a_parser_that_lost_its_buffer_does_not_panic() {
    let limits = ParserLimits::default();
    let mut parser = RespParser::new();
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nval"[..]);
    assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    let mut other = BytesMut::from(&b"PI"[..]);
    assert_eq!(parser.parse(&mut other, &limits), Ok(None));
    let mut other = BytesMut::new();
    assert_eq!(parser.parse(&mut other, &limits), Ok(None));
}

/// A million arguments in 64 KiB reads: each call resumes where the last stopped, so this
/// stays linear (a re-scan per read would be some 100 times slower).
#[test]
fn million_argument_multibulk_in_64_kib_reads() {
    const COUNT: usize = 1_000_000;
    let mut input = b"*1000000\r\n".to_vec();
    for _ in 0..COUNT {
        input.extend_from_slice(b"$1\r\na\r\n");
    }
    let limits = ParserLimits::default();
    let mut parser = RespParser::new();
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    for chunk in input.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(command) = parser.parse(&mut buf, &limits).unwrap() {
            commands.push(command);
        }
    }
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].len(), COUNT);
    assert!(commands[0].iter().all(|argument| argument == &b"a"[..]));
    assert!(buf.is_empty());
}

/// Fed a byte at a time, a 20,000-argument request takes 140,000 calls; quadratic work would
/// be billions of steps, linear work is instant.
#[test]
fn many_small_reads_stay_linear() {
    let mut input = b"*20000\r\n".to_vec();
    for _ in 0..20_000 {
        input.extend_from_slice(b"$1\r\nb\r\n");
    }
    input.extend_from_slice(&[b'y'; 60_000]);
    input.extend_from_slice(b"\n");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (commands, error, left) = feed(&bytes, &ParserLimits::default());
    assert_eq!((commands.len(), error, left.len()), (2, None, 0));
    assert_eq!(commands[0].len(), 20_000);
    assert_eq!(commands[1], [Bytes::from(vec![b'y'; 60_000])]);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// The fuzz target's body over pseudo-random inputs: raw bytes; a soup of the pieces the
/// grammar is made of; and well-formed requests with a byte or two changed, which reach the
/// deepest states.
#[test]
fn fuzz_body_on_pseudo_random_inputs() {
    const PIECES: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\r",
        b"\n",
        b"0",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"10",
        b"2147483648",
        b"\0",
        b" ",
        b"\t",
        b"\x0b",
        b"\"",
        b"'",
        b"\\",
        b"\\x4",
        b"1",
        b"PING",
        b"a",
        b"\xff",
        b"*2\r\n",
        b"$3\r\n",
        b"foo",
        b"$20\r\n",
        b"*0\r\n",
    ];
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..6000 {
        let mut input = vec![random.next() as u8];
        match round % 3 {
            0 => input.extend((0..random.below(40)).map(|_| random.next() as u8)),
            1 => {
                for _ in 0..random.below(40) {
                    input.extend_from_slice(PIECES[random.below(PIECES.len())]);
                }
            }
            _ => {
                for _ in 0..1 + random.below(3) {
                    let count = random.below(4);
                    input.extend_from_slice(format!("*{count}\r\n").as_bytes());
                    for _ in 0..count {
                        let len = random.below(20);
                        input.extend_from_slice(format!("${len}\r\n").as_bytes());
                        input.extend((0..len).map(|_| random.next() as u8));
                        input.extend_from_slice(b"\r\n");
                    }
                }
                for _ in 0..random.below(3) {
                    let at = 1 + random.below(input.len() - 1);
                    input[at] = PIECES[random.below(PIECES.len())][0];
                }
            }
        }
        fuzz_one_input(&input);
    }
}
