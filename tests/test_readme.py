"""Every Python example in the README runs, and the README's two commands are the scripts CI uses."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_example_runs(index, capsys):
    from medmix.metrics.registry import METRICS, list_metrics

    from medmix.merging.methods import MERGE_METHODS

    list_metrics()  # built-ins and entry points first, so the clean-up below removes only what the example added
    before = {reg: set(reg.names()) for reg in (METRICS, MERGE_METHODS)}
    try:
        exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})
    finally:
        for reg, names in before.items():
            for name in set(reg.names()) - names:
                reg.remove(name)
    assert capsys.readouterr().out.strip()


def test_quick_start_commands_are_the_ci_scripts():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci
