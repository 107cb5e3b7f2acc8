//! What one peer, or all of them, may hold of the daemon: open connections (in all and per
//! address, an IPv6 /64 counting as one address), time for a request's head (idle keep-alive
//! included) and for its body, and requests per second per address (a token bucket by
//! `governor`, answered 429 with `Retry-After`). A connection over a limit is closed at once;
//! nothing of it reaches a handler.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limits the door keeps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one address at most.
    pub max_connections_per_ip: usize,
    /// How long a request's body may take, from its head.
    pub body_timeout: Duration,
    /// How long a connection may wait for a complete request head (idle keep-alive included).
    pub idle_timeout: Duration,
    /// Requests per second per address (burst twice that); 0: none.
    pub requests_per_ip_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_ip: 64,
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            requests_per_ip_per_second: 100,
        }
    }
}

/// The door's bookkeeping of open connections and request rates.
pub(super) struct Gate {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    rate: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

/// An admitted connection; dropping it gives its places back.
pub(super) struct Admitted {
    gate: Arc<Gate>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.0 = open.0.saturating_sub(1);
        if let Some(count) = open.1.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.address);
            }
        }
    }
}

/// Who a peer counts as: its IPv4 address, or its IPv6 /64 (one host usually has a whole /64).
fn address_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked above")),
        v4 => v4,
    }
}

impl Gate {
    /// A gate keeping `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        let rate = NonZeroU32::new(limits.requests_per_ip_per_second).map(|per_second| {
            let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("2 is not 0"));
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Arc::new(Self { limits, open: Mutex::new((0, HashMap::new())), rate })
    }

    /// The limits kept.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Take a place for a connection from `peer`, if one is free.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let address = address_of(peer);
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_there = open.1.get(&address).copied().unwrap_or(0);
        if open.0 >= self.limits.max_connections || from_there >= self.limits.max_connections_per_ip {
            return None;
        }
        open.0 += 1;
        *open.1.entry(address).or_insert(0) += 1;
        Some(Admitted { gate: Arc::clone(self), address })
    }

    /// Whether `peer` may make a request now; else how long until it may.
    pub fn allow_request(&self, peer: IpAddr) -> Result<(), Duration> {
        let Some(rate) = &self.rate else { return Ok(()) };
        rate.check_key(&address_of(peer)).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forget addresses whose buckets are full again (called now and then, so that many
    /// addresses seen once do not stay in memory).
    pub fn forget_idle(&self) {
        if let Some(rate) = &self.rate {
            rate.retain_recent();
            rate.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_in_all_and_per_address() {
        let gate = Gate::new(Limits { max_connections: 3, max_connections_per_ip: 2, ..Limits::default() });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "two per address");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit(b).is_none(), "three in all");
        drop(first);
        assert!(gate.admit(b).is_some(), "a place came free");
    }

    #[test]
    fn an_ipv6_64_is_one_address_and_requests_are_rate_limited() {
        let one: IpAddr = "2001:db8::1".parse().unwrap();
        let other: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        assert_eq!(address_of(one), address_of(other));
        assert_ne!(address_of(one), address_of("2001:db8:0:1::1".parse().unwrap()));
        let gate = Gate::new(Limits { requests_per_ip_per_second: 1, ..Limits::default() });
        assert!(gate.allow_request(one).is_ok() && gate.allow_request(other).is_ok(), "a burst of two");
        let wait = gate.allow_request(one).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(gate.allow_request("192.0.2.9".parse().unwrap()).is_ok(), "another address has its own bucket");
    }
}
