"""Ships the repository's `toolkits/` folder inside the wheel as `server/builtin_toolkits/`.

Every folder under `toolkits/` is copied as it is, so a new toolkit needs no packaging change. An
editable install skips the copy: the loader then reads `toolkits/` at the repository root.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "toolkits"


class BuildPyWithToolkits(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "server" / "builtin_toolkits"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithToolkits})
