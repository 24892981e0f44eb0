"""The outbound URL policy on its own: which addresses a callback or a job's request may reach."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_opensink.runtime.outbound import DEFAULT_BLOCKED, Outbound

LOOPBACK_BLOCKED = (*DEFAULT_BLOCKED, "127.0.0.0/8", "::1/128")

#: IPv6 spellings of blocked IPv4 addresses, each reaching that very address (or relaying to it).
METADATA_IN_DISGUISE = [
    "::ffff:169.254.169.254",  # IPv4-mapped: the kernel connects to the IPv4 address
    "::ffff:a9fe:a9fe",  # the same, in hex
    "::169.254.169.254",  # IPv4-compatible (deprecated)
    "64:ff9b::169.254.169.254",  # NAT64, well-known prefix
    "64:ff9b:1::a9fe:a9fe",  # NAT64, local-use prefix
    "2002:a9fe:a9fe::1",  # 6to4
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo whose client is 169.254.169.254 (obfuscated)
]
LOOPBACK_IN_DISGUISE = ["::ffff:127.0.0.1", "::ffff:7f00:1", "0.0.0.0", "::", "::ffff:0.0.0.0",
                        "64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1"]


@pytest.mark.parametrize("address", METADATA_IN_DISGUISE)
def test_the_default_policy_blocks_cloud_metadata_in_every_ipv6_form(address):
    assert not Outbound(timeout=1).permitted(address)


@pytest.mark.parametrize("address", LOOPBACK_IN_DISGUISE)
def test_blocked_loopback_is_blocked_in_every_form_and_through_the_unspecified_address(address):
    assert not Outbound(timeout=1, blocked=LOOPBACK_BLOCKED).permitted(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "::ffff:8.8.8.8", "2606:4700::1111", "64:ff9b::808:808",
                                     "2002:808:808::1", "127.0.0.1", "::1"])
def test_addresses_outside_the_blocked_networks_stay_permitted(address):
    assert Outbound(timeout=1).permitted(address)


def test_an_embedded_address_must_be_allowed_too():
    """With only public IPv4 allowed, a mapped private address is refused like the address itself."""
    policy = Outbound(timeout=1, allowed=["8.0.0.0/8", "::/0"], blocked=[])
    assert policy.permitted("::ffff:8.8.8.8") and policy.permitted("8.8.4.4")
    assert not policy.permitted("::ffff:10.0.0.1") and not policy.permitted("64:ff9b::a00:1")


def test_a_request_that_cannot_be_built_is_an_outcome_not_an_exception():
    """A header value stored before such values were refused fails the call with the reason."""

    async def send():
        outbound = Outbound(timeout=1)
        try:
            return await outbound.send("POST", "http://127.0.0.1:9/x", headers={"X-A": "caf\u00e9"}, body={})
        finally:
            await outbound.close()

    outcome = asyncio.run(send())
    assert not outcome.ok and outcome.status_code is None
    assert "could not be made" in outcome.error and "UnicodeEncodeError" in outcome.error
