//! Command-line flags: hand-parsed (`--name value`), so the generator needs nothing beyond std.

use std::net::Ipv4Addr;
use std::time::Duration;

/// The wire protocol a request speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    Resp,
    Memcache,
}

/// The commands one request sends after connecting (and AUTH/SELECT).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Commands {
    Get,
    Set,
    Incr,
    /// SET a key, then GET the same key and expect the value just set.
    SetGet,
}

#[derive(Clone, Debug)]
pub struct Args {
    /// Destination addresses, used in turn: spreading connections over several loopback
    /// addresses lifts the ephemeral-port ceiling of one address pair.
    pub hosts: Vec<Ipv4Addr>,
    pub port: u16,
    pub workers: usize,
    pub duration: Duration,
    pub commands: Commands,
    pub auth: Option<String>,
    pub select: Option<u32>,
    pub protocol: Protocol,
    pub keyspace: u64,
    pub value_size: usize,
}

pub const USAGE: &str = "usage: shardis-loadgen [--host-range 127.0.0.1-127.0.0.8] [--port 6379] \
[--workers 32] [--duration 10] [--commands get|set|incr|set+get] [--auth PW] [--select N] \
[--protocol resp|memcache] [--keyspace 100000] [--value-size 16]";

impl Args {
    pub fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            hosts: host_range("127.0.0.1-127.0.0.8")?,
            port: 6379,
            workers: 32,
            duration: Duration::from_secs(10),
            commands: Commands::SetGet,
            auth: None,
            select: None,
            protocol: Protocol::Resp,
            keyspace: 100_000,
            value_size: 16,
        };
        while let Some(flag) = words.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_string());
            }
            let value = words
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--host-range" => args.hosts = host_range(&value)?,
                "--port" => args.port = number(&flag, &value)?,
                "--workers" => args.workers = number(&flag, &value)?,
                "--duration" => {
                    let seconds: f64 = number(&flag, &value)?;
                    if !(seconds > 0.0 && seconds <= 3600.0) {
                        return Err(format!("--duration must be in (0, 3600] seconds"));
                    }
                    args.duration = Duration::from_secs_f64(seconds);
                }
                "--commands" => {
                    args.commands = match value.as_str() {
                        "get" => Commands::Get,
                        "set" => Commands::Set,
                        "incr" => Commands::Incr,
                        "set+get" => Commands::SetGet,
                        _ => {
                            return Err(format!(
                                "--commands: get, set, incr or set+get, got {value}"
                            ))
                        }
                    }
                }
                "--auth" => args.auth = Some(value),
                "--select" => args.select = Some(number(&flag, &value)?),
                "--protocol" => {
                    args.protocol = match value.as_str() {
                        "resp" => Protocol::Resp,
                        "memcache" => Protocol::Memcache,
                        _ => return Err(format!("--protocol: resp or memcache, got {value}")),
                    }
                }
                "--keyspace" => args.keyspace = number(&flag, &value)?,
                "--value-size" => args.value_size = number(&flag, &value)?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        if args.workers == 0 || args.keyspace == 0 {
            return Err("--workers and --keyspace must be positive".to_string());
        }
        if args.protocol == Protocol::Memcache && (args.auth.is_some() || args.select.is_some()) {
            return Err("--auth and --select are RESP-only".to_string());
        }
        Ok(args)
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a valid number: {value}"))
}

/// `127.0.0.1-127.0.0.8` (or one address): every address from the first to the last, loopback
/// only, so the generator cannot be pointed at another machine.
fn host_range(text: &str) -> Result<Vec<Ipv4Addr>, String> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let parse = |a: &str| {
        a.parse::<Ipv4Addr>()
            .map_err(|_| format!("--host-range: not an IPv4 address: {a}"))
    };
    let (first, last) = (u32::from(parse(first)?), u32::from(parse(last)?));
    if last < first || last - first >= 256 {
        return Err(format!("--host-range: empty or over 256 addresses: {text}"));
    }
    let hosts: Vec<Ipv4Addr> = (first..=last).map(Ipv4Addr::from).collect();
    if hosts.iter().any(|h| !h.is_loopback()) {
        return Err(format!(
            "--host-range: loopback addresses only (127.0.0.0/8): {text}"
        ));
    }
    Ok(hosts)
}
