#!/usr/bin/python3
"""Realistic mixed text for the scanner benchmark, on stdout: application
and web server logs, JSON lines with UUIDs and digests, source code
(Python, C, JavaScript), git log output, base64 blobs, checksum lists,
lock-file integrity strings and English prose, with a fake secret of a
known format (GitHub, AWS, Slack, Stripe, OpenAI, a JWT, a database URL, a
JSON password) about every 10 KiB.  Tokens are assembled here, at run time,
from fragments and random characters; none is real, and the corpus is
never committed.

usage: gen-bench-corpus.py MIB [--seed N] [--secrets-every BYTES]
                               [--planted FILE]
The last line on stderr says how many secrets were written ("secrets N").
--planted FILE writes the secret part of each planted value (what must not
survive redaction), one a line, for a check such as
`grep -c -F -f FILE redacted-output` (which must say 0; never print FILE).
"""
import base64
import random
import string
import sys
import uuid

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
LOWER = string.ascii_lowercase

# Prose: sentences made from templates and a real vocabulary, so that the
# scanner meets words like "token" and "password" in running text that
# holds no secret.
SUBJECTS = ["The deployment", "Our team", "The on-call engineer", "This release", "The gateway", "Each worker",
            "The migration", "A customer", "The scheduler", "The security review", "The new cache", "Nobody"]
VERBS = ["rotated", "reviewed", "documented", "rolled back", "measured", "replaced", "reported", "fixed",
         "postponed", "explained", "approved", "discussed"]
OBJECTS = ["the access token policy", "the password reset flow", "the API key rotation schedule",
           "the latency regression", "the flaky integration test", "the database failover", "the audit log format",
           "the billing dashboard", "the secret store migration", "the onboarding guide", "the retry budget",
           "the certificate renewal"]
