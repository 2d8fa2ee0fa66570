"""Run folders on disk: safe default names, the check before simulating, and the atomic swap.

- ``safe_folder_name(name)``: a folder name made from a scenario's (or sweep spec's) name that
  cannot leave its parent folder: only ``A-Z a-z 0-9 . _ -`` (accents are dropped, anything
  else becomes ``-``), no leading or trailing dots or dashes, at most 64 characters; when that
  changed the name, or left nothing, ``-`` plus the first 8 hex digits of the name's SHA-256
  is appended (``run-<hash>`` when nothing is left).
- ``check_run_dir(out, force)``: before anything is simulated, says in one line
  (``RunFolderError``) why ``out`` cannot take a run: it is a file, lies under a file, cannot
  be written, or is a non-empty folder that is not a run folder (allowed with ``force``). It
  also repairs what an interrupted swap left behind.
- ``replace_run_dir(out, build, force)``: builds the whole run in a temporary sibling folder
  and swaps it in, so that at every moment ``out`` holds either the old complete run or the new
  one. With ``force`` on a folder that is not a run folder, the run's files are written into it
  instead (``summary.json`` removed first and written last) and its other files are kept.

A *run folder* is a folder holding ``summary.json`` and nothing but the files a run writes
(``RUN_FILES``, and the temporary files of their atomic writes).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

from simulator import schema

SUMMARY = "summary.json"
DASHBOARD = "dashboard.html"
RUN_FILES = ("scenario.yaml", *(f"{t}.parquet" for t in schema.TABLES), SUMMARY, DASHBOARD)
MAX_NAME = 64

_SLUG_DROP = re.compile(r"[^A-Za-z0-9._-]+")
_TEMP_FILE = re.compile(r"^\.(.+)\.[^.]+\.tmp$")  # simulator.atomic's temporary files
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>new|old|trash|probe)-(?P<pid>\d+)-[a-z0-9_]+$")
_UMASK = os.umask(0)
os.umask(_UMASK)


class RunFolderError(ValueError):
    """A run folder that cannot be used; the message is one line naming the path."""


def safe_folder_name(name: str, max_length: int = MAX_NAME) -> str:
    """A folder name for ``name`` that stays inside its parent (see the module docstring)."""
    text = str(name)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_DROP.sub("-", ascii_text).strip(".-")
    if slug and slug == text and len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    slug = slug[: max_length - len(digest) - 1].rstrip(".-")
    return f"{slug}-{digest}" if slug else f"run-{digest}"


# --- what is there --------------------------------------------------------------------------


def _is_run_file(name: str) -> bool:
    temp = _TEMP_FILE.match(name)
    return name in RUN_FILES or (temp is not None and temp.group(1) in RUN_FILES)


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return list(it)


def is_run_folder(folder: Path) -> bool:
    """A folder holding ``summary.json`` and only files a run writes (regular files)."""
    entries = _entries(folder)
    return any(e.name == SUMMARY for e in entries) and all(
        _is_run_file(e.name) and e.is_file(follow_symlinks=False) for e in entries
    )


SEEDS_FILE = "seeds.json"
SEED_FOLDER = re.compile(r"^seed-\d+$")


def is_seed_set(folder: Path) -> bool:
    """A folder ``llm-market run --seeds K`` wrote: ``seeds.json`` and one run folder per seed
    (``seed-<seed>``), nothing else; it may be replaced as a whole like a run folder."""
    entries = _entries(folder)
    return any(e.name == SEEDS_FILE for e in entries) and all(
        (e.name == SEEDS_FILE or _TEMP_FILE.match(e.name) is not None)
        and e.is_file(follow_symlinks=False)
        or SEED_FOLDER.match(e.name)
        and e.is_dir(follow_symlinks=False)
        and is_run_folder(Path(e.path))
        for e in entries
    )


def _listing(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _writable(folder: Path, target: Path) -> str | None:
    """None if a folder can be created in ``folder``, else why not (the probe is named as a
    leftover of ``target``, so a kill right then leaves nothing ``recover`` would not remove)."""
    try:
        probe = tempfile.mkdtemp(prefix=f".{target.name}.probe-{os.getpid()}-", dir=folder)
        os.rmdir(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _resolve(out: str | os.PathLike) -> Path:
    text = os.fspath(out)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise RunFolderError(f"{text!r}: not a usable folder path")
    try:
        return Path(text).resolve()
    except (OSError, RuntimeError) as exc:
        raise RunFolderError(f"{text}: cannot resolve the path ({exc})") from None


def check_run_dir(out: str | os.PathLike, force: bool = False) -> Path:
    """Check that a run can be written to ``out``; return its resolved path.

    Raises ``RunFolderError`` (one line) if ``out`` is a file or lies under one, cannot be
    written, holds a file or folder named like a run file that is not a regular file, or is a
    non-empty folder that is not a run folder and ``force`` is false. Leftovers of an
    interrupted swap next to ``out`` are cleaned up first (an old run moved aside and not yet
    replaced is moved back).
    """
    target = _resolve(out)
    shown = os.fspath(out)
    try:
        problem, where = _check(target, shown, force)
    except OSError as exc:
        raise RunFolderError(f"{shown}: cannot use this folder ({exc.strerror or exc})") from None
    if problem:
        raise RunFolderError(f"{shown}: cannot write in {where} ({problem})")
    return target


def _check(target: Path, shown: str, force: bool) -> tuple[str | None, Path]:
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == target else f"lies under a file ({existing})"
        raise RunFolderError(f"{shown}: {where}, not a folder")
    if target.parent.is_dir():
        recover(target)
    if not target.is_dir():
        return _writable(existing, target), existing
    entries = _entries(target)
    if not entries or is_run_folder(target) or is_seed_set(target):
        return _writable(target.parent, target), target.parent
    if not force:
        raise RunFolderError(
            f"{shown}: folder is not empty and is not a run folder (it holds "
            f"{_listing([e.name for e in entries])}); use another --out folder, or "
            "--force to write the run's files into it (its other files are kept)"
        )
    odd = [e.name for e in entries if e.name in RUN_FILES and not e.is_file()]
    if odd:
        raise RunFolderError(
            f"{shown}: {_listing(odd)} is not a regular file; move it or use another --out folder"
        )
    return _writable(target, target), target


# --- leftovers of an interrupted swap -------------------------------------------------------


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _leftovers(target: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"new": [], "old": [], "trash": [], "probe": []}
    for entry in _entries(target.parent):
        match = _LEFTOVER.match(entry.name)
        if match and match["name"] == target.name and not _alive(int(match["pid"])):
            found[match["kind"]].append(target.parent / entry.name)
    return found


def recover(target: Path) -> None:
    """Clean up what an interrupted swap next to ``target`` left behind (no live owner).

    An old run moved aside (``.NAME.old-*``) goes back if ``target`` is missing; every other
    leftover (unfinished new runs, old runs being deleted) is deleted.
    """
    found = _leftovers(target)
    if not target.exists() and found["old"]:
        newest = max(found["old"], key=lambda p: p.stat().st_mtime)
        os.rename(newest, target)
        found["old"].remove(newest)
    for path in found["new"] + found["old"] + found["trash"] + found["probe"]:
        shutil.rmtree(path, ignore_errors=True)


# --- writing --------------------------------------------------------------------------------


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync folders
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    for entry in _entries(folder):
        if entry.is_file(follow_symlinks=False):
            _fsync(folder / entry.name)
    _fsync(folder)


def _aside(target: Path, kind: str) -> Path:
    """A fresh unused sibling name ``.NAME.KIND-PID-XXXXXXXX`` (created empty, then removed
    when it only reserves a name for a rename)."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.{kind}-{os.getpid()}-", dir=target.parent))


