"""Explicit input and output serializers, one module per resource. Output serializers read
the apps' contracts (frozen dataclasses); input serializers only validate shape and types,
the apps' services validate the rules. No serializer writes anything."""
