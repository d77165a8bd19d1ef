"""Command line: usage errors are one sentence and exit 2; list prints the registry."""

import pytest

from harness.cli import main


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["validate", "--cases", "nope*"], "no case matches"),
        (["validate", "--backends", "tensorflow"], "unknown backend 'tensorflow'"),
        (["validate", "--dtypes", "float8"], "unknown dtype 'float8'"),
        (["validate", "--quantities", "curl"], "unknown quantity 'curl'"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(argv, needle, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unknown_backend_names_the_valid_choices(capsys, tmp_path):
    main(["validate", "--backends", "tf", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert all(b in err for b in ("inhouse", "torch", "jax", "fd", "mp"))


def test_unwritable_out_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["validate", "--cases", "two_paths", "--out", str(blocker / "sub")]) == 2
    assert "cannot write reports" in capsys.readouterr().err


def test_list_prints_every_case(capsys):
    from harness.library import load_cases

    assert main(["list", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("name,family,quantities,dtypes,tags")
    for name in load_cases():
        assert f"\n{name}," in out
