//! WebSub: a hub subscription request's form body through `form_pairs`
//! and `parse_hub_request`, as `POST /websub` reads it.
#![no_main]

use herold_websub::{form_pairs, parse_hub_request, HubPolicy, HubRequest, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (transport, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 3 {
                0 => Transport::Https,
                1 => Transport::Loopback,
                _ => Transport::PlainHttp,
            },
            rest,
        ),
        None => (Transport::Https, data),
    };
    let form = form_pairs(body);
    let policy = HubPolicy::default();
    let topics = |u: &url::Url| u.as_str().starts_with("https://stadt.example/feeds/");
    if let Ok(HubRequest::Subscribe(s)) = parse_hub_request(&form, &policy, &topics, transport) {
        assert!(s.callback.fragment().is_none());
        assert!(topics(&s.topic));
        assert!(s.lease >= policy.lease.min() && s.lease <= policy.lease.max());
        assert!(s.secret.is_none() || transport != Transport::PlainHttp);
    }
});
