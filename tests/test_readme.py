"""The README stays a five-minute read with a true map of the code."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_about_ten_kilobytes_at_most():
    assert len(README.encode()) <= 10 * 1024


def test_the_module_map_names_every_module_and_package_of_the_app():
    app = ROOT / "app"
    names = [f"app/{path.name}" for path in app.glob("*.py")]
    names += [
        f"app/{path.name}/"
        for path in app.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file()
    ]
    missing = [name for name in names if name not in README]
    assert not missing, f"add to the README's 'Where things live': {missing}"


def test_the_readme_links_to_the_operator_performance_and_clinic_guides():
    # That every link leads somewhere: tests/test_doc_links.py.
    for target in ("docs/deploy.md", "docs/performance.md", "docs/clinic-handover.md"):
        assert f"]({target})" in README
