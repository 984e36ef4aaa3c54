"""coin.p2p.banman and coin.p2p.addrman: bans, discouragement, the address book."""

import ipaddress
import json

import pytest

from coin.consensus.errors import Rejection, RejectKind
from coin.p2p.addrman import MAX_FAILURES, AddrMan, join_host_port, split_host_port
from coin.p2p.banman import BanMan, is_local, parse_subnet
from coin.p2p.relay import tx_ban_score
from coin.p2p.sync import block_ban_score


class FakeClock:
    def __init__(self, t: float = 1_700_000_000):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("text, net", [
    ("1.2.3.4", "1.2.3.4/32"),
    ("1.2.3.0/24", "1.2.3.0/24"),
    ("1.2.3.7/255.255.255.0", "1.2.3.0/24"),
    ("::1", "::1/128"),
    ("[::1]", "::1/128"),
    ("::ffff:1.2.3.4", "1.2.3.4/32"),
], ids=lambda v: str(v))
def test_parse_subnet(text, net):
    assert parse_subnet(text) == ipaddress.ip_network(net)


@pytest.mark.parametrize("text", ["", "1.2.3", "example.com", "1.2.3.4/33"])
def test_parse_subnet_refuses(text):
    with pytest.raises(ValueError):
        parse_subnet(text)


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("0.1.2.3", True), ("localhost", True),
    ("10.0.0.1", False), ("8.8.8.8", False), ("2001:db8::1", False), ("x.onion", False),
])
def test_is_local(host, local):
    assert is_local(host) is local


def test_bans_cover_subnets_expire_and_persist(tmp_path):
    clock = FakeClock()
    bm = BanMan(tmp_path, clock=clock, default_bantime=100)
    bm.ban("10.1.0.0/16")
    bm.ban("2001:db8::1", 50)
    assert bm.is_banned("10.1.2.3") and not bm.is_banned("10.2.0.1")
    assert bm.is_banned("2001:db8::1") and not bm.is_banned("2001:db8::2")
    listed = {e["address"]: e for e in bm.list_banned()}
    assert set(listed) == {"10.1.0.0/16", "2001:db8::1"}
    assert listed["10.1.0.0/16"]["ban_duration"] == 100 and listed["2001:db8::1"]["time_remaining"] == 50
    data = json.loads((tmp_path / "banlist.json").read_text())
    assert set(data["banned_nets"]) == {"10.1.0.0/16", "2001:db8::1"}
    again = BanMan(tmp_path, clock=clock)
    again.load()
    assert again.is_banned("10.1.200.1")
    clock.t += 60
    assert not bm.is_banned("2001:db8::1") and bm.is_banned("10.1.0.1")
    assert bm.unban("10.1.0.0/16") and not bm.unban("10.1.0.0/16")
    assert bm.list_banned() == []


def test_corrupt_banlist_is_ignored(tmp_path):
    (tmp_path / "banlist.json").write_text("{not json")
    bm = BanMan(tmp_path, clock=FakeClock())
    bm.load()
    assert bm.list_banned() == []


def test_discouragement_expires_and_is_bounded(monkeypatch):
    import coin.p2p.banman as banman
    monkeypatch.setattr(banman, "MAX_DISCOURAGED", 3)
    clock = FakeClock()
    bm = BanMan(None, clock=clock, default_bantime=10)
    for i in range(5):
        bm.discourage(f"10.0.0.{i}")
    assert [bm.is_discouraged(f"10.0.0.{i}") for i in range(5)] == [False, False, True, True, True]
    clock.t += 11
    assert not bm.is_discouraged("10.0.0.4")


@pytest.mark.parametrize("text, host, port", [
    ("1.2.3.4:8333", "1.2.3.4", 8333),
    ("1.2.3.4", "1.2.3.4", 18444),
    ("[::1]:99", "::1", 99),
    ("[::1]", "::1", 18444),
    ("::1", "::1", 18444),
    ("localhost:5", "localhost", 5),
])
def test_split_host_port(text, host, port):
    assert split_host_port(text, 18444) == (host, port)
    assert split_host_port(join_host_port(host, port), 0) == (host, port)


@pytest.mark.parametrize("text", ["", "1.2.3.4:x", "1.2.3.4:0", "1.2.3.4:70000", "[::1", ":5"])
def test_split_host_port_refuses(text):
    with pytest.raises(ValueError):
        split_host_port(text, 18444)


def test_addrman_add_select_good_and_persist(tmp_path):
    clock = FakeClock()
    am = AddrMan(tmp_path, clock=clock)
    assert am.add("10.0.0.1", 8333, services=1, time=int(clock.t) - 100)
    assert not am.add("10.0.0.1", 8333, services=8)       # known: services merged
    assert am.get("10.0.0.1:8333").services == 9
    assert am.add("10.0.0.2", 8333, time=int(clock.t) + 10_000)  # from the future: now
    assert am.get("10.0.0.2:8333").time == int(clock.t)
    assert not am.add("10.0.0.3", 0) and not am.add("", 1)
    am.attempt("10.0.0.1:8333")
    picked = {am.select().key for _ in range(50)}
    assert picked == {"10.0.0.2:8333"}                    # 10.0.0.1 was just tried
    assert am.select(exclude={"10.0.0.2:8333"}) is None
    am.good("10.0.0.1:8333")
    assert am.get("10.0.0.1:8333").attempts == 0
    am.save()
    again = AddrMan(tmp_path, clock=clock)
    again.load()
    assert {a.key for a in again.all()} == {"10.0.0.1:8333", "10.0.0.2:8333"}


