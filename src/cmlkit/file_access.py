"""Open an input file safely and settle its text encoding, with one-line errors for everything else.

:func:`check_readable` looks at the path with ``os.stat`` *before* opening it, so a named pipe
(FIFO) never blocks, and a folder, device, socket, broken symbolic link, missing file or a file
without read permission each give one line naming the file. :func:`settle_encoding` decides how a
text export is decoded: UTF-8 (with or without BOM) or cp1252, a UTF-8 BOM in front of a cp1252 body
(read as cp1252, noted), and a file that mixes UTF-8 with stray bytes of another encoding (an error
naming the row and column of the first bad byte).

Row numbers in every message are the row as a spreadsheet shows the file: the first header row is
row 1 (see :data:`cmlkit.errors.ROW_CONVENTION`).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from pathlib import Path

import numpy as np
import pyarrow as pa

from cmlkit.errors import IngestError

HEAD_BYTES = 1 << 20
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_NOT_A_FILE = [  # (stat test, message): a registry, checked in order
    (stat.S_ISDIR, "input is a folder, not a file"),
    (stat.S_ISFIFO, "input is a named pipe (FIFO), not a file; save the export to a regular file"),
    (stat.S_ISCHR, "input is a character device, not a file"),
    (stat.S_ISBLK, "input is a block device, not a file"),
    (stat.S_ISSOCK, "input is a socket, not a file"),
]


def check_readable(path) -> Path:
    """Return ``path`` if it is a regular, readable file; else raise a one-line :class:`IngestError`.

    Nothing is opened: the checks use ``os.stat``, ``os.path.islink`` and ``os.access``.

    Parameters
    ----------
    path : path-like
        The input file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    IngestError
        A missing file, a broken symbolic link, a path that cannot be reached, a folder, named pipe,
        device or socket, or a file without read permission.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise IngestError(f"input is a broken symbolic link (its target {os.readlink(path)!r} does not exist)", file=path) from None
        raise IngestError("input file not found", file=path) from None
    except PermissionError:
        raise IngestError("permission denied: cannot reach the file (check the folder's permissions)", file=path) from None
    except OSError as exc:
        raise IngestError(f"cannot access the file ({exc.strerror or type(exc).__name__})", file=path) from None
    for test, message in _NOT_A_FILE:
        if test(st.st_mode):
            raise IngestError(message, file=path)
    if not stat.S_ISREG(st.st_mode):
        raise IngestError("input is not a regular file", file=path)
    if not os.access(path, os.R_OK):
        raise IngestError("permission denied: the file has no read permission for this user", file=path)
    return path


