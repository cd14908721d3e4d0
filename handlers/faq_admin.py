"""/faq for staff: search, list, show, add, edit, delete, import, export, reload and gaps.

Everything is authorised on the server for each message and button press
(`FaqService.staff_community`): staff and admins of the community, in one of its registered
groups, or in private when they are staff of exactly one community.

Phone-friendly syntax: the first line is the command, the following lines are the answer:

    /faq add 问题一 | 问题二
    答案……

`/faq list` shows pages of entries with Prev/Next buttons (edited in place), so a long
knowledge base does not flood a group.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Sequence

from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot import faq_files
from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import N_
from handlers import faq as resident_faq
from handlers.common import command, escape, person, reply
from knowledge import Entry, KnowledgeBaseError
from storage.models import ChatKind

log = logging.getLogger(__name__)

PREFIX = "fqa"
PAGE, DELETE, CANCEL = "l", "d", "x"
PAGE_SIZE = 30
SEARCH_LIMIT = 5
GAPS_SHOWN = 10
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 180
MESSAGE_LIMIT = 4000  # Telegram allows 4096; leave room for markup
LANGUAGE_WORD = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
DEFAULT_ANSWER_WORDS = {"zh", "zh-cn", "zh-hans", "default"}
IMPORT_CAPTION = re.compile(r"^/faq(@\w+)?\s+(import|导入)(\s|$)", re.IGNORECASE)

SUBCOMMANDS = {
    "help": "help",
    "帮助": "help",
    "search": "search",
    "find": "search",
    "搜索": "search",
    "查找": "search",
    "list": "list",
    "列表": "list",
    "show": "show",
    "查看": "show",
    "add": "add",
    "添加": "add",
    "新增": "add",
    "edit": "edit",
    "修改": "edit",
    "addq": "addq",
    "加问法": "addq",
    "delete": "delete",
    "del": "delete",
    "remove": "delete",
    "删除": "delete",
    "import": "import",
    "导入": "import",
    "export": "export",
    "导出": "export",
    "reload": "reload",
    "重新加载": "reload",
    "gaps": "gaps",
    "未答": "gaps",
}

USAGE = N_(
    "/faq parking fee — search (or /faq search …)\n"
    "/faq list — every entry, a page at a time\n"
    "/faq show property-fee-payment — one entry\n"
    "/faq add Where is the gym? | Gym opening hours\n"
    "  (new line) The answer — a new entry\n"
    "/faq edit property-fee-payment\n"
    "  (new line) The new answer — replace the answer (add 'en' after the id for the English one)\n"
    "/faq addq property-fee-payment How much is the fee? — another phrasing\n"
    "/faq delete property-fee-payment — delete, after you confirm\n"
    "/faq import — send a YAML, CSV or XLSX file with this caption\n"
    "/faq export — the whole knowledge base as YAML and XLSX\n"
    "/faq reload — re-read the knowledge-base files on the server\n"
    "/faq gaps — the questions I could not answer"
)


# --- parsing and authorisation -------------------------------------------------------------


def parse(text: str) -> tuple[str, str, str]:
    """(subcommand, the rest of the first line, the following lines) of a /faq message."""
    first, _, body = text.partition("\n")
    words = first.split(maxsplit=1)
    rest = words[1].strip() if len(words) > 1 else ""
    if not rest:
        return ("help" if not body.strip() else "search"), body.strip(), ""
    word, _, args = rest.partition(" ")
    name = SUBCOMMANDS.get(word.lower())
    if name is None:
        return "search", " ".join([rest, body.strip()]).strip(), ""
    return name, args.strip(), body.strip()


async def _community(message: Message, context: LinliContext) -> int | None:
    """The community this staff member manages from here, else a polite refusal and None."""
    assert message.from_user is not None
    community_id = await context.services.faq.staff_community(
        person(message.from_user), message.chat.id
    )
    if community_id is None:
        if message.chat.type == "private":
            text = context.tr(
                "Only a community's staff can manage its knowledge base. In a private chat this "
                "works when you are staff of exactly one community; otherwise use /faq in your "
                "community's staff group."
            )
        else:
            text = context.tr("Only this community's staff can manage its knowledge base.")
        await reply(message, text)
    return community_id


async def faq_command(update: Update, context: LinliContext) -> None:
    """/faq and its subcommands."""
    message = update.message
    if message is None or message.from_user is None or not message.text:
        return
    community_id = await _community(message, context)
    if community_id is None:
        return
    name, args, body = parse(message.text)
    handler = ACTIONS[name]
    await handler(message, context, community_id, args, body)


# --- the subcommands ----------------------------------------------------------------------


async def _help(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    stats = await context.services.faq.stats(community_id)
    title = context.tr(
        "📚 Knowledge base: {entries} entries, {questions} questions, {gaps} unanswered.",
        entries=stats.entries,
        questions=stats.questions,
        gaps=stats.open_gaps,
    )
    await reply(message, f"<b>{escape(title)}</b>\n\n" + escape(context.tr(USAGE)))


async def _search(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    words = " ".join([args, body]).strip()
    if not words:
        await reply(message, context.tr("Write what to look for, for example: /faq 停车费"))
        return
    faq = context.services.faq
    found = [(e, s) for e, s in await faq.search(community_id, words, SEARCH_LIMIT) if s > 0]
    if not found:
        await reply(
            message,
            context.tr("No entry matches “{words}”.", words=escape(words[:100])),
        )
        return
    votes = await faq.votes([e.id for e, _ in found])
    lines = [context.tr("Closest entries for “{words}”:", words=escape(words[:100]))]
    for number, (entry, _score) in enumerate(found, 1):
        up, down = votes.get(entry.id, (0, 0))
        lines.append(
            f"{number}. <code>{escape(entry.id)}</code> — {escape(entry.questions[0][:80])}"
            f"  👍 {up} 👎 {down}"
        )
    lines.append("")
    lines.append(escape(context.tr("Details: /faq show <id>")))
    await reply(message, "\n".join(lines))


async def _list(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    text, markup = await _page(context, community_id, 0)
    await reply(message, text, reply_markup=markup)


async def _page(
    context: LinliContext, community_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    kb, _ = await context.services.faq.knowledge(community_id)
    entries = list(kb.entries)
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    header = context.tr(
        "Entries {first}–{last} of {total} (page {page} of {pages}):",
        first=page * PAGE_SIZE + 1 if shown else 0,
        last=page * PAGE_SIZE + len(shown),
        total=len(entries),
        page=page + 1,
        pages=pages,
    )
    lines = [f"<b>{escape(header)}</b>"]
    lines += [f"<code>{escape(e.id)}</code> — {escape(e.questions[0][:60])}" for e in shown]
    buttons = []
    if page > 0:
        buttons.append(
            InlineKeyboardButton(
                context.tr("◀ Previous"),
                callback_data=Callback(PREFIX, (PAGE, str(page - 1))).pack(),
            )
        )
    if page < pages - 1:
        buttons.append(
            InlineKeyboardButton(
                context.tr("Next ▶"), callback_data=Callback(PREFIX, (PAGE, str(page + 1))).pack()
            )
        )
    return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None


async def _show(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    entry_id = args.split()[0] if args.split() else ""
    if not entry_id:
        await reply(message, context.tr("Which entry? For example: /faq show property-fee-payment"))
        return
    entry = await _existing(message, context, community_id, entry_id)
    if entry is None:
        return
    up, down = (await context.services.faq.votes([entry.id])).get(entry.id, (0, 0))
    blocks = [f"<b>{escape(entry.id)}</b>"]
    questions = "\n".join(f"• {escape(q)}" for q in entry.questions)
    label = context.tr("Questions ({count}):", count=len(entry.questions))
    blocks.append(f"<b>{escape(label)}</b>\n" + questions)
    blocks += _text_blocks(context.tr("Answer:"), entry.answer)
    for language, text in entry.answers.items():
        label = (
            context.tr("English answer:")
            if language == "en"
            else context.tr("Answer ({language}):", language=language)
        )
        blocks += _text_blocks(label, text)
    details = []
    if entry.keywords:
        details.append(context.tr("Keywords: {words}", words=escape(", ".join(entry.keywords))))
    if entry.tags:
        details.append(context.tr("Tags: {words}", words=escape(", ".join(entry.tags))))
    for link in entry.links:
        details.append(f"🔗 {escape(link.title + ' ' if link.title else '')}{escape(link.url)}")
    if entry.photo:
        details.append(context.tr("Photo: {photo}", photo=escape(entry.photo)))
    details.append(f"👍 {up} 👎 {down}")
    blocks.append("\n".join(details))
    for chunk in _chunks(blocks):
        await reply(message, chunk)


async def _add(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    questions = [q.strip() for q in re.split(r"[|｜]", args) if q.strip()]
    if not questions or not body:
        await reply(message, escape(_add_example(context)))
        return
    assert message.from_user is not None
    try:
        entry = await context.services.faq.add_entry(
            community_id, questions, body, message.from_user.id
        )
    except KnowledgeBaseError as exc:
        await _problems(message, context, context.tr("I could not save it:"), exc.problems)
        return
    await reply(
        message,
        context.tr(
            "Added {id} with {count} question(s). I will answer it from now on.",
            id=_code(entry.id),
            count=len(entry.questions),
        ),
    )


def _add_example(context: LinliContext) -> str:
    return context.tr(
        "Write the questions on the first line, separated by |, and the answer on the "
        "next lines. For example:\n"
        "/faq add 健身房几点开门 | 健身房开放时间\n"
        "健身房每天 6:00–22:00 开放，在 3 号楼地下一层。"
    )


async def _edit(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    words = args.split(maxsplit=1)
    entry_id = words[0] if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    language: str | None = None
    if body:
        answer = body
        if rest.lower() in DEFAULT_ANSWER_WORDS:
            rest = ""
        if rest:
            if not LANGUAGE_WORD.match(rest.lower()):
                await reply(message, escape(_edit_example(context)))
                return
            language = rest.lower()
    else:
        answer = rest
    if not entry_id or not answer:
        await reply(message, escape(_edit_example(context)))
        return
    assert message.from_user is not None
    try:
        entry = await context.services.faq.edit_answer(
            community_id, entry_id, answer, message.from_user.id, language
        )
    except KnowledgeBaseError as exc:
        await _problems(message, context, context.tr("I could not save it:"), exc.problems)
        return
    if entry is None:
        await _no_such_entry(message, context, entry_id)
        return
    await reply(
        message,
        context.tr("The answer of {id} is updated.", id=_code(entry.id)),
    )


def _edit_example(context: LinliContext) -> str:
    return context.tr(
        "Write the entry's id after /faq edit and the new answer on the next lines. "
        "For example:\n"
        "/faq edit property-fee-payment\n"
        "物业费请到物业服务中心缴纳，也可以在小程序交。\n"
        "For the English answer: /faq edit property-fee-payment en"
    )


async def _addq(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    words = args.split(maxsplit=1)
    entry_id = words[0] if words else ""
    question = " ".join([words[1] if len(words) > 1 else "", body]).strip()
    if not entry_id or not question:
        await reply(
            message,
            escape(
                context.tr(
                    "Write the entry's id and the new phrasing, for example: "
                    "/faq addq property-fee-payment 物业费能用微信交吗"
                )
            ),
        )
        return
    assert message.from_user is not None
    try:
        entry = await context.services.faq.add_question(
            community_id, entry_id, question, message.from_user.id
        )
    except KnowledgeBaseError as exc:
        await _problems(message, context, context.tr("I could not save it:"), exc.problems)
        return
    if entry is None:
        await _no_such_entry(message, context, entry_id)
        return
    await reply(
        message,
        context.tr(
            "Added the phrasing to {id}; it has {count} questions now.",
            id=_code(entry.id),
            count=len(entry.questions),
        ),
    )


async def _delete(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    entry_id = args.split()[0] if args.split() else ""
    if not entry_id:
        await reply(
            message, context.tr("Which entry? For example: /faq delete property-fee-payment")
        )
        return
    entry = await _existing(message, context, community_id, entry_id)
    if entry is None:
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context.tr("Yes, delete it"),
                    callback_data=Callback(PREFIX, (DELETE, *entry.id.split(":"))).pack(),
                ),
                InlineKeyboardButton(
                    context.tr("Cancel"), callback_data=Callback(PREFIX, (CANCEL,)).pack()
                ),
            ]
        ]
    )
    await reply(
        message,
        context.tr(
            "Delete {id} “{question}” from this community's knowledge base?",
            id=_code(entry.id),
            question=escape(entry.questions[0][:100]),
        ),
        reply_markup=buttons,
    )


async def _import(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    replied = message.reply_to_message
    if replied is None or replied.document is None:
        await reply(
            message,
            context.tr(
                "Send a YAML, CSV or XLSX file with the caption /faq import, or reply "
                "/faq import to such a file. Spreadsheet columns: id, questions, answer, "
                "answer_en, tags, keywords."
            ),
        )
        return
    await _import_document(message, context, community_id, replied.document)


async def on_document(update: Update, context: LinliContext) -> None:
    """A file sent with the caption /faq import."""
    message = update.message
    if message is None or message.from_user is None or message.document is None:
        return
    found = IMPORT_CAPTION.match(message.caption or "")
    target = (found.group(1) or "")[1:] if found else ""
    if target and target.lower() != (context.bot.username or "").lower():
        return  # /faq@another_bot import
    community_id = await _community(message, context)
    if community_id is None:
        return
    await _import_document(message, context, community_id, message.document)


async def _import_document(
    message: Message, context: LinliContext, community_id: int, document: Document
) -> None:
    assert message.from_user is not None
    name = document.file_name or "file"
    if faq_files.kind_of(name) is None:
        await reply(
            message,
            escape(
                context.tr(
                    "I can import .yaml, .csv and .xlsx files; {name} is none of these.",
                    name=name,
                )
            ),
        )
        return
    limit_kb = faq_files.MAX_FILE_BYTES // 1024
    if document.file_size is not None and document.file_size > faq_files.MAX_FILE_BYTES:
        await reply(
            message,
            context.tr(
                "The file is too big ({size} KB); the limit is {limit} KB.",
                size=document.file_size // 1024,
                limit=limit_kb,
            ),
        )
        return
    try:
        telegram_file = await document.get_file()
        data = bytes(await telegram_file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("could not download %s: %s", name, exc)
        await reply(message, context.tr("I could not download the file. Please send it again."))
        return
    faq = context.services.faq
    try:
        items = await asyncio.to_thread(faq_files.read_entries, data, name)
        result = await faq.import_changes(community_id, items, message.from_user.id, name)
    except faq_files.FaqFileError as exc:
        await reply(
            message,
            context.tr("Nothing was imported.")
            + "\n"
            + escape(context.tr(exc.msgid, **exc.params)),
        )
        return
    except (faq_files.FaqFileProblems, KnowledgeBaseError) as exc:
        problems = list(exc.problems)
        if isinstance(exc, faq_files.FaqFileProblems) and exc.valid:
            problems += await faq.import_problems(community_id, exc.valid, name)
        await _problems(
            message,
            context,
            context.tr("Nothing was imported. Please fix these problems and send the file again:"),
            problems,
        )
        return
    await reply(
        message,
        context.tr(
            "Imported {name}: {added} new, {updated} changed, {unchanged} unchanged.",
            name=escape(name),
            added=len(result.added),
            updated=len(result.updated),
            unchanged=len(result.unchanged),
        ),
    )


async def _export(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    entries = await context.services.faq.export(community_id)
    stamp = dt.date.today().isoformat()
    name = context.identity.community_name if context.identity else None
    yaml_bytes = await asyncio.to_thread(faq_files.to_yaml, entries, name or "")
    xlsx_bytes = await asyncio.to_thread(faq_files.to_xlsx, entries)
    caption = context.tr(
        "The knowledge base: {count} entries. Edit and send back with the caption /faq import.",
        count=len(entries),
    )
    for data, file_name in (
        (yaml_bytes, f"linli-faq-{stamp}.yaml"),
        (xlsx_bytes, f"linli-faq-{stamp}.xlsx"),
    ):
        try:
            await message.reply_document(
                data,
                filename=file_name,
                caption=caption,
                do_quote=message.chat.type != "private",
            )
        except (BadRequest, Forbidden) as exc:
            log.error("could not send %s in chat %s: %s", file_name, message.chat_id, exc)
            return


async def _reload(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    try:
        kb = await context.services.faq.reload()
    except KnowledgeBaseError as exc:
        await _problems(
            message,
            context,
            context.tr("The files have problems; the knowledge base in use has not changed:"),
            exc.problems,
        )
        return
    await reply(
        message,
        context.tr(
            "Re-read the knowledge-base files: {entries} entries, {questions} questions.",
            entries=len(kb),
            questions=kb.question_count(),
        ),
    )


async def _gaps(
    message: Message, context: LinliContext, community_id: int, args: str, body: str
) -> None:
    kind = context.identity.chat_kind if context.identity else None
    if message.chat.type != "private" and kind is not ChatKind.STAFF:
        # residents' questions (some asked in private) are not shown in their group
        await reply(
            message,
            context.tr(
                "Unanswered questions are shown only in the staff group or in a private chat."
            ),
        )
        return
    gaps = await context.services.faq.gaps(community_id, GAPS_SHOWN)
    if not gaps:
        await reply(message, context.tr("No unanswered questions. 🎉"))
        return
    title = context.tr("Questions I could not answer, most asked first:")
    lines = [f"<b>{escape(title)}</b>"]
    rows = []
    for number, (text, times, query_id) in enumerate(gaps, 1):
        lines.append(
            f"{number}. {escape(text[:200])} "
            + escape(context.tr("(asked {times} times)", times=times))
        )
        rows.append(
            [
                InlineKeyboardButton(
                    context.tr("➕ {number}: add as FAQ", number=number),
                    callback_data=Callback(
                        resident_faq.PREFIX, (resident_faq.ADD_GAP, str(query_id))
                    ).pack(),
                )
            ]
        )
    await reply(message, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


ACTIONS = {
    "help": _help,
    "search": _search,
    "list": _list,
    "show": _show,
    "add": _add,
    "edit": _edit,
    "addq": _addq,
    "delete": _delete,
    "import": _import,
    "export": _export,
    "reload": _reload,
    "gaps": _gaps,
}


# --- buttons --------------------------------------------------------------------------------


async def pressed(update: Update, context: LinliContext) -> None:
    """Prev/Next of /faq list, and the delete confirmation."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        data = unpack(query.data)
        action = data.args[0]
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    chat = query.message.chat
    community_id = await context.services.faq.staff_community(person(query.from_user), chat.id)
    if community_id is None:
        await query.answer(
            context.tr("Only this community's staff can manage its knowledge base."),
            show_alert=True,
        )
        return
    if action == PAGE:
        try:
            page = data.int_arg(1)
        except CallbackDataError:
            await query.answer(context.tr("This button is no longer valid."))
            return
        text, markup = await _page(context, community_id, page)
        await query.answer()
        try:
            await query.edit_message_text(text, parse_mode="HTML", reply_markup=markup)
        except BadRequest as exc:  # "message is not modified"
            log.debug("list page not changed: %s", exc)
        return
    if action not in (DELETE, CANCEL) or (action == DELETE and len(data.args) < 2):
        await query.answer(context.tr("This button is no longer valid."))
        return
    asked_by = _asker(query.message, chat.type)
    if asked_by != query.from_user.id:
        await query.answer(context.tr("Only the person who asked can confirm."), show_alert=True)
        return
    await query.answer()
    if action == CANCEL:
        await query.edit_message_text(context.tr("Nothing was deleted."))
        return
    entry_id = ":".join(data.args[1:])
    deleted = await context.services.faq.delete_entry(community_id, entry_id, query.from_user.id)
    if deleted:
        text = context.tr("Deleted {id}.", id=_code(entry_id))
    else:
        text = context.tr("There is no entry {id}.", id=_code(entry_id))
    await query.edit_message_text(text, parse_mode="HTML")


