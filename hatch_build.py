"""Files built from the sources, not kept in git: compiled translations (.mo)
and content-hashed static files (Flask-Static-Digest).

hatchling runs this as a build hook, so every wheel carries them; ``make
setup`` runs it as a script for a checkout (``python hatch_build.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, where hatchling need not be installed
    BuildHookInterface = object

ROOT = Path(__file__).resolve().parent


def build_generated_files(root: Path = ROOT) -> None:
    """Compile every catalog, then digest app/static afresh."""
    from flask_static_digest import digester

    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "--statistics"]
        + ["-d", str(root / "translations")],
        check=True,
    )
    static = f"{root / 'app' / 'static'}/"
    # Without clean, copies of every earlier version of a file pile up.
    digester.clean(static, [], False, False)
    digester.compile(static, static, [], False, False)


class GeneratedFilesHook(BuildHookInterface):
    """hatchling build hook: see the module docstring."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        """Before the wheel's files are collected."""
        build_generated_files(Path(self.root))


if __name__ == "__main__":
    build_generated_files()
