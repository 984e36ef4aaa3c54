"""coin.config: Core-style flags, coin.conf sections, precedence, errors."""

from pathlib import Path

import pytest

from coin.config import CLI_ARGS, NODE_ARGS, ConfigError, help_message, parse_args


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def parse(datadir: Path, *argv: str, conf: str | None = None, **kw):
    if conf is not None:
        (datadir / "coin.conf").write_text(conf)
    return parse_args([f"-datadir={datadir}", *argv], **kw)


# -- command line --------------------------------------------------------------------


def test_value_forms(datadir):
    c = parse(datadir, "-dbcache=100", "-txindex", "-nolisten", "--rpcthreads=3")
    assert c.get_int("dbcache", 450) == 100
    assert c.get_bool("txindex", False) is True
    assert c.get_bool("listen", True) is False
    assert c.get_int("rpcthreads", 16) == 3
    assert c.get_int("maxconnections", 125) == 125
    assert not c.is_set("maxconnections")


def test_double_negative_means_true_with_warning(datadir):
    c = parse(datadir, "-nolisten=0")
    assert c.get_bool("listen", False) is True
    assert any("double-negative -nolisten=0" in w for w in c.warnings)


def test_last_command_line_value_wins(datadir):
    c = parse(datadir, "-dbcache=1", "-dbcache=2")
    assert c.get_int("dbcache", 0) == 2


def test_repeatable_flags_keep_order(datadir):
    c = parse(datadir, "-addnode=a:1", "-addnode=b:2", "-debug=net", "-debug=rpc", "-loadblock=/x")
    assert c.get_list("addnode") == ["a:1", "b:2"]
    assert c.get_list("debug") == ["net", "rpc"]
    assert c.get_list("loadblock") == ["/x"]
    assert c.get_list("connect") == []


def test_negation_clears_list(datadir):
    c = parse(datadir, "-connect=a", "-noconnect", conf="connect=b\n")
    assert c.get_list("connect") == []
    assert c.is_negated("connect")


def test_unknown_flag_is_core_error(datadir):
    with pytest.raises(ConfigError) as e:
        parse(datadir, "-foo=1")
    assert str(e.value) == "Error parsing command line arguments: Invalid parameter -foo=1"


def test_unexpected_token(datadir):
    with pytest.raises(ConfigError, match="unexpected token 'getblockcount'"):
        parse(datadir, "getblockcount")


def test_cli_keeps_positional_tokens(datadir):
    c = parse(datadir, "-named", "getblock", "blockhash=00", "-x", args=CLI_ARGS, allow_positional=True)
    assert c.positional == ["getblock", "blockhash=00", "-x"]
    assert c.get_bool("named", False)


def test_bad_integer(datadir):
    c = parse(datadir, "-rpcport=abc")
    with pytest.raises(ConfigError, match="-rpcport"):
        c.get_int("rpcport", 1)


# -- networks and datadirs ---------------------------------------------------------------


def test_main_uses_base_datadir_and_ports(datadir):
    c = parse(datadir)
    assert c.chain == "main"
    assert c.net_datadir == datadir.resolve()
    assert (c.rpc_port, c.p2p_port) == (8332, 8333)


@pytest.mark.parametrize("flag", ["-regtest", "-chain=regtest", "-regtest=1"])
def test_regtest_subdir_and_ports(datadir, flag):
    c = parse(datadir, flag)
    assert c.chain == "regtest"
    assert c.net_datadir == datadir.resolve() / "regtest"
    assert (c.rpc_port, c.p2p_port) == (18443, 18444)


def test_regtest_chain_conflict(datadir):
    with pytest.raises(ConfigError, match="Invalid combination of -regtest and -chain"):
        parse(datadir, "-regtest", "-chain=main")


def test_unknown_chain(datadir):
    with pytest.raises(ConfigError, match="Unknown chain testnet"):
        parse(datadir, "-chain=testnet")


def test_missing_datadir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as e:
        parse_args([f"-datadir={missing}"])
    assert str(e.value) == f'Specified data directory "{missing}" does not exist.'


def test_default_datadir_is_created(tmp_path):
    home = tmp_path / "home" / ".coin"
    c = parse_args(["-regtest"], home_datadir=home)
    assert home.is_dir()
    assert c.net_datadir == home / "regtest"


# -- coin.conf -----------------------------------------------------------------------


CONF = """\
# a comment
dbcache = 10   # trailing comment
debug=net
rpcuser=alice
[regtest]
dbcache=20
debug=rpc
rpcport=19000
[main]
dbcache=30
"""


