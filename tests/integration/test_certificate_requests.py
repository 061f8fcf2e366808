"""Certificate requests decided by the CSMS's CA (apps.devices, ADR 0014), without a gateway:
what is signed and what is refused (with the reason), what stays PENDING without a CA, the
operator's reject, tenants kept apart, and a chain that cannot be sent (no command relay)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.admin.sites import AdminSite
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound
from apps.devices import api as devices_api
from apps.devices.admin import CertificateRequestAdmin
from apps.devices.contracts import CertificateRequestStatus, StationEventIn, StationEventKind
from apps.devices.models import CertificateRequest
from apps.locations.models import ChargeStation, RemoteCommand
from apps.parties.models import AuditEntry
from tests.factories import ChargeStationFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def csr(common_name: str, organization: str = "CSO") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        name.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    request = x509.CertificateSigningRequestBuilder(x509.Name(name)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def tampered(pem: str) -> str:
    """The CSR with its subject changed after signing: the signature no longer verifies."""
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    body = base64.encodebytes(der.replace(b"CSO", b"CSX", 1)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def request(st: ChargeStation, pem: str, certificate_type: str = "ChargePointCertificate") -> int:
    return devices_api.certificate_request_record(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        protocol="1.6",
        certificate_type=certificate_type,
        csr=pem,
        event=StationEventIn(
            tenant_id=st.tenant_id,
            station_id=st.pk,
            kind=StationEventKind.CERTIFICATE,
            action="SignCertificate",
            protocol="1.6",
            received_at=NOW,
            status=certificate_type,
        ),
    )


@pytest.fixture
def ca(settings: Any) -> x509.Certificate:
    cert, key = make_ca()
    settings.CSMS_CA_CERT_PEM = cert.public_bytes(serialization.Encoding.PEM).decode()
    settings.CSMS_CA_KEY_PEM = _key_pem(key)
    settings.CSMS_CA_CERT_FILE = settings.CSMS_CA_KEY_FILE = ""
    settings.CSMS_CERTIFICATE_VALIDITY_DAYS = 10
    settings.CSMS_CERTIFICATE_ORGANIZATION = "CSO"
    settings.RELAY_REDIS_URL = settings.RELAY_SOCKET = ""  # no relay: the chain cannot be sent
    return cert


def test_without_a_ca_the_request_stays_pending(settings: Any) -> None:
    settings.CSMS_CA_CERT_PEM = settings.CSMS_CA_KEY_PEM = ""
    settings.CSMS_CA_CERT_FILE = settings.CSMS_CA_KEY_FILE = ""
    st = ChargeStationFactory()
    record = devices_api.certificate_request_sign(request_id=request(st, csr(st.identity)))
    assert record.status is CertificateRequestStatus.PENDING
    assert (record.certificate, record.reason, record.decided_at) == ("", "", None)
    assert devices_api.certificate_authority_configured() is False


def test_a_valid_csr_is_signed_and_an_unsendable_chain_is_recorded(ca: x509.Certificate) -> None:
    st = ChargeStationFactory()
    record = devices_api.certificate_request_sign(request_id=request(st, csr(st.identity)), now=NOW)
    assert record.status is CertificateRequestStatus.SIGNED
    assert record.decided_at == NOW
    leaf, issuer = x509.load_pem_x509_certificates(record.certificate.encode())
    leaf.verify_directly_issued_by(ca)
    assert issuer == ca
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (NOW, NOW + timedelta(days=10))
    assert leaf.issuer == ca.subject
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    # No relay: nothing sent, no command row, the delivery says so.
    assert (record.delivery_status, record.command_id) == ("NOT_SENT", None)
    assert not RemoteCommand.objects.exists()
    # Signing again does not issue a second certificate.
    again = devices_api.certificate_request_sign(request_id=record.id, now=NOW + timedelta(1))
    assert (again.certificate, again.decided_at) == (record.certificate, NOW)


@pytest.mark.parametrize(
    ("make", "certificate_type", "reason"),
    [
        (lambda identity: csr("OTHER"), "ChargePointCertificate", "commonName is 'OTHER'"),
        (lambda identity: csr(identity, ""), "ChargePointCertificate", "no organizationName"),
        (lambda identity: csr(identity, "ACME"), "ChargePointCertificate", "is 'ACME', not 'CSO'"),
        (lambda identity: tampered(csr(identity)), "ChargePointCertificate", "does not verify"),
        (lambda identity: "garbage", "ChargePointCertificate", "not a PEM PKCS#10 request"),
        (lambda identity: csr(identity), "V2GCertificate", "not a charging station certificate"),
    ],
)
def test_a_csr_breaking_the_rules_is_rejected_with_the_reason(
    ca: x509.Certificate, make: Any, certificate_type: str, reason: str
) -> None:
    st = ChargeStationFactory()
    pk = request(st, make(st.identity), certificate_type)
    record = devices_api.certificate_request_sign(request_id=pk, now=NOW)
    assert record.status is CertificateRequestStatus.REJECTED
    assert reason in record.reason
    assert (record.certificate, record.delivery_status, record.decided_at) == ("", "", NOW)


def test_the_operator_rejects_and_tenants_are_kept_apart(ca: x509.Certificate) -> None:
    st, other = ChargeStationFactory(), ChargeStationFactory()
    pk = request(st, csr(st.identity))
    with pytest.raises(NotFound):
        devices_api.certificate_request_sign(request_id=pk, tenant_id=other.tenant_id)
    assert CertificateRequest.objects.get(pk=pk).status == "PENDING"
    operator = Actor.system("operator")
    record = devices_api.certificate_request_reject(
        request_id=pk, tenant_id=st.tenant_id, reason="unknown hardware", now=NOW, actor=operator
    )
    assert (record.status, record.reason) == (CertificateRequestStatus.REJECTED, "unknown hardware")
    (entry,) = AuditEntry.objects.filter(object_type="certificate_request")
    assert (entry.tenant_id, entry.action, entry.object_id, entry.actor_name) == (
        st.tenant_id,
        "certificate_request.reject",
        str(pk),
        "operator",
    )
    assert entry.after["reason"] == "unknown hardware"
    with pytest.raises(Conflict):
        devices_api.certificate_request_reject(request_id=pk, reason="again", actor=operator)
    with pytest.raises(Conflict):
        devices_api.certificate_request_send(request_id=pk)


def test_a_half_or_mismatched_ca_is_a_configuration_error(settings: Any) -> None:
    cert, _ = make_ca()
    _, other_key = make_ca()
    settings.CSMS_CA_CERT_FILE = settings.CSMS_CA_KEY_FILE = ""
    settings.CSMS_CA_CERT_PEM = cert.public_bytes(serialization.Encoding.PEM).decode()
    settings.CSMS_CA_KEY_PEM = ""
    with pytest.raises(ImproperlyConfigured, match="needs both"):
        devices_api.certificate_authority_configured()
    settings.CSMS_CA_KEY_PEM = _key_pem(other_key)
    with pytest.raises(ImproperlyConfigured, match="does not belong"):
        devices_api.certificate_authority_configured()
    settings.CSMS_CA_KEY_PEM = ""
    settings.CSMS_CA_KEY_FILE = "/nonexistent/ca.key"
    with pytest.raises(ImproperlyConfigured, match="cannot read /nonexistent/ca.key"):
        devices_api.certificate_authority_configured()


def _admin_request() -> Any:
    request = RequestFactory().post("/admin/devices/certificaterequest/")
    request.user = UserFactory()
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def test_admin_actions_sign_and_reject_through_the_api(ca: x509.Certificate) -> None:
    model_admin = CertificateRequestAdmin(CertificateRequest, AdminSite())
    st = ChargeStationFactory()
    signed, refused = request(st, csr(st.identity)), request(st, csr(st.identity))
    http = _admin_request()
    model_admin.sign(http, CertificateRequest.objects.filter(pk=signed))
    model_admin.reject(http, CertificateRequest.objects.filter(pk=refused))
    rows = {r.pk: r for r in CertificateRequest.objects.all()}
    assert (rows[signed].status, rows[signed].delivery_status) == ("SIGNED", "NOT_SENT")
    assert rows[refused].status == "REJECTED"
    assert rows[refused].reason == f"rejected by {http.user.get_username()}"
    assert [str(m) for m in get_messages(http)] == [
        f"request {signed}: SIGNED  NOT_SENT",
        f"request {refused}: REJECTED rejected by {http.user.get_username()}",
    ]
    # Rejecting a decided request is refused with a message, nothing changes.
    model_admin.reject(http, CertificateRequest.objects.filter(pk=signed))
    assert CertificateRequest.objects.get(pk=signed).status == "SIGNED"
    assert "is SIGNED, not PENDING" in [str(m) for m in get_messages(http)][-1]
