"""The launcher a child solver (CBC) is started through, so that it dies with the process that started it.

The launcher is a shell script we execute, so it is written only where this user alone can write
and checked before every use: nothing executable is taken from a predictable shared path.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shlex
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from decomposition.errors import SolverError

SOLVER_PARENT = "SURGEPLAN_SOLVER_PARENT"  # the pid a launched solver must still have as its parent


def dies_with_parent(executable: str) -> str:
    """A launcher of `executable` whose process is killed when the process that started it dies.

    CBC runs as a child process; when its parent is killed (a cancelled Ray piece, a worker killed
    with SIGKILL) it would otherwise solve on as an orphan until its own time limit. Linux's
    parent-death signal, set by util-linux's setpriv, prevents that. It only fires on a death after
    it is set, so the launcher then checks that its parent is still the process named in
    SURGEPLAN_SOLVER_PARENT (see `solver_parent`), and exits if not. Elsewhere the binary is used as is.

    The launcher is a script we execute, so it lives in a directory only this user can write
    (`private_directory`) and is checked before every use (`_is_our_launcher`); anything else
    found under its name is replaced, never run.
    """
    setpriv = shutil.which("setpriv")
    if not sys.platform.startswith("linux") or setpriv is None:
        return executable
    check = f'[ -z "${SOLVER_PARENT}" ] || [ "$PPID" = "${SOLVER_PARENT}" ] || exit 137; exec "$0" "$@"'
    script = (
        f"#!/bin/sh\nexec {shlex.quote(setpriv)} --pdeathsig KILL -- /bin/sh -c {shlex.quote(check)} "
        f'{shlex.quote(executable)} "$@"\n'
    ).encode()
    launcher = private_directory() / f"launch-{hashlib.sha256(script).hexdigest()[:12]}"
    if not _is_our_launcher(launcher, script):
        try:
            _write_launcher(launcher, script)
        except OSError as exc:
            raise SolverError(f"CBC launcher {launcher}: cannot be written ({exc})") from exc
        if not _is_our_launcher(launcher, script):
            raise SolverError(f"CBC launcher {launcher}: not the script just written there; not executed")
    return str(launcher)


PRIVATE_MODE = 0o700
_fresh_directories: dict[Path, Path] = {}  # base -> the unguessable directory used instead of a refused one


def private_directory() -> Path:
    """A directory of this user's that no one else can write: `surgeplan-<uid>` in $XDG_RUNTIME_DIR
    (when that is private itself) or else in the temporary directory, created with mode 0700.

    The name is predictable, so in a shared /tmp anyone may have made it first: it is used only if
    it is a real directory (not a symlink), owned by this user, of mode exactly 0700. Otherwise this
    process uses a fresh directory from `mkdtemp` (an unguessable name, mode 0700) beside it, and
    leaves the refused one alone.
    """
    base = _private_base()
    candidate = base / f"surgeplan-{os.getuid()}"
    try:
        os.mkdir(candidate, PRIVATE_MODE)
        os.chmod(candidate, PRIVATE_MODE)  # ours, just made: the umask may have taken bits off
    except FileExistsError:
        pass
    except OSError:
        pass  # e.g. a read-only base: refused below like any other unusable directory
    if _is_private_directory(candidate):
        return candidate
    fresh = _fresh_directories.get(base)
    if fresh is None or not _is_private_directory(fresh):
        fresh = Path(tempfile.mkdtemp(prefix=f"surgeplan-{os.getuid()}-", dir=base))
        atexit.register(shutil.rmtree, fresh, ignore_errors=True)
        _fresh_directories[base] = fresh
    return fresh


def _private_base() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and _is_private_directory(Path(runtime), exact_mode=False):
        return Path(runtime)
    return Path(tempfile.gettempdir())


def _is_private_directory(path: Path, *, exact_mode: bool = True) -> bool:
    """A real directory (lstat: a symlink is not one) owned by this user; of mode 0700 if
    `exact_mode`, else at least writable by no one else."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    mode = stat.S_IMODE(st.st_mode)
    private = mode == PRIVATE_MODE if exact_mode else not mode & 0o022
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and private


def _is_our_launcher(path: Path, script: bytes) -> bool:
    """A regular file (not a link) of this user's, writable by no one else, executable by its
    owner, holding exactly `script`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # NONBLOCK: a planted FIFO does not hang us
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.getuid()
            or st.st_mode & 0o022
            or not st.st_mode & stat.S_IXUSR
            or st.st_size != len(script)
        ):
            return False
        content = b""
        while len(content) <= len(script) and (chunk := os.read(fd, len(script) + 1 - len(content))):
            content += chunk
        return content == script
    finally:
        os.close(fd)


def _write_launcher(path: Path, script: bytes) -> None:
    """Write `script` beside `path` under a fresh name, then move it over `path` in one step
    (concurrent pieces may write it at once; whatever was there is replaced, never run)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".launch-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(script)
            os.fchmod(out.fileno(), PRIVATE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def solver_parent() -> None:
    """Name this process as the parent of the solvers it launches (read by the launcher's check)."""
    os.environ[SOLVER_PARENT] = str(os.getpid())
