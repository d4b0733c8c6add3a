"""What a wheel ships: every subpackage, the bundled model and the bundled recipes. These tests
catch a pyproject.toml that drifts from the tree; building and installing a real wheel needs the
package registry, so .ci/run does that part (and on Python 3.10, which has no tomllib, these
skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganaudio.config import RECIPES_DIR, bundled_recipes_dir

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed_for_the_wheel():
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "ganaudio").rglob("__init__.py")
    }
    listed = set(setuptools_table()["packages"])
    assert packages - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_wheel_maps_the_repository_recipes_into_the_package():
    table = setuptools_table()
    source = ROOT / table["package-dir"]["ganaudio.recipes"]
    assert source == RECIPES_DIR  # a checkout reads the same files the wheel ships
    assert "ganaudio.recipes" in table["packages"]
    assert table["package-data"]["ganaudio.recipes"] == ["*.yaml"]
    assert {p.name for p in source.glob("*")} == {p.name for p in source.glob("*.yaml")}
    assert table["package-data"]["ganaudio"] == ["pretrained/*.pt"]
    assert (ROOT / "ganaudio" / "pretrained" / "digits.pt").is_file()


def test_recipes_come_from_the_package_else_from_its_checkout(tmp_path):
    package = tmp_path / "site-packages" / "ganaudio"
    package.mkdir(parents=True)
    # No recipes in an installed package and no checkout around it: never another folder.
    assert bundled_recipes_dir(package) == package / "recipes"
    (tmp_path / "site-packages" / "pyproject.toml").touch()
    assert bundled_recipes_dir(package) == tmp_path / "site-packages" / "recipes"
    (package / "recipes").mkdir()
    assert bundled_recipes_dir(package) == package / "recipes"
