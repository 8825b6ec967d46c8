"""Every bus payload as a frozen, versioned pydantic model, and the topic table."""

from emms_messages.envelope import Envelope, Payload, wrap
from emms_messages.topics import TOPICS, Topic, topic_for

__all__ = ["TOPICS", "Envelope", "Payload", "Topic", "topic_for", "wrap"]