def read_head(path, n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a checked file (an OS error becomes a one-line :class:`IngestError`).

    Parameters
    ----------
    path : path-like
        A file :func:`check_readable` accepted.
    n : int, default HEAD_BYTES (1 MiB)
        Number of bytes to read.

    Returns
    -------
    bytes
        Up to ``n`` bytes.

    Raises
    ------
    IngestError
        Permission denied or another OS error while reading.
    """
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise IngestError("permission denied: the file has no read permission for this user", file=path) from None
    except OSError as exc:
        raise IngestError(f"cannot read the file ({exc.strerror or type(exc).__name__})", file=path) from None


def locate(text: str, pos: int, delim: str = ",") -> tuple[int, int]:
    """Spreadsheet row (header = 1) and 0-based field of character ``pos`` of CSV ``text`` (errors only).

    Parameters
    ----------
    text : str
        The CSV text from its start.
    pos : int
        Character offset in ``text``.
    delim : str, default ","
        The delimiter.

    Returns
    -------
    tuple of int
        ``(row, field)``.
    """
    records = list(csv.reader(io.StringIO(text[:pos] + "\x00", newline=""), delimiter=delim))
    return max(len(records), 1), (len(records[-1]) - 1 if records else 0)


def _bad_byte_error(data: bytes, pos: int, *, path, what: str, delim: str | None = None):
    text = data[:pos].decode("utf-8", errors="replace")
    delim = delim or _delimiter_of(text.split("\n", 1)[0])
    row, field = locate(text, len(text), delim)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=delim), [])
    column = header[field].lstrip("\ufeff") if field < len(header) else f"field {field + 1}"
    char = data[pos:pos + 1].decode("cp1252", errors="replace")
    raise IngestError(f"{what}: byte 0x{data[pos]:02X} (cp1252 {char!r}) is not UTF-8; the file mixes encodings; "
                      f"re-export it as UTF-8", file=path, row=row, column=column[:80])


def _delimiter_of(first_line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _mostly_utf8(data: bytes) -> bool:
    """True when valid UTF-8 characters outnumber the bytes that are not UTF-8 (a UTF-8 file with stray bytes).

    A cp1252 file can hold a few byte pairs that happen to be valid UTF-8 (its own mojibake, ``Ã©``),
    but its invalid bytes then far outnumber them.
    """
    good = len(_UTF8_MULTIBYTE.findall(data))
    bad = data.decode("utf-8", errors="replace").count("\ufffd") - data.count(b"\xef\xbf\xbd")
    return good > 0 and good >= bad


def settle_encoding(head: bytes, *, path, complete: bool) -> tuple[str, int, list]:
    """Decide how to decode a text export from its first bytes.

    Parameters
    ----------
    head : bytes
        The file's first bytes (:func:`read_head`).
    path : path-like
        The file, for messages (and to read the rest of a large file).
    complete : bool
        ``head`` is the whole file; when False, a UTF-8 head is confirmed by decoding the rest of
        the file in chunks.

    Returns
    -------
    (encoding, skip, notes)
        ``utf-8`` or ``cp1252``; the number of leading bytes to skip (a BOM); notes for the ingest log.

    Raises
    ------
    IngestError
        Empty, UTF-16 or binary file; a file mixing UTF-8 with another encoding (naming the row and
        column of the first bad byte); text that is neither UTF-8 nor cp1252.
    """
    if not head.strip():
        raise IngestError("file is empty", file=path)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError("file is UTF-16 text; export or save it as UTF-8 CSV", file=path)
    sample = head[:8192]
    if b"\x00" in sample:
        if max(sample[0::2].count(0), sample[1::2].count(0)) > 0.3 * len(sample) / 2:   # every other byte NUL
            raise IngestError("file is UTF-16 text without a byte-order mark; export or save it as UTF-8 CSV", file=path)
        raise IngestError("file is binary, not a text export (found NUL bytes)", file=path)
    bom = head.startswith(codecs.BOM_UTF8)
    skip = 3 if bom else 0
    data = head[skip:] if complete else head[skip: head.rfind(b"\n") + 1 or len(head)]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data):
            _bad_byte_error(head[skip:], exc.start, path=path, what="text is UTF-8 except for one or more bytes")
        try:
            data.decode("cp1252")
        except UnicodeDecodeError as exc2:
            row = data[: exc2.start].count(b"\n") + 1
            raise IngestError("text is neither UTF-8 nor cp1252", file=path, row=row) from None
        notes = [{"action": "encoding", "reason": "file starts with a UTF-8 byte-order mark but its text is cp1252: read as cp1252"}] if bom else []
        return "cp1252", skip, notes
    if not complete:
        return _settle_rest(path, skip)
    return "utf-8", skip, []


def _utf8_valid(path, skip: int) -> bool:
    """Whether the file after ``skip`` bytes is UTF-8, by arrow's UTF-8 validation (C++) of chunks cut at line breaks.

    A line break is never inside a multi-byte character, so each chunk is checked whole; no text is decoded.
    """
    def valid(part) -> bool:
        offsets = pa.py_buffer(np.array([0, len(part)], dtype=np.int64))
        try:
            pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(part)]).validate(full=True)
        except pa.ArrowInvalid:
            return False
        return True

    carry = b""
    with open(path, "rb") as fh:
        fh.seek(skip)
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            chunk = carry + chunk if carry else chunk
            cut = chunk.rfind(b"\n") + 1
            if cut and not valid(memoryview(chunk)[:cut]):
                return False
            carry = chunk[cut:]
    return valid(carry)


def _settle_rest(path, skip: int) -> tuple[str, int, list]:
    """A large file whose head is UTF-8: confirm the rest is too, reading it in chunks.

    Arrow's validation settles a UTF-8 file; only one that is not is decoded again (to find its first bad byte).
    """
    if _utf8_valid(path, skip):
        return "utf-8", skip, []
    dec = codecs.getincrementaldecoder("utf-8")()
    done = 0
    with open(path, "rb") as fh:
        fh.seek(skip)
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            pending = len(dec.getstate()[0])
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as exc:
                pos = done - pending + exc.start
                fh.seek(skip)
                whole = fh.read()
                if _mostly_utf8(whole):
                    _bad_byte_error(whole, max(pos, 0), path=path, what="text is UTF-8 except for one or more bytes")
                return "cp1252", skip, []
            done += len(chunk)
    return "utf-8", skip, []
