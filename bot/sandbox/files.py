"""Uploaded files: stored on disk, known by file_id, downloadable by file_path."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PHOTO_SIDES = (90, 320, 800, 1280)
VOICE_PREFIX = "AwAC"  # file_ids start by kind, as Telegram's do: AgAC photo, BQAC document


@dataclass
class StoredFile:
    """One file_id: where its bytes are and what Telegram says about it."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_size: int
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    group: str | None = None
    duration: int | None = None


class FileStore:
    """Files in `data_dir` (a temporary folder when None), indexed in files.json there."""

    def __init__(self, data_dir: Path | None) -> None:
        self._temporary = data_dir is None
        self.root = (
            Path(tempfile.mkdtemp(prefix="linli-sandbox-")) if data_dir is None else data_dir
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self._index_path = self.root / "files.json"
        self.files: dict[str, StoredFile] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self._index_path.read_text("utf-8"))
            self.files = {f["file_id"]: StoredFile(**f) for f in raw}
        except FileNotFoundError:
            return
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring a corrupt sandbox file index %s: %s", self._index_path, exc)

    def _save(self) -> None:
        data = json.dumps([asdict(f) for f in self.files.values()], ensure_ascii=False)
        tmp = self._index_path.with_suffix(".tmp")
        tmp.write_text(data, "utf-8")
        tmp.replace(self._index_path)

    def close(self) -> None:
        """Remove the temporary folder, if the store made one."""
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def get(self, file_id: str) -> StoredFile | None:
        """A file by file_id."""
        return self.files.get(file_id)

    def by_path(self, file_path: str) -> Path | None:
        """The disk path for a download path, if it is one of ours."""
        for stored in self.files.values():
            if stored.file_path == file_path:
                path = self.root / stored.file_path
                return path if path.is_file() else None
        return None

    def _write(self, data: bytes, folder: str, suffix: str) -> tuple[str, str]:
        unique = hashlib.sha256(data).hexdigest()[:16]
        rel = f"{folder}/file_{unique}{suffix}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(data)
        return rel, unique

    def _register(self, prefix: str, rel: str, unique: str, size: int, **extra: Any) -> StoredFile:
        stored = StoredFile(
            file_id=f"{prefix}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{unique}",
            file_path=rel,
            file_size=size,
            **extra,
        )
        self.files[stored.file_id] = stored
        return stored

    def add_document(self, data: bytes, file_name: str, mime_type: str | None) -> dict[str, Any]:
        """Store a document; returns the Bot API Document object."""
        suffix = Path(file_name).suffix[:10]
        rel, unique = self._write(data, "documents", suffix)
        mime = mime_type if mime_type and mime_type != "application/octet-stream" else None
        stored = self._register("BQAC", rel, unique, len(data), file_name=file_name, mime_type=mime)
        self._save()
        return self.document_api(stored)

    def document_api(self, stored: StoredFile) -> dict[str, Any]:
        """The Bot API Document object of a stored file."""
        fields = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type")
        return {k: getattr(stored, k) for k in fields if getattr(stored, k) is not None}

    def add_voice(self, data: bytes, duration: int) -> dict[str, Any]:
        """Store a voice message (OGG/Opus as sent); returns the Bot API Voice object."""
        rel, unique = self._write(data, "voice", ".oga")
        stored = self._register(
            VOICE_PREFIX, rel, unique, len(data), mime_type="audio/ogg", duration=max(0, duration)
        )
        self._save()
        return self.voice_api(stored)

    def voice(self, file_id: str) -> dict[str, Any] | None:
        """The Voice object of a stored voice file_id (None for other files and unknown ids)."""
        stored = self.files.get(file_id)
        if stored is None or not stored.file_id.startswith(VOICE_PREFIX):
            return None
        return self.voice_api(stored)

    @staticmethod
    def voice_api(stored: StoredFile) -> dict[str, Any]:
        """The Bot API Voice object of a stored file."""
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": stored.duration or 0,
            "mime_type": stored.mime_type or "audio/ogg",
            "file_size": stored.file_size,
        }

    def photo_sizes(self, file_id: str) -> list[dict[str, Any]] | None:
        """The PhotoSize list a photo file_id belongs to (to send it again)."""
        stored = self.files.get(file_id)
        if stored is None:
            return None
        group = [f for f in self.files.values() if stored.group and f.group == stored.group]
        return [_size(f) for f in group or [stored]]

    def add_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Store a photo; returns a PhotoSize list (a few sizes sharing the same bytes)."""
        width, height = image_size(data) or (1280, 960)
        rel, unique = self._write(data, "photos", ".jpg" if data[:2] == b"\xff\xd8" else ".png")
        group = secrets.token_hex(8)
        sizes = []
        longest = max(width, height)
        for side in PHOTO_SIDES:
            scale = min(1.0, side / longest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            stored = self._register(
                "AgAC", rel, f"{unique}{side}", len(data), width=w, height=h, group=group
            )
            sizes.append(_size(stored))
            if scale == 1.0:
                break
        self._save()
        return sizes

    def file_api(self, file_id: str) -> dict[str, Any] | None:
        """getFile's File object."""
        stored = self.files.get(file_id)
        if stored is None:
            return None
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }


def _size(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
        "width": stored.width or 1280,
        "height": stored.height or 960,
    }


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
    return None
