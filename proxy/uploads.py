"""Visitor files (docs/protocol.md §5): what a file is, judged from its bytes, and whether the relay
takes it. The name and the declared type only have a say in one direction: a file whose name or
declared type claims another allowed type than its bytes show is refused (a PDF called
``photo.png``), so what the operator opens is what the visitor's file really is."""
from __future__ import annotations

import mimetypes

import filetype

SNIFF_BYTES = 8192            # read before deciding what a file is
# Types of RELAY_UPLOAD_TYPES' default: images, PDF, plain text, office documents
DEFAULT_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"     # the container of .doc, .xls, .ppt
OLE_TYPES = {".doc": "application/msword", ".xls": "application/vnd.ms-excel",
             ".ppt": "application/vnd.ms-powerpoint"}
TEXT_EXTENSIONS = {"", ".txt", ".text", ".log", ".csv", ".md"}


class Refused(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _is_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:      # a multi-byte character cut at the end of the sniffed bytes
        return not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"


def sniff(head: bytes, name: str, declared: str | None, allowed: tuple[str, ...], complete: bool) -> str:
    """The file's type from its first bytes (``complete``: that is all of it); Refused when it is
    not an allowed type, or when its name or declared type says another allowed type."""
    if not head:
        raise Refused("empty_file", "The file is empty.")
    ext = _extension(name)
    found = filetype.guess_mime(head)
    if found is None and head.startswith(OLE):
        found = OLE_TYPES.get(ext)
    if found is None and _is_text(head, complete) and ext in TEXT_EXTENSIONS:
        found = "text/plain"
    if found is None or found not in allowed:
        raise Refused("unsupported_type", "This type of file cannot be sent.")
    claimed = {(declared or "").split(";", 1)[0].strip().lower(), mimetypes.guess_type("x" + ext)[0] or ""}
    claimed.discard("")
    claimed.discard("application/octet-stream")
    if found == "text/plain":
        claimed.discard("text/csv")
        claimed.discard("text/markdown")
    for other in claimed:
        if other != found and (other in allowed or other.startswith(("image/", "text/html", "application/"))):
            raise Refused("type_mismatch", "The file's name or type does not match its content.")
    return found
