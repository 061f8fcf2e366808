"""Station certificates end to end (ADR 0014): a simulated station sends a CSR
(SignCertificate) to a gateway node process that has a CA configured (a test CA made here);
the node answers Accepted, then signs the CSR and sends CertificateSigned through the command
relay; the station keeps the chain, which verifies against the CA. Root certificates are
installed, listed and deleted with the certificate commands. OCPP 1.6 (security extension)
and 2.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.devices.models import CertificateRequest
from apps.locations import api as locations_api
from apps.locations.contracts import (
    CertificateUse,
    CommandOutcome,
    CommandStatus,
    DeleteCertificate,
    GetInstalledCertificateIds,
    InstallCertificate,
    InstalledCertificates,
    StationCommand,
    TriggerMessage,
)
from apps.locations.models import ChargeStation, RemoteCommand
from tests.conftest import RunningGateway, wait_for
from tests.factories import ConnectorFactory
from tests.ocpp_client import basic, open_station
from tests.relay_fixtures import NodeProcess, Relay

BOOT = {"chargePointVendor": "Test", "chargePointModel": "CSR"}

pytestmark = pytest.mark.usefixtures("transactional_db")
CSO = "Test CSO"
VALIDITY_DAYS = 30


def make_ca(
    common_name: str = "Test Station CA",
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[x509.Certificate, Path, Path]:
    cert, key = make_ca()
    folder = tmp_path_factory.mktemp("ca")
    (folder / "ca.pem").write_text(pem(cert))
    (folder / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, folder / "ca.pem", folder / "ca.key"


@pytest.fixture(scope="module")
def node_ca(
    django_db_setup: None, relay_server: Relay, ca_files: tuple[x509.Certificate, Path, Path]
) -> Iterator[NodeProcess]:
    """A gateway node process with the test CA configured."""
    _, cert_file, key_file = ca_files
    node = NodeProcess(
        relay_server,
        "node-ca",
        env={
            "CSMS_CA_CERT_FILE": str(cert_file),
            "CSMS_CA_KEY_FILE": str(key_file),
            "CSMS_CERTIFICATE_VALIDITY_DAYS": str(VALIDITY_DAYS),
            "CSMS_CERTIFICATE_ORGANIZATION": CSO,
        },
    )
    yield node
    node.stop()


def new_station() -> tuple[ChargeStation, str]:
    st = ConnectorFactory().evse.charge_station
    return st, locations_api.charge_station_reset_password(station_id=st.pk)


def send(st: ChargeStation, command: StationCommand) -> CommandOutcome:
    return locations_api.charge_station_command(
        tenant_id=st.tenant_id, station_id=st.pk, command=command, requested_by="test"
    )


def connect(relay: Relay, node: NodeProcess, sim_station: Any, protocol: str) -> Any:
    st, password = new_station()
    sim = sim_station([node.ws_url], st.identity, password, protocol)
    wait_for(lambda: relay.owner(st.identity) == node.node_id, timeout=30, what="registered")
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")
    return st, sim


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_a_csr_is_signed_by_the_ca_and_the_chain_reaches_the_station(
    relay: Relay,
    node_ca: NodeProcess,
    sim_station: Any,
    ca_files: tuple[x509.Certificate, Path, Path],
    protocol: str,
) -> None:
    ca_cert = ca_files[0]
    st, sim = connect(relay, node_ca, sim_station, protocol)
    payload = sim.station.certificate_request(CSO)
    answer = sim.run(sim.station.call("SignCertificate", payload))
    assert answer == {"status": "Accepted"}

    request = wait_for(
        lambda: CertificateRequest.objects.filter(
            charge_station=st, delivery_status="ACCEPTED"
        ).first(),
        timeout=30,
        what="the certificate signed and delivered",
    )
    assert request.status == "SIGNED" and request.reason == ""
    chain = x509.load_pem_x509_certificates(sim.station.state.certificate_chain.encode())
    assert sim.station.state.certificate_chain == request.certificate
    leaf = chain[0]
    leaf.verify_directly_issued_by(ca_cert)  # raises when it does not verify
    assert chain[1] == ca_cert  # the chain ends with the CA
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == st.identity
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == CSO
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=VALIDITY_DAYS)
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert leaf.public_key().public_bytes(der, spki) == (
        sim.station.state.csr_key.public_key().public_bytes(der, spki)
    )
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # Accepted: under profile 3 the station may now connect with it (pinned on first use).
    st.refresh_from_db()
    assert st.client_cert_fingerprint_next == leaf.fingerprint(hashes.SHA256()).hex()

    # Sent as a command: in the command log, after the SignCertificate was answered.
    command = RemoteCommand.objects.get(charge_station=st)
    assert command.pk == request.command_id
    assert (command.kind, command.status, command.ocpp_action) == (
        "CERTIFICATE_SIGNED",
        "ACCEPTED",
        "CertificateSigned",
    )
    assert command.requested_by == "certificate authority"
    assert command.gateway_node == "node-ca" and command.protocol == protocol
    assert command.requested_at >= request.received_at
    assert [c.action for c in sim.calls()] == ["CertificateSigned"]
    if protocol == "2.0.1":
        assert command.ocpp_request["certificateType"] == "ChargingStationCertificate"

    # A resent CSR (the same one) is the same request: not signed or sent twice.
    assert sim.run(sim.station.call("SignCertificate", payload)) == {"status": "Accepted"}
    assert CertificateRequest.objects.filter(charge_station=st).count() == 1
    assert RemoteCommand.objects.filter(charge_station=st).count() == 1

    # A renewal triggered by the CSMS: a new key and CSR, signed and delivered in turn.
    sim.station.state.organization = CSO
    out = send(st, TriggerMessage(message="SignChargingStationCertificate"))
    assert out.status is CommandStatus.ACCEPTED
    renewed = wait_for(
        lambda: (
            CertificateRequest.objects.filter(charge_station=st, delivery_status="ACCEPTED")
            .exclude(pk=request.pk)
            .first()
        ),
        timeout=30,
        what="the renewed certificate delivered",
    )
    assert sim.station.state.certificate_chain == renewed.certificate != request.certificate
    x509.load_pem_x509_certificates(renewed.certificate.encode())[0].verify_directly_issued_by(
        ca_cert
    )
    assert [c.action for c in sim.calls()] == [
        "CertificateSigned",
        "ExtendedTriggerMessage" if protocol == "1.6" else "TriggerMessage",
        "CertificateSigned",
    ]


@pytest.mark.parametrize(
    ("organization", "common_name", "reason"),
    [
        (CSO, "SOMEONE-ELSE", "commonName is 'SOMEONE-ELSE'"),
        ("Other CSO", "", "organizationName is 'Other CSO', not 'Test CSO'"),
    ],
)
def test_a_csr_that_breaks_the_rules_is_rejected_and_nothing_is_sent(
    relay: Relay,
    node_ca: NodeProcess,
    sim_station: Any,
    organization: str,
    common_name: str,
    reason: str,
) -> None:
    st, sim = connect(relay, node_ca, sim_station, "2.0.1")
    payload = sim.station.certificate_request(organization, common_name=common_name)
    assert sim.run(sim.station.call("SignCertificate", payload)) == {"status": "Accepted"}
    request = wait_for(
        lambda: CertificateRequest.objects.filter(charge_station=st, status="REJECTED").first(),
        timeout=30,
        what="the request rejected",
    )
    assert reason in request.reason
    assert (request.certificate, request.command_id) == ("", None)
    assert request.decided_at is not None
    assert not RemoteCommand.objects.filter(charge_station=st).exists()
    assert sim.calls() == []


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_root_certificates_are_installed_listed_and_deleted(
    relay: Relay, node_ca: NodeProcess, sim_station: Any, protocol: str
) -> None:
    st, sim = connect(relay, node_ca, sim_station, protocol)
    root, _ = make_ca("Test CSMS Root")
    uses = (CertificateUse.CSMS_ROOT,)
    out = send(st, GetInstalledCertificateIds(uses=uses))
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "NotFound")
    assert out.data == InstalledCertificates(())

    out = send(st, InstallCertificate(use=CertificateUse.CSMS_ROOT, certificate=pem(root)))
    assert out.status is CommandStatus.ACCEPTED
    assert out.ocpp_request == {
        "certificateType": "CentralSystemRootCertificate"
        if protocol == "1.6"
        else "CSMSRootCertificate",
        "certificate": pem(root),
    }
    out = send(st, InstallCertificate(use=CertificateUse.CSMS_ROOT, certificate="not a PEM"))
    assert out.status is (CommandStatus.REJECTED if protocol == "1.6" else CommandStatus.FAILED)

    out = send(st, GetInstalledCertificateIds(uses=uses))
    assert out.status is CommandStatus.ACCEPTED
    assert isinstance(out.data, InstalledCertificates)
    (installed,) = out.data.certificates
    assert installed.serial_number == format(root.serial_number, "x")
    assert installed.hash_algorithm == "SHA256"
    assert installed.use is (None if protocol == "1.6" else CertificateUse.CSMS_ROOT)

    out = send(st, DeleteCertificate(certificate=installed))
    assert out.status is CommandStatus.ACCEPTED
    assert sim.station.state.certificates == []
    out = send(st, DeleteCertificate(certificate=installed))
    assert (out.status, out.station_status) == (CommandStatus.REJECTED, "NotFound")


def test_the_answer_to_sign_certificate_comes_before_certificate_signed(
    relay: Relay, node_a: RunningGateway, settings: Any
) -> None:
    """A raw OCPP client on a node in this process (the CA in this process's settings): the
    frame after our SignCertificate is its CALLRESULT, only then the CertificateSigned CALL."""
    cert, key = make_ca()
    settings.CSMS_CA_CERT_PEM = pem(cert)
    settings.CSMS_CA_KEY_PEM = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.CSMS_CA_CERT_FILE = settings.CSMS_CA_KEY_FILE = ""
    settings.CSMS_CERTIFICATE_ORGANIZATION = ""
    st, password = new_station()
    station_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, st.identity),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Any CSO"),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder(subject).sign(station_key, hashes.SHA256())

    async def scenario() -> tuple[list[Any], list[Any]]:
        url = node_a.ws_url + st.identity
        async with open_station(
            url, protocol="ocpp1.6", headers=basic(st.identity, password)
        ) as ws:
            await ws.send(json.dumps([2, "b1", "BootNotification", BOOT]))
            assert json.loads(await ws.recv())[:2] == [3, "b1"]
            wait = 30
            await asyncio.to_thread(
                wait_for, lambda: relay.owner(st.identity) == "node-a", timeout=wait
            )
            csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
            await ws.send(json.dumps([2, "s1", "SignCertificate", {"csr": csr_pem}]))
            first = json.loads(await asyncio.wait_for(ws.recv(), wait))
            second = json.loads(await asyncio.wait_for(ws.recv(), wait))
            await ws.send(json.dumps([3, second[1], {"status": "Accepted"}]))
            await asyncio.to_thread(
                wait_for,
                lambda: CertificateRequest.objects.filter(delivery_status="ACCEPTED").exists(),
                timeout=wait,
            )
            return first, second

    first, second = asyncio.run(scenario())
    assert first == [3, "s1", {"status": "Accepted"}]
    assert (second[0], second[2]) == (2, "CertificateSigned")
    leaf = x509.load_pem_x509_certificates(second[3]["certificateChain"].encode())[0]
    leaf.verify_directly_issued_by(cert)
    assert set(second[3]) == {"certificateChain"}  # 1.6: no certificateType
