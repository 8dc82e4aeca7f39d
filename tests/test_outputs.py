"""Output safety: refused outputs (inputs, links, special files, folders, missing or read-only
parents) leave everything as it was; atomic writes leave either the new file or nothing."""

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from snnc.errors import SnncError
from snnc.runtime import outputs
from snnc.runtime.outputs import check_output, check_output_dir, write_atomically


def write(path: Path, data: bytes) -> None:
    with write_atomically(path) as tmp:
        tmp.write_bytes(data)


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"the model")
    return path


def test_a_new_file_in_a_writable_folder_is_accepted_and_written(tmp_path, model):
    out = check_output(tmp_path / "model.snn", [model, None])
    assert out == tmp_path / "model.snn"
    write(out, b"artifact")
    assert out.read_bytes() == b"artifact"
    assert sorted(os.listdir(tmp_path)) == ["model.h5", "model.snn"]


def test_an_existing_regular_file_is_replaced(tmp_path, model):
    out = tmp_path / "old.snn"
    out.write_bytes(b"old")
    write(check_output(out, [model]), b"new")
    assert out.read_bytes() == b"new"
    assert model.read_bytes() == b"the model"


def test_the_input_itself_is_refused(tmp_path, model):
    with pytest.raises(SnncError, match="it is the input") as exc:
        check_output(model, [model])
    assert one_line(exc) == f"cannot write {model}: it is the input {model}"
    assert model.read_bytes() == b"the model"


def test_the_input_under_another_spelling_is_refused(tmp_path, model, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(SnncError, match="cannot write ../model.h5: it is the input"):
        check_output("../model.h5", [model])
    with pytest.raises(SnncError, match="it is the input"):  # the same path, neither existing yet
        check_output("out.snn", [tmp_path / "sub" / "out.snn"])


def test_a_hard_link_to_an_input_is_refused(tmp_path, model):
    link = tmp_path / "link.snn"
    os.link(model, link)
    with pytest.raises(SnncError, match=f"cannot write {link}: it is the input {model}"):
        check_output(link, [model])
    assert model.read_bytes() == b"the model" and link.read_bytes() == b"the model"


def test_a_symbolic_link_to_a_file_is_refused_and_its_target_kept(tmp_path, model):
    target = tmp_path / "target.snn"
    target.write_bytes(b"target")
    link = tmp_path / "link.snn"
    link.symlink_to(target)
    with pytest.raises(SnncError, match="it is a symbolic link") as exc:
        check_output(link, [model])
    assert one_line(exc).startswith(f"cannot write {link}: it is a symbolic link")
    assert link.is_symlink() and target.read_bytes() == b"target"


def test_a_symbolic_link_to_the_input_is_refused(tmp_path, model):
    link = tmp_path / "link.snn"
    link.symlink_to(model)
    with pytest.raises(SnncError, match="cannot write"):
        check_output(link, [model])
    assert link.is_symlink() and model.read_bytes() == b"the model"


def test_a_dangling_symbolic_link_is_refused(tmp_path):
    link = tmp_path / "dangling.snn"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(SnncError, match="it is a symbolic link"):
        check_output(link)
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["dangling.snn"]


def test_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "pipe.snn"
    os.mkfifo(fifo)
    with pytest.raises(SnncError, match=r"it is a named pipe \(FIFO\), not a regular file") as exc:
        check_output(fifo)
    one_line(exc)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe.snn"]


def test_dev_null_is_refused():
    before = os.stat("/dev/null")
    with pytest.raises(SnncError, match="cannot write /dev/null: it is a character device, not a regular file"):
        check_output("/dev/null")
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_rdev) == (before.st_mode, before.st_rdev)


def test_an_existing_folder_is_refused_as_a_file_output(tmp_path):
    folder = tmp_path / "out.snn"
    folder.mkdir()
    with pytest.raises(SnncError, match=f"cannot write {folder}: it is a folder"):
        check_output(folder)
    with pytest.raises(SnncError, match="it names a folder"):
        check_output(f"{tmp_path}/new/")
    assert folder.is_dir() and os.listdir(folder) == []


def test_a_missing_parent_folder_is_refused(tmp_path):
    out = tmp_path / "missing" / "model.snn"
    with pytest.raises(SnncError, match=f"cannot write {out}: the folder {out.parent} does not exist") as exc:
        check_output(out)
    one_line(exc)
    assert not out.parent.exists()


def test_a_file_as_parent_folder_is_refused(tmp_path, model):
    with pytest.raises(SnncError, match=f"{model} is not a folder"):
        check_output(model / "model.snn")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SnncError, match="the folder .* is not writable"):
            check_output(folder / "model.snn")
        with pytest.raises(SnncError, match="Permission denied"):
            write(folder / "model.snn", b"x")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_a_folder_that_is_not_writable_is_refused_with_one_line(tmp_path, monkeypatch):
    """As root (where the real read-only test is skipped): the check asks os.access."""
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: False)
    with pytest.raises(SnncError) as exc:
        check_output(tmp_path / "model.snn")
    assert one_line(exc) == f"cannot write {tmp_path / 'model.snn'}: the folder {tmp_path} is not writable"


