"""The README's "Use your own data" example, executed exactly as written."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mlgcn_core.paths import PROJECT_ROOT


def readme_blocks(section: str) -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(bash|python)\n(.*?)```", body, flags=re.S)


@pytest.mark.slow
def test_use_your_own_data_example(tmp_path):
    blocks = readme_blocks("Use your own data")
    assert [lang for lang, _ in blocks] == ["bash", "python"]
    outputs = []
    for lang, code in blocks:
        if lang == "bash":
            code = code.replace(".venv/bin/python", sys.executable)
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=600)
        else:
            proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                                  timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0].startswith("my_data/labels.csv\nimage,labels\n")
    assert "prepared custom into my_data/prepared: classes 10, images {'train': 48, 'val': 6, " \
           "'test': 6}" in outputs[0]
    out = outputs[1]
    m = re.search(r"(\d+) training images, (\d+) classes, first loss ([\d.]+)", out)
    assert m, out
    assert int(m.group(1)) == 48 and int(m.group(2)) == 10 and 0 < float(m.group(3)) < 10
