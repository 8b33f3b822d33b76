#!/usr/bin/python3
"""A HashiCorp Vault API test server for harombe's test suite.

Standard library only, but for the PKI engine (python3-cryptography).  It follows the documented HTTP API (specs/vault-api.md
in the harombe design notes, from Vault's api-docs): KV version 1 and 2 (read,
versions, write with check-and-set, merge PATCH, soft delete, undelete,
destroy, metadata, LIST), token lookup-self / renew-self / revoke-self /
create with TTLs that really expire, AppRole (role, role-id, secret-id,
login), TLS certificate login (auth/cert: certs/NAME, login; the client
certificate of the TLS handshake), JWT role login (auth/jwt: config with
jwt_validation_pubkeys, role/NAME, login; RS256 verified with openssl),
Kubernetes login (auth/kubernetes: config with pem_keys, role/NAME, login),
response wrapping (X-Vault-Wrap-TTL, sys/wrapping/lookup, sys/wrapping/unwrap),
sys/auth/PATH to enable a method at another mount, the database engine's
roles and credentials with leases (database/roles/NAME, database/creds/NAME),
the PKI engine (pki/root/generate/internal, pki/roles/NAME, pki/issue/NAME:
real X.509 certificates signed by the mount's CA, with python3-cryptography)
and the lease API (sys/leases/renew, revoke, lookup; sys/renew and
sys/revoke), namespaces (X-Vault-Namespace and path prefixes), sys/health,
sys/internal/ui/mounts, a sealed state and HA-standby 307 redirects.

Test-only control endpoints live under /_test/ on the same port and bypass
everything else (faults, seal, tokens):

  POST /_test/seal      {"sealed": true|false}
  POST /_test/faults    replaces the fault set, {} clears it:
        {"latency_ms": N,          delay every matching request
         "status": S, "status_count": N,   answer S (503, 500, 429, 412...)
                                   to the next N requests (-1: until cleared)
         "hang": true,             never answer (until the faults change)
         "reset_count": N,         close with a TCP RST, no answer
         "truncate_count": N,      Content-Length promises more than is sent
         "garbage_count": N,       200 with a body that is not JSON
         "flap_ms": P,             down every other P ms (503 or reset)
         "match": "substring"}     only requests whose path contains it
  POST /_test/policy    {"name": "reader", "rules": {"secret/data/*": ["read"]}}
  POST /_test/revoke    {"token": ID} or {"path": "auth/approle/login"}
  GET  /_test/stats     {"total": N, "connections": N, "requests": {"GET secret/data/x": N}}
  POST /_test/stats/reset
  GET  /_test/leases    {"leases": [{"id", "path", "ttl", "renewals", "username", "password"}]}:
                        the live leases
  POST /_test/age       {"mount": "secret", "path": "a/b", "seconds": N}: every time of
                        that secret (its versions' too) N seconds earlier

Usage: vaultsrv.py --port-file FILE [--port N] [--root-token ID] [--state FILE]
       [--kv MOUNT=VERSION ...] [--namespace NS ...] [--sealed]
       [--standby-of URL] [--tls-cert C --tls-key K [--tls-client-ca CA [--tls-client-optional]]]
       [--unix PATH]
It listens on 127.0.0.1 (a random port unless --port) and writes the port to
--port-file once it accepts connections.
"""

import argparse
import base64
import copy
import fnmatch
import json
import os
import random
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.RLock()
FAULTS_CHANGED = threading.Condition(LOCK)


def now():
    return time.time()


def rfc3339(t):
    if not t:
        return ""
    frac = int((t - int(t)) * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % frac


def parse_duration(v, default=0):
    """Vault accepts seconds as a number or a duration string."""
    if v is None or v == "":
        return default
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).strip()
    if s.isdigit():
        return int(s)
    total, num = 0, ""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    for ch in s:
        if ch.isdigit():
            num += ch
        elif ch in units and num:
            total += int(num) * units[ch]
            num = ""
        else:
            raise ValueError("bad duration " + s)
    if num:
        total += int(num)
    return total


class HTTPError(Exception):
    def __init__(self, status, errors=None, body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else {"errors": errors or []}
        self.headers = headers or {}


def denied():
    return HTTPError(403, ["permission denied"])


class State:
    def __init__(self, args):
        self.args = args
        self.sealed = args.sealed
        self.faults = {}
        self.faults_gen = 0
        self.connections = 0
        self.stats = {}
        self.total = 0
        self.namespaces = {""}
        self.mounts = {}        # "ns|mount" -> {"version": v, "data": {}}
        self.tokens = {}
        self.roles = {}         # "ns|name" -> role
        self.policies = {}      # name -> {glob: [caps]}
        self.auth = {}          # "ns|mount" -> {"type": "jwt", "config": {}, "roles": {}}
        self.wraps = {}         # wrapping token -> {"resp", "path", "created", "ttl"}
        self.db = {"|database": {"roles": {}}}   # "ns|mount" -> database engine
        self.pki = {"|pki": {"roles": {}, "ca": None, "issued": 0}}   # "ns|mount" -> PKI engine
        self.leases = {}        # lease id -> {"path", "issue", "expire", "max_expire", ...}
        self.cluster_id = str(uuid.uuid4())
        if args.state and os.path.exists(args.state):
            self.load()
        else:
            for spec in args.kv or ["secret=2", "kv1=1"]:
                mount, _, ver = spec.partition("=")
                self.mounts["|" + mount.strip("/")] = {"version": int(ver or 2), "data": {}}
            for ns in args.namespace or []:
                ns = ns.strip("/") + "/"
                self.namespaces.add(ns)
                self.mounts[ns + "|secret"] = {"version": 2, "data": {}}
            for t in ("cert", "jwt", "kubernetes"):
                self.auth["|" + t] = {"type": t, "config": {}, "roles": {}}
            self.new_token(args.root_token, ["root"], 0, False, "", path="auth/token/root")
            self.save()

    # ---- persistence (a restarted server keeps its storage, like Vault) ----

    def save(self):
        if not self.args.state:
            return
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"mounts": self.mounts, "tokens": self.tokens, "roles": self.roles,
                       "policies": self.policies, "namespaces": sorted(self.namespaces),
                       "auth": self.auth, "wraps": self.wraps, "db": self.db, "leases": self.leases,
                       "pki": self.pki}, f)
        os.replace(tmp, self.args.state)

    def load(self):
        with open(self.args.state) as f:
            d = json.load(f)
        self.mounts = d["mounts"]
        self.tokens = d["tokens"]
        self.roles = d["roles"]
        self.policies = d["policies"]
        self.namespaces = set(d["namespaces"])
        self.auth = d.get("auth", {})
        self.wraps = d.get("wraps", {})
        self.db = d.get("db", self.db)
        self.leases = d.get("leases", {})
        self.pki = d.get("pki", self.pki)

    # ---- tokens ----

    def new_token(self, tid, policies, ttl, renewable, ns, max_ttl=0, path="auth/token/create",
                  num_uses=0, meta=None):
        t = now()
        tok = {
            "id": tid or "hvs." + uuid.uuid4().hex + uuid.uuid4().hex[:8],
            "accessor": uuid.uuid4().hex[:24],
            "policies": sorted(set(policies)),
            "creation_ttl": ttl,
            "issue": t,
            "expire_at": t + ttl if ttl else 0,
            "max_expire_at": t + max_ttl if max_ttl else 0,
            "renewable": bool(renewable and ttl),
            "ns": ns,
            "path": path,
            "num_uses": num_uses,
            "meta": meta,
        }
        self.tokens[tok["id"]] = tok
        return tok

    def token_of(self, headers, ns):
        tid = headers.get("X-Vault-Token")
        if not tid:
            auth = headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                tid = auth[7:]
        tok = self.tokens.get(tid or "")
        if not tok:
            raise denied()
        if tok["expire_at"] and now() >= tok["expire_at"]:
            del self.tokens[tok["id"]]
            self.save()
            raise denied()
        if not ns.startswith(tok["ns"]):
            raise denied()
        if tok["num_uses"]:
            tok["num_uses"] -= 1
            if tok["num_uses"] == 0:
                del self.tokens[tok["id"]]
            self.save()
        return tok

    def auth_block(self, tok):
        ttl = int(round(tok["expire_at"] - now())) if tok["expire_at"] else 0
        return {
            "client_token": tok["id"],
            "accessor": tok["accessor"],
            "policies": tok["policies"],
            "token_policies": tok["policies"],
            "metadata": tok["meta"],
            "lease_duration": max(ttl, 0),
            "renewable": tok["renewable"],
            "entity_id": "",
            "token_type": "service" if tok["renewable"] or not tok["creation_ttl"] else "batch",
            "orphan": True,
        }

    def allowed(self, tok, path, caps):
        for name in tok["policies"]:
            if name == "root":
                return True
            for glob, have in self.policies.get(name, {}).items():
                if fnmatch.fnmatchcase(path, glob) and (set(have) & set(caps) or "sudo" in have):
                    return True
        return False