def test_addrman_is_bounded_and_keeps_good_addresses():
    clock = FakeClock()
    am = AddrMan(None, clock=clock, max_size=5)
    am.add("10.0.0.0", 1)
    am.good("10.0.0.0:1")
    for i in range(1, 20):
        am.add(f"10.0.0.{i}", 1)
    assert len(am) == 5 and "10.0.0.0:1" in am


def test_addrman_full_book_adds_in_constant_work(monkeypatch):
    """A full book makes room without walking it: 1,000 new addresses into 4,096 used to
    scan every entry per address (2 s on the event loop)."""
    from coin.p2p import addrman as addrman_module
    clock = FakeClock()
    am = AddrMan(None, clock=clock)
    for i in range(am.max_size):
        am.add(f"10.{i // 250}.{i % 250}.1", 8333, source=f"172.{i % 200}.0.1")
    assert len(am) == am.max_size
    looked_at = 0
    real = addrman_module.AddrInfo.is_terrible

    def counting(self, now):
        nonlocal looked_at
        looked_at += 1
        return real(self, now)

    monkeypatch.setattr(addrman_module.AddrInfo, "is_terrible", counting)
    added = sum(am.add(f"11.{i // 250}.{i % 250}.1", 8333, source=f"173.{i % 200}.0.1") for i in range(1000))
    assert added == 1000 and len(am) == am.max_size
    assert looked_at <= 1000 * 16


def test_one_source_group_cannot_fill_the_book():
    """Core buckets new addresses by the sender's network group; here one /16 holds at
    most 1/16 of the book, and its flood replaces its own entries, not others'."""
    clock = FakeClock()
    am = AddrMan(None, clock=clock)
    honest = set()
    for s in range(100):
        for i in range(20):
            assert am.add(f"10.{s}.{i}.1", 8333, source=f"192.{s}.7.7")
            honest.add(f"10.{s}.{i}.1:8333")
    for i in range(10_000):
        am.add(f"44.{i // 250}.{i % 250}.9", 8333, source=f"66.6.{i % 256}.{i % 7}")
    flood = [a for a in am.all() if a.source.startswith("66.6.")]
    assert 0 < len(flood) <= am.max_size // 16
    assert am.source_group_count("66.6.1.1") == len(flood)
    assert honest <= {a.key for a in am.all()}
    # the newest of the flood are the ones kept
    assert "44.39.249.9:8333" in am and "44.0.0.9:8333" not in am
    # an address that worked leaves the new table and is never evicted for a new one
    am.good("10.0.0.1:8333")
    assert am.tried_count == 1 and am.source_group_count("192.0.7.7") == 19


def test_addrman_reload_keeps_tables(tmp_path):
    clock = FakeClock()
    am = AddrMan(tmp_path, clock=clock)
    for i in range(300):
        am.add(f"10.{1 + i // 250}.{i % 250}.1", 8333, source="66.6.0.1")
    am.add("10.9.0.1", 8333, source="1.1.1.1")
    am.good("10.9.0.1:8333")
    am.save()
    again = AddrMan(tmp_path, clock=clock)
    again.load()
    assert len(again) == len(am) and again.tried_count == 1
    assert again.source_group_count("66.6.9.9") == am.source_group_count("66.6.0.1") == am.source_group_cap
    again.remove("10.2.49.1:8333")
    assert again.source_group_count("66.6.0.1") == am.source_group_cap - 1


def test_addrman_drops_terrible_addresses():
    clock = FakeClock()
    am = AddrMan(None, clock=clock)
    am.add("10.0.0.1", 1)
    for _ in range(MAX_FAILURES):
        am.attempt("10.0.0.1:1")
    clock.t += 3600
    am.cleanup()
    assert len(am) == 0


def test_get_addr_answers_a_bounded_sample():
    am = AddrMan(None, clock=FakeClock())
    for i in range(3000):
        am.add(f"10.{i // 250}.{i % 250}.1", 8333)
    addrs = am.get_addr()
    assert len(addrs) == 3000 * 23 // 100 and len({a.key for a in addrs}) == len(addrs)
    small = AddrMan(None, clock=FakeClock())
    small.add("10.0.0.1", 1)
    small.add("10.0.0.2", 1)
    assert len(small.get_addr()) == 2


@pytest.mark.parametrize("kind, score, block_score, tx_score", [
    (RejectKind.CONSENSUS, 100, 100, 100),
    (RejectKind.HEADER, 100, 100, 100),
    (RejectKind.CACHED_INVALID, 100, 100, 100),
    (RejectKind.TIME_FUTURE, 0, 0, 0),
    (RejectKind.PREV_MISSING, 0, 0, 0),
    (RejectKind.DUPLICATE, 100, 0, 0),
    (RejectKind.POLICY, 100, 100, 0),
    (RejectKind.CONFLICT, 100, 100, 0),
    (RejectKind.MISSING_INPUTS, 100, 100, 0),
], ids=lambda v: getattr(v, "value", str(v)))
def test_honest_failures_cost_nothing(kind, score, block_score, tx_score):
    r = Rejection("x", kind=kind, ban_score=score)
    assert block_ban_score(r) == block_score
    assert tx_ban_score(r) == tx_score
