"""pytest fixtures over :mod:`coin.regtest.framework`: nodes that are always stopped.

Use from a conftest (``from coin.regtest.pytest_plugin import *``) or as a plugin
(``pytest -p coin.regtest.pytest_plugin``). Every fixture stops what it started when
the test ends, passed or failed: ``stop`` first, SIGKILL if that fails; the node's
exit code is not checked on a failed test (the failure is what gets reported).

* ``regtest_node`` -- one running node in ``tmp_path/node0``.
* ``make_node(*extra_args, start=True)`` -- a factory for more nodes (``tmp_path/nodeN``).
* ``make_network(n=3, topology="line", connect=True, extra_args=())`` -- a factory for
  started :class:`~coin.regtest.framework.Network` s (``tmp_path/netN``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coin.regtest.framework import Network, TestNode

__all__ = ["make_network", "make_node", "regtest_node"]


def _stop_quietly(node: TestNode, check: bool) -> None:
    try:
        node.stop(expected_code=0 if check else None)
    except AssertionError:
        node.kill()
        if check:
            raise
    finally:
        node.kill()


@pytest.fixture
def make_node(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., TestNode]]:
    """``make_node(*extra_args, start=True, **TestNode_kwargs)`` -> TestNode; all stopped at the end."""
    nodes: list[TestNode] = []
    counter = itertools.count()

    def factory(*extra_args: str, start: bool = True, **kw: Any) -> TestNode:
        i = next(counter)
        node = TestNode(i, tmp_path / f"node{i}", extra_args=extra_args, **kw)
        nodes.append(node)
        if start:
            node.start()
        return node

    try:
        yield factory
    finally:
        for node in nodes:
            _stop_quietly(node, check=False)


@pytest.fixture
def regtest_node(make_node: Callable[..., TestNode]) -> TestNode:
    """One started regtest node (stopped after the test)."""
    return make_node()


@pytest.fixture
def make_network(tmp_path: Path) -> Iterator[Callable[..., Network]]:
    """``make_network(n=3, topology="line", connect=True, **Network_kwargs)`` -> a started Network."""
    networks: list[Network] = []
    counter = itertools.count()

    def factory(n: int = 3, topology: str = "line", *, connect: bool = True, **kw: Any) -> Network:
        net = Network(n, topology, tmp_path / f"net{next(counter)}", **kw)
        networks.append(net)
        return net.start(connect=connect)

    try:
        yield factory
    finally:
        for net in networks:
            try:
                net.stop(check=False)
            finally:
                for node in net:
                    node.kill()
