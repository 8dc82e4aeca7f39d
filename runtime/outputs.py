"""Output safety for every command that writes (compile -o, export -o, report -o, verify --trace).

check_output / check_output_dir refuse, with one clear SnncError line, an output that is one of the
command's inputs, a symbolic link (snnc never replaces a link or writes through it), a FIFO, a
socket, a device or anything else that is not a regular file (or, for a folder output, a folder),
and a parent folder that is missing or not writable. write_atomically writes to a hidden temporary
file beside the output and renames it over the output only once the writer has finished, so a
failed or interrupted command leaves neither a partial output nor a temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Iterable, Iterator

from snnc.errors import SnncError

_KINDS = (
    (stat.S_ISLNK, "a symbolic link (snnc does not replace a link or write through it)"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
)
_NAME_BYTES = 200  # of the output's name kept in the temporary name (NAME_MAX is 255 bytes)


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """`path` as a file output: it may exist only as a regular file that is none of `inputs`
    (None entries are skipped), and its folder must exist and be writable."""
    out = _path(path)
    if os.fspath(path).endswith(os.sep):
        raise SnncError(f"cannot write {path}: it names a folder, not a file")
    _refuse_inputs(out, inputs, "")
    kind = _refused_kind(out, folder=False)
    if kind:
        raise SnncError(f"cannot write {out}: it is {kind}")
    _check_folder(out, out.parent)
    return out


def check_output_dir(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """`path` as a folder output: it may exist only as a folder that is none of `inputs`; when it
    does not exist, its nearest existing ancestor must be a writable folder (the caller creates the
    rest). Files written inside it are checked on their own with check_output(file, inputs)."""
    out = _path(path)
    _refuse_inputs(out, inputs, "the folder ")
    kind = _refused_kind(out, folder=True)
    if kind:
        raise SnncError(f"cannot write the folder {out}: it is {kind}")
    _check_folder(out, out if _lstat(out) else _nearest_existing(out.parent))
    return out


@contextlib.contextmanager
def write_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside `path` (same suffix, so writers that pick a format by
    suffix work; mode 0o666 less the umask); on success rename it onto `path`, on any exception
    (KeyboardInterrupt included) remove it. An OSError becomes an SnncError naming `path`."""
    out = _path(path)
    kind = _refused_kind(out, folder=False)
    if kind:
        raise SnncError(f"cannot write {out}: it is {kind}")
    tmp = None
    try:
        tmp = _create_temporary(out)
        yield tmp
        kind = _refused_kind(out, folder=False)  # it may have been replaced while we wrote
        if kind:
            raise SnncError(f"cannot write {out}: it is now {kind}")
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise SnncError(_os_error_message(out, exc, tmp)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _path(path: str | os.PathLike) -> Path:
    if "\0" in os.fspath(path):
        raise SnncError(f"cannot write {os.fspath(path)!r}: the name contains a NUL character")
    return Path(path)


def _refuse_inputs(out: Path, inputs: Iterable[str | os.PathLike | None], what: str) -> None:
    for given in inputs:
        if given is not None and _same_file(out, Path(given)):
            raise SnncError(f"cannot write {what}{out}: it is the input {given}")


def _same_file(a: Path, b: Path) -> bool:
    """The same path, or (both existing) the same file: a hard link or a link to it counts."""
    try:
        return os.path.realpath(a) == os.path.realpath(b) or os.path.samestat(os.stat(a), os.stat(b))
    except (OSError, ValueError):
        return False


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise SnncError(_os_error_message(path, exc)) from None


def _refused_kind(path: Path, folder: bool) -> str | None:
    """What `path` is, when it exists as something an output of this kind must not replace."""
    st = _lstat(path)
    if st is None:
        return None
    for test, kind in _KINDS:
        if test(st.st_mode):
            return kind
    if stat.S_ISDIR(st.st_mode):
        return None if folder else "a folder"
    if stat.S_ISREG(st.st_mode):
        return "a file" if folder else None
    return "not a regular file"


def _nearest_existing(folder: Path) -> Path:
    while _lstat(folder) is None and folder != folder.parent:
        folder = folder.parent
    return folder


def _check_folder(out: Path, folder: Path) -> None:
    """The folder `out` goes into exists, is a folder and is writable (clean messages, not OSError)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        raise SnncError(f"cannot write {out}: the folder {folder} does not exist") from None
    except NotADirectoryError:
        raise SnncError(f"cannot write {out}: {folder} is not a folder") from None
    except OSError as exc:
        raise SnncError(_os_error_message(out, exc)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise SnncError(f"cannot write {out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SnncError(f"cannot write {out}: the folder {folder} is not writable")


def _temporary_name(out: Path, token: str) -> str:
    """`.<stem>.<token>.tmp<suffix>`, the stem shortened so the name stays within NAME_MAX."""
    stem = out.stem
    while len(os.fsencode(stem)) > _NAME_BYTES:
        stem = stem[:-1]
    return f".{stem}.{token}.tmp{out.suffix if len(os.fsencode(out.suffix)) < 32 else ''}"


def _create_temporary(out: Path) -> Path:
    """A new empty file beside `out`, created with mode 0o666 so the kernel applies the umask
    (and any default ACL) as for any new file; O_EXCL and O_NOFOLLOW: never an existing entry."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = out.with_name(_temporary_name(out, secrets.token_hex(4)))
        try:
            os.close(os.open(tmp, flags, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:  # the folder is not writable, full, read-only, ...
            raise SnncError(_os_error_message(out, exc, tmp)) from None


def _os_error_message(out: Path, exc: OSError, tmp: Path | None = None) -> str:
    """`cannot write OUT: REASON`, naming the file the error was about when that is another one."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    other = exc.filename is not None and os.fspath(exc.filename) not in (os.fspath(out), os.fspath(tmp or out))
    return f"cannot write {out}: {exc.filename}: {reason}" if other else f"cannot write {out}: {reason}"
