//! Address checks that keep the hub from being used to reach private networks,
//! and URL normalisation required by the spec.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Whether `ip` is a public (globally routable unicast) address.
///
/// Loopback, private, link-local, shared (CGNAT), documentation, benchmarking,
/// multicast, broadcast, reserved and unspecified addresses are not public.
/// IPv6 addresses embedding an IPv4 address are judged by that address;
/// tunnel and translation prefixes that can lead anywhere (6to4 `2002::/16`,
/// Teredo `2001::/32`, local-use NAT64 `64:ff9b:1::/48`) are not public.
pub(crate) fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32: tunnels to any IPv4 host
        || s[0] == 0x2002 // 6to4 2002::/16: embeds an IPv4 address, private ones too
        || s[..3] == [0x64, 0xff9b, 1] // local-use NAT64 64:ff9b:1::/48, RFC 8215
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// Whether `ip` is a loopback address (IPv4-mapped IPv6 included).
pub(crate) fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether the URL's host is certainly private: an IP literal that is not public,
/// or a `localhost` name. Other names are checked when resolved (see
/// [`crate::build_client`]).
pub(crate) fn is_private_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => !is_public_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => !is_public_ip(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => is_localhost_name(name),
        None => true,
    }
}

fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Decodes percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`), which
/// hubs must do for topic and callback URLs (WebSub 5.1.1). Other escapes stay.
pub(crate) fn decode_unreserved(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let decoded = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if let Some(b) = decoded {
                out.push(char::from(b));
                i += 3;
                continue;
            }
        }
        // Copy one whole character (the input is valid UTF-8).
        let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_and_private_addresses() {
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2a00:1450:4001:82a::200e",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
        ] {
            assert!(is_public_ip(ip(public)), "{public} should be public");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public_ip(ip(private)), "{private} should be private");
        }
    }

    #[test]
    fn six_to_four_is_refused() {
        // 2002:c0a8:0101:: embeds 192.168.1.1, 2002:5db8:d822:: a public one:
        // both are refused, since a 6to4 relay decides where they lead.
        for a in [
            "2002::1",
            "2002:c0a8:101::1",
            "2002:5db8:d822::1",
            "2002:ffff:ffff::",
        ] {
            assert!(!is_public_ip(ip(a)), "{a} should be refused");
        }
        assert!(is_public_ip(ip("2003::1")));
    }

    #[test]
    fn teredo_is_refused() {
        for a in [
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:ffff::",
        ] {
            assert!(!is_public_ip(ip(a)), "{a} should be refused");
        }
        // Neighbours of 2001::/32 stay public.
        assert!(is_public_ip(ip("2001:1::1")));
        assert!(is_public_ip(ip("2001:4860:4860::8888")));
    }

    #[test]
    fn local_use_nat64_is_refused() {
        for a in ["64:ff9b:1::1", "64:ff9b:1::5db8:d822", "64:ff9b:1:ffff::1"] {
            assert!(!is_public_ip(ip(a)), "{a} should be refused");
        }
        // The well-known prefix 64:ff9b::/96 is judged by its IPv4 address.
        assert!(is_public_ip(ip("64:ff9b::5db8:d822")));
        assert!(!is_public_ip(ip("64:ff9b::7f00:1")));
    }

    #[test]
    fn private_hosts() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(is_private_host(&url("http://127.0.0.1:8080/cb")));
        assert!(is_private_host(&url("http://[::1]/cb")));
        assert!(is_private_host(&url("http://localhost/cb")));
        assert!(is_private_host(&url("http://api.LOCALHOST./cb")));
        assert!(is_private_host(&url("http://10.0.0.1/cb")));
        assert!(!is_private_host(&url("https://reader.example/cb")));
        assert!(!is_private_host(&url("https://93.184.216.34/cb")));
        assert!(is_loopback_ip(ip("127.0.0.1")));
        assert!(is_loopback_ip(ip("::1")));
        assert!(is_loopback_ip(ip("::ffff:127.0.0.2")));
        assert!(!is_loopback_ip(ip("10.0.0.1")));
    }

    #[test]
    fn decodes_only_unreserved_escapes() {
        assert_eq!(
            decode_unreserved("https://ex.ample/%7Euser/%41%2Fb%20c%2e%5F"),
            "https://ex.ample/~user/A%2Fb%20c._"
        );
        assert_eq!(decode_unreserved("100%"), "100%");
        assert_eq!(decode_unreserved("%4"), "%4");
        assert_eq!(decode_unreserved("%zz%41"), "%zzA");
        assert_eq!(decode_unreserved("/ä%C3%A4"), "/ä%C3%A4");
    }
}
