"""The command line explains itself: --version, examples and exit codes, a closed pipe."""

import subprocess
import sys

from harness.__about__ import __version__
from harness.cli import build_parser


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
