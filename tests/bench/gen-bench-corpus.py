#!/usr/bin/python3
"""Mixed text for the scanner benchmark, on stdout: application logs, JSON
lines, source code, base64 blobs, hashes and UUIDs, with a fake secret about
every 10 KiB (tokens are assembled here from fragments and random
characters; none is real).

usage: gen-bench-corpus.py MIB [--seed N] [--secrets-every BYTES]
The last line on stderr says how many secrets were written.
"""
import base64
import random
import string
import sys
import uuid

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = 1
    every = 10240
    args = sys.argv[2:]
    while args:
        a = args.pop(0)
        if a == "--seed":
            seed = int(args.pop(0))
        elif a == "--secrets-every":
            every = int(args.pop(0))
    r = random.Random(seed)

    def rnd(alpha, n):
        return "".join(r.choice(alpha) for _ in range(n))

    # A pool of varied lines, then sampled: generating 100 MiB line by line
    # in Python would take longer than the benchmark.
    pool = []
    for _ in range(4000):
        k = r.randrange(9)
        if k == 0:
            pool.append(f"2024-05-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999):03d}Z INFO [{rnd(string.ascii_lowercase, 6)}] request completed path=/api/v2/{rnd(string.ascii_lowercase, 8)} status={r.choice([200, 201, 204, 404, 500])} duration_ms={r.randint(1, 900)} request_id={uuid.uuid4()}")
        elif k == 1:
            pool.append(f'{{"ts":"2024-05-01T12:00:00Z","level":"{r.choice(["info", "warn", "debug", "error"])}","service":"{rnd(string.ascii_lowercase, 5)}","msg":"{r.choice(["cache miss", "token refreshed", "user login", "retrying", "connection reset"])}","user_id":{r.randint(1, 99999)},"trace_id":"{rnd(HEX, 32)}","latency_ms":{r.random() * 100:.2f}}}')
        elif k == 2:
            pool.append(f"    def {rnd(string.ascii_lowercase, 7)}_{rnd(string.ascii_lowercase, 5)}(self, {rnd(string.ascii_lowercase, 4)}: int) -> dict:\n        return self._client.get(f\"/v1/{{{rnd(string.ascii_lowercase, 4)}}}\", timeout=30)")
        elif k == 3:
            pool.append(f"commit {rnd(HEX, 40)}\nAuthor: Dev <dev@example.com>\nDate:   Mon May 1 12:00:00 2024 +0000\n\n    {r.choice(['Fix', 'Add', 'Refactor', 'Update'])} {rnd(string.ascii_lowercase, 8)} handling")
        elif k == 4:
            pool.append(base64.b64encode(r.randbytes(r.randint(200, 2000))).decode())
        elif k == 5:
            pool.append(f"{rnd(HEX, 64)}  dist/{rnd(string.ascii_lowercase, 8)}-{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.tar.gz")
        elif k == 6:
            pool.append(f'    "integrity": "sha512-{base64.b64encode(r.randbytes(64)).decode()}",')
        elif k == 7:
            pool.append(f"Jan {r.randint(1, 28)} 12:{r.randint(10, 59)}:{r.randint(10, 59)} web{r.randint(1, 9)} nginx[{r.randint(100, 9999)}]: 10.0.{r.randint(0, 255)}.{r.randint(0, 255)} - - \"GET /static/{rnd(HEX, 8)}.js HTTP/1.1\" 200 {r.randint(100, 99999)}")
        else:
            pool.append(" ".join(r.choice(["the", "scanner", "reads", "tool", "output", "and", "redacts", "secrets", "before", "model", "sees", "it", "with", "a", "key", "token", "password", "policy"]) for _ in range(r.randint(6, 20))) + ".")

    def secret():
        k = r.randrange(6)
        if k == 0:
            return "export GITHUB_TOKEN=" + "gh" + "p_" + rnd(B62, 36)
        if k == 1:
            return "aws_access_key_id = " + "AK" + "IA" + rnd(string.ascii_uppercase + string.digits, 16)
        if k == 2:
            return "DATABASE_URL=postgresql://app:" + rnd(B62, 16) + "@db.internal:5432/prod"
        if k == 3:
            return '{"password": "' + rnd(B62, 12) + '!"}'
        if k == 4:
            return "Authorization: Bearer " + "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIx" + rnd(B62, 10) + "." + rnd(B62, 43)
        return "OPENAI_API_KEY=" + "sk-" + "proj-" + rnd(B62, 48)

    out = sys.stdout
    total = mib << 20
    written = 0
    next_secret = every
    secrets = 0
    chunk = []
    size = 0
    while written + size < total:
        line = r.choice(pool)
        chunk.append(line)
        size += len(line) + 1
        if written + size >= next_secret:
            s = secret()
            chunk.append(s)
            size += len(s) + 1
            secrets += 1
            next_secret += every
        if size > 1 << 20:
            out.write("\n".join(chunk) + "\n")
            written += size
            chunk, size = [], 0
    if chunk:
        out.write("\n".join(chunk) + "\n")
    out.flush()
    print(f"secrets {secrets}", file=sys.stderr)


if __name__ == "__main__":
    main()