def test_sections_apply_per_network(datadir):
    reg = parse(datadir, "-regtest", conf=CONF)
    main = parse(datadir, conf=CONF)
    assert reg.get_int("dbcache", 0) == 20
    assert main.get_int("dbcache", 0) == 30
    assert reg.get("rpcuser") == "alice" and main.get("rpcuser") == "alice"
    assert reg.get_list("debug") == ["rpc", "net"]
    assert main.get_list("debug") == ["net"]
    assert reg.rpc_port == 19000
    assert main.rpc_port == 8332


def test_command_line_overrides_conf(datadir):
    c = parse(datadir, "-regtest", "-dbcache=99", conf=CONF)
    assert c.get_int("dbcache", 0) == 99


def test_first_conf_value_wins(datadir):
    c = parse(datadir, conf="dbcache=1\ndbcache=2\n")
    assert c.get_int("dbcache", 0) == 1


def test_regtest_selected_from_conf(datadir):
    c = parse(datadir, conf="regtest=1\n[regtest]\nrpcport=12345\n")
    assert c.chain == "regtest" and c.rpc_port == 12345


def test_network_only_flag_in_top_section_ignored_on_regtest(datadir):
    c = parse(datadir, "-regtest", conf="rpcport=1234\nport=1235\n")
    assert c.rpc_port == 18443 and c.p2p_port == 18444
    assert "Config setting for -rpcport only applied on regtest network when in [regtest] section." in c.warnings
    main = parse(datadir, conf="rpcport=1234\n")
    assert main.rpc_port == 1234


def test_prefixed_key_form(datadir):
    c = parse(datadir, "-regtest", conf="regtest.dbcache=7\nmain.dbcache=8\n")
    assert c.get_int("dbcache", 0) == 7


def test_conf_relative_to_datadir_and_explicit_missing(datadir):
    (datadir / "other.conf").write_text("dbcache=5\n")
    assert parse(datadir, "-conf=other.conf").get_int("dbcache", 0) == 5
    with pytest.raises(ConfigError, match='specified config file "missing.conf" could not be opened'):
        parse(datadir, "-conf=missing.conf")


def test_missing_default_conf_is_fine(datadir):
    assert parse(datadir).conf_path is None


def test_unknown_conf_key_node_error_cli_ignores(datadir):
    with pytest.raises(ConfigError, match="Invalid configuration value rpcconnect"):
        parse(datadir, conf="rpcconnect=1.2.3.4\n")
    c = parse(datadir, conf="rpcconnect=1.2.3.4\ndbcache=3\n", args=CLI_ARGS, allow_positional=True, ignore_unknown_conf=True)
    assert c.get("rpcconnect") == "1.2.3.4"


@pytest.mark.parametrize(
    "text, message",
    [
        ("nolisten\n", "parse error on line 1: nolisten, if you intended to specify a negated option, use nolisten=1 instead"),
        ("dbcache=1\nbogus line\n", "parse error on line 2: bogus line"),
        ("rpcpassword=ab#cd\n", "using # in rpcpassword can be ambiguous"),
    ],
    ids=["negation-without-value", "no-equals", "hash-in-password"],
)
def test_conf_parse_errors(datadir, text, message):
    with pytest.raises(ConfigError, match=message):
        parse(datadir, conf=text)


def test_conf_negation(datadir):
    c = parse(datadir, conf="nolisten=1\n")
    assert c.get_bool("listen", True) is False


def test_logged_args_mask_secrets(datadir):
    c = parse(datadir, "-rpcpassword=hunter2", "-rpcauth=u:s$h", conf="rpcuser=bob\n")
    text = "\n".join(c.logged_args())
    assert "hunter2" not in text and "u:s$h" not in text and "bob" not in text
    assert "rpcpassword=****" in text


def test_get_path(datadir):
    c = parse(datadir, "-regtest", "-pid=my.pid")
    assert c.get_path("pid", "coind.pid") == datadir.resolve() / "regtest" / "my.pid"
    assert parse(datadir, "-regtest", "-norpccookiefile").get_path("rpccookiefile", ".cookie") is None


def test_help_lists_every_flag_with_default():
    text = help_message(NODE_ARGS, header="coind")
    for arg in NODE_ARGS:
        assert f"  -{arg.name}" in text
    assert "(default: 300)" in text  # dbcache


def test_tables_have_unique_names():
    for table in (NODE_ARGS, CLI_ARGS):
        names = [a.name for a in table]
        assert len(names) == len(set(names))
