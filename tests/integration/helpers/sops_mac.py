#!/usr/bin/python3
"""Check a SOPS file as specs/sops.md defines it, without harombe.

  sops_mac.py FILE DATAKEYFILE    decrypt every value (AAD = the path of map
                                  keys), recompute the MAC (SHA-512 over the
                                  canonical clear values in document order),
                                  compare it with `mac` (AAD = lastmodified);
                                  print the decrypted document as JSON

JSON and YAML stores (PyYAML, python3-cryptography).  The data key file holds
the 32 raw bytes `age -d` unwraps from sops.age[0].enc.  Exit 1 on any mismatch.
"""
import base64
import decimal
import hashlib
import json
import re
import sys

import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
MOE_INIT = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")


def dec(key, s, aad):
    m = ENC.match(s)
    data, iv, tag, typ = (m.group(i) for i in range(1, 5))
    pt = AESGCM(key).decrypt(base64.b64decode(iv), base64.b64decode(data) + base64.b64decode(tag),
                             aad.encode())
    return pt.decode(), typ


def fmt_float(v):
    s = format(decimal.Decimal(repr(v)), "f")
    return s[:-2] if s.endswith(".0") else s


def to_bytes(v):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return fmt_float(v)
    return str(v)


def typed(pt, typ):
    if typ == "int":
        return int(pt)
    if typ == "float":
        return float(pt)
    if typ == "bool":
        return pt in ("1", "t", "T", "TRUE", "true", "True")
    return pt


def walk(node, path, key, h, rule, moe):
    if isinstance(node, dict):
        return {k: walk(v, path + [k], key, h, rule, moe) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, path, key, h, rule, moe) for v in node]
    if node is None:
        return None
    aad = "".join(p + ":" for p in path) or ":"
    enc = isinstance(node, str) and node.startswith("ENC[")
    if enc:
        pt, typ = dec(key, node, aad)
        val = typed(pt, typ)
    else:
        if rule(path) and node != "":
            raise SystemExit("clear value at %s should be encrypted" % aad)
        val = node
    if enc or not moe:
        h.update(to_bytes(val).encode())
    return val


def main():
    path, keyfile = sys.argv[1], sys.argv[2]
    key = open(keyfile, "rb").read()
    assert len(key) == 32, "data key is %d bytes" % len(key)
    text = open(path).read()
    doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    meta = doc.pop("sops")
    moe = bool(meta.get("mac_only_encrypted"))
    if meta.get("encrypted_regex"):
        r = re.compile(meta["encrypted_regex"])
        rule = lambda p: any(r.search(c) for c in p)
    elif meta.get("unencrypted_regex"):
        r = re.compile(meta["unencrypted_regex"])
        rule = lambda p: not any(r.search(c) for c in p)
    elif meta.get("encrypted_suffix"):
        rule = lambda p: any(c.endswith(meta["encrypted_suffix"]) for c in p)
    else:
        suf = meta.get("unencrypted_suffix", "_unencrypted")
        rule = lambda p: not any(c.endswith(suf) for c in p)
    h = hashlib.sha512()
    if moe:
        h.update(MOE_INIT)
    out = walk(doc, [], key, h, rule, moe)
    lm = meta["lastmodified"]
    if not isinstance(lm, str):
        lm = lm.strftime("%Y-%m-%dT%H:%M:%SZ")
    mac, _ = dec(key, meta["mac"], lm)
    if mac != h.hexdigest().upper():
        raise SystemExit("MAC mismatch")
    json.dump(out, sys.stdout, sort_keys=True)
    print()


main()
