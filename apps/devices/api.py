"""Public functions of the devices app (what stations report about themselves)."""

from __future__ import annotations

from apps.devices import selectors, services

station_events_record = services.station_events_record
station_event_record = services.station_event_record
device_variables_report = services.device_variables_report
certificate_request_record = services.certificate_request_record
station_events = selectors.station_events
device_state = selectors.device_state
device_variables = selectors.device_variables
certificate_requests = selectors.certificate_requests
# Station certificates (ADR 0014): sign with the configured CA and send, reject, resend.
certificate_request_sign = services.certificate_request_sign
certificate_request_reject = services.certificate_request_reject
certificate_request_send = services.certificate_request_send
certificate_authority_configured = services.certificate_authority_configured
