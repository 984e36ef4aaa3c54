"""Fixtures shared by the functional tests: real coind processes through coin.regtest.

``regtest_node`` (one started node), ``make_node(*extra_args)`` and
``make_network(n, topology)`` come from :mod:`coin.regtest.pytest_plugin`; each stops
what it started when the test ends, passed or failed.
"""

from coin.regtest.pytest_plugin import make_network, make_node, regtest_node

__all__ = ["make_network", "make_node", "regtest_node"]
