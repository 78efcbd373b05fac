"""Output folders and files that never cost a user their data.

Rules, for every folder rxkg writes (a graph, a model bundle, a CSV or Neo4j export, a
synthetic cohort):

- rxkg replaces a folder only when it wrote that folder itself: the folder carries an
  ownership record (:data:`OWNER_FILE`, the list of every file rxkg put there) and holds
  nothing else. A folder of the user's files, or an rxkg folder the user added files to, is
  refused with a message naming one of those files; a file where a folder should go is
  refused too. ``force=True`` writes rxkg's files *beside* the user's instead and still never
  deletes or overwrites a file rxkg did not write.
- The new folder is filled under a temporary name beside the destination and swapped in
  with one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux), so at every instant the
  destination holds either the complete old output or the complete new one; a process
  killed at any step leaves a complete folder behind. Concurrent writers to one path each
  swap in a complete folder (the last one wins) instead of failing.
- Temporary and old folders carry the writer's process id in their names; those of dead
  processes (a build killed earlier) are removed by the next write to the same path, so no
  debris accumulates.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from kg.errors import KGError

__all__ = ["OWNER_FILE", "atomic_directory", "atomic_file", "owned_files", "files_under", "check_output_folder",
           "check_output_file"]

#: The ownership record in every folder rxkg writes: which files it put there.
OWNER_FILE = ".rxkg-output.json"
_TMP = ".rxkg-tmp-"
_OLD = ".rxkg-old-"
# renameat2 flags (linux/fs.h); glibc >= 2.28 exports renameat2.
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _checkpoint(step: str) -> None:
    """A named step of the swap; does nothing. The fault-injection test kills the process here."""


def owned_files(folder: Path) -> set[str] | None:
    """The files rxkg recorded writing into ``folder``, or ``None`` when it has no valid record.

    A graph, model bundle or evaluation report written before ownership records existed
    (rxkg 0.1 without :data:`OWNER_FILE`) is recognised by its manifest's rxkg format.
    """
    record = Path(folder) / OWNER_FILE
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _legacy_owned(Path(folder))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if data.get("written_by") != "rxkg" or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


#: How each kind of folder rxkg 0.1 wrote announces itself: (file, text its first 4 KB hold).
_LEGACY_SIGNS = (("manifest.json", '"format": "rxkg-graph"'), ("manifest.json", '"format": "rxkg-recommender/1"'),
                 ("report.json", '"format": "rxkg-evaluation/1"'), ("mapping.toml", "# rxkg CSV export"),
                 ("import.sh", "Bulk-load this directory into an empty Neo4j"))


def _legacy_owned(folder: Path) -> set[str] | None:
    for name, sign in _LEGACY_SIGNS:
        try:
            with open(folder / name, encoding="utf-8", errors="replace") as handle:
                head = handle.read(4096)
        except OSError:
            continue
        if sign in head:
            return set(files_under(folder))
    return None


def files_under(folder: Path) -> list[str]:
    """Every file (or link, or other non-folder entry) below ``folder``, relative, sorted."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root).relative_to(folder)
        out += [(base / name).as_posix() for name in files]
        out += [(base / name).as_posix() for name in dirs if (Path(root) / name).is_symlink()]
    return sorted(out)


def check_output_folder(dest: Path, force: bool = False) -> str:
    """How rxkg may write folder ``dest``: ``"new"`` (nothing there), ``"replace"`` (empty, or
    wholly rxkg's) or ``"beside"`` (``force`` and the user's files are there).

    Raises :class:`KGError` naming the path and the reason when it may not.
    """
    dest = Path(dest)
    if dest.is_symlink():  # swapping would move the link, not what it points to
        raise KGError(f"{dest}: is a link; give the folder it points to ({os.path.realpath(dest)}) as --out")
    if not dest.exists():
        for parent in dest.parents:
            if parent.exists() and not parent.is_dir():
                raise KGError(f"{dest}: cannot create the folder: {parent} is a file, not a folder")
        return "new"
    if not dest.is_dir():
        raise KGError(f"{dest}: exists and is a file, not a folder; rxkg writes a folder here and never "
                      f"replaces a file it did not write (choose another --out)")
    present = [f for f in files_under(dest) if f != OWNER_FILE]
    if not present and not any(dest.iterdir()):
        return "replace"
    owned = owned_files(dest)
    foreign = [f for f in present if owned is None or f not in owned]
    if owned is None and not present:
        foreign = [p.name for p in sorted(dest.iterdir())]  # empty sub-folders of the user's
    if not foreign:
        return "replace"
    if force:
        return "beside"
    what = ("was not written by rxkg" if owned is None else
            f"holds {len(foreign)} file(s) rxkg did not write")
    raise KGError(f"{dest}: folder exists and {what} (e.g. {foreign[0]!r}); rxkg only replaces folders it "
                  f"wrote. Choose a new or empty --out, or pass --force to add rxkg's files beside "
                  f"yours (none of yours is changed)")


