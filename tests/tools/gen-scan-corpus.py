#!/usr/bin/python3
"""Labelled corpus for the secret scanner, as JSON lines on stdout.

Every item is {"id", "label": "positive"|"negative", "rule", "text",
"secrets": [...]}.  Positives are generated here, at run time, from
fragments and random characters: no complete credential is written in this
file or in the repository.  They have the shapes the real formats have
(prefix, alphabet, length) and are fake.  Negatives are text that must not
be flagged: hashes, UUIDs, commit ids, base64 images, lockfiles, minified
JavaScript, certificates, code and logs, generated here or read from
tests/fixtures/scan/negatives/.

usage: gen-scan-corpus.py [--seed N] [--per-rule N] [--fixtures DIR]
"""

import argparse
import base64
import hashlib
import json
import os
import random
import string
import sys
import uuid

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DIG = string.digits
B62 = UP + LO + DIG
B64 = B62 + "+/"
URLSAFE = B62 + "-_"
HEX = "0123456789abcdef"

R = random.Random()


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def rnd_mixed(n, alphabet=B62):
    """Random, but with upper, lower and (where the alphabet has them)
    digits, as issued tokens have."""
    need = [cls for cls in (UP, LO, DIG) if any(c in alphabet for c in cls)]
    while True:
        s = rnd(alphabet, n)
        if all(any(c in cls for c in s) for cls in need):
            return s


def cat(*parts):
    return "".join(parts)


# ---- generators: one per rule, returning a secret ----

def g_aws_id():
    return cat(R.choice(["AK", "AS"]), "IA", rnd(UP + DIG, 16))


def g_aws_secret():
    return rnd_mixed(40, B64)


def g_github():
    return cat("gh", R.choice("pousr"), "_", rnd_mixed(36))


def g_github_pat():
    return cat("github", "_pat_", rnd_mixed(22), "_", rnd_mixed(59))


def g_gitlab():
    return cat("gl", "pat-", rnd_mixed(20, URLSAFE))


def g_slack():
    return cat("xox", R.choice("bpa"), "-", rnd(DIG, 11), "-", rnd(DIG, 12), "-", rnd_mixed(24))


def g_slack_webhook_path():
    return cat("T", rnd(UP + DIG, 8), "/B", rnd(UP + DIG, 10), "/", rnd_mixed(24))


def g_stripe():
    return cat(R.choice(["sk", "rk"]), "_", R.choice(["live", "test"]), "_", rnd_mixed(R.choice([24, 34, 99])))


def g_openai():
    return cat("sk-", "proj-", rnd_mixed(R.choice([48, 64, 120]), URLSAFE))


def g_anthropic():
    return cat("sk-", "ant-", "api03-", rnd_mixed(93, URLSAFE), "AA")


def g_google():
    return cat("AI", "za", rnd_mixed(35, URLSAFE))


def g_npm():
    return cat("np", "m_", rnd_mixed(36))


def g_pypi():
    return cat("pypi-", "AgEIcHlwaS5vcmc", rnd_mixed(70, URLSAFE))


def g_hf():
    return cat("h", "f_", rnd_mixed(34, UP + LO))


def g_sendgrid():
    return cat("S", "G.", rnd_mixed(22, URLSAFE), ".", rnd_mixed(43, URLSAFE))


def g_twilio():
    return cat("S", "K", rnd(HEX, 32))


