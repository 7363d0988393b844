"""Everything about the audit data; nothing about the browser."""