# ---- JWTs and certificates (auth/jwt, auth/kubernetes, auth/cert) ----

def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def listish(v):
    """Vault takes lists as JSON arrays or comma-separated strings."""
    if v is None:
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return list(v)


def jwt_verify(token, pems):
    """The claims of an RS256 JWT signed by one of pems (keys or
    certificates), checked with openssl; ValueError otherwise."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        raise ValueError("error validating token: malformed token")
    try:
        hdr = json.loads(b64u(parts[0]))
        claims = json.loads(b64u(parts[1]))
        sig = b64u(parts[2])
    except (ValueError, TypeError):
        raise ValueError("error validating token: malformed token")
    if hdr.get("alg") != "RS256":
        raise ValueError("error validating token: unsupported signing algorithm")
    with tempfile.TemporaryDirectory() as d:
        with open(d + "/data", "wb") as f:
            f.write((parts[0] + "." + parts[1]).encode())
        with open(d + "/sig", "wb") as f:
            f.write(sig)
        for pem in pems:
            key = d + "/key.pem"
            if "CERTIFICATE" in pem:
                r = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem.encode(),
                                   capture_output=True)
                pem = r.stdout.decode()
            with open(key, "w") as f:
                f.write(pem)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", key, "-signature", d + "/sig",
                                d + "/data"], capture_output=True)
            if r.returncode == 0:
                return claims
    raise ValueError("error validating token: failed to verify id token signature")


def jwt_times(claims, leeway):
    t = now()
    if "exp" in claims and t > float(claims["exp"]) + leeway:
        raise ValueError("error validating claims: validation failed, token is expired (exp)")
    if "nbf" in claims and t < float(claims["nbf"]) - leeway:
        raise ValueError("error validating claims: validation failed, token not valid yet (nbf)")


def cert_subject(pem):
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(pem)
        f.flush()
        return ssl._ssl._test_decode_cert(f.name)["subject"]


# ---- the PKI engine's X.509 (python3-cryptography, imported on first use) ----

def pki_key(kind, bits):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if kind == "ec":
        return ec.generate_private_key({384: ec.SECP384R1(), 521: ec.SECP521R1()}.get(bits, ec.SECP256R1()))
    return rsa.generate_private_key(public_exponent=65537, key_size=bits or 2048)


def pki_pem_key(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode().strip()


def pki_pem_cert(cert):
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


def pki_load_key(pem):
    from cryptography.hazmat.primitives import serialization
    return serialization.load_pem_private_key(pem.encode(), None)


def pki_load_cert(pem):
    from cryptography import x509
    return x509.load_pem_x509_certificate(pem.encode())


def pki_serial(cert):
    h = "%x" % cert.serial_number
    h = ("0" * (len(h) % 2)) + h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def pki_cert(key, signer, cn, dns, ips, ttl, ca=False, issuer=None):
    """A certificate for key's public half, signed by signer: the CA itself
    (ca=True) or a leaf for cn with DNS names dns and IP addresses ips,
    valid from 30 s ago (as Vault backdates) for ttl seconds."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    t = datetime.datetime.utcnow()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(subject if ca else issuer.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(t - datetime.timedelta(seconds=30))
         .not_valid_after(t + datetime.timedelta(seconds=int(ttl))))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
    else:
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.SubjectAlternativeName(sans), critical=False)
             .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                   x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    return b.sign(signer, hashes.SHA256())


def pki_name_ok(role, name):
    """Vault's role checks, the ones the tests use: allow_any_name,
    allow_localhost, allowed_domains with allow_bare_domains and
    allow_subdomains (and glob patterns)."""
    if role["allow_any_name"]:
        return True
    if role["allow_localhost"] and name in ("localhost", "localdomain"):
        return True
    for d in role["allowed_domains"]:
        if role["allow_bare_domains"] and name == d:
            return True
        if role["allow_subdomains"] and name.endswith("." + d):
            return True
        if "*" in d and fnmatch.fnmatch(name, d):
            return True
    return False


def envelope(data=None, auth=None, lease=0, warnings=None):
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": lease,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": auth,
        "mount_type": "kv" if data is not None and auth is None else "",
    }


# ---- KV engines ----

def kv2_meta(s):
    return {
        "created_time": rfc3339(s["created"]),
        "custom_metadata": s.get("custom_metadata"),
        "deletion_time": "",
        "destroyed": False,
    }


