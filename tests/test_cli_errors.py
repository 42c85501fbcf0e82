"""The CLI's error paths through the installed ``sketchkit`` entry point: usage errors exit 2 with
typer's usage text, unexpected errors print one line (traceback only on request) and exit 1, and
neither depends on click being installed. Also: every module sketchkit imports is declared."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sketchkit.cli.app import main

REPO = Path(__file__).resolve().parents[1]


def entry_point() -> str:
    """The installed console script (next to this interpreter, else on PATH)."""
    found = shutil.which("sketchkit", path=str(Path(sys.executable).parent)) or shutil.which("sketchkit")
    if found is None:
        pytest.skip("the sketchkit entry point is not installed (pip install -e .)")
    return found


def run_entry(args, *, env_extra=None, pythonpath=None, timeout=120):
    env = dict(os.environ)
    env.pop("SKETCHKIT_DEBUG", None)
    env.update(env_extra or {})
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([entry_point(), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def ndjson(tmp_path):
    path = tmp_path / "one.ndjson"
    path.write_text('{"word": "cat", "drawing": [[[0, 10, 20], [0, 10, 0]]]}\n')
    return path


@pytest.mark.parametrize("argv, says", [
    (["frobnicate"], "No such command"),
    (["render", "{file}"], "Missing option"),                                   # no -o
    (["render", "{file}", "-o", "{tmp}/x.svg", "--bogus"], "No such option"),
    (["reconstruct", "bezier", "{file}", "--index", "abc", "-o", "{tmp}/r.svg"], "Invalid value"),
    (["sample", "bezier", "-n", "many", "-o", "{tmp}/s.svg"], "Invalid value"),
])
def test_usage_errors_print_usage_and_exit_2(argv, says, ndjson, tmp_path):
    proc = run_entry([a.format(file=ndjson, tmp=tmp_path) for a in argv])
    assert proc.returncode == 2, proc.stderr
    assert "Usage:" in proc.stderr and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "ModuleNotFoundError" not in proc.stderr


def test_help_and_no_arguments_do_not_crash():
    proc = run_entry(["--help"])
    assert proc.returncode == 0 and "--debug" in proc.stdout and "Traceback" not in proc.stderr
    proc = run_entry([])
    assert proc.returncode in (0, 2) and "Usage:" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_do_not_need_click(ndjson, tmp_path):
    # A fresh install of a recent typer has no click; make sure of it even where click is installed
    # (only when typer itself does not import it).
    probe = "import sys, typer; print('click' in sys.modules)"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "True":
        pytest.skip("this typer imports click itself")
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        class _NoClick:
            def find_spec(self, name, path=None, target=None):
                if name == "click" or name.startswith("click."):
                    raise ModuleNotFoundError("No module named 'click'", name="click")
                return None
        sys.meta_path.insert(0, _NoClick())
    """))
    proc = run_entry(["render", ndjson], pythonpath=tmp_path)
    assert proc.returncode == 2 and "Missing option" in proc.stderr, proc.stderr
    assert "click" not in proc.stderr


BOOM = textwrap.dedent("""
    import sketchkit.api
    def _boom(*args, **kwargs):
        raise RuntimeError("boom: a bug\\nwith a second line")
    sketchkit.api.sample = _boom
""")


@pytest.mark.parametrize("how", ["plain", "env", "flag"])
def test_unexpected_error_is_one_line_and_exit_1_traceback_on_request(how, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BOOM)
    args = ["sample", "bezier", "-n", "1", "-o", tmp_path / "s.svg"]
    env = {"SKETCHKIT_DEBUG": "1"} if how == "env" else None
    if how == "flag":
        args = ["--debug", *args]
    proc = run_entry(args, env_extra=env, pythonpath=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "error: RuntimeError: boom: a bug with a second line" in proc.stderr
    if how == "plain":
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 2 and "--debug" in lines[1] and "SKETCHKIT_DEBUG=1" in lines[1], proc.stderr
    else:
        assert "Traceback (most recent call last)" in proc.stderr and "_boom" in proc.stderr


def test_unexpected_error_in_process(monkeypatch, capsys, tmp_path):
    import sketchkit.api

    def boom(*args, **kwargs):
        raise KeyError("nope")

    monkeypatch.setattr(sketchkit.api, "sample", boom)
    assert main(["sample", "bezier", "-o", str(tmp_path / "s.svg")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: KeyError: 'nope'\n") and "Traceback" not in err
    assert main(["sample", "bezier", "-o", str(tmp_path / "s.svg"), "-n", "0"]) == 2  # InputError: still exit 2
    assert capsys.readouterr().err.count("\n") == 1


# -- dependencies ---------------------------------------------------------------------------------
def third_party_imports() -> set[str]:
    """Top-level names of every non-stdlib module imported anywhere in the sketchkit package."""
    names = set()
    for path in (REPO / "sketchkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("sketchkit", "__future__")}


def declared_dependencies() -> dict[str, object]:
    tomllib = pytest.importorskip("tomllib")
    packaging = pytest.importorskip("packaging.requirements")
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = [packaging.Requirement(r) for r in data["project"]["dependencies"]]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


# import name -> distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "skimage": "scikit-image", "tomli": "tomli"}


def test_every_imported_module_is_declared_with_bounds():
    declared = declared_dependencies()
    imported = third_party_imports()
    assert "click" not in imported or "click" in declared, "sketchkit imports click: declare it or drop the import"
    for module in sorted(imported):
        dist = DISTRIBUTION.get(module, module).lower().replace("_", "-")
        assert dist in declared, f"sketchkit imports {module} but pyproject.toml does not declare {dist}"
        ops = {spec.operator for spec in declared[dist].specifier}
        assert ">=" in ops and "<" in ops, f"{dist}: give a lower and an upper bound, got {declared[dist].specifier}"


def test_installed_versions_satisfy_the_declared_ranges():
    from importlib.metadata import PackageNotFoundError, version

    for dist, req in declared_dependencies().items():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = version(dist)
        except PackageNotFoundError:
            continue
        assert req.specifier.contains(installed, prereleases=True), f"{dist} {installed} is outside {req.specifier}"