def g_jwt():
    def seg(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    head = seg({"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    body = seg({"sub": rnd(DIG, 8), "name": rnd(LO, 6), "iat": R.randint(1600000000, 1800000000)})
    return cat(head, ".", body, ".", rnd_mixed(43, URLSAFE))


def g_vault():
    return cat("hv", "s.", rnd_mixed(R.choice([24, 90]), URLSAFE))


def g_age():
    return cat("AGE-SECRET-", "KEY-1", rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".upper(), 58))


def g_azure_storage():
    return base64.b64encode(R.randbytes(64)).decode()


def g_password():
    # what people choose: words, digits, symbols
    w = R.choice(["Summer", "Winter", "Dragon", "Monkey", "Shadow", "Master", "Purple", "Falcon"])
    return cat(w, rnd(DIG, R.randint(2, 4)), R.choice("!@#$%&*"), rnd(LO + UP, R.randint(2, 6)))


def g_token_value():
    return cat(R.choice(["", "tok_", "key_", "live_"]), rnd_mixed(R.randint(24, 48), URLSAFE))


def g_hex_secret():
    return rnd(HEX, R.choice([32, 40, 64]))


def g_db_password():
    return cat(rnd_mixed(R.randint(10, 20)), R.choice(["", "!", "#", "@x"]))


def g_pem(kind):
    body = base64.b64encode(R.randbytes(R.choice([600, 1190]))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([cat("-----BEGIN ", kind, "PRIVATE KEY-----")] + lines + [cat("-----END ", kind, "PRIVATE KEY-----")])


def g_pem_any():
    return g_pem(R.choice(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "]))


def g_pgp():
    body = base64.b64encode(R.randbytes(900)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN PGP " "PRIVATE KEY BLOCK-----", "", *lines, "=" + rnd(B64, 4),
                      "-----END PGP " "PRIVATE KEY BLOCK-----"])


def g_b64pem():
    return base64.b64encode(g_pem("RSA ").encode()).decode()


def g_entropy():
    return rnd_mixed(R.randint(28, 44))


# ---- contexts ----

def ctx_token(name):
    """Where a self-describing token shows up in tool output."""
    return [
        lambda s: f"export {name}={s}",
        lambda s: f'{{"{name.lower()}": "{s}", "scope": "repo"}}',
        lambda s: f"{name.lower()}: {s}",
        lambda s: f"2024-05-01T12:00:0{R.randint(0, 9)}Z INFO client configured with {s} (expires in 30d)",
        lambda s: f"Using credentials {s} for the upload",
        lambda s: f"  - env:\n      {name}: '{s}'\n",
        lambda s: f"curl -s -H 'Authorization: token {s}' https://api.example.com/v1/me",
    ]


def items_positive(per_rule):
    rules = [
        ("aws_access_key_id", g_aws_id, ctx_token("AWS_ACCESS_KEY_ID")),
        ("aws_secret_access_key", g_aws_secret, [
            lambda s: f"AWS_SECRET_ACCESS_KEY={s}",
            lambda s: f"aws_secret_access_key = {s}",
            lambda s: f'"SecretAccessKey": "{s}",',
        ]),
        ("github_token", g_github, ctx_token("GITHUB_TOKEN")),
        ("github_fine_grained_token", g_github_pat, ctx_token("GH_TOKEN")),
        ("gitlab_token", g_gitlab, ctx_token("GITLAB_TOKEN")),
        ("slack_token", g_slack, ctx_token("SLACK_BOT_TOKEN")),
        ("slack_webhook", g_slack_webhook_path, [
            lambda s: f"SLACK_WEBHOOK=https://hooks.slack.com/services/{s}",
            lambda s: f'curl -X POST -d \'{{"text":"hi"}}\' https://hooks.slack.com/services/{s}',
        ]),
        ("stripe_key", g_stripe, ctx_token("STRIPE_SECRET_KEY")),
        ("openai_key", g_openai, ctx_token("OPENAI_API_KEY")),
        ("anthropic_key", g_anthropic, ctx_token("ANTHROPIC_API_KEY")),
        ("google_api_key", g_google, ctx_token("GOOGLE_API_KEY")),
        ("npm_token", g_npm, ctx_token("NPM_TOKEN") + [lambda s: f"//registry.npmjs.org/:_authToken={s}"]),
        ("pypi_token", g_pypi, ctx_token("TWINE_PASSWORD")),
        ("huggingface_token", g_hf, ctx_token("HF_TOKEN")),
        ("sendgrid_key", g_sendgrid, ctx_token("SENDGRID_API_KEY")),
        ("twilio_api_key", g_twilio, ctx_token("TWILIO_API_KEY")),
        ("jwt", g_jwt, ctx_token("ID_TOKEN") + [lambda s: f"Authorization: Bearer {s}"]),
        ("vault_token", g_vault, ctx_token("VAULT_TOKEN")),
        ("age_secret_key", g_age, [lambda s: f"# created: 2024-01-01T00:00:00Z\n# public key: age1{rnd(LO + DIG, 58)}\n{s}"]),
        ("private_key", g_pem_any, [
            lambda s: s,
            lambda s: f"$ cat ~/.ssh/id_key\n{s}\n$ ls",
            lambda s: '{"type": "service_account", "private_key": "' + s.replace("\n", "\\n") + '\\n", "client_email": "x@p.iam.gserviceaccount.com"}',
            lambda s: "key: |\n  " + s.replace("\n", "\n  ") + "\n",
        ]),
        ("private_key_pgp", g_pgp, [lambda s: s]),
        ("private_key_base64", g_b64pem, [lambda s: f"    client-key-data: {s}"]),
        ("azure_storage_key", g_azure_storage, [
            lambda s: f"DefaultEndpointsProtocol=https;AccountName=acct{rnd(LO, 5)};AccountKey={s};EndpointSuffix=core.windows.net",
        ]),
        ("url_credentials", g_db_password, [
            lambda s: f"DATABASE_URL=postgresql://app:{s}@db.internal:5432/prod",
            lambda s: f"mongodb+srv://admin:{s}@cluster0.example.mongodb.net/test?retryWrites=true",
            lambda s: f"redis://default:{s}@cache.internal:6379/0",
            lambda s: f"git clone https://deploy:{s}@git.example.com/team/repo.git",
            lambda s: f'"url": "mysql://root:{s}@10.0.0.5:3306/app"',
        ]),
        ("password", g_password, [
            lambda s: f"password={s}",
            lambda s: f"DB_PASSWORD={s}",
            lambda s: f'{{"username": "admin", "password": "{s}"}}',
            lambda s: f"  password: {s}\n  port: 5432",
            lambda s: f'MYSQL_ROOT_PASSWORD="{s}"',
            lambda s: f"smtp_pass = '{s}'",
            lambda s: f'$db->connect("localhost", "root", $password = "{s}");',
            lambda s: f"<password>{s}</password>",
            lambda s: f"mysql -u root --password={s} app",
            lambda s: f"machine api.example.com login deploy password {s}",
            lambda s: f"curl -u deploy:{s} https://example.com/api",
            lambda s: f"The password is {s} for the staging box.",
        ]),
        ("api_key", g_token_value, [
            lambda s: f"API_KEY={s}",
            lambda s: f'{{"api_key": "{s}"}}',
            lambda s: f"x-api-key: {s}",
            lambda s: f"apikey = '{s}'",
            lambda s: f"client.access_token = \"{s}\"",
        ]),
        ("secret_assignment", g_token_value, [
            lambda s: f"CLIENT_SECRET={s}",
            lambda s: f"JWT_SECRET: {s}",
            lambda s: f'{{"refresh_token": "{s}"}}',
            lambda s: f"SESSION_SECRET='{s}'",
            lambda s: f"webhook_secret = \"{s}\"",
        ]),
        ("secret_assignment_hex", g_hex_secret, [
            lambda s: f"SECRET_KEY={s}",
            lambda s: f"TWILIO_AUTH_TOKEN={s}",
            lambda s: f'encryption_key: "{s}"',
        ]),
        ("high_entropy", g_entropy, [
            lambda s: f"token: {s}",
            lambda s: f"Your one-time credential is {s}",
            lambda s: f"auth={s}",
        ]),
    ]
    n = 0
    for rule, gen, ctxs in rules:
        for i in range(per_rule):
            secret = gen()
            text = ctxs[i % len(ctxs)](secret)
            n += 1
            yield {"id": f"pos-{rule}-{i}", "label": "positive", "rule": rule, "text": text, "secrets": [secret]}


# ---- negatives ----

def sha(n):
    return rnd(HEX, n)


def neg_generated(count):
    gens = [
        lambda: f"commit {sha(40)}\nAuthor: Dev Person <dev@example.com>\nDate:   Mon Jan 15 10:{R.randint(10, 59)}:00 2024 +0000\n\n    Fix the cache eviction ({sha(7)})\n",
        lambda: f"{sha(64)}  harombe-{R.randint(0, 9)}.{R.randint(0, 20)}.{R.randint(0, 9)}.tar.gz",
        lambda: f"sha256:{sha(64)}",
        lambda: f"docker pull nginx@sha256:{sha(64)}",
        lambda: f"ETag: \"{sha(32)}\"",
        lambda: f"request_id={uuid.uuid4()} status=200 duration_ms={R.randint(1, 900)}",
        lambda: f'{{"id": "{uuid.uuid4()}", "trace_id": "{sha(32)}", "span_id": "{sha(16)}"}}',
        lambda: f"Merge: {sha(7)} {sha(7)}",
        lambda: f"index {sha(7)}..{sha(7)} 100644",
        lambda: f"{sha(12)}   nginx:1.25   \"/docker-entrypoint.…\"   {R.randint(2, 50)} hours ago   Up {R.randint(2, 50)} hours   80/tcp   web-{R.randint(1, 9)}",
        lambda: f"web-{rnd(LO + DIG, 10)}-{rnd(LO + DIG, 5)}   1/1     Running   0          {R.randint(1, 90)}m",
        lambda: f'    "node_modules/{rnd(LO, 8)}": {{\n      "version": "{R.randint(0, 9)}.{R.randint(0, 30)}.{R.randint(0, 9)}",\n      "resolved": "https://registry.npmjs.org/{rnd(LO, 8)}/-/{rnd(LO, 8)}-1.0.0.tgz",\n      "integrity": "sha512-{base64.b64encode(R.randbytes(64)).decode()}"\n    }},',
        lambda: f'{rnd(LO, 6)}@^1.2.0:\n  version "1.2.3"\n  resolved "https://registry.yarnpkg.com/{rnd(LO, 6)}/-/{rnd(LO, 6)}-1.2.3.tgz#{sha(40)}"\n  integrity sha512-{base64.b64encode(R.randbytes(64)).decode()}',
        lambda: f"github.com/{rnd(LO, 6)}/{rnd(LO, 8)} v1.{R.randint(0, 20)}.{R.randint(0, 9)} h1:{base64.b64encode(R.randbytes(32)).decode()}",
        lambda: f'[[package]]\nname = "{rnd(LO, 7)}"\nversion = "0.{R.randint(1, 30)}.{R.randint(0, 9)}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{sha(64)}"',
        lambda: f'{rnd(LO, 8)} = [\n    {{file = "{rnd(LO, 8)}-1.0-py3-none-any.whl", hash = "sha256:{sha(64)}"}},\n]',
        lambda: f'<img src="data:image/png;base64,{base64.b64encode(R.randbytes(R.randint(300, 3000))).decode()}" alt="logo">',
        lambda: f'.icon{{background-image:url(data:image/svg+xml;base64,{base64.b64encode(R.randbytes(R.randint(200, 900))).decode()})}}',
        lambda: f'{{"thumbnail": "{base64.b64encode(R.randbytes(R.randint(400, 1200))).decode()}"}}',
        lambda: "-----BEGIN CERTIFICATE-----\n" + "\n".join(base64.b64encode(R.randbytes(900)).decode()[i:i + 64] for i in range(0, 1200, 64)) + "\n-----END CERTIFICATE-----",
        lambda: f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rnd(B64, 43)} dev@laptop",
        lambda: f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{rnd(B64, 340)} ci@runner",
        lambda: f"Key fingerprint = {' '.join(rnd(HEX.upper(), 4) for _ in range(10))}",
        lambda: f"SHA256:{rnd(B64, 43)} dev@laptop (ED25519)",
        lambda: f"arn:aws:iam::{rnd(DIG, 12)}:role/{R.choice(['deploy', 'ci', 'Admin'])}-{rnd(LO, 6)}",
        lambda: f"x-amz-request-id: {rnd(UP + DIG, 16)}",
        lambda: f"https://drive.google.com/file/d/{rnd_mixed(33, URLSAFE)}/view?usp=sharing",
        lambda: f"https://www.youtube.com/watch?v={rnd(URLSAFE, 11)}",
        lambda: f"https://cdn.example.com/static/js/main.{sha(8)}.chunk.js",
        lambda: f"password: ${{DB_PASSWORD}}\napi_key: <your-api-key>\ntoken: \"{{{{ vault_token }}}}\"",
        lambda: f"API_TOKEN=your_token_here\nPASSWORD=********\nSECRET_KEY=<secret-key>",
        lambda: f"password: ENC[AES256_GCM,data:{base64.b64encode(R.randbytes(12)).decode()},iv:{base64.b64encode(R.randbytes(32)).decode()},tag:{base64.b64encode(R.randbytes(16)).decode()},type:str]",
        lambda: "    api_key = os.environ.get(\"API_KEY\")\n    if not api_key:\n        raise SystemExit(\"set API_KEY\")",
        lambda: "def get_secret_key(self):\n    return self.settings.SECRET_KEY",
        lambda: "token = request.headers.get(\"Authorization\")\npassword = getpass.getpass(\"Password: \")",
        lambda: f"response = client.chat(model=\"gpt-4o\", max_tokens={R.randint(100, 9000)}, temperature=0.2)",
        lambda: "const token = await getAccessToken(); headers.Authorization = `Bearer ${token}`;",
        lambda: f"PWD=/home/{rnd(LO, 6)}/src/{rnd(LO, 8)}\nOLDPWD=/home/{rnd(LO, 6)}\nSHELL=/bin/bash",
        lambda: f"{R.choice(['INFO', 'WARN', 'DEBUG'])} [{rnd(LO, 6)}] token refreshed for user {R.randint(1, 99999)} in {R.randint(1, 300)}ms",
        lambda: f"The password policy requires {R.randint(8, 16)} characters; tokens expire after {R.randint(1, 24)} hours.",
        lambda: f"Generating a new key pair... done. Public key saved in /home/{rnd(LO, 5)}/.ssh/id_ed25519.pub",
        lambda: f"color: #{sha(6)}; background: #{sha(6)}; border-color: #{sha(3)};",
        lambda: f'<path d="M{R.randint(1, 99)}.{R.randint(1, 9)} {R.randint(1, 99)}L{R.randint(1, 99)} {R.randint(1, 99)}Z" fill="#{sha(6)}"/>',
        lambda: f"Downloaded {rnd(LO, 8)}-{R.randint(1, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}-py3-none-any.whl ({R.randint(10, 900)} kB)",
        lambda: f"Get:{R.randint(1, 40)} http://deb.debian.org/debian bookworm/main amd64 lib{rnd(LO, 6)} amd64 {R.randint(1, 9)}.{R.randint(0, 9)}-{R.randint(1, 5)} [{R.randint(10, 999)} kB]",
        lambda: f"  {rnd(LO, 5)}_{rnd(LO, 6)}_{rnd(LO, 4)}_{rnd(LO, 5)}_{rnd(LO, 7)}: true",
        lambda: f"/usr/lib/x86_64-linux-gnu/lib{rnd(LO, 6)}.so.{R.randint(0, 9)}.{R.randint(0, 30)}.{R.randint(0, 9)}",
        lambda: f"at com.example.{rnd(LO, 6)}.{rnd(UP, 1)}{rnd(LO, 8)}Controller.handleRequest({rnd(UP, 1)}{rnd(LO, 6)}.java:{R.randint(10, 999)})",
        lambda: f"session_id={rnd(HEX, 32)}; Path=/; HttpOnly",
        lambda: f"uuid:{uuid.uuid4()}",
        lambda: f"object {sha(40)}\ntype commit\ntag v{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}",
        lambda: f"Successfully built {sha(12)}\nSuccessfully tagged app:latest",
        lambda: f"gpg: key {rnd(HEX.upper(), 16)}: public key \"Release Signing <release@example.com>\" imported",
    ]
    for i in range(count):
        g = gens[i % len(gens)]
        yield {"id": f"neg-gen-{i % len(gens)}-{i // len(gens)}", "label": "negative", "rule": "", "text": g(), "secrets": []}


def neg_files(directory):
    if not directory or not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read()
        # chunks of up to 30 lines or 4 KiB: one item each
        lines = data.splitlines(keepends=True)
        chunk, size, k = [], 0, 0
        for line in lines + [None]:
            if line is None or len(chunk) >= 30 or size + len(line) > 4096:
                if chunk:
                    yield {"id": f"neg-file-{name}-{k}", "label": "negative", "rule": "", "text": "".join(chunk), "secrets": []}
                    k += 1
                chunk, size = [], 0
                if line is None:
                    break
            chunk.append(line)
            size += len(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--per-rule", type=int, default=40)
    ap.add_argument("--negatives", type=int, default=2000)
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "scan", "negatives"))
    a = ap.parse_args()
    R.seed(a.seed)
    out = sys.stdout
    for item in items_positive(a.per_rule):
        out.write(json.dumps(item) + "\n")
    for item in neg_generated(a.negatives):
        out.write(json.dumps(item) + "\n")
    for item in neg_files(a.fixtures):
        out.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main()
