"""Rendering stored answers for people, and splitting long text for Telegram."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.questions import Question, QuestionType, format_number
from bot.text import SAFE_LIMIT, split_balanced, utf16_len
from storage import submissions


async def render_answers(
    session: AsyncSession,
    questions: Sequence[Question],
    answers: dict[str, Any],
    language: str,
    translate: Translator,
) -> list[str]:
    """Each question's answer as Telegram HTML (user text escaped)."""
    file_ids = [
        i
        for q in questions
        if q.type is QuestionType.ATTACHMENTS
        for i in (answers.get(q.key, {}).get("v") or [])
    ]
    files = {a.id: a for a in await submissions.attachments(session=session, ids=file_ids)}
    return answers_html(questions, answers, files, language, translate)


def answers_html(
    questions: Sequence[Question],
    answers: dict[str, Any],
    files: Mapping[Any, Any],
    language: str,
    translate: Translator,
) -> list[str]:
    """As `render_answers`, with the attachments already loaded (`files`, by id)."""
    rendered: list[str] = []
    for question in questions:
        entry = answers.get(question.key)
        if entry is None:
            rendered.append(translate(language, "report.answer_missing"))
        elif entry.get("skipped") and not entry.get("v"):
            rendered.append(translate(language, "report.answer_skipped"))
        else:
            rendered.append(_render_value(question, entry.get("v"), language, translate, files))
    return rendered


def _render_value(
    question: Question, value: Any, language: str, translate: Translator, files: Mapping[Any, Any]
) -> str:
    kind = question.type
    if kind is QuestionType.NUMBER:
        return html.escape(format_number(str(value), language))
    if kind is QuestionType.YES_NO:
        return translate(language, "report.yes" if value else "report.no")
    if kind is QuestionType.CHOICE:
        labels = question.choice_labels(language)
        return html.escape(labels[int(value)]) if 0 <= int(value) < len(labels) else "?"
    if kind is QuestionType.ATTACHMENTS:
        names = [files[i].file_name for i in value or [] if i in files]
        return "\n".join(f"📎 {html.escape(name)}" for name in names) or "—"
    return html.escape(str(value))


def split_message(blocks: Sequence[str], limit: int = SAFE_LIMIT) -> list[str]:
    """Joins blocks into as few messages as fit in `limit` UTF-16 units (Telegram's count).

    Blocks are joined by a blank line; a block too long on its own is cut by
    `bot.text.split_balanced` (between lines when it can, never inside a tag or `&...;`; an
    element cut through is closed and reopened). Blocks must be valid HTML on their own.
    No message is empty or only white space.
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in split_balanced(block, limit):
            piece = piece.strip()
            if not piece:
                continue
            if current and utf16_len(current) + 2 + utf16_len(piece) > limit:
                messages.append(current)
                current = ""
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        messages.append(current)
    return messages
