"""Public functions of the common app: it offers modules, not services; this facade names
what the interfaces (REST API, portal) may use of them."""

from apps.common.cursors import (
    decode_id_cursor,
    decode_time_cursor,
    encode_id_cursor,
    encode_time_cursor,
)

__all__ = ["decode_id_cursor", "decode_time_cursor", "encode_id_cursor", "encode_time_cursor"]