TAILS = ["before the weekend", "after the incident", "in the last sprint", "with the platform team",
         "for the third time", "without any downtime", "as planned", "because the alerts were noisy",
         "once the vendor replied", "so that nobody has to page twice"]


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = 1
    every = 10240
    planted_path = None
    args = sys.argv[2:]
    while args:
        a = args.pop(0)
        if a == "--seed":
            seed = int(args.pop(0))
        elif a == "--secrets-every":
            every = int(args.pop(0))
        elif a == "--planted":
            planted_path = args.pop(0)
        else:
            sys.exit(f"gen-bench-corpus.py: unknown argument {a}")
    r = random.Random(seed)

    def rnd(alpha, n):
        return "".join(r.choice(alpha) for _ in range(n))

    def uid():
        return str(uuid.UUID(int=r.getrandbits(128), version=4))

    def sentence():
        return f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)} {r.choice(TAILS)}."

    # A pool of varied lines, then sampled: generating 100 MiB line by line
    # in Python would take longer than the benchmark.
    pool = []
    for _ in range(6000):
        k = r.randrange(14)
        if k == 0:
            pool.append(f"2024-05-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999):03d}Z INFO [{rnd(LOWER, 6)}] request completed path=/api/v2/{rnd(LOWER, 8)} status={r.choice([200, 201, 204, 404, 500])} duration_ms={r.randint(1, 900)} request_id={uid()}")
        elif k == 1:
            pool.append(f'{{"ts":"2024-05-01T12:00:00Z","level":"{r.choice(["info", "warn", "debug", "error"])}","service":"{rnd(LOWER, 5)}","msg":"{r.choice(["cache miss", "token refreshed", "user login", "retrying", "connection reset"])}","user_id":{r.randint(1, 99999)},"trace_id":"{rnd(HEX, 32)}","span_id":"{rnd(HEX, 16)}","latency_ms":{r.random() * 100:.2f}}}')
        elif k == 2:
            pool.append(f'{{"id":"{uid()}","object":"artifact","name":"{rnd(LOWER, 8)}.tar.gz","digest":"sha256:{rnd(HEX, 64)}","size":{r.randint(1000, 10 ** 8)},"etag":"\\"{rnd(HEX, 32)}\\"","parent":"{uid()}","created_by":"{uid()}","md5":"{rnd(HEX, 32)}"}}')
        elif k == 3:
            pool.append(f"    def {rnd(LOWER, 7)}_{rnd(LOWER, 5)}(self, {rnd(LOWER, 4)}: int) -> dict:\n        token = self._session.get_token(scope=\"{rnd(LOWER, 6)}\")\n        return self._client.get(f\"/v1/{{{rnd(LOWER, 4)}}}\", headers={{\"Authorization\": f\"Bearer {{token}}\"}}, timeout=30)")
        elif k == 4:
            pool.append(f"static int {rnd(LOWER, 6)}_{rnd(LOWER, 4)}(struct {rnd(LOWER, 5)} *p, size_t len)\n{{\n\tif (len > p->cap && grow(p, len) != 0)\n\t\treturn -ENOMEM;\n\tmemcpy(p->buf + p->len, p->{rnd(LOWER, 3)}, len);\n\treturn 0;\n}}")
        elif k == 5:
            pool.append(f"export async function {rnd(LOWER, 8)}(req, res) {{\n  const password = req.body.password;\n  const user = await db.users.findOne({{ id: req.params.id }});\n  if (!user || !(await bcrypt.compare(password, user.hash))) return res.status(401).end();\n  res.json({{ id: user.id, etag: \"{rnd(HEX, 40)}\" }});\n}}")
        elif k == 6:
            pool.append(f"commit {rnd(HEX, 40)}\nAuthor: Dev <dev@example.com>\nDate:   Mon May 1 12:00:00 2024 +0000\n\n    {r.choice(['Fix', 'Add', 'Refactor', 'Update'])} {rnd(LOWER, 8)} handling")
        elif k == 7:
            pool.append(base64.b64encode(r.randbytes(r.randint(200, 2000))).decode())
        elif k == 8:
            pool.append(f"{rnd(HEX, 64)}  dist/{rnd(LOWER, 8)}-{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.tar.gz")
        elif k == 9:
            pool.append(f'    "integrity": "sha512-{base64.b64encode(r.randbytes(64)).decode()}",')
        elif k == 10:
            pool.append(f"Jan {r.randint(1, 28)} 12:{r.randint(10, 59)}:{r.randint(10, 59)} web{r.randint(1, 9)} nginx[{r.randint(100, 9999)}]: 10.0.{r.randint(0, 255)}.{r.randint(0, 255)} - - \"GET /static/{rnd(HEX, 8)}.js HTTP/1.1\" 200 {r.randint(100, 99999)}")
        elif k == 11:
            pool.append(f"{uid()} {rnd(LOWER, 6)}-{r.randint(1, 99)} Running 0 {r.randint(1, 59)}m sha256:{rnd(HEX, 64)}")
        else:
            pool.append(" ".join(sentence() for _ in range(r.randint(2, 7))))

    planted = []

    def secret():
        k = r.randrange(9)
        if k == 0:
            v = "gh" + "p_" + rnd(B62, 36)
            return "export GITHUB_TOKEN=" + v, v
        if k == 1:
            v = "AK" + "IA" + rnd(string.ascii_uppercase + "234567", 16)
            return "aws_access_key_id = " + v, v
        if k == 2:
            v = rnd(B62, 16)
            return "DATABASE_URL=postgresql://app:" + v + "@db.internal:5432/prod", v
        if k == 3:
            v = rnd(B62, 12) + "!"
            return '{"password": "' + v + '"}', v
        if k == 4:
            v = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIx" + rnd(B62, 10) + "." + rnd(B62, 43)
            return "Authorization: Bearer " + v, v
        if k == 5:
            v = "xo" + "xb-" + str(r.randint(10 ** 10, 10 ** 11)) + "-" + str(r.randint(10 ** 10, 10 ** 11)) + "-" + rnd(B62, 24)
            return "SLACK_BOT_TOKEN=" + v, v
        if k == 6:
            v = "sk" + "_live_" + rnd(B62, 24)
            return "stripe.api_key = '" + v + "'", v
        if k == 7:
            v = "sk-" + "proj-" + rnd(B62, 48)
            return f'{{"level":"debug","msg":"client init","api_key":"{v}","request_id":"{uid()}"}}', v
        v = "sk-" + "proj-" + rnd(B62, 48)
        return "OPENAI_API_KEY=" + v, v

    out = sys.stdout
    total = mib << 20
    written = 0
    next_secret = every
    chunk = []
    size = 0
    while written + size < total:
        line = r.choice(pool)
        chunk.append(line)
        size += len(line) + 1
        if written + size >= next_secret:
            s, v = secret()
            chunk.append(s)
            planted.append(v)
            size += len(s) + 1
            next_secret += every
        if size > 1 << 20:
            out.write("\n".join(chunk) + "\n")
            written += size
            chunk, size = [], 0
    if chunk:
        out.write("\n".join(chunk) + "\n")
    out.flush()
    if planted_path:
        with open(planted_path, "w") as f:
            f.write("\n".join(planted) + "\n")
    print(f"secrets {len(planted)}", file=sys.stderr)


if __name__ == "__main__":
    main()