def version_meta(ver, n):
    return {
        "created_time": rfc3339(ver["created"]),
        "custom_metadata": None,
        "deletion_time": rfc3339(ver["deleted"]) if ver["deleted"] else "",
        "destroyed": ver["destroyed"],
        "version": n,
    }


def children(keys, prefix):
    out = set()
    for k in keys:
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix):]
        if "/" in rest:
            out.add(rest.split("/", 1)[0] + "/")
        elif rest:
            out.add(rest)
    return sorted(out)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class KV:
    def __init__(self, state, mount, m, tok):
        self.st = state
        self.mount = mount
        self.m = m
        self.tok = tok

    def need(self, path, *caps):
        if not self.st.allowed(self.tok, self.mount + "/" + path, caps):
            raise denied()

    def handle(self, method, rest, query, body, headers):
        if self.m["version"] == 1:
            return self.v1(method, rest, body)
        return self.v2(method, rest, query, body, headers)

    # KV version 1: one level, the secret is the whole data object.
    def v1(self, method, rest, body):
        data = self.m["data"]
        key = rest.strip("/")
        if method == "LIST":
            self.need(rest, "list")
            keys = children(data.keys(), key + "/" if key else "")
            if not keys:
                raise HTTPError(404, [])
            return 200, envelope({"keys": keys})
        if method == "GET":
            self.need(key, "read")
            if key not in data:
                raise HTTPError(404, [])
            lease = parse_duration(data[key].get("ttl"), 2764800)
            return 200, envelope(data[key], lease=lease)
        if method in ("POST", "PUT"):
            self.need(key, "create", "update")
            if not isinstance(body, dict):
                raise HTTPError(400, ["data must be a JSON object"])
            data[key] = body
            self.st.save()
            return 204, None
        if method == "DELETE":
            self.need(key, "delete")
            data.pop(key, None)
            self.st.save()
            return 204, None
        raise HTTPError(405, ["unsupported operation"])

    def secret(self, key):
        return self.m["data"].get(key)

    def v2(self, method, rest, query, body, headers):
        infix, _, key = rest.partition("/")
        data = self.m["data"]
        if infix == "config":
            return 200, envelope({"cas_required": False, "delete_version_after": "0s", "max_versions": 0})
        if infix == "metadata" and method == "LIST":
            self.need(rest, "list")
            keys = children(data.keys(), key.strip("/") + "/" if key.strip("/") else "")
            if not keys:
                raise HTTPError(404, [])
            return 200, envelope({"keys": keys})
        key = key.strip("/")
        if not key:
            raise HTTPError(404, ["no handler for route"])
        s = self.secret(key)
        if infix == "data":
            if method == "GET":
                self.need(rest, "read")
                if not s:
                    raise HTTPError(404, [])
                n = int(query.get("version", ["0"])[0] or 0) or s["current"]
                ver = s["versions"].get(str(n))
                if not ver:
                    raise HTTPError(404, [])
                md = version_meta(ver, n)
                if ver["deleted"] or ver["destroyed"]:
                    raise HTTPError(404, body={"data": {"data": None, "metadata": md}})
                return 200, envelope({"data": ver["data"], "metadata": md})
            if method in ("POST", "PUT"):
                self.need(rest, "create", "update")
                if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                    raise HTTPError(400, ["no data provided"])
                cas = (body.get("options") or {}).get("cas")
                if (s and s.get("cas_required")) and cas is None:
                    raise HTTPError(400, ["check-and-set parameter required for this call"])
                if cas is not None and int(cas) != (s["current"] if s else 0):
                    raise HTTPError(400, ["check-and-set parameter did not match the current version"])
                return 200, envelope(self.put(key, body["data"]))
            if method == "PATCH":
                self.need(rest, "patch")
                ctype = headers.get("Content-Type", "")
                if "merge-patch+json" not in ctype:
                    raise HTTPError(415, ["Unsupported Media Type"])
                cur = s and s["versions"].get(str(s["current"]))
                if not cur or cur["deleted"] or cur["destroyed"]:
                    raise HTTPError(404, [])
                if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                    raise HTTPError(400, ["no data provided"])
                return 200, envelope(self.put(key, merge_patch(cur["data"], body["data"])))
            if method == "DELETE":
                self.need(rest, "delete")
                if s:
                    s["versions"][str(s["current"])]["deleted"] = now()
                    self.st.save()
                return 204, None
        if infix in ("delete", "undelete", "destroy") and method in ("POST", "PUT"):
            self.need(rest, "update")
            versions = (body or {}).get("versions") or []
            for n in versions:
                ver = s and s["versions"].get(str(n))
                if not ver:
                    continue
                if infix == "delete":
                    ver["deleted"] = ver["deleted"] or now()
                elif infix == "undelete" and not ver["destroyed"]:
                    ver["deleted"] = 0
                elif infix == "destroy":
                    ver["destroyed"] = True
                    ver["data"] = None
            self.st.save()
            return 204, None
        if infix == "metadata":
            if method == "GET":
                self.need(rest, "read")
                if not s:
                    raise HTTPError(404, [])
                versions = {n: {"created_time": rfc3339(v["created"]),
                                "deletion_time": rfc3339(v["deleted"]) if v["deleted"] else "",
                                "destroyed": v["destroyed"]} for n, v in s["versions"].items()}
                return 200, envelope({
                    "cas_required": s.get("cas_required", False),
                    "created_time": rfc3339(s["created"]),
                    "current_version": s["current"],
                    "custom_metadata": s.get("custom_metadata"),
                    "delete_version_after": "0s",
                    "max_versions": s.get("max_versions", 0),
                    "oldest_version": min(int(n) for n in s["versions"]),
                    "updated_time": rfc3339(s["updated"]),
                    "versions": versions,
                })
            if method == "DELETE":
                self.need(rest, "delete")
                data.pop(key, None)
                self.st.save()
                return 204, None
            if method in ("POST", "PUT"):
                self.need(rest, "create", "update")
                s = s or self.empty(key)
                for f in ("max_versions", "cas_required", "custom_metadata"):
                    if f in (body or {}):
                        s[f] = body[f]
                self.st.save()
                return 204, None
        raise HTTPError(405, ["unsupported operation"])

    def empty(self, key):
        s = {"created": now(), "updated": now(), "current": 0, "versions": {}}
        self.m["data"][key] = s
        return s

    def put(self, key, fields):
        s = self.secret(key) or self.empty(key)
        n = s["current"] + 1
        t = now()
        s["versions"][str(n)] = {"data": fields, "created": t, "deleted": 0, "destroyed": False}
        s["current"] = n
        s["updated"] = t
        mv = s.get("max_versions") or 0
        if mv:
            for old in sorted(int(x) for x in s["versions"]):
                if len(s["versions"]) <= mv:
                    break
                del s["versions"][str(old)]
        self.st.save()
        return version_meta(s["versions"][str(n)], n)


