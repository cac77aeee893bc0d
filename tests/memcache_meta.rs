//! Meta commands (mg ms md ma mn me) and every flag named by the issue (b c f h k l O q s t v E
//! N T I M F, with C D J u), over real sockets. Expected replies are memcached 1.6.18's, with CAS
//! values (which differ between servers) masked as `c#`.

mod common;

use common::*;

/// Reads everything the server sends in reply to `request` up to and including the `mn` the
/// helper appends, with CAS values masked.
fn exchange(mc: &mut RawClient, request: &[u8]) -> String {
    let mut full = request.to_vec();
    full.extend_from_slice(b"mn\r\n");
    mc.send(&full);
    let mut reply = Vec::new();
    while !reply.ends_with(b"MN\r\n") {
        reply.extend(mc.read_exact_len(1));
    }
    reply.truncate(reply.len() - 4);
    mask(&String::from_utf8(reply).expect("utf-8 reply"))
}

/// Replaces the digits after ` c` and `cas=` (CAS values differ between servers) and after ` l`
/// and `la=` (seconds since the last access: 0 or 1 depending on where a second boundary falls)
/// with `#`.
fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let mut last_two = String::new();
    while let Some(c) = chars.next() {
        out.push(c);
        last_two.push(c);
        if last_two.len() > 4 {
            last_two.remove(0);
        }
        let masked = [" c", "cas=", " l", "la="];
        if masked.iter().any(|tail| last_two.ends_with(tail))
            && chars.peek().is_some_and(|d| d.is_ascii_digit())
        {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('#');
        }
    }
    out
}

#[test]
fn meta_get_and_set_flags() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        assert_eq!(
            exchange(&mut mc, b"ms mk 3 F5 T100 c k O123\r\nabc\r\n"),
            "HD c# kmk O123\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"mg mk v f t c k s h l O9\r\n"),
            "VA 3 f5 t100 c# kmk s3 h0 l# O9\r\nabc\r\n"
        );
        assert_eq!(exchange(&mut mc, b"mg mk h l\r\n"), "HD h1 l#\r\n");
        // u: no bump, so h stays as it was for the next reader too.
        assert_eq!(exchange(&mut mc, b"ms u 1\r\nx\r\n"), "HD\r\n");
        assert_eq!(exchange(&mut mc, b"mg u h u\r\n"), "HD h0\r\n");
        assert_eq!(exchange(&mut mc, b"mg u h\r\n"), "HD h0\r\n");
        assert_eq!(exchange(&mut mc, b"mg miss v k O1\r\n"), "EN kmiss O1\r\n");
        // q hides EN only.
        assert_eq!(
            exchange(&mut mc, b"mg miss v q\r\nmg mk q k\r\n"),
            "HD kmk\r\n"
        );
        // T sets the TTL (0: none).
        assert_eq!(exchange(&mut mc, b"mg mk T0 t\r\n"), "HD t-1\r\n");
        // Modes: E add, A append, P prepend, R replace, S set.
        assert_eq!(
            exchange(
                &mut mc,
                b"ms x 2 ME\r\nab\r\nms x 2 ME\r\nab\r\nms x 1 MA\r\nc\r\nms x 1 MP\r\n_\r\n"
            ),
            "HD\r\nNS\r\nHD\r\nHD\r\n"
        );
        assert_eq!(
            exchange(
                &mut mc,
                b"ms none 1 MR\r\nz\r\nms none 1 MA\r\nz\r\nmg x v\r\n"
            ),
            "NS\r\nNS\r\nVA 4\r\n_abc\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"ms x 1 MX\r\nz\r\n"),
            "CLIENT_ERROR invalid mode for ms M token\r\n"
        );
        // C compares, E sets the new CAS explicitly, q hides HD.
        assert_eq!(
            exchange(&mut mc, b"ms x 1 C1\r\nz\r\nms y 1 C1\r\nz\r\n"),
            "EX\r\nNF\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"ms x 1 E77777 q\r\nz\r\nmg x c v\r\n"),
            "VA 1 c#\r\nz\r\n"
        );
        let mut raw = server.memcached_raw();
        raw.send(b"mg x c\r\n");
        assert_eq!(raw.read_exact_len(b"HD c77777\r\n".len()), b"HD c77777\r\n");
        assert_eq!(exchange(&mut mc, b"ms x 1 C77777 c\r\ny\r\n"), "HD c#\r\n");
        // b: base64 keys, echoed encoded.
        assert_eq!(
            exchange(
                &mut mc,
                b"ms dGVzdA== 2 b k\r\nhi\r\nmg dGVzdA== b v k\r\nmg test v\r\n"
            ),
            "HD kdGVzdA== b\r\nVA 2 kdGVzdA== b\r\nhi\r\nVA 2\r\nhi\r\n"
        );
        // A data block of the wrong length: a bad chunk, whatever q says.
        assert_eq!(
            exchange(&mut mc, b"ms x 1 q\r\nzz\r\n"),
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n"
        );
    });
}

