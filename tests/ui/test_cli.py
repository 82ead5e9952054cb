"""`syncscope` without a display explains itself; `--offscreen --screenshot` writes a PNG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def syncscope(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def bare_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


def test_without_a_display_it_says_how_to_run() -> None:
    result = syncscope(env=bare_env())
    assert result.returncode == 2
    assert "syncscope --offscreen --screenshot out.png" in result.stderr
    assert "xvfb-run syncscope" in result.stderr
    assert "Traceback" not in result.stderr


def test_offscreen_screenshot(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    result = syncscope("--offscreen", "--screenshot", str(out), "--seconds", "1", env=bare_env())
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr
