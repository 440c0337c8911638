"""The helper's cache files as the tests read and edit them: two slots
per file (helperd/store/cache_image.h has the layout), each holding one
record's JSON under a header with a sequence number and a CRC-32; files
of the older layout hold the JSON alone and are still read.  Written
from the header's description, not from the C code, so that the tests
check the two agree."""

import json
import os
import struct
import zlib

MAGIC = b"FCSLOT01"
HEADER = 32
ALIGN = 4096
SLOT_MAX = 32 * 1024


def slots(data):
    """[(slot index, seq, record bytes)] of the whole slots in `data`, or
    None when `data` is not two slots of a valid size."""
    size = len(data) // 2
    if len(data) % 2 or size < ALIGN or size > SLOT_MAX or size % ALIGN:
        return None
    whole = []
    for i in (0, 1):
        slot = data[i * size:(i + 1) * size]
        magic, seq, length, crc, zero = struct.unpack("<8sQII8s", slot[:HEADER])
        if magic != MAGIC or zero != bytes(8) or not 0 < length <= size - HEADER:
            continue
        record = slot[HEADER:HEADER + length]
        if zlib.crc32(slot[:20] + record) != crc:
            continue
        whole.append((i, seq, record))
    return whole


def newest(data):
    """(slot index, seq, record bytes) of the newest whole slot, or None."""
    found = slots(data) or []
    return max(found, key=lambda s: (s[1], -s[0])) if found else None


def record_bytes(data):
    """The record's JSON in a file's bytes, whichever layout, or None."""
    if data[:1] == b"{":
        return data
    n = newest(data)
    return n[2] if n else None


def read_record(path):
    """The record in the file at `path` as a dict; None when there is no
    file; ValueError when it holds no whole record."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    raw = record_bytes(data)
    if raw is None:
        raise ValueError("%s holds no whole cache record" % path)
    return json.loads(raw)


def image(rec, seq=1, slot=0):
    """The bytes of a file whose slot `slot` holds `rec` (a dict)."""
    raw = json.dumps(rec, separators=(",", ":")).encode()
    size = (HEADER + len(raw) + ALIGN - 1) // ALIGN * ALIGN
    head = struct.pack("<8sQI", MAGIC, seq, len(raw))
    crc = zlib.crc32(head + raw)
    body = head + struct.pack("<I", crc) + bytes(8) + raw
    body += bytes(size - len(body))
    empty = bytes(size)
    return body + empty if slot == 0 else empty + body


def replace(path, data):
    """Put `data` at `path` the way the helper does: a private temporary
    file renamed into place."""
    tmp = os.path.join(os.path.dirname(path), ".edit.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def rewrite(path, layout="slots", **changes):
    """Change fields of the record at `path`.  layout "slots" writes the
    helper's layout; "json" the older one (the JSON alone), which the
    helper's next store replaces with a new file."""
    rec = read_record(path)
    rec.update(changes)
    if layout == "json":
        replace(path, json.dumps(rec).encode())
    else:
        replace(path, image(rec))
