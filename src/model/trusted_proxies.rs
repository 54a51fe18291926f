//! `security.trusted_proxies`: the reverse proxies whose forwarded headers are believed,
//! each a single address (`"127.0.0.1"`) or a CIDR range (`"10.0.0.0/8"`, `"fd00::/8"`).
//! Both forms parse into one [`IpNet`] (a single address is a /32 or /128), so asking
//! "is this peer a trusted proxy" is one check whatever the operator wrote.
//!
//! IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is folded to IPv4 on both sides: a dual-stack
//! listener reports IPv4 peers that way, and the entry `"10.0.0.1"` must match them.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The trusted proxies, as configured. Empty (the default): no forwarded header is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether `ip` is, or lies in the range of, a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list (`"127.0.0.1, 10.0.0.0/8"`).
    fn from_str(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(|entry| parse_entry(entry.trim()))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// One entry: an address or a CIDR range, mapped IPv4 folded to IPv4.
fn parse_entry(entry: &str) -> Result<IpNet, String> {
    let net = match IpAddr::from_str(entry) {
        Ok(ip) => IpNet::from(ip),
        Err(_) => IpNet::from_str(entry).map_err(|_| {
            format!(
                "security.trusted_proxies: {entry:?} is neither an IP address nor a CIDR \
                 range (e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\")"
            )
        })?,
    };
    Ok(fold_mapped(net))
}

/// `::ffff:10.0.0.0/104` → `10.0.0.0/8`; anything else unchanged.
fn fold_mapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

/// Shown as written where it can be: a single address without `/32` or `/128`.
fn show(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(show))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    /// Refuses the whole list, naming the entry, when one entry is not an address or range:
    /// a typo must stop the start, not silently trust less (or more) than intended.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        entries
            .iter()
            .map(|e| parse_entry(e.trim()))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_ranges_of_both_families_are_trusted() {
        let t: TrustedProxies = "127.0.0.1, 10.0.0.0/8, fd00::/8, ::1".parse().unwrap();
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(t.trusts(ip("10.200.3.4")));
        assert!(!t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("fd12:3456::1")));
        assert!(!t.trusts(ip("fe80::1")));
        assert!(t.trusts(ip("::1")));
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_entries_and_mapped_entries_match_ipv4() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        assert!(t.trusts(ip("::ffff:10.1.2.3")));
        let mapped: TrustedProxies = "::ffff:192.168.0.0/112, ::ffff:127.0.0.1".parse().unwrap();
        assert!(mapped.trusts(ip("192.168.7.7")));
        assert!(mapped.trusts(ip("127.0.0.1")));
        assert!(!mapped.trusts(ip("192.169.0.1")));
    }

    #[test]
    fn invalid_entries_are_refused_with_the_entry_named() {
        for bad in [
            "10.0.0.0/33",
            "localhost",
            "10.0.0",
            "",
            "fd00::/129",
            "1.2.3.4/x",
        ] {
            let err = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            assert!(err.contains("security.trusted_proxies"), "{err}");
        }
    }

    #[test]
    fn serializes_as_written_for_berth_config() {
        let t: TrustedProxies = "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8".parse().unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"["127.0.0.1","10.0.0.0/8","::1","fd00::/8"]"#);
        assert_eq!(serde_json::from_str::<TrustedProxies>(&json).unwrap(), t);
    }
}
