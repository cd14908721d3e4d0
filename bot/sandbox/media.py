"""Bot API methods with files (sendPhoto, sendDocument, sendVoice, getFile), copying, forwarding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox import entities
from bot.sandbox.errors import bad_request
from bot.sandbox.files import image_size
from bot.sandbox.hub import Hub
from bot.sandbox.messaging import MAX_CAPTION, extras, formatted, post, target
from bot.sandbox.params import Params, Upload

WRONG_FILE = "wrong file identifier/HTTP URL specified"
COPIED_FIELDS = ("text", "entities", "caption", "caption_entities", "photo", "document", "voice")


def _caption(params: Params) -> dict[str, Any]:
    caption, ents = formatted(params, "caption", "parse_mode", "caption_entities")
    if entities.utf16_len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return {"caption": caption or None, "caption_entities": ents or None}


def _reference(params: Params, name: str) -> str:
    ref = params.string(name)
    if not ref:
        raise bad_request(f"there is no {name} in the request")
    if ref.startswith(("http://", "https://")):
        raise bad_request(WRONG_FILE)  # no internet in the sandbox
    return ref


def _send_file(
    hub: Hub,
    params: Params,
    name: str,
    store: Callable[[Upload], Any],
    lookup: Callable[[str], Any],
) -> dict[str, Any]:
    """Send the file in parameter `name`: an upload (`store`) or a known file_id (`lookup`)."""
    chat = target(hub, params)
    upload = params.uploads.get(name)
    if upload is not None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        value = store(upload)
    else:
        value = lookup(_reference(params, name))
        if value is None:
            raise bad_request(WRONG_FILE)
    caption = _caption(params)
    fields, keyboard = extras(hub, chat, params)
    return post(hub, chat, keyboard, **{name: value}, **caption, **fields)


async def send_photo(hub: Hub, params: Params) -> dict[str, Any]:
    """sendPhoto: an upload or a known file_id; returns a Message with a PhotoSize list."""

    def store(upload: Upload) -> Any:
        if image_size(upload.data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return hub.files.add_photo(upload.data)

    return _send_file(hub, params, "photo", store, hub.files.photo_sizes)


async def send_document(hub: Hub, params: Params) -> dict[str, Any]:
    """sendDocument: an upload or a known file_id."""

    def lookup(ref: str) -> Any:
        stored = hub.files.get(ref)
        return hub.files.document_api(stored) if stored is not None else None

    return _send_file(
        hub,
        params,
        "document",
        lambda u: hub.files.add_document(u.data, u.filename, u.content_type),
        lookup,
    )


async def send_voice(hub: Hub, params: Params) -> dict[str, Any]:
    """sendVoice: an upload (kept as sent, OGG/Opus) or a known voice file_id; `duration`."""

    def lookup(ref: str) -> Any:
        voice = hub.files.voice(ref)
        if voice is None and hub.files.get(ref) is not None:
            raise bad_request("type of file mismatch")
        return voice

    return _send_file(
        hub,
        params,
        "voice",
        lambda u: hub.files.add_voice(u.data, params.integer("duration") or 0),
        lookup,
    )


async def get_file(hub: Hub, params: Params) -> dict[str, Any]:
    """getFile: the File object with its download file_path."""
    file_id = params.string("file_id", required=True, empty="file_id is empty") or ""
    found = hub.files.file_api(file_id)
    if found is None:
        raise bad_request("invalid file_id")
    return found


def _source(hub: Hub, params: Params) -> dict[str, Any]:
    chat = hub.world.chat(params.chat_id("from_chat_id"))
    if chat is None:
        raise bad_request("chat not found")
    message_id = params.integer(
        "message_id", required=True, empty="message identifier is not specified"
    )
    message = chat.live(message_id or 0)
    if message is None:
        raise bad_request("message to copy not found")
    if not any(key in message for key in COPIED_FIELDS):
        raise bad_request("message can't be copied")
    return message


async def copy_message(hub: Hub, params: Params) -> dict[str, Any]:
    """copyMessage: the content again, without a link to the original; returns a MessageId."""
    source = _source(hub, params)
    chat = target(hub, params)
    content = {k: source[k] for k in COPIED_FIELDS if k in source}
    if "text" not in content and params.has("caption"):
        content.update(_caption(params))
    fields, keyboard = extras(hub, chat, params)
    message = post(hub, chat, keyboard, **content, **fields)
    return {"message_id": message["message_id"]}


async def forward_message(hub: Hub, params: Params) -> dict[str, Any]:
    """forwardMessage: the content with forward_origin."""
    source = _source(hub, params)
    chat = target(hub, params)
    content = {k: source[k] for k in COPIED_FIELDS if k in source}
    origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
    if params.boolean("protect_content"):
        content["has_protected_content"] = True
    return post(hub, chat, None, forward_origin=origin, **content)


METHODS = {
    "sendphoto": send_photo,
    "senddocument": send_document,
    "sendvoice": send_voice,
    "getfile": get_file,
    "copymessage": copy_message,
    "forwardmessage": forward_message,
}
