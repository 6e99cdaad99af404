"""Pure MIME parsing: raw bytes in, decoded headers, addresses, text and attachments out; no I/O."""

from mailvault.mime.model import Address, Attachment, ParsedMessage
from mailvault.mime.parse import parse_message

__all__ = ["Address", "Attachment", "ParsedMessage", "parse_message"]
