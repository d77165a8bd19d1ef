"""The command line explains itself: --version, examples and exit codes, a closed pipe."""

import contextlib
import importlib.metadata
import io
import json
import subprocess
import sys

from harness.__about__ import __version__
from harness.cli import build_parser, main, validate


def _run(*argv):
    return subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_version():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"harness {__version__}"


def test_help_gives_examples_and_exit_codes():
    text = build_parser().format_help()
    assert "examples:" in text and "exit status: 0" in text and "2 usage error" in text


def test_every_option_of_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [f"{name} {a.option_strings or a.dest}" for name, p in sub.choices.items()
               for a in p._actions if a.help is None and a.dest != "help"]  # fmt: skip
    assert not missing, missing


def test_a_reader_that_leaves_early_is_no_traceback():
    p = subprocess.Popen([sys.executable, "-m", "harness", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)  # fmt: skip
    p.stdout.close()  # like `harness list | head` once head has what it wants
    err = p.stderr.read().decode()
    assert p.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_a_backend_asked_for_but_not_installed_is_a_usage_error(tmp_path):
    out = _run("validate", "--cases", "two_paths", "--backends", "inhouse,torch-cuda",
               "--out", str(tmp_path))  # fmt: skip
    assert out.returncode == 2 and "torch-cuda was asked for but is not available" in out.stderr
    allowed = _run("validate", "--cases", "two_paths", "--backends", "inhouse,torch-cuda",
                   "--allow-missing", "--out", str(tmp_path))  # fmt: skip
    assert allowed.returncode in (0, 1), allowed.stderr


def test_a_plugins_engine_version_is_in_the_metadata(tmp_path):
    plugin = tmp_path / "eng.py"
    plugin.write_text(
        "from harness.backends import Backend, get\n\n\n"
        "class Eng(Backend):\n    name = 'eng'\n    engine = 'tqdm'\n\n"
        "    def value(self, p):\n        return get('inhouse').compute('value', p)\n\n"
        "    def grad(self, p):\n        return get('inhouse').compute('grad', p)\n"
    )
    out = _run("validate", "--cases", "two_paths", "--backend-module", str(plugin),
               "--backends", "inhouse,eng", "--out", str(tmp_path / "rep"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "rep" / "metadata.json").read_text())
    assert meta["version.tqdm"] == importlib.metadata.version("tqdm")


def test_without_a_terminal_progress_is_a_line_every_few_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "PROGRESS_EVERY", 0.0)  # every case, for the test
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        main(["validate", "--cases", "two_paths*", "--backends", "inhouse,fd", "--causes",
              "none", "--out", str(tmp_path)])  # fmt: skip
    lines = [line for line in err.getvalue().splitlines() if line.startswith("[")]
    assert lines and lines[-1].startswith("[3/3 cases]"), err.getvalue()
