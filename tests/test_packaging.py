"""What ships: the wheel holds the product (the portal and the staging app), never the Railway
sandbox, which is a development tool for the demo and the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_the_product_and_no_sandbox_code(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("portal", "staging", "railway_sandbox"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    subprocess.run(
        [*pip_wheel, "--no-build-isolation", "--wheel-dir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("understudy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "staging/pipeline.py" in names
    assert "portal/settings.py" in names
    assert [name for name in names if "sandbox" in name.lower()] == []


def test_the_docker_image_leaves_the_sandbox_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "railway_sandbox" in ignored
    copied = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "COPY" in line]
    assert not any("railway_sandbox" in line for line in copied)