def test_folder_outputs(tmp_path, model):
    assert check_output_dir(tmp_path / "report") == tmp_path / "report"
    assert check_output_dir(tmp_path / "a" / "b" / "c") == tmp_path / "a" / "b" / "c"  # the caller mkdirs
    (tmp_path / "existing").mkdir()
    assert check_output_dir(tmp_path / "existing", [model]) == tmp_path / "existing"
    with pytest.raises(SnncError, match=f"cannot write the folder {model}: it is the input"):
        check_output_dir(model, [model])
    with pytest.raises(SnncError, match=f"cannot write the folder {model}: it is a file"):
        check_output_dir(model)
    with pytest.raises(SnncError, match=f"{model} is not a folder"):
        check_output_dir(model / "report")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "existing")
    with pytest.raises(SnncError, match="it is a symbolic link"):
        check_output_dir(link)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(SnncError, match="FIFO"):
        check_output_dir(tmp_path / "fifo")
    with pytest.raises(SnncError, match="character device"):
        check_output_dir("/dev/null")
    assert model.read_bytes() == b"the model"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_usual_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        write(tmp_path / "model.snn", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "model.snn").st_mode) == 0o666 & ~umask


def test_the_temporary_file_is_hidden_beside_the_output_with_its_suffix(tmp_path):
    with write_atomically(tmp_path / "trace.npz") as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".trace.") and tmp.name.endswith(".tmp.npz")
        assert tmp.exists() and not (tmp_path / "trace.npz").exists()
    assert os.listdir(tmp_path) == ["trace.npz"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), SnncError("bad data")])
def test_a_failed_write_leaves_the_old_output_and_no_temporary_file(tmp_path, error):
    out = tmp_path / "model.snn"
    out.write_bytes(b"old")
    with pytest.raises(type(error)):
        with write_atomically(out) as tmp:
            tmp.write_bytes(b"partial")
            raise error
    assert out.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.snn"]


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")])
def test_an_os_error_while_writing_is_one_line_naming_the_output(tmp_path, code, reason):
    out = tmp_path / "model.snn"
    with pytest.raises(SnncError) as exc:
        with write_atomically(out) as tmp:
            raise OSError(code, os.strerror(code), str(tmp))
    assert one_line(exc) == f"cannot write {out}: {reason}"
    assert os.listdir(tmp_path) == []


def test_an_os_error_about_another_file_names_that_file(tmp_path):
    with pytest.raises(SnncError, match=r"cannot write .*model.snn: .*missing.h5: No such file"):
        with write_atomically(tmp_path / "model.snn"):
            open(tmp_path / "missing.h5", "rb")
    assert os.listdir(tmp_path) == []


def test_no_temporary_file_in_an_unwritable_folder_is_a_clean_error(tmp_path, monkeypatch):
    def refuse(path, flags, mode=0o777):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    monkeypatch.setattr(outputs.os, "open", refuse)
    with pytest.raises(SnncError, match=f"cannot write {tmp_path / 'model.snn'}: Permission denied"):
        write(tmp_path / "model.snn", b"x")


@pytest.mark.parametrize("make", ["symlink", "fifo", "folder"])
def test_an_output_that_turns_special_while_writing_is_not_replaced(tmp_path, make):
    out, target = tmp_path / "model.snn", tmp_path / "target"
    target.write_bytes(b"target")
    with pytest.raises(SnncError, match="cannot write .*model.snn: it is now"):
        with write_atomically(out) as tmp:
            tmp.write_bytes(b"new")
            {"symlink": lambda: out.symlink_to(target), "fifo": lambda: os.mkfifo(out), "folder": out.mkdir}[make]()
    assert target.read_bytes() == b"target"
    assert sorted(os.listdir(tmp_path)) == ["model.snn", "target"]


@pytest.mark.parametrize("path, kind", [(".", "a folder"), ("/dev/null", "a character device")])
def test_writing_onto_a_refused_output_does_not_start(tmp_path, path, kind):
    with pytest.raises(SnncError, match=f"cannot write {path}: it is {kind}"):
        write(path, b"x")


def test_a_very_long_name_gets_a_temporary_name_within_the_limit(tmp_path):
    out = tmp_path / ("é" * 120 + ".snn")  # 244 bytes: the temporary name must be shortened
    write(check_output(out), b"x")
    assert out.read_bytes() == b"x" and os.listdir(tmp_path) == [out.name]
    with pytest.raises(SnncError, match="File name too long"):
        check_output(tmp_path / ("x" * 300))


NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, input_name=NAMES, data=st.binary(max_size=64))
def test_any_file_name_is_checked_and_written_atomically(tmp_path, name, input_name, data):
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        folder = Path(folder)
        if name in (".", "..") or len(os.fsencode(name)) > 255:
            with pytest.raises(SnncError):
                check_output(folder / name)
            return
        source = folder / input_name
        if input_name not in (".", "..") and len(os.fsencode(input_name)) <= 255:
            source.write_bytes(b"input")
        if name == input_name:
            with pytest.raises(SnncError, match="it is the input"):
                check_output(folder / name, [source])
        else:
            write(check_output(folder / name, [source]), data)
            assert (folder / name).read_bytes() == data
        written = {n for n in (name, input_name) if n not in (".", "..") and (folder / n).is_file()}
        assert set(os.listdir(folder)) == written  # and no temporary file
