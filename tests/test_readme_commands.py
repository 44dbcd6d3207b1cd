"""Every `medmix …` command in the README names a real command and real options.

Each command is parsed by the real CLI with `--help` appended (options and sub-commands are checked, nothing is
run); the ones that need nothing but what medmix ships are also run for real elsewhere: `medmix demo --quick`
(tests/test_demo.py), `medmix evaluate --model tiny --suite phantom25` (tests/test_evaluation.py), the Python
examples (tests/test_readme.py).
"""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmix.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("medmix "):
                    commands.append(part.replace("…", "X"))
    return commands


COMMANDS = readme_commands()


def test_readme_shows_commands():
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("command", COMMANDS)
def test_command_parses(command):
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, f"{command!r}: {result.output}"
