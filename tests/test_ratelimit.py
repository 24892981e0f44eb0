"""The unknown-token limiter's address grouping (approval/ratelimit.py)."""

from __future__ import annotations

from jupyter_opensink.approval.ratelimit import GuessLimiter, client_group


def test_ipv6_addresses_count_per_64_and_ipv4_per_address():
    assert client_group("2001:db8:1:2::1") == client_group("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_group("2001:db8:1:3::1") != client_group("2001:db8:1:2::1")
    assert client_group("2001:DB8:1:2:0:0:0:1") == "2001:db8:1:2::/64"
    assert client_group("fe80::1%eth0") == "fe80::/64"
    assert client_group("203.0.113.7") == "203.0.113.7" != client_group("203.0.113.8")
    assert client_group("::ffff:203.0.113.7") == "203.0.113.7"  # IPv4-mapped: the IPv4 address
    assert client_group("unknown") == "unknown" and client_group("") == ""


def test_one_64_shares_one_count():
    limiter = GuessLimiter(3)
    for n in range(3):
        limiter.failed(client_group(f"2001:db8:1:2::{n + 1:x}"))
    assert limiter.retry_after(client_group("2001:db8:1:2:abcd::9")) > 0
    assert limiter.retry_after(client_group("2001:db8:1:3::1")) == 0
