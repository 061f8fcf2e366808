"""Certificates on a simulated station (1.6 security extension, 2.0.1): a key and CSR on
request, the signed chain checked against it, root certificates installed, listed and
deleted by their hash data."""

from __future__ import annotations

from typing import Any

from csms_gateway.simulator.base import StationBase


class Certificates(StationBase):
    def certificate_request(
        self, organization: str, key_type: str = "", common_name: str = ""
    ) -> dict[str, Any]:
        """A SignCertificate payload: a new EC P-256 key and a CSR for it, CN the station's
        identity and O `organization` (what the OCPP security whitepaper asks); the key is
        kept for the certificate that comes back (CertificateSigned)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = [x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.identity)]
        if organization:
            name.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        csr = x509.CertificateSigningRequestBuilder(x509.Name(name)).sign(key, hashes.SHA256())
        self.state.csr_key = key
        payload = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()}
        if not self._v16():
            payload["certificateType"] = key_type or "ChargingStationCertificate"
        return payload

    def _on_CertificateSigned(self, p: dict[str, Any]) -> dict[str, Any]:
        """Accepted when the first certificate of the chain is for the key of our CSR."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        pem = serialization.PublicFormat.SubjectPublicKeyInfo
        try:
            leaf = x509.load_pem_x509_certificates(p["certificateChain"].encode())[0]
        except ValueError:
            return {"status": "Rejected"}
        key = self.state.csr_key
        if key is None or leaf.public_key().public_bytes(
            serialization.Encoding.DER, pem
        ) != key.public_key().public_bytes(serialization.Encoding.DER, pem):
            return {"status": "Rejected"}
        self.state.certificate_chain = p["certificateChain"]
        return {"status": "Accepted"}

    def _on_InstallCertificate(self, p: dict[str, Any]) -> dict[str, Any]:
        from cryptography import x509

        try:
            x509.load_pem_x509_certificate(p["certificate"].encode())
        except ValueError:
            return {"status": "Rejected" if self._v16() else "Failed"}
        self.state.certificates.append((p["certificateType"], p["certificate"]))
        return {"status": "Accepted"}

    def _hash_data(self, pem: str) -> dict[str, Any]:
        """CertificateHashDataType of a (self-signed root) certificate: SHA-256 of the
        issuer's DER name and of the issuer's public key bits, the serial in hex."""
        import hashlib

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(pem.encode())
        key = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(key).hexdigest(),
            "serialNumber": format(cert.serial_number, "x"),
        }

    def _on_GetInstalledCertificateIds(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = p.get("certificateType")
        if isinstance(wanted, str):  # 1.6: one type
            wanted = [wanted]
        found = [(t, pem) for t, pem in self.state.certificates if not wanted or t in wanted]
        if not found:
            return {"status": "NotFound"}
        if self._v16():
            return {
                "status": "Accepted",
                "certificateHashData": [self._hash_data(c) for _, c in found],
            }
        return {
            "status": "Accepted",
            "certificateHashDataChain": [
                {"certificateType": t, "certificateHashData": self._hash_data(c)} for t, c in found
            ],
        }

    def _on_DeleteCertificate(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = p["certificateHashData"]
        for i, (_, pem) in enumerate(self.state.certificates):
            if self._hash_data(pem) == wanted:
                del self.state.certificates[i]
                return {"status": "Accepted"}
        return {"status": "NotFound"}
