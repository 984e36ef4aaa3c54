"""coin.log: debug.log lines in Core's format, -debug categories, reopen after rotation."""

import re

import pytest

from coin.config import ConfigError, parse_args
from coin.log import CATEGORIES, NodeLogging, get_logger, parse_categories

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (.*)$")


@pytest.fixture
def datadir(tmp_path):
    return tmp_path


def _logging(datadir, *argv):
    config = parse_args([f"-datadir={datadir}", "-regtest", *argv])
    logs = NodeLogging(config)
    logs.start()
    return logs


def _lines(path):
    return path.read_text().splitlines()


def test_parse_categories():
    assert parse_categories([""], []) == set(CATEGORIES)
    assert parse_categories(["1"], ["net"]) == set(CATEGORIES) - {"net"}
    assert parse_categories(["net", "rpc"], []) == {"net", "rpc"}
    assert parse_categories(["net", "0"], []) == set()
    with pytest.raises(ConfigError, match=r"Unsupported logging category -debug=bogus\."):
        parse_categories(["bogus"], [])


def test_lines_and_categories(datadir):
    logs = _logging(datadir, "-debug=net")
    try:
        get_logger().info("hello %d", 1)
        get_logger("net").debug("peer connected")
        get_logger("mempool").debug("hidden")
        get_logger("net.peer").debug("child logger")
        get_logger().warning("careful")
    finally:
        logs.stop()
    path = datadir / "regtest" / "debug.log"
    bodies = [LINE.match(line).group(1) for line in _lines(path)]
    assert bodies == ["hello 1", "[net] peer connected", "[net] child logger", "[warning] careful"]


def test_enable_disable_at_runtime(datadir):
    logs = _logging(datadir)
    try:
        get_logger("rpc").debug("off")
        assert logs.enable("rpc")
        get_logger("rpc").debug("on")
        assert not logs.enable("nosuch")
        assert logs.disable("all")
        get_logger("rpc").debug("off again")
        assert logs.categories() == {c: False for c in CATEGORIES}
    finally:
        logs.stop()
    bodies = [LINE.match(line).group(1) for line in _lines(datadir / "regtest" / "debug.log")]
    assert bodies == ["[rpc] on"]


def test_reopen_after_rotation(datadir):
    logs = _logging(datadir)
    path = datadir / "regtest" / "debug.log"
    try:
        get_logger().info("first")
        path.rename(path.with_name("debug.log.1"))
        logs.reopen()
        get_logger().info("second")
    finally:
        logs.stop()
    assert [LINE.match(x).group(1) for x in _lines(path)] == ["second"]


def test_nodebuglogfile_writes_nothing(datadir):
    logs = _logging(datadir, "-nodebuglogfile")
    try:
        get_logger().info("x")
    finally:
        logs.stop()
    assert not (datadir / "regtest" / "debug.log").exists()
