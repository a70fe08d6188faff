"""Safe saving: atomic file and folder writes, folder manifests, output locks.

Every file and folder textcl writes goes through this package, so that a crash,
a full disk or a second process never leaves a half-written or mixed output
behind, and a damaged folder is refused with an error naming the file. The
on-disk rules are written down in ``docs/format.md``.

Modules: :mod:`~textcl.storage.atomic` (files), :mod:`~textcl.storage.folders`
(folders), :mod:`~textcl.storage.manifest` (what a folder must hold),
:mod:`~textcl.storage.lock` (one writer per output), :mod:`~textcl.storage.guard` (the one
output guard every writer uses), :mod:`~textcl.storage.errors`.
"""

from textcl.storage.atomic import (
                                   atomic_output_file,
                                   atomic_write_bytes,
                                   atomic_write_json,
                                   atomic_write_text,
                                   check_output_file,
                                   check_parent_writable,
                                   fsync_dir,
                                   fsync_file,
                                   replace_into_place,
)
from textcl.storage.errors import (
                                   CorruptFolderError,
                                   FormatVersionError,
                                   LockHeldError,
                                   MissingManifestError,
                                   OutputExistsError,
)
from textcl.storage.folders import (
                                   aside_path,
                                   atomic_folder,
                                   check_folder_target,
                                   complete_sibling,
                                   find_siblings,
                                   recover_folder,
)
from textcl.storage.guard import check_not_an_input, guard_output, output_lock
from textcl.storage.lock import LOCK_FILE, OutputLock, read_lock
from textcl.storage.manifest import (
                                   MANIFEST_FILE,
                                   MANIFEST_VERSION,
                                   read_manifest,
                                   sha256_file,
                                   verify_manifest,
                                   write_manifest,
)
from textcl.storage.versions import check_format_version

__all__ = [
    "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_output_file",
    "fsync_file", "fsync_dir", "replace_into_place", "check_output_file", "check_parent_writable",
    "atomic_folder", "check_folder_target", "recover_folder", "find_siblings", "complete_sibling", "aside_path",
    "write_manifest", "read_manifest", "verify_manifest", "sha256_file", "MANIFEST_FILE", "MANIFEST_VERSION",
    "OutputLock", "read_lock", "LOCK_FILE", "guard_output", "check_not_an_input", "output_lock",
    "check_format_version",
    "CorruptFolderError", "MissingManifestError", "OutputExistsError", "LockHeldError", "FormatVersionError",
]
