"""The core programming model: nodes, messages, components, layers, storage, codec."""

from dsys.core.messages import is_message, message, message_tag
from dsys.core.node import Component, Layer, Node, NodeContext
from dsys.core.storage import Storage

__all__ = ["Component", "Layer", "Node", "NodeContext", "Storage", "is_message", "message",
           "message_tag"]