def replace_run_dir(
    out: str | os.PathLike, build: Callable[[Path], None], force: bool = False
) -> Path:
    """Have ``build(folder)`` write a run into a fresh folder and swap it in as ``out``.

    A kill at any moment leaves at ``out`` the old complete run or the new one (between the
    two renames of the fallback for systems without an atomic exchange, the old run is moved
    aside, and the next ``check_run_dir`` moves it back). With ``force`` on a folder that is not
    a run folder, the run is written into it in place (see ``write_in_place``).
    """
    target = check_run_dir(out, force)
    replaceable = is_run_folder(target) or is_seed_set(target) if target.is_dir() else True
    if target.is_dir() and any(True for _ in _entries(target)) and not replaceable:
        write_in_place(target, build)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _aside(target, "new")
    try:
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes 0700; a run folder is an ordinary one
        build(staging)
        _sync_tree(staging)
        if not target.exists():
            os.rename(staging, target)
        elif _exchange(staging, target):
            trash = _aside(target, "trash")
            os.rename(staging, trash)  # over the empty placeholder; it holds the old run now
            shutil.rmtree(trash, ignore_errors=True)
        else:
            old = _aside(target, "old")
            os.rename(target, old)  # replaces the empty placeholder
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(old, target)
                raise
            trash = _aside(target, "trash")
            os.rename(old, trash)
            shutil.rmtree(trash, ignore_errors=True)
        _fsync(target.parent)
    except BaseException:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def write_in_place(target: Path, build: Callable[[Path], None]) -> None:
    """Write a run into a folder that also holds other files (``--force``): remove the old
    ``summary.json`` (the run is incomplete until the new one is written, last) and the old
    dashboard, build the run in a staging folder, and move each file in; other files stay."""
    for name in (SUMMARY, DASHBOARD):
        with contextlib.suppress(FileNotFoundError):
            (target / name).unlink()
    staging = _aside(target, "new")
    try:
        build(staging)
        _sync_tree(staging)
        names = sorted(os.listdir(staging), key=lambda n: n == SUMMARY)  # summary last
        for name in names:
            os.replace(staging / name, target / name)
        _fsync(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
