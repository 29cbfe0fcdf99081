"""Exceptions raised by libvdb: one VdbError base, one subclass per vdb_status."""

import enum

__all__ = [
    "Status", "VdbError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError",
    "StorageIOError", "CorruptError", "UnsupportedError", "OutOfMemoryError", "LockedError",
    "VersionError", "ConflictError", "RangeError", "TimedOutError",
]


class Status(enum.IntEnum):
    """The C library's vdb_status codes (include/vdb/types.h)."""

    OK = 0
    EINVAL = 1
    ENOTFOUND = 2
    EEXIST = 3
    EIO = 4
    ECORRUPT = 5
    EUNSUPPORTED = 6
    ENOMEM = 7
    ELOCKED = 8
    EVERSION = 9
    ECONFLICT = 10
    ERANGE = 11
    ETIMEDOUT = 12


class VdbError(Exception):
    """A libvdb call failed.

    .status  -- a Status (an IntEnum: .name is "EINVAL", int(status) is 1)
    .code    -- the same status as a plain int
    .message -- the library's words for it (vdb_errmsg), naming the field, collection or file
    """

    default_status = None

    def __init__(self, status, message=""):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.code = int(status)
        self.message = message
        name = status.name if isinstance(status, Status) else str(status)
        super().__init__("VDB_%s: %s" % (name, message) if message else "VDB_%s" % name)

    def __reduce__(self):
        return (error_for, (self.code, self.message))


class InvalidArgumentError(VdbError, ValueError):
    """VDB_EINVAL: wrong dimension, NaN, unknown field, malformed filter, ..."""


class NotFoundError(VdbError, LookupError):
    """VDB_ENOTFOUND: no such collection, partition, key, index or object."""


class AlreadyExistsError(VdbError):
    """VDB_EEXIST: the name is taken."""


class StorageIOError(VdbError, OSError):
    """VDB_EIO: the operating system or a storage backend failed."""


class CorruptError(VdbError):
    """VDB_ECORRUPT: a file or record failed its checksum or format check."""


class UnsupportedError(VdbError, NotImplementedError):
    """VDB_EUNSUPPORTED: not built yet, or not by this backend (or missing from this libvdb.so)."""


class OutOfMemoryError(VdbError, MemoryError):
    """VDB_ENOMEM."""


class LockedError(VdbError):
    """VDB_ELOCKED: another process (or another Client in this one) holds the folder's lock."""


class VersionError(VdbError):
    """VDB_EVERSION: written by a newer format version."""


class ConflictError(VdbError):
    """VDB_ECONFLICT: a compare-and-swap found another value."""


class RangeError(VdbError):
    """VDB_ERANGE: a timestamp outside the retention window, a value out of range."""


class TimedOutError(VdbError):
    """VDB_ETIMEDOUT: a wait ran out of time (the work goes on: an index build, say)."""


_BY_STATUS = {
    Status.EINVAL: InvalidArgumentError,
    Status.ENOTFOUND: NotFoundError,
    Status.EEXIST: AlreadyExistsError,
    Status.EIO: StorageIOError,
    Status.ECORRUPT: CorruptError,
    Status.EUNSUPPORTED: UnsupportedError,
    Status.ENOMEM: OutOfMemoryError,
    Status.ELOCKED: LockedError,
    Status.EVERSION: VersionError,
    Status.ECONFLICT: ConflictError,
    Status.ERANGE: RangeError,
    Status.ETIMEDOUT: TimedOutError,
}


def error_for(status, message=""):
    """The VdbError subclass instance for a status code."""
    try:
        cls = _BY_STATUS.get(Status(status), VdbError)
    except ValueError:
        cls = VdbError
    return cls(status, message)
