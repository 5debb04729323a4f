"""Rendering stored answers for people, and splitting long text for Telegram."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.questions import Question, QuestionType, format_number
from storage import submissions

TELEGRAM_LIMIT = 4096
SAFE_LIMIT = 4000


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
    return answers_html(questions, answers, language, translate, files)


def answers_html(
    questions: Sequence[Question],
    answers: dict[str, Any],
    language: str,
    translate: Translator,
    files: Mapping[Any, Any],
) -> list[str]:
    """Each question's answer as Telegram HTML, given the attachments the answers name."""
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
    """Joins blocks into as few messages as fit; a block too long on its own is cut at lines.

    Blocks must be valid HTML on their own; cuts fall between lines, so tags that span lines
    must not be used inside a block (answers are escaped text, so they do not).
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block] if len(block) <= limit else _cut(block, limit)
        for piece in pieces:
            if current and len(current) + 2 + len(piece) > limit:
                messages.append(current)
                current = ""
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        messages.append(current)
    return messages


def _cut(block: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for line in block.split("\n"):
        while len(line) > limit:  # one enormous line: cut it hard (plain text only)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces
