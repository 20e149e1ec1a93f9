//! guest-network-get-interfaces, guest-network-get-route: the board's
//! [`crate::platform::Network`].
//!
//! Keys come in qemu-ga's serialisation order (wire-protocol.md §3.3). An
//! interface's `ip-addresses` is left out when it has none, as qemu-ga does.

use super::render::{Entries, Obj, list};
use super::{Call, Outcome, command};
use crate::args::NoArgs;
use crate::error::HookError;
use crate::platform::{IpKind, NetInterface, Network, Platform, Route};

command!(
    /// `guest-network-get-interfaces`.
    GUEST_NETWORK_GET_INTERFACES = "guest-network-get-interfaces", NoArgs, interfaces
);
command!(
    /// `guest-network-get-route`.
    GUEST_NETWORK_GET_ROUTE = "guest-network-get-route", NoArgs, routes
);

fn board<P: Platform>(p: &mut P) -> Result<&mut dyn Network, HookError> {
    p.network().ok_or(HookError::Unsupported)
}

fn interfaces<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        board(p)?.interfaces(&mut |n: &NetInterface<'_>| {
            e.entry(|out| {
                let mut o = Obj::open(out);
                o.str("name", n.name);
                if !n.addresses.is_empty() {
                    let list = o.key("ip-addresses");
                    list.str("[");
                    for (i, a) in n.addresses.iter().enumerate() {
                        if i > 0 {
                            list.str(", ");
                        }
                        let mut ip = Obj::open(list);
                        ip.raw(
                            "ip-address-type",
                            match a.kind {
                                IpKind::V4 => "\"ipv4\"",
                                IpKind::V6 => "\"ipv6\"",
                            },
                        );
                        ip.str("ip-address", a.address);
                        ip.int("prefix", a.prefix);
                        ip.close();
                    }
                    list.str("]");
                }
                if let Some(s) = n.statistics {
                    let mut st = Obj::open(o.key("statistics"));
                    st.uint("tx-packets", s.tx_packets);
                    st.uint("tx-errs", s.tx_errs);
                    st.uint("rx-bytes", s.rx_bytes);
                    st.uint("rx-dropped", s.rx_dropped);
                    st.uint("rx-packets", s.rx_packets);
                    st.uint("rx-errs", s.rx_errs);
                    st.uint("tx-bytes", s.tx_bytes);
                    st.uint("tx-dropped", s.tx_dropped);
                    st.close();
                }
                o.opt_str("hardware-address", n.hardware_address);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn routes<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        board(p)?.routes(&mut |r: &Route<'_>| {
            e.entry(|out| {
                let mut o = Obj::open(out);
                o.opt_uint("flags", r.flags);
                o.opt_str("source", r.source);
                o.int("metric", r.metric);
                o.opt_int("refcnt", r.refcnt);
                o.opt_int("window", r.window);
                o.int("version", r.version);
                o.opt_str("nexthop", r.nexthop);
                o.str("iface", r.iface);
                o.str("destination", r.destination);
                o.opt_str("desprefixlen", r.desprefixlen);
                o.opt_int("irtt", r.irtt);
                o.opt_str("gateway", r.gateway);
                o.opt_str("srcprefixlen", r.srcprefixlen);
                o.opt_int("use", r.use_count);
                o.opt_int("mtu", r.mtu);
                o.opt_str("mask", r.mask);
                o.close();
            })
        })
    }
    list(call, visit)
}
