"""Before Qt starts: can its X11 (xcb) platform plugin load on this machine?

When a shared library the plugin needs is missing (`libxcb-cursor0` on a fresh Debian, for
example), Qt prints "Could not load the Qt platform plugin "xcb"" and aborts the process. The
console asks the dynamic linker first (`ldd` on the plugin lists what it cannot find, the plugin's
own Qt libraries' needs included) and, when something is missing, says which system packages to
install and the exact command, instead of letting Qt abort. No Qt module is imported here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

PLUGIN = Path("platforms") / "libqxcb.so"
#: Seconds `ldd` may take (it only maps the libraries; a hung one must not hang the console's start).
LDD_TIMEOUT = 10.0
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
SONAME = re.compile(r"^(lib[A-Za-z0-9_+.-]*?)\.so(?:\.(\d+))?")
#: Debian/Ubuntu packages of the libraries Qt's xcb plugin needs that a minimal system may lack,
#: by library name without its version; others follow Debian's rule (libfoo-bar.so.N: libfoo-barN).
PACKAGES = {
    "libxcb-cursor": "libxcb-cursor0", "libxcb-icccm": "libxcb-icccm4", "libxcb-image": "libxcb-image0",
    "libxcb-keysyms": "libxcb-keysyms1", "libxcb-randr": "libxcb-randr0",
    "libxcb-render-util": "libxcb-render-util0", "libxcb-render": "libxcb-render0",
    "libxcb-shape": "libxcb-shape0", "libxcb-shm": "libxcb-shm0", "libxcb-sync": "libxcb-sync1",
    "libxcb-xfixes": "libxcb-xfixes0", "libxcb-xinerama": "libxcb-xinerama0", "libxcb-xkb": "libxcb-xkb1",
    "libxcb-xinput": "libxcb-xinput0", "libxcb-util": "libxcb-util1", "libxcb": "libxcb1",
    "libX11-xcb": "libx11-xcb1", "libX11": "libx11-6", "libxkbcommon-x11": "libxkbcommon-x11-0",
    "libxkbcommon": "libxkbcommon0", "libEGL": "libegl1", "libGL": "libgl1", "libOpenGL": "libopengl0",
    "libGLX": "libglx0", "libfontconfig": "libfontconfig1", "libfreetype": "libfreetype6",
    "libdbus-1": "libdbus-1-3", "libglib-2.0": "libglib2.0-0", "libgthread-2.0": "libglib2.0-0",
    "libICE": "libice6", "libSM": "libsm6", "libXext": "libxext6", "libXrender": "libxrender1",
}


def uses_xcb(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether Qt will pick its xcb plugin: asked for, or an X display with no other platform named."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":", 1)[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def xcb_plugin(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path | None:
    """The xcb plugin Qt would load: the first in QT_PLUGIN_PATH, else PySide6's own."""
    for entry in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep):
        if entry and (Path(entry) / PLUGIN).is_file():
            return Path(entry) / PLUGIN
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / PLUGIN
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries `plugin` needs that the dynamic linker cannot find (none known without ldd)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=LDD_TIMEOUT,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return list(dict.fromkeys(NOT_FOUND.findall(out)))


def package_of(library: str) -> str:
    """The Debian/Ubuntu package that ships `library` (libxcb-cursor.so.0: libxcb-cursor0)."""
    match = SONAME.match(library)
    if match is None:
        return library
    name, version = match.group(1), match.group(2) or ""
    known = PACKAGES.get(name)
    if known is not None:
        return known
    package = name.lower().replace("_", "-")
    return f"{package}-{version}" if package[-1:].isdigit() and version else f"{package}{version}"


def advice(libraries: list[str]) -> str:
    """What to tell the user when Qt's xcb plugin would not load for want of `libraries`."""
    packages = list(dict.fromkeys(package_of(lib) for lib in libraries))
    return (f"syncscope: Qt cannot load its X11 platform plugin (xcb): this system lacks "
            f"{', '.join(libraries)}.\n"
            f"  Install them (Debian/Ubuntu):  sudo apt-get install -y {' '.join(packages)}\n"
            f"  Or run without a display:      syncscope --offscreen --screenshot out.png")


def problem(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The advice to print when Qt would abort loading its xcb platform plugin, or None."""
    if not uses_xcb(environ):
        return None
    plugin = xcb_plugin(environ)
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return advice(missing) if missing else None