#[test]
fn meta_delete_arithmetic_and_tokens() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        assert_eq!(
            exchange(
                &mut mc,
                b"ms mk 1\r\nx\r\nmd mk q\r\nmd mk\r\nmd mk q O5 k\r\n"
            ),
            "HD\r\nNF\r\nNF O5 kmk\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"ms c 1\r\nx\r\nmd c C1\r\nmd c\r\n"),
            "HD\r\nEX\r\nHD\r\n"
        );
        // ma: NF, N with J creates, D delta, M mode, v returns, c and t report, q hides HD.
        assert_eq!(
            exchange(
                &mut mc,
                b"ma cnt\r\nma cnt N0 J10 v\r\nma cnt v c t\r\nma cnt MD D5 v\r\nma cnt q\r\nma cnt2 q\r\n"
            ),
            "NF\r\nVA 2\r\n10\r\nVA 2 c# t-1\r\n11\r\nVA 1\r\n6\r\nNF\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"me cnt\r\nmg cnt s v\r\n"),
            "ME cnt exp=-1 la=# cas=# fetch=no cls=1 size=64\r\nVA 2 s2\r\n7 \r\n"
        );
        assert_eq!(exchange(&mut mc, b"me nope\r\n"), "EN\r\n");
        assert_eq!(
            exchange(&mut mc, b"ms t 2\r\nab\r\nma t\r\nma x MX\r\nma x Dz\r\n"),
            "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n\
             CLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR invalid or duplicate flag\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"ma cnt C1\r\nma cnt T100 t\r\n"),
            "EX\r\nHD t100\r\n"
        );
        // N on a miss creates an empty item and wins (W); later readers see the token taken (Z).
        assert_eq!(
            exchange(&mut mc, b"mg k N30 v c t\r\nmg k v c t\r\n"),
            "VA 0 c# t30 W\r\n\r\nVA 0 c# t30 Z\r\n\r\n"
        );
        // md I: stale (X), the next reader wins; R wins a token when less TTL is left.
        assert_eq!(
            exchange(&mut mc, b"md k I T30\r\nmg k v c\r\nmg k c\r\n"),
            "HD\r\nVA 0 c# X W\r\n\r\nHD c# Z X\r\n"
        );
        assert_eq!(
            exchange(&mut mc, b"ms r 1 T10\r\nx\r\nmg r R30\r\nmg r R30\r\n"),
            "HD\r\nHD W\r\nHD Z\r\n"
        );
        // ms I with a CAS older than the item's stores a stale value; a newer mismatch is EX.
        assert_eq!(
            exchange(
                &mut mc,
                b"ms i 1 E100\r\na\r\nms i 1 E200\r\nb\r\nms i 1 I C100\r\nz\r\n\
                  mg i v t\r\nmg i v\r\nms i 1 I C999999\r\nq\r\n"
            ),
            "HD\r\nHD\r\nHD\r\nVA 1 t-1 X W\r\nz\r\nVA 1 Z X\r\nz\r\nEX\r\n"
        );
    });
}

#[test]
fn meta_errors_match_memcached() {
    let server = TestServer::start_memcached(1);
    let mut mc = server.memcached_raw();
    let long_key = "k".repeat(251);
    let long_opaque = format!("O{}", "x".repeat(40));
    let request = format!(
        "mg\r\nmg k zz\r\nmg k v v\r\nmz k\r\nms k\r\nms k abc\r\nmg {long_key} v\r\nmg k {long_opaque}\r\nma\r\nmd\r\n"
    );
    assert_eq!(
        exchange(&mut mc, request.as_bytes()),
        "ERROR\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\nERROR\r\n\
         CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n\
         CLIENT_ERROR bad command line format\r\nCLIENT_ERROR opaque token too long\r\n\
         ERROR\r\nERROR\r\n"
    );
    let flags: Vec<String> = (0..20).map(|i| format!("O{i}")).collect();
    let request = format!("mg k {}\r\n", flags.join(" "));
    assert_eq!(
        exchange(&mut mc, request.as_bytes()),
        "CLIENT_ERROR options flags are too long\r\n"
    );
    // F needs a number; T too.
    assert_eq!(
        exchange(&mut mc, b"ms k 1 Fx\r\nz\r\nmg k Tx\r\n"),
        "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad token in command line format\r\n"
    );
}
