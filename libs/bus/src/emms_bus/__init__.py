"""aiokafka producer and at-least-once consumer wrappers for the EMMS bus."""

from emms_bus.admin import broker_reachable, ensure_topics
from emms_bus.consumer import BusConsumer, CommitPolicy, Decoder, Delivery
from emms_bus.errors import BusError, PermanentHandlerError
from emms_bus.producer import BusProducer, UndeclaredTopicError
from emms_bus.settings import KafkaSettings

__all__ = [
    "BusConsumer", "BusError", "BusProducer", "CommitPolicy", "Decoder", "Delivery", "KafkaSettings",
    "PermanentHandlerError", "UndeclaredTopicError", "broker_reachable", "ensure_topics",
]