def _write_record(folder: Path, files: list[str]) -> None:
    from kg.version import __version__

    record = {"written_by": "rxkg", "rxkg_version": __version__, "files": sorted(files)}
    (folder / OWNER_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; ``False`` where the system lacks it (then the caller falls back)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or filesystem without the flag
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _publish(tmp: Path, dest: Path) -> Path | None:
    """Put complete folder ``tmp`` at ``dest`` atomically; returns where the old folder went."""
    for _ in range(100):
        try:
            if not dest.exists():
                if _renameat2(tmp, dest, _RENAME_NOREPLACE):
                    return None
                os.rename(tmp, dest)  # no renameat2: rename(2) onto a missing or empty folder
                return None
            if _renameat2(tmp, dest, _RENAME_EXCHANGE):
                return tmp  # tmp now holds the old folder
            old = dest.parent / f".{dest.name}{_OLD}{os.getpid()}-{os.urandom(4).hex()}"
            os.rename(dest, old)  # without an exchange there is an instant with no folder at dest
            _checkpoint("moved-old")
            os.rename(tmp, dest)
            return old
        except OSError as err:
            # Another writer created dest between our check and our rename: swap with it.
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOENT):
                raise
    raise KGError(f"{dest}: could not be replaced: other processes keep writing it")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_debris(dest: Path) -> None:
    """Temporary and old folders of ``dest`` left by writers that died (their pid is gone)."""
    if not dest.parent.is_dir():
        return
    for marker in (_TMP, _OLD):
        for path in dest.parent.glob(f".{dest.name}{marker}*"):
            pid = path.name[len(f".{dest.name}{marker}"):].split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def shared_modes(path: Path) -> None:
    """Give ``path`` (and, for a folder, everything in it) the modes the user's umask gives new
    files (0644/0755 typically): temporary files are created owner-only (0600/0700), right for the
    graph store and bundles (patient ids in clear) but not for exports others are meant to open."""
    mask = os.umask(0)
    os.umask(mask)
    entries = [path] + (sorted(path.rglob("*")) if path.is_dir() else [])
    for entry in entries:
        if entry.is_symlink():
            continue
        executable = entry.is_dir() or entry.stat().st_mode & 0o100
        entry.chmod((0o777 if executable else 0o666) & ~mask)


def atomic_directory(dest: Path, fill: Callable[[Path], None], force: bool = False, shared: bool = False) -> None:
    """Build a folder with ``fill(tmpdir)`` and swap it in at ``dest`` (see the module rules).

    ``dest`` must be new, empty or wholly written by rxkg; with ``force`` rxkg's files are
    moved in beside the user's files instead (refused if one of them has the same name).
    ``shared`` folders (exports, reports) get the umask's modes, others stay owner-only.
    """
    dest = Path(dest)
    mode = check_output_folder(dest, force)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KGError(f"{dest}: cannot create its parent folder ({err.strerror})") from None
    _remove_debris(dest)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}{_TMP}{os.getpid()}-", dir=dest.parent))
    except OSError as err:
        raise KGError(f"{dest.parent}: cannot write there ({err.strerror})") from None
    old: Path | None = None
    try:
        fill(tmp)
        _checkpoint("filled")
        _write_record(tmp, [f for f in files_under(tmp) if f != OWNER_FILE])
        if shared:
            shared_modes(tmp)
        _checkpoint("recorded")
        if mode == "beside":
            _move_beside(tmp, dest)
        else:
            old = _publish(tmp, dest)
            _checkpoint("published")
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    _checkpoint("done")


def _move_beside(tmp: Path, dest: Path) -> None:
    """``force`` into a folder with the user's files: move rxkg's files in one by one, replacing
    only files rxkg recorded writing there before, then record the new set."""
    before = owned_files(dest) or set()
    new = [f for f in files_under(tmp) if f != OWNER_FILE]
    clash = [f for f in new if (dest / f).exists() and f not in before]
    if clash:
        raise KGError(f"{dest / clash[0]}: exists and was not written by rxkg; --force never replaces "
                      f"a user's file (move it or choose another --out)")
    for rel in new:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / rel, dest / rel)
    for rel in before - set(new):
        (dest / rel).unlink(missing_ok=True)
    _write_record(dest, new)


def check_output_file(dest: Path, force: bool = False) -> None:
    """Raise unless rxkg may write the single file ``dest``: it is new, or an earlier rxkg
    output (every single-file format rxkg writes names rxkg in its first lines), or ``force``."""
    dest = Path(dest)
    if dest.is_dir():
        raise KGError(f"{dest}: is a folder; rxkg writes a file here and never replaces a folder (choose a file name)")
    for parent in dest.parents:
        if parent.exists() and not parent.is_dir():
            raise KGError(f"{dest}: cannot create the file: {parent} is a file, not a folder")
    if dest.exists() and not force:
        try:
            with open(dest, "rb") as handle:
                head = handle.read(4096)
        except OSError as err:
            raise KGError(f"{dest}: exists and cannot be read ({err.strerror})") from None
        if b"rxkg" not in head:
            raise KGError(f"{dest}: exists and was not written by rxkg; rxkg never overwrites a user's file "
                          f"(choose another --out, or pass --force to replace it)")


def atomic_file(dest: Path, write: Callable[[Path], None], shared: bool = False) -> None:
    """Write a file through ``write(tmp_path)`` then rename it onto ``dest``.

    For files inside folders rxkg owns and for single-file outputs the caller has cleared
    (see :func:`check_output_file`): ``dest`` is replaced whole or not at all. A ``shared``
    file gets the umask's mode (see :func:`shared_modes`); otherwise it stays owner-only.
    """
    dest = Path(dest)
    if dest.is_dir():
        raise KGError(f"{dest}: is a folder; rxkg writes a file there and never replaces a folder")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", dir=dest.parent)
    except OSError as err:
        raise KGError(f"{dest}: cannot write there ({err.strerror})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if shared:
            shared_modes(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