# ---- the HTTP side ----

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vaultsrv"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("vaultsrv: " + (fmt % args) + "\n")

    def address_string(self):
        return "unix" if not isinstance(self.client_address, tuple) else self.client_address[0]

    def setup(self):
        super().setup()
        with LOCK:
            self.server.state.connections += 1
        if isinstance(self.client_address, tuple):
            # headers and body go out in separate writes: without this,
            # Nagle and the client's delayed ACK add 40 ms to every answer
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise
            self.request.settimeout(None)

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, OSError):
            pass

    def finish(self):
        try:
            super().finish()
        except (ConnectionError, OSError):
            pass

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_LIST(self):
        self.dispatch("LIST")

    # ---- replies ----

    def reply(self, status, body=None, headers=None, head=False):
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if not head:
            self.wfile.write(raw)

    def reset(self):
        """Drop the connection with a TCP RST and answer nothing."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        self.wfile = _Sink()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise HTTPError(400, ["failed to parse JSON input"])

    # ---- faults ----

    def apply_faults(self, path):
        st = self.server.state
        with LOCK:
            f = st.faults
            if not f or (f.get("match") and f["match"] not in path):
                return False
            latency = f.get("latency_ms", 0)
            gen = st.faults_gen
            if f.get("flap_ms"):
                down = int(now() * 1000 / f["flap_ms"]) % 2 == 1
                if down:
                    if random.random() < 0.5:
                        action = ("reset",)
                    else:
                        action = ("status", 503)
                else:
                    action = None
            elif f.get("hang"):
                action = ("hang",)
            elif f.get("reset_count"):
                f["reset_count"] -= 1
                action = ("reset",)
            elif f.get("truncate_count"):
                f["truncate_count"] -= 1
                action = ("truncate",)
            elif f.get("garbage_count"):
                f["garbage_count"] -= 1
                action = ("garbage",)
            elif f.get("status") and f.get("status_count", -1) != 0:
                if f.get("status_count", -1) > 0:
                    f["status_count"] -= 1
                action = ("status", f["status"])
            else:
                action = None
        if latency:
            time.sleep(latency / 1000.0)
        if not action:
            return False
        if action[0] == "hang":
            end = now() + 120
            with FAULTS_CHANGED:
                while st.faults_gen == gen and now() < end:
                    FAULTS_CHANGED.wait(0.5)
            self.reset()
            return True
        if action[0] == "reset":
            self.reset()
            return True
        if action[0] == "truncate":
            raw = json.dumps(envelope({"data": {"value": "x" * 64}, "metadata": {"version": 1}})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 2])
            self.wfile.flush()
            self.reset()
            return True
        if action[0] == "garbage":
            raw = b'{"data": {"data": {"value": "unterminated'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return True
        status = action[1]
        msg = "Vault is sealed" if status == 503 else "injected fault %d" % status
        self.reply(status, {"errors": [msg]})
        return True

    # ---- routing ----

    def dispatch(self, method):
        st = self.server.state
        self.rest = ""
        try:
            u = urlsplit(self.path)
            query = parse_qs(u.query)
            path = unquote(u.path)
            if path.startswith("/_test/"):
                return self.control(method, path[7:])
            if method == "GET" and query.get("list", [""])[0] == "true":
                method = "LIST"
            with LOCK:
                st.total += 1
                k = method + " " + path[4:] if path.startswith("/v1/") else method + " " + path
                st.stats[k] = st.stats.get(k, 0) + 1
            body = self.read_body() if method not in ("GET", "HEAD", "LIST") else None
            if self.apply_faults(path):
                return
            status, out, headers = self.route(method, path, query, body)
            if (status == 200 and out is not None and self.headers.get("X-Vault-Wrap-TTL")
                    and not path.startswith("/v1/sys/wrapping/")):
                out = self.wrap(status, out)
            self.reply(status, out, headers, head=method == "HEAD")
        except HTTPError as e:
            self.reply(e.status, e.body, e.headers, head=method == "HEAD")
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        except Exception as e:  # never die on a request
            sys.stderr.write("vaultsrv: internal error on %s %s: %r\n" % (method, self.path, e))
            self.reply(500, {"errors": ["internal error"]})

    def health(self, query):
        st = self.server.state
        q = {k: v[0] for k, v in query.items()}
        standby = bool(st.args.standby_of)
        body = {
            "initialized": True, "sealed": st.sealed, "standby": standby,
            "performance_standby": False, "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled", "server_time_utc": int(now()),
            "version": "1.15.0+harombe-test", "cluster_name": "vault-cluster-harombe-test",
            "cluster_id": st.cluster_id,
        }
        if st.sealed:
            code = int(q.get("sealedcode", 503))
        elif standby:
            code = 200 if q.get("standbyok") == "true" else int(q.get("standbycode", 429))
        else:
            code = int(q.get("activecode", 200))
        return code, body, None

    def route(self, method, path, query, body):
        st = self.server.state
        if not path.startswith("/v1/"):
            raise HTTPError(404, ["no handler for route"])
        rest = path[4:]
        if rest in ("sys/health", "sys/health/"):
            return self.health(query)
        if rest == "sys/seal-status":
            return 200, {"type": "shamir", "initialized": True, "sealed": st.sealed, "t": 1, "n": 1,
                         "progress": 0, "version": "1.15.0+harombe-test"}, None
        if st.args.standby_of:
            loc = st.args.standby_of.rstrip("/") + self.path
            return 307, None, {"Location": loc}
        if st.sealed:
            raise HTTPError(503, ["Vault is sealed"])
        with LOCK:
            ns = self.namespace()
            segs = rest.split("/")
            while segs and ns + segs[0] + "/" in st.namespaces:
                ns += segs.pop(0) + "/"
            rest = "/".join(segs)
            if ns not in st.namespaces:
                raise HTTPError(404, ["namespace not found"])
            self.rest = rest
            if method in ("POST", "PUT") and rest.startswith("auth/approle/login"):
                return self.approle_login(ns, rest, body)
            if method in ("POST", "PUT") and rest == "sys/wrapping/lookup":
                return self.wrap_lookup(body)
            if (method in ("POST", "PUT") and rest == "sys/wrapping/unwrap"
                    and self.headers.get("X-Vault-Token", "") in st.wraps):
                return self.unwrap(self.headers["X-Vault-Token"])
            am = self.auth_mount(ns, rest)
            if am and am[2] == "login" and method in ("POST", "PUT"):
                return self.method_login(ns, am[0], am[1], body)
            tok = st.token_of(self.headers, ns)
            if rest.startswith("sys/auth/") and method in ("POST", "PUT"):
                if "root" not in tok["policies"]:
                    raise denied()
                typ = (body or {}).get("type")
                if typ not in ("cert", "jwt", "kubernetes", "oidc"):
                    raise HTTPError(400, ["unknown auth method type: %s" % typ])
                st.auth[ns + "|" + rest[9:].strip("/")] = {"type": "jwt" if typ == "oidc" else typ,
                                                           "config": {}, "roles": {}}
                st.save()
                return 204, None, None
            if am:
                return self.method_admin(tok, am[1], am[2], method, body)
            if rest.startswith(("sys/leases/", "sys/renew", "sys/revoke")):
                return self.lease_api(tok, ns, method, rest, body)
            pm = self.pki_mount(ns, rest)
            if pm:
                return self.pki_engine(tok, pm[0], pm[1], method, rest[len(pm[0]) + 1:].strip("/"), body)
            dm = self.db_mount(ns, rest)
            if dm:
                return self.database(tok, ns, dm[0], dm[1], method, rest[len(dm[0]) + 1:].strip("/"), body)
            if rest == "sys/wrapping/unwrap" and method in ("POST", "PUT"):
                return self.unwrap((body or {}).get("token", ""))
            if rest.startswith("auth/token/"):
                return self.token_api(tok, ns, method, rest[11:], body)
            if rest.startswith("auth/approle/role/"):
                return self.approle_admin(tok, ns, method, rest[18:], body)
            if rest.startswith("sys/internal/ui/mounts/"):
                mount, m = self.mount_of(ns, rest[23:])
                if not m:
                    raise HTTPError(403, ["preflight capability check returned 403, please ensure "
                                          "client's policies grant access to path \"%s/\"" % rest[23:]])
                return 200, envelope({"path": mount + "/", "type": "kv", "description": "",
                                      "options": {"version": str(m["version"])}}), None
            mount, m = self.mount_of(ns, rest)
            if not m:
                raise HTTPError(404, ["no handler for route \"%s\". route entry not found." % rest])
            sub = rest[len(mount):].lstrip("/")
            status, out = KV(st, mount, m, tok).handle(method, sub, query, body, self.headers)
            return status, out, None

    def namespace(self):
        h = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        return h + "/" if h else ""

    def mount_of(self, ns, rest):
        st = self.server.state
        best = None
        for key, m in st.mounts.items():
            mns, _, mount = key.partition("|")
            if mns == ns and (rest == mount or rest.startswith(mount + "/")):
                if not best or len(mount) > len(best[0]):
                    best = (mount, m)
        return best or (None, None)

    def token_api(self, tok, ns, method, op, body):
        st = self.server.state
        body = body or {}
        if op == "lookup-self" and method == "GET":
            ttl = int(round(tok["expire_at"] - now())) if tok["expire_at"] else 0
            return 200, envelope({
                "accessor": tok["accessor"], "creation_time": int(tok["issue"]),
                "creation_ttl": tok["creation_ttl"], "display_name": "token",
                "entity_id": "", "expire_time": rfc3339(tok["expire_at"]) or None,
                "explicit_max_ttl": 0, "id": tok["id"], "issue_time": rfc3339(tok["issue"]),
                "meta": tok["meta"], "num_uses": tok["num_uses"], "orphan": True,
                "path": tok["path"], "policies": tok["policies"], "renewable": tok["renewable"],
                "ttl": max(ttl, 0), "type": "service"}), None
        if op == "renew-self" and method in ("POST", "PUT"):
            if not tok["renewable"]:
                raise HTTPError(400, ["lease is not renewable"])
            inc = parse_duration(body.get("increment"), tok["creation_ttl"]) or tok["creation_ttl"]
            t = now()
            exp = t + inc
            if tok["max_expire_at"]:
                exp = min(exp, tok["max_expire_at"])
            tok["expire_at"] = exp
            st.save()
            return 200, envelope(auth=st.auth_block(tok)), None
        if op == "revoke-self" and method in ("POST", "PUT"):
            st.tokens.pop(tok["id"], None)
            st.save()
            return 204, None, None
        if op == "create" and method in ("POST", "PUT"):
            if "root" not in tok["policies"]:
                raise denied()
            ttl = parse_duration(body.get("ttl"), 0)
            t = st.new_token(body.get("id"), body.get("policies") or ["default"], ttl,
                             body.get("renewable", True), ns,
                             max_ttl=parse_duration(body.get("explicit_max_ttl"), 0),
                             num_uses=int(body.get("num_uses") or 0), meta=body.get("meta"))
            st.save()
            return 200, envelope(auth=st.auth_block(t)), None
        raise HTTPError(405, ["unsupported operation"])

    def approle_admin(self, tok, ns, method, rest, body):
        st = self.server.state
        if "root" not in tok["policies"]:
            raise denied()
        name, _, op = rest.partition("/")
        key = ns + "|" + name
        body = body or {}
        if not op and method in ("POST", "PUT"):
            role = st.roles.get(key) or {"role_id": str(uuid.uuid4()), "secret_ids": []}
            role.update({
                "token_ttl": parse_duration(body.get("token_ttl"), role.get("token_ttl", 0)),
                "token_max_ttl": parse_duration(body.get("token_max_ttl"), role.get("token_max_ttl", 0)),
                "token_policies": body.get("token_policies", role.get("token_policies", ["default"])),
                "bind_secret_id": body.get("bind_secret_id", role.get("bind_secret_id", True)),
                "token_type": body.get("token_type", role.get("token_type", "service")),
            })
            if isinstance(role["token_policies"], str):
                role["token_policies"] = [p for p in role["token_policies"].split(",") if p]
            st.roles[key] = role
            st.save()
            return 204, None, None
        role = st.roles.get(key)
        if not role:
            raise HTTPError(404, [])
        if op == "role-id" and method == "GET":
            return 200, envelope({"role_id": role["role_id"]}), None
        if op == "role-id" and method in ("POST", "PUT"):
            role["role_id"] = body.get("role_id") or role["role_id"]
            st.save()
            return 204, None, None
        if op == "secret-id" and method in ("POST", "PUT"):
            sid = body.get("secret_id") or str(uuid.uuid4())
            role["secret_ids"].append(sid)
            st.save()
            return 200, envelope({"secret_id": sid, "secret_id_accessor": uuid.uuid4().hex,
                                  "secret_id_ttl": 0, "secret_id_num_uses": 0}), None
        raise HTTPError(405, ["unsupported operation"])

    def approle_login(self, ns, rest, body):
        st = self.server.state
        body = body or {}
        if not body.get("role_id"):
            raise HTTPError(400, ["missing role_id"])
        role = None
        for key, r in st.roles.items():
            if key.startswith(ns + "|") and r["role_id"] == body["role_id"]:
                role = r
        if role and role["bind_secret_id"] and not body.get("secret_id"):
            raise HTTPError(400, ["missing secret_id"])
        if not role or (role["bind_secret_id"] and body.get("secret_id") not in role["secret_ids"]):
            raise HTTPError(400, ["invalid role or secret ID"])
        ttl = role["token_ttl"] or 2764800
        t = st.new_token(None, role["token_policies"], ttl, role["token_type"] != "batch", ns,
                         max_ttl=role["token_max_ttl"], path="auth/approle/login")
        st.save()
        return 200, envelope(auth=st.auth_block(t)), None

    # ---- cert, jwt and kubernetes auth methods ----

    def auth_mount(self, ns, rest):
        """(mount, entry, op) when rest is under an enabled auth method."""
        st = self.server.state
        best = None
        for key, m in st.auth.items():
            mns, _, mount = key.partition("|")
            if mns == ns and rest.startswith("auth/" + mount + "/"):
                if not best or len(mount) > len(best[0]):
                    best = (mount, m, rest[len(mount) + 6:].strip("/"))
        return best

    def method_admin(self, tok, entry, op, method, body):
        st = self.server.state
        if "root" not in tok["policies"]:
            raise denied()
        body = body or {}
        if method not in ("POST", "PUT"):
            raise HTTPError(405, ["unsupported operation"])
        if op == "config" and entry["type"] in ("jwt", "kubernetes"):
            entry["config"] = body
            st.save()
            return 204, None, None
        kind, _, name = op.partition("/")
        if name and kind == ("certs" if entry["type"] == "cert" else "role"):
            role = dict(body)
            role["token_ttl"] = parse_duration(body.get("token_ttl"), 0)
            role["token_max_ttl"] = parse_duration(body.get("token_max_ttl"), 0)
            role["token_policies"] = listish(body.get("token_policies") or ["default"])
            if entry["type"] == "cert" and not body.get("certificate"):
                raise HTTPError(400, ["must specify certificate"])
            if entry["type"] == "jwt" and not body.get("user_claim"):
                raise HTTPError(400, ["a user claim must be defined on the role"])
            entry["roles"][name] = role
            st.save()
            return 204, None, None
        raise HTTPError(405, ["unsupported operation"])

    def method_login(self, ns, mount, entry, body):
        st = self.server.state
        body = body or {}
        typ = entry["type"]
        if typ == "cert":
            name, role, meta = self.cert_match(entry, body.get("name"))
        else:
            rname = body.get("role") or ""
            role = entry["roles"].get(rname)
            if typ == "kubernetes":
                if not rname:
                    raise HTTPError(400, ["missing role"])
                if not body.get("jwt"):
                    raise HTTPError(400, ["missing jwt"])
                if not role:
                    raise HTTPError(400, ["invalid role name \"%s\"" % rname])
                meta = self.k8s_check(entry, role, body["jwt"], rname)
            else:
                if not body.get("jwt"):
                    raise HTTPError(400, ["missing token"])
                if not role:
                    raise HTTPError(400, ["role \"%s\" could not be found" % rname])
                meta = self.jwt_check(entry, role, body["jwt"], rname)
        ttl = role["token_ttl"] or 2764800
        t = st.new_token(None, role["token_policies"], ttl, True, ns, max_ttl=role["token_max_ttl"],
                         path="auth/%s/login" % mount, meta=meta)
        st.save()
        return 200, envelope(auth=st.auth_block(t)), None

    def cert_match(self, entry, want):
        bad = HTTPError(400, ["invalid certificate or no client certificate supplied"])
        if not isinstance(self.request, ssl.SSLSocket):
            raise bad
        peer = self.request.getpeercert()
        der = self.request.getpeercert(True)
        if not peer or not der:
            raise bad
        for name, role in sorted(entry["roles"].items()):
            if want and name != want:
                continue
            pem = role["certificate"]
            if ssl.PEM_cert_to_DER_cert(pem) == der or cert_subject(pem) == peer.get("issuer"):
                cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
                return name, role, {"cert_name": name, "common_name": cn[0] if cn else ""}
        raise bad

    def jwt_check(self, entry, role, jwt, rname):
        cfg = entry["config"]
        if not cfg.get("jwt_validation_pubkeys"):
            raise HTTPError(400, ["could not load configuration"])
        if role.get("role_type", "oidc") != "jwt":
            raise HTTPError(400, ["role with oidc role_type is not allowed"])
        leeway = int(role.get("expiration_leeway", 0) or 0)
        leeway = 150 if leeway == 0 else max(leeway, 0)
        try:
            claims = jwt_verify(jwt, listish(cfg["jwt_validation_pubkeys"]))
            jwt_times(claims, leeway)
        except ValueError as e:
            raise HTTPError(400, [str(e)])
        if cfg.get("bound_issuer") and claims.get("iss") != cfg["bound_issuer"]:
            raise HTTPError(400, ["error validating claims: validation failed, invalid issuer claim (iss)"])
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else (aud or [])
        bound = listish(role.get("bound_audiences"))
        if bound and not set(aud) & set(bound):
            raise HTTPError(400, ["error validating claims: validation failed, invalid audience (aud) claim: "
                                  "audience claim does not match any expected audience"])
        if aud and not bound:
            raise HTTPError(400, ["audience claim found in JWT but no audiences bound to the role"])
        if role.get("bound_subject") and claims.get("sub") != role["bound_subject"]:
            raise HTTPError(400, ["sub claim does not match bound subject"])
        user = claims.get(role["user_claim"])
        if user is None:
            raise HTTPError(400, ["claim \"%s\" not found in token" % role["user_claim"]])
        return {"role": rname}

    def k8s_check(self, entry, role, jwt, rname):
        cfg = entry["config"]
        try:
            claims = jwt_verify(jwt, listish(cfg.get("pem_keys")))
            jwt_times(claims, 0)
        except ValueError:
            raise HTTPError(403, ["permission denied"])
        sub = str(claims.get("sub", ""))
        ns = claims.get("kubernetes.io/serviceaccount/namespace")
        name = claims.get("kubernetes.io/serviceaccount/service-account.name")
        if sub.startswith("system:serviceaccount:") and sub.count(":") == 3:
            ns, name = sub.split(":")[2:4]
        names = listish(role.get("bound_service_account_names"))
        nss = listish(role.get("bound_service_account_namespaces"))
        if "*" not in names and name not in names:
            raise HTTPError(403, ["service account name not authorized"])
        if "*" not in nss and ns not in nss:
            raise HTTPError(403, ["namespace not authorized"])
        return {"role": rname, "service_account_name": name, "service_account_namespace": ns}

    # ---- response wrapping ----

    def wrap(self, status, out):
        st = self.server.state
        ttl = parse_duration(self.headers.get("X-Vault-Wrap-TTL"), 0)
        wtok = "hvs." + uuid.uuid4().hex + uuid.uuid4().hex[:8]
        path = getattr(self, "rest", "")
        with LOCK:
            st.wraps[wtok] = {"resp": out, "path": path, "created": now(), "ttl": ttl}
            st.save()
        env = envelope()
        env["wrap_info"] = {"token": wtok, "accessor": uuid.uuid4().hex[:24], "ttl": ttl,
                            "creation_time": rfc3339(now()), "creation_path": path,
                            "wrapped_accessor": ""}
        return env

    def live_wrap(self, wtok):
        st = self.server.state
        w = st.wraps.get(wtok or "")
        if w and w["ttl"] and now() > w["created"] + w["ttl"]:
            del st.wraps[wtok]
            st.save()
            w = None
        if not w:
            raise HTTPError(400, ["wrapping token is not valid or does not exist"])
        return w

    def wrap_lookup(self, body):
        w = self.live_wrap((body or {}).get("token"))
        return 200, envelope({"creation_path": w["path"], "creation_time": rfc3339(w["created"]),
                              "creation_ttl": w["ttl"]}), None

    def unwrap(self, wtok):
        st = self.server.state
        w = self.live_wrap(wtok)
        del st.wraps[wtok]
        st.save()
        return 200, w["resp"], None

    # ---- the database engine and leases ----

    def db_mount(self, ns, rest):
        for key, m in self.server.state.db.items():
            mns, _, mount = key.partition("|")
            if mns == ns and rest.startswith(mount + "/"):
                return mount, m
        return None

    def database(self, tok, ns, mount, m, method, op, body):
        st = self.server.state
        kind, _, name = op.partition("/")
        if not st.allowed(tok, mount + "/" + op, ["read", "update", "create"]):
            raise denied()
        if kind == "roles" and name and method in ("POST", "PUT"):
            body = body or {}
            if not body.get("db_name"):
                raise HTTPError(400, ["empty database name attribute"])
            m["roles"][name] = {"default_ttl": parse_duration(body.get("default_ttl"), 3600),
                                "max_ttl": parse_duration(body.get("max_ttl"), 86400),
                                "db_name": body["db_name"]}
            st.save()
            return 204, None, None
        if kind == "creds" and name and method == "GET":
            role = m["roles"].get(name)
            if not role:
                raise HTTPError(400, ["unknown role: %s" % name])
            t = now()
            lid = "%s/creds/%s/%s" % (mount, name, uuid.uuid4().hex[:24])
            user = "v-token-%s-%s-%d" % (name[:8], uuid.uuid4().hex[:20], int(t))
            pw = uuid.uuid4().hex + "-A1a"
            ttl = role["default_ttl"]
            if role["max_ttl"]:
                ttl = min(ttl, role["max_ttl"])
            st.leases[lid] = {"path": mount + "/creds/" + name, "ns": ns, "issue": t, "expire": t + ttl,
                              "max_expire": t + role["max_ttl"] if role["max_ttl"] else 0,
                              "last_renewal": 0, "default_ttl": role["default_ttl"], "renewals": 0,
                              "username": user, "password": pw}
            st.save()
            env = envelope({"username": user, "password": pw})
            env.update({"lease_id": lid, "lease_duration": ttl, "renewable": True, "mount_type": "database"})
            return 200, env, None
        raise HTTPError(405, ["unsupported operation"])

    # ---- the PKI engine ----

    def pki_mount(self, ns, rest):
        for key, m in self.server.state.pki.items():
            mns, _, mount = key.partition("|")
            if mns == ns and rest.startswith(mount + "/"):
                return mount, m
        return None

    def pki_engine(self, tok, mount, m, method, op, body):
        st = self.server.state
        body = body or {}
        kind, _, name = op.partition("/")
        if not st.allowed(tok, mount + "/" + op, ["update", "create"]):
            raise denied()
        if method not in ("POST", "PUT"):
            raise HTTPError(405, ["unsupported operation"])
        if op == "root/generate/internal":
            ttl = parse_duration(body.get("ttl"), 87600 * 3600)
            key = pki_key("ec", 256)
            cert = pki_cert(key, key, body.get("common_name") or "harombe test root", [], [], ttl, ca=True)
            m["ca"] = {"key": pki_pem_key(key), "cert": pki_pem_cert(cert), "expire": int(now()) + int(ttl)}
            st.save()
            return 200, envelope({"certificate": m["ca"]["cert"], "issuing_ca": m["ca"]["cert"],
                                  "serial_number": pki_serial(cert), "expiration": m["ca"]["expire"],
                                  "key_type": "ec"}), None
        if kind == "roles" and name:
            role = {"allowed_domains": listish(body.get("allowed_domains")),
                    "allow_subdomains": bool(body.get("allow_subdomains", False)),
                    "allow_bare_domains": bool(body.get("allow_bare_domains", False)),
                    "allow_localhost": bool(body.get("allow_localhost", True)),
                    "allow_any_name": bool(body.get("allow_any_name", False)),
                    "allow_ip_sans": bool(body.get("allow_ip_sans", True)),
                    "ttl": parse_duration(body.get("ttl"), 0),
                    "max_ttl": parse_duration(body.get("max_ttl"), 0),
                    "generate_lease": bool(body.get("generate_lease", False)),
                    "key_type": body.get("key_type", "rsa"), "key_bits": int(body.get("key_bits", 0) or 0)}
            m["roles"][name] = role
            st.save()
            return 204, None, None
        if kind == "issue" and name:
            role = m["roles"].get(name)
            if not role:
                raise HTTPError(400, ["unknown role: %s" % name])
            if not m.get("ca"):
                raise HTTPError(400, ["no default issuer currently configured"])
            cn = body.get("common_name") or ""
            if not cn:
                raise HTTPError(400, ["the common_name field is required, or must be provided in a CSR with "
                                      "\"use_csr_common_name\" set to true, unless \"require_cn\" is set to false"])
            alts = [a.strip() for a in (body.get("alt_names") or "").split(",") if a.strip()]
            ips = [a.strip() for a in (body.get("ip_sans") or "").split(",") if a.strip()]
            if not pki_name_ok(role, cn):
                raise HTTPError(400, ["common name %s not allowed by this role" % cn])
            for a in alts:
                if not pki_name_ok(role, a):
                    raise HTTPError(400, ["subject alternative name %s not allowed by this role" % a])
            if ips and not role["allow_ip_sans"]:
                raise HTTPError(400, ["IP Subject Alternative Names are not allowed in this role, but was "
                                      "provided %s" % ",".join(ips)])
            ttl = parse_duration(body.get("ttl"), 0) or role["ttl"] or 30 * 86400
            warnings = None
            if role["max_ttl"] and ttl > role["max_ttl"]:
                ttl = role["max_ttl"]
                warnings = ["TTL is greater than the role's max_ttl: capped"]
            ca_key = pki_load_key(m["ca"]["key"])
            ca_cert = pki_load_cert(m["ca"]["cert"])
            kt = role["key_type"] if role["key_type"] in ("rsa", "ec") else "rsa"
            key = pki_key(kt, role["key_bits"])
            cert = pki_cert(key, ca_key, cn, [cn] + alts, ips, ttl, issuer=ca_cert)
            exp = int(now()) + int(ttl)
            serial = pki_serial(cert)
            m["issued"] = m.get("issued", 0) + 1
            data = {"certificate": pki_pem_cert(cert), "issuing_ca": m["ca"]["cert"], "ca_chain": [m["ca"]["cert"]],
                    "private_key": pki_pem_key(key), "private_key_type": kt, "serial_number": serial,
                    "expiration": exp}
            env = envelope(data, warnings=warnings)
            env["mount_type"] = "pki"
            if role["generate_lease"]:
                t = now()
                lid = "%s/issue/%s/%s" % (mount, name, uuid.uuid4().hex[:24])
                st.leases[lid] = {"path": mount + "/issue/" + name, "ns": "", "issue": t, "expire": t + ttl,
                                  "max_expire": t + ttl, "last_renewal": 0, "default_ttl": ttl, "renewals": 0,
                                  "username": serial, "password": "", "renewable": False}
                env.update({"lease_id": lid, "lease_duration": int(ttl), "renewable": False})
            st.save()
            return 200, env, None
        raise HTTPError(405, ["unsupported operation"])

    def live_lease(self, lid):
        st = self.server.state
        lease = st.leases.get(lid or "")
        if lease and now() >= lease["expire"]:
            del st.leases[lid]
            st.save()
            lease = None
        return lease

    def lease_api(self, tok, ns, method, rest, body):
        st = self.server.state
        body = body or {}
        op = rest[len("sys/leases/"):] if rest.startswith("sys/leases/") else rest[len("sys/"):]
        op, _, suffix = op.partition("/")
        lid = body.get("lease_id") or suffix
        if method not in ("POST", "PUT"):
            raise HTTPError(405, ["unsupported operation"])
        if op == "lookup":
            lease = self.live_lease(lid)
            if not lease:
                raise HTTPError(400, ["invalid lease"])
            return 200, envelope({"id": lid, "issue_time": rfc3339(lease["issue"]),
                                  "expire_time": rfc3339(lease["expire"]),
                                  "last_renewal_time": rfc3339(lease["last_renewal"]) or None,
                                  "renewable": True, "ttl": int(round(lease["expire"] - now()))}), None
        if op == "renew":
            if not lid:
                raise HTTPError(400, ["lease_id must be specified"])
            lease = self.live_lease(lid)
            if not lease:
                raise HTTPError(400, ["lease not found"])
            if not st.allowed(tok, "sys/leases/renew", ["update"]):
                raise denied()
            if not lease.get("renewable", True):
                raise HTTPError(400, ["lease is not renewable"])
            t = now()
            inc = parse_duration(body.get("increment"), 0) or lease["default_ttl"]
            exp = t + inc
            warnings = None
            if lease["max_expire"] and exp > lease["max_expire"]:
                exp = lease["max_expire"]
                warnings = ["TTL of \"%ds\" exceeded the effective max_ttl of \"%ds\"; TTL value is capped "
                            "accordingly" % (inc, int(round(exp - t)))]
            lease["expire"] = exp
            lease["last_renewal"] = t
            lease["renewals"] += 1
            st.save()
            env = envelope(warnings=warnings)
            env.update({"lease_id": lid, "renewable": True, "lease_duration": int(round(exp - t))})
            return 200, env, None
        if op == "revoke":
            if not lid:
                raise HTTPError(400, ["lease_id must be specified"])
            if not st.allowed(tok, "sys/leases/revoke", ["update"]):
                raise denied()
            st.leases.pop(lid, None)
            st.save()
            return 204, None, None
        raise HTTPError(405, ["unsupported operation"])

    # ---- test control ----

    def control(self, method, op):
        st = self.server.state
        body = self.read_body() if method in ("POST", "PUT") else None
        with LOCK:
            if op == "stats" and method == "GET":
                return self.reply(200, {"total": st.total, "connections": st.connections,
                                        "requests": dict(st.stats)})
            if op == "leases" and method == "GET":
                t = now()
                return self.reply(200, {"leases": [
                    {"id": k, "path": v["path"], "ttl": int(round(v["expire"] - t)), "renewals": v["renewals"],
                     "username": v["username"], "password": v["password"]}
                    for k, v in sorted(st.leases.items()) if v["expire"] > t]})
            if op == "stats/reset":
                st.stats = {}
                st.total = 0
                st.connections = 0
                return self.reply(204)
            if op == "seal":
                st.sealed = bool((body or {}).get("sealed", True))
                return self.reply(204)
            if op == "faults":
                with FAULTS_CHANGED:
                    st.faults = copy.deepcopy(body or {})
                    st.faults_gen += 1
                    FAULTS_CHANGED.notify_all()
                return self.reply(204)
            if op == "revoke":
                # {"token": ID} or {"path": "auth/approle/login"}: revoke now
                b = body or {}
                for tid in list(st.tokens):
                    t = st.tokens[tid]
                    if tid == b.get("token") or (b.get("path") and t["path"] == b["path"]):
                        del st.tokens[tid]
                st.save()
                return self.reply(204)
            if op == "policy":
                st.policies[body["name"]] = body["rules"]
                st.save()
                return self.reply(204)
            if op == "age":
                m = st.mounts.get("|" + body.get("mount", "secret").strip("/"))
                s = m and m["data"].get(body["path"])
                if not s:
                    return self.reply(404, {"errors": ["no such secret"]})
                d = float(body["seconds"])
                s["created"] -= d
                s["updated"] -= d
                for v in s.get("versions", {}).values():
                    v["created"] -= d
                st.save()
                return self.reply(204)
        self.reply(404, {"errors": ["unknown control endpoint"]})


class _Sink:
    def write(self, b):
        return len(b)

    def flush(self):
        pass

    def close(self):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    ap = argparse.ArgumentParser(description="Vault API test server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--root-token", default="root-" + uuid.uuid4().hex)
    ap.add_argument("--state")
    ap.add_argument("--kv", action="append")
    ap.add_argument("--namespace", action="append")
    ap.add_argument("--sealed", action="store_true")
    ap.add_argument("--standby-of")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    ap.add_argument("--tls-client-optional", action="store_true")
    ap.add_argument("--unix")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    state = State(args)
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        srv = UnixServer(args.unix, Handler)
        port = 0
    else:
        srv = Server(("127.0.0.1", args.port), Handler)
        port = srv.server_address[1]
    srv.state = state
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL if args.tls_client_optional else ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
