"""Reviewing submissions (/duyet): read any version, accept, or return with a comment.

`buttons` answers /duyet and every `rv:` button, `flow` the typed return comment, `views`
renders the pages; the rules and the units of work are in `bot.services.review`.
"""

from handlers.review.buttons import on_button, review_command
from handlers.review.flow import FLOW, CommentState, on_message

__all__ = ["FLOW", "CommentState", "on_button", "on_message", "review_command"]
