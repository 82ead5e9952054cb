"""A fresh machine lacking a library of Qt's xcb plugin (issue 14 item 8): the console says which
packages to install, with the exact apt command, instead of letting Qt abort.

The machine is made to lack `libxcb-cursor` for real: a copy of PySide6's xcb plugin whose Qt
library names a `libxcb-cursor.so.9` no system has, found through QT_PLUGIN_PATH as Qt would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.qt_platform import PLUGIN, advice, missing_libraries, package_of, uses_xcb, xcb_plugin

ROOT = Path(__file__).resolve().parents[2]


def lacking_cursor(tmp_path: Path) -> Path:
    """A plugin tree like PySide6's whose XcbQpa library needs `libxcb-cursor.so.9` (absent everywhere)."""
    real = xcb_plugin({})
    assert real is not None
    qt = real.parents[2]                      # …/PySide6/Qt
    plugins, lib = tmp_path / "plugins", tmp_path / "lib"
    (plugins / "platforms").mkdir(parents=True)
    lib.mkdir()
    (plugins / PLUGIN).write_bytes(real.read_bytes())  # its RUNPATH ($ORIGIN/../../lib) finds lib/ here
    for library in (qt / "lib").iterdir():
        (lib / library.name).symlink_to(library)
    xcb_qpa = lib / "libQt6XcbQpa.so.6"
    data = xcb_qpa.read_bytes()
    assert data.count(b"libxcb-cursor.so.0\0") == 1
    xcb_qpa.unlink()
    xcb_qpa.write_bytes(data.replace(b"libxcb-cursor.so.0\0", b"libxcb-cursor.so.9\0"))
    return plugins


def test_packages_of_the_libraries_qt_needs() -> None:
    assert package_of("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert package_of("libxcb-cursor.so.9") == "libxcb-cursor0"
    assert package_of("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_of("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert package_of("libfoo-bar.so.2") == "libfoo-bar2"
    assert package_of("libfoo3.so.1") == "libfoo3-1"
    assert advice(["libxcb-cursor.so.0", "libxcb-keysyms.so.1"]) == (
        "syncscope: Qt cannot load its X11 platform plugin (xcb): this system lacks "
        "libxcb-cursor.so.0, libxcb-keysyms.so.1.\n"
        "  Install them (Debian/Ubuntu):  sudo apt-get install -y libxcb-cursor0 libxcb-keysyms1\n"
        "  Or run without a display:      syncscope --offscreen --screenshot out.png")


def test_only_an_x_display_uses_the_xcb_plugin() -> None:
    assert uses_xcb({"DISPLAY": ":0"})
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert not uses_xcb({})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd and the xcb plugin are Linux's")
def test_a_missing_library_of_the_plugin_is_found_by_the_dynamic_linker(tmp_path: Path) -> None:
    plugins = lacking_cursor(tmp_path)
    assert xcb_plugin({"QT_PLUGIN_PATH": str(plugins)}) == plugins / PLUGIN
    real = xcb_plugin({})
    assert real is not None
    before = missing_libraries(real)
    assert sorted(missing_libraries(plugins / PLUGIN)) == sorted([*before, "libxcb-cursor.so.9"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd and the xcb plugin are Linux's")
def test_the_console_says_what_to_install_instead_of_aborting(tmp_path: Path) -> None:
    plugins = lacking_cursor(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":97", QT_PLUGIN_PATH=str(plugins), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "console.main"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("syncscope: Qt cannot load its X11 platform plugin (xcb): this system lacks ")
    assert "libxcb-cursor.so.9" in lines[0]
    assert lines[1].startswith("  Install them (Debian/Ubuntu):  sudo apt-get install -y ")
    assert "libxcb-cursor0" in lines[1].split()
    assert lines[2] == "  Or run without a display:      syncscope --offscreen --screenshot out.png"
    assert len(lines) == 3  # Qt never started: no abort message, no core dump
