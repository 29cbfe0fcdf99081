"""Exceptions raised by libvdb: one VdbError base, one subclass per vdb_status."""

import enum

__all__ = [
    "Status", "VdbError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError",
    "StorageIOError", "CorruptError", "UnsupportedError", "OutOfMemoryError", "LockedError",
    "VersionError", "ConflictError", "RangeError", "TimedOutError", "AuthenticationError",
    "ConnectionFailedError", "error_for", "error_for_milvus",
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
    EREADONLY = 13
    EPERM = 14


class VdbError(Exception):
    """A libvdb call failed.

    .status  -- a Status (an IntEnum: .name is "EINVAL", int(status) is 1)
    .code    -- the same status as a plain int
    .message -- the library's words for it (vdb_errmsg), naming the field, collection or file
    .milvus_code -- in the remote mode, the code vdb-server answered (Milvus's merr codes:
                    100 collection not found, 1100 invalid parameter, ...); None embedded
    """

    default_status = None

    def __init__(self, status, message="", milvus_code=None):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.code = int(status)
        self.message = message
        self.milvus_code = milvus_code
        name = status.name if isinstance(status, Status) else str(status)
        super().__init__("VDB_%s: %s" % (name, message) if message else "VDB_%s" % name)

    def __reduce__(self):
        return (_rebuild, (type(self), self.code, self.message, self.milvus_code))


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


class ReadOnlyError(VdbError):
    """VDB_EREADONLY: a write on a client opened with read_only=True (a reader process)."""


class PermissionDeniedError(VdbError, PermissionError):
    """VDB_EPERM: the user lacks the privilege (Milvus code 1401, "privilege not permitted"),
    or a wrong old password."""


class AuthenticationError(VdbError, PermissionError):
    """Remote mode: vdb-server refused the token (Milvus code 1800, HTTP 401)."""

    def __init__(self, status=Status.EINVAL, message="", milvus_code=None):
        super().__init__(status, message, milvus_code)


class ConnectionFailedError(VdbError, ConnectionError):
    """Remote mode: vdb-server could not be reached, closed the connection, or is shutting down
    (Milvus code 2). A write whose connection broke may or may not have been applied."""

    def __init__(self, status=Status.EIO, message="", milvus_code=None):
        super().__init__(status, message, milvus_code)


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
    Status.EREADONLY: ReadOnlyError,
    Status.EPERM: PermissionDeniedError,
}


def error_for(status, message=""):
    """The VdbError subclass instance for a status code."""
    try:
        cls = _BY_STATUS.get(Status(status), VdbError)
    except ValueError:
        cls = VdbError
    return cls(status, message)


def _rebuild(cls, code, message, milvus_code):
    if cls in (AuthenticationError, ConnectionFailedError):
        return cls(code, message, milvus_code)
    e = error_for(code, message)
    e.milvus_code = milvus_code
    return e


# vdb-server's answers (Milvus's merr codes, server/README.md "Error codes") -> the status the
# embedded mode raises for the same mistake, so one except clause serves both modes
_BY_MILVUS_CODE = {
    2: (ConnectionFailedError, Status.EIO),          # ServiceUnavailable (shutting down)
    3: (OutOfMemoryError, Status.ENOMEM),            # MemoryLimitExceeded
    100: (NotFoundError, Status.ENOTFOUND),          # CollectionNotFound
    200: (NotFoundError, Status.ENOTFOUND),          # PartitionNotFound
    700: (NotFoundError, Status.ENOTFOUND),          # IndexNotFound
    701: (UnsupportedError, Status.EUNSUPPORTED),    # IndexNotSupported
    800: (NotFoundError, Status.ENOTFOUND),          # DatabaseNotFound
    1001: (StorageIOError, Status.EIO),              # IoFailed
    1100: (InvalidArgumentError, Status.EINVAL),     # ParameterInvalid
    1401: (PermissionDeniedError, Status.EPERM),     # PrivilegeNotPermitted
    1600: (NotFoundError, Status.ENOTFOUND),         # AliasNotFound
    1601: (AlreadyExistsError, Status.EEXIST),       # AliasCollectionNameConflict
    1602: (AlreadyExistsError, Status.EEXIST),       # AliasAlreadyExist
    1102: (InvalidArgumentError, Status.EINVAL),     # ParameterTooLarge
    1700: (NotFoundError, Status.ENOTFOUND),         # FieldNotFound
    1800: (AuthenticationError, Status.EINVAL),      # NeedAuthenticate
    1801: (InvalidArgumentError, Status.EINVAL),     # IncorrectParameterFormat
    1802: (InvalidArgumentError, Status.EINVAL),     # MissingRequiredParameters
    1804: (InvalidArgumentError, Status.EINVAL),     # InvalidInsertData
    1806: (InvalidArgumentError, Status.EINVAL),     # CheckPrimaryKey
    3000: (UnsupportedError, Status.EUNSUPPORTED),   # OperationNotSupported
}


def error_for_milvus(code, message=""):
    """The VdbError for a Milvus error code from vdb-server. vdb-server answers a name already
    taken (VDB_EEXIST) with Milvus's 1100 "invalid parameter" and the library's own words
    ("collection 'c' already exists"): those words make it an AlreadyExistsError here."""
    # any other code (65535 "unexpected"): the server failed in a way it did not name
    cls, status = _BY_MILVUS_CODE.get(code, (VdbError, Status.EIO))
    if code == 1100 and " already " in message:
        cls, status = AlreadyExistsError, Status.EEXIST
    return cls(status, message, code)
