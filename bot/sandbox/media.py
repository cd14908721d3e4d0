"""Bot API methods with files (sendPhoto, sendDocument, getFile) and copying/forwarding."""

from __future__ import annotations

from typing import Any

from bot.sandbox import entities
from bot.sandbox.errors import bad_request
from bot.sandbox.files import image_size
from bot.sandbox.hub import Hub
from bot.sandbox.messaging import MAX_CAPTION, extras, formatted, post, target
from bot.sandbox.params import Params

WRONG_FILE = "wrong file identifier/HTTP URL specified"
COPIED_FIELDS = ("text", "entities", "caption", "caption_entities", "photo", "document")


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


async def send_photo(hub: Hub, params: Params) -> dict[str, Any]:
    """sendPhoto: an upload or a known file_id; returns a Message with a PhotoSize list."""
    chat = target(hub, params)
    upload = params.uploads.get("photo")
    if upload is not None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        if image_size(upload.data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        photo = hub.files.add_photo(upload.data)
    else:
        sizes = hub.files.photo_sizes(_reference(params, "photo"))
        if sizes is None:
            raise bad_request(WRONG_FILE)
        photo = sizes
    caption = _caption(params)
    fields, keyboard = extras(hub, chat, params)
    return post(hub, chat, keyboard, photo=photo, **caption, **fields)


async def send_document(hub: Hub, params: Params) -> dict[str, Any]:
    """sendDocument: an upload or a known file_id."""
    chat = target(hub, params)
    upload = params.uploads.get("document")
    if upload is not None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        document = hub.files.add_document(upload.data, upload.filename, upload.content_type)
    else:
        stored = hub.files.get(_reference(params, "document"))
        if stored is None:
            raise bad_request(WRONG_FILE)
        document = hub.files.document_api(stored)
    caption = _caption(params)
    fields, keyboard = extras(hub, chat, params)
    return post(hub, chat, keyboard, document=document, **caption, **fields)


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
    "getfile": get_file,
    "copymessage": copy_message,
    "forwardmessage": forward_message,
}
