"""Processes we start use the installed package, not a `coin/` folder in their working directory.

Run from a checkout, `python -m ...` / `python -c ...` put the working directory first on
sys.path, so the source tree's `coin/` (no compiled miner, no `coin.wallet`) shadowed a
non-editable install: `pip install . && coin-regtest demo` failed at its first wallet
step. Every interpreter we spawn runs with `-P`. Here a booby-trapped `coin/` package in
the working directory stands for the shadowing source tree.
"""

from __future__ import annotations

import subprocess

import pytest

from coin.regtest.framework import cli_command, coind_command
from coin.regtest.walletcli import wallet_command


@pytest.fixture()
def trap(tmp_path):
    (tmp_path / "coin").mkdir()
    (tmp_path / "coin" / "__init__.py").write_text('raise ImportError("shadowed by the working directory")\n')
    return tmp_path


@pytest.mark.parametrize("command", [coind_command("-version"), cli_command("-version"),
                                     wallet_command("--help")], ids=["coind", "coin-cli", "coin-wallet"])
def test_spawned_interpreters_ignore_a_coin_folder_in_the_working_directory(trap, command):
    result = subprocess.run(command, cwd=trap, capture_output=True, text=True, timeout=60)
    assert "shadowed by the working directory" not in result.stderr
    assert result.returncode == 0, result.stderr


def test_the_trap_works_without_the_flag(trap):
    command = [c for c in coind_command("-version") if c != "-P"]
    result = subprocess.run(command, cwd=trap, capture_output=True, text=True, timeout=60)
    assert "shadowed by the working directory" in result.stderr