def _asker(message: object, chat_type: str) -> int | None:
    """Who sent the command a confirmation message answers: the chat's owner in private,
    else the sender of the message it replies to."""
    if not isinstance(message, Message):
        return None
    if chat_type == "private":
        return message.chat.id
    replied = message.reply_to_message
    return replied.from_user.id if replied is not None and replied.from_user else None


# --- helpers -------------------------------------------------------------------------------


def _code(text: str) -> str:
    """An entry id as HTML code."""
    return "<code>" + escape(text) + "</code>"


async def _existing(
    message: Message, context: LinliContext, community_id: int, entry_id: str
) -> Entry | None:
    entry = await context.services.faq.entry(community_id, entry_id)
    if entry is None:
        await _no_such_entry(message, context, entry_id)
    return entry


async def _no_such_entry(message: Message, context: LinliContext, entry_id: str) -> None:
    await reply(
        message,
        context.tr("There is no entry {id}.", id=_code(entry_id[:60]))
        + "\n"
        + escape(context.tr("Find it with /faq <words> or /faq list.")),
    )


async def _problems(
    message: Message, context: LinliContext, header: str, problems: Sequence[str]
) -> None:
    """A header and at most MAX_PROBLEMS problems, one a line, then how many more."""
    lines = [escape(header)]
    for problem in problems[:MAX_PROBLEMS]:
        cut = problem if len(problem) <= MAX_PROBLEM_CHARS else problem[:MAX_PROBLEM_CHARS] + "…"
        lines.append("• " + escape(cut))
    if len(problems) > MAX_PROBLEMS:
        lines.append(escape(context.tr("… and {count} more.", count=len(problems) - MAX_PROBLEMS)))
    for chunk in _chunks(["\n".join(lines)]):
        await reply(message, chunk)


def _text_blocks(label: str, text: str, size: int = 3000) -> list[str]:
    """A labelled text as HTML blocks, long text cut into pieces before escaping."""
    pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return [f"<b>{escape(label)}</b>\n{escape(pieces[0])}", *(escape(p) for p in pieces[1:])]


def _chunks(blocks: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """HTML blocks joined by blank lines into messages of at most `limit` characters.

    A block over the limit is cut between its lines (never inside a line, so never inside
    a tag: callers keep tags on one line and lines short).
    """
    pieces: list[tuple[str, str]] = []
    for block in blocks:
        if len(block) <= limit:
            pieces.append(("\n\n", block))
        else:
            pieces += [
                ("\n\n" if i == 0 else "\n", line) for i, line in enumerate(block.split("\n"))
            ]
    chunks: list[str] = []
    current = ""
    for separator, piece in pieces:
        candidate = current + separator + piece if current else piece
        if len(candidate) > limit and current:
            chunks.append(current)
            current = piece
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /faq, the import of a file captioned /faq import, and the /faq buttons."""
    application.add_handler(command("faq", faq_command))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.Document.ALL
            & filters.CaptionRegex(IMPORT_CAPTION),
            on_document,
        )
    )
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
