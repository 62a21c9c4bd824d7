"""The memory manager: write path, recall, and the operations the user can do on a memory."""

from assistant.memory.manager import MemoryManager
from storage.records import MemoryRecord, RecallHit

__all__ = ["MemoryManager", "MemoryRecord", "RecallHit"]
