//! What one request sends and what each reply must be: RESP (redis-server, shardis) and the
//! memcached text protocol. Every reply is checked byte for byte where its content is known.

use crate::args::{Args, Commands, Protocol};

/// One command of a request and the reply it must get.
pub struct Step {
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

pub enum Expect {
    /// RESP `+OK`.
    Ok,
    /// RESP `:n` with n > 0 (INCR).
    Positive,
    /// RESP bulk equal to the value, or nil when `may_miss` (a key nobody set yet).
    Bulk { value: Vec<u8>, may_miss: bool },
    /// memcached `STORED`.
    Stored,
    /// memcached `VALUE key 0 len` + value + `END`, or a bare `END` when `may_miss`.
    McValue {
        key: Vec<u8>,
        value: Vec<u8>,
        may_miss: bool,
    },
    /// memcached `incr`: a number, or `NOT_FOUND` for a counter nobody created.
    McIncr,
}

/// The value stored under key number `n`: the number, padded to `size` bytes, so a GET can
/// check it got this key's value and not another's (a truncated number when `size` is smaller).
pub fn value_for(n: u64, size: usize) -> Vec<u8> {
    let mut value = n.to_string().into_bytes();
    value.resize(size, b'.');
    value
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The steps of one request on key number `n`, AUTH and SELECT first, as a PHP client does them.
pub fn request(args: &Args, n: u64) -> Vec<Step> {
    let mut steps = Vec::with_capacity(4);
    if let Some(password) = &args.auth {
        steps.push(Step {
            bytes: resp(&[b"AUTH", password.as_bytes()]),
            expect: Expect::Ok,
        });
    }
    if let Some(db) = args.select {
        steps.push(Step {
            bytes: resp(&[b"SELECT", db.to_string().as_bytes()]),
            expect: Expect::Ok,
        });
    }
    let key = format!("lg:{n}").into_bytes();
    let value = value_for(n, args.value_size);
    let set = |steps: &mut Vec<Step>| match args.protocol {
        Protocol::Resp => steps.push(Step {
            bytes: resp(&[b"SET", &key, &value]),
            expect: Expect::Ok,
        }),
        Protocol::Memcache => {
            let mut bytes = format!("set lg:{n} 0 0 {}\r\n", value.len()).into_bytes();
            bytes.extend_from_slice(&value);
            bytes.extend_from_slice(b"\r\n");
            steps.push(Step {
                bytes,
                expect: Expect::Stored,
            })
        }
    };
    let get = |steps: &mut Vec<Step>, may_miss: bool| match args.protocol {
        Protocol::Resp => steps.push(Step {
            bytes: resp(&[b"GET", &key]),
            expect: Expect::Bulk {
                value: value.clone(),
                may_miss,
            },
        }),
        Protocol::Memcache => steps.push(Step {
            bytes: format!("get lg:{n}\r\n").into_bytes(),
            expect: Expect::McValue {
                key: key.clone(),
                value: value.clone(),
                may_miss,
            },
        }),
    };
    match args.commands {
        Commands::Get => get(&mut steps, true),
        Commands::Set => set(&mut steps),
        Commands::SetGet => {
            set(&mut steps);
            get(&mut steps, false);
        }
        // Counters under their own prefix, so they never meet a SET's value.
        Commands::Incr => match args.protocol {
            Protocol::Resp => steps.push(Step {
                bytes: resp(&[b"INCR", format!("lg:ctr:{n}").as_bytes()]),
                expect: Expect::Positive,
            }),
            Protocol::Memcache => steps.push(Step {
                bytes: format!("incr lg:ctr:{n} 1\r\n").into_bytes(),
                expect: Expect::McIncr,
            }),
        },
    }
    steps
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

/// Whether `buf` starts with a whole reply for `expect`: `None` while incomplete, else the
/// reply's length and whether it is the right one (an error text when not).
pub fn check(expect: &Expect, buf: &[u8]) -> Option<(usize, Result<(), String>)> {
    let end = line_end(buf, 0)?;
    let line = &buf[..end];
    let mut len = end + 2;
    let shown = || String::from_utf8_lossy(line).into_owned();
    let verdict = match expect {
        Expect::Ok => same(line, b"+OK", &shown),
        Expect::Positive => match line.strip_prefix(b":").map(std::str::from_utf8) {
            Some(Ok(n)) if n.parse::<i64>().is_ok_and(|n| n > 0) => Ok(()),
            _ => Err(format!("INCR replied {}", shown())),
        },
        Expect::Bulk { value, may_miss } => {
            if line == b"$-1" {
                if *may_miss {
                    Ok(())
                } else {
                    Err("GET after SET replied nil".to_string())
                }
            } else if let Some(Ok(Ok(size))) = line
                .strip_prefix(b"$")
                .map(|n| std::str::from_utf8(n).map(str::parse::<usize>))
            {
                len += size + 2;
                if buf.len() < len {
                    return None;
                }
                let got = &buf[end + 2..end + 2 + size];
                same(got, value, || String::from_utf8_lossy(got).into_owned())
            } else {
                Err(format!("GET replied {}", shown()))
            }
        }
        Expect::Stored => same(line, b"STORED", &shown),
        Expect::McIncr => {
            if line == b"NOT_FOUND"
                || std::str::from_utf8(line).is_ok_and(|n| n.parse::<u64>().is_ok())
            {
                Ok(())
            } else {
                Err(format!("incr replied {}", shown()))
            }
        }
        Expect::McValue {
            key,
            value,
            may_miss,
        } => {
            if line == b"END" {
                if *may_miss {
                    Ok(())
                } else {
                    Err("get after set replied END (a miss)".to_string())
                }
            } else {
                let mut header = b"VALUE ".to_vec();
                header.extend_from_slice(key);
                header.extend_from_slice(format!(" 0 {}", value.len()).as_bytes());
                if line != header.as_slice() {
                    return Some((len, Err(format!("get replied {}", shown()))));
                }
                let data_end = len + value.len();
                len = data_end + 2 + 5; // value, CRLF, "END\r\n"
                if buf.len() < len {
                    return None;
                }
                let tail = &buf[data_end..len];
                if &buf[end + 2..data_end] != value.as_slice() || tail != b"\r\nEND\r\n" {
                    Err(format!(
                        "get replied a wrong value: {}",
                        String::from_utf8_lossy(&buf[..len])
                    ))
                } else {
                    Ok(())
                }
            }
        }
    };
    Some((len, verdict))
}

fn same(got: &[u8], want: &[u8], shown: impl Fn() -> String) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "expected {}, got {}",
            String::from_utf8_lossy(want),
            shown()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_replies() {
        let ok = Expect::Ok;
        assert_eq!(check(&ok, b"+OK"), None);
        assert_eq!(check(&ok, b"+OK\r\n"), Some((5, Ok(()))));
        assert!(check(&ok, b"-ERR no\r\n").unwrap().1.is_err());
        let bulk = Expect::Bulk {
            value: b"7...".to_vec(),
            may_miss: false,
        };
        assert_eq!(check(&bulk, b"$4\r\n7.."), None);
        assert_eq!(check(&bulk, b"$4\r\n7...\r\n"), Some((10, Ok(()))));
        assert!(check(&bulk, b"$4\r\n8...\r\n").unwrap().1.is_err());
        assert!(check(&bulk, b"$-1\r\n").unwrap().1.is_err());
        assert_eq!(check(&Expect::Positive, b":3\r\n"), Some((4, Ok(()))));
        assert_eq!(value_for(7, 4), b"7...");
    }

    #[test]
    fn memcache_replies() {
        let get = Expect::McValue {
            key: b"lg:7".to_vec(),
            value: b"7...".to_vec(),
            may_miss: true,
        };
        assert_eq!(check(&get, b"END\r\n"), Some((5, Ok(()))));
        let reply = b"VALUE lg:7 0 4\r\n7...\r\nEND\r\n";
        assert_eq!(check(&get, &reply[..20]), None);
        assert_eq!(check(&get, reply), Some((reply.len(), Ok(()))));
        assert_eq!(check(&Expect::Stored, b"STORED\r\n"), Some((8, Ok(()))));
        assert_eq!(check(&Expect::McIncr, b"NOT_FOUND\r\n"), Some((11, Ok(()))));
    }
}
