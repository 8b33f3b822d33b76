#!/usr/bin/python3
"""The labelled corpus of issue 12: credentials in a secret's place, in every
syntax a tool prints them in, and what must pass untouched.

    tests/tools/gen-labelled-corpus.py > labelled.jsonl
    tests/tools/gen-labelled-corpus.py --seed N > other.jsonl   (other draws)

Deterministic (seed 12), and generated where it is used (make check, make
bench) rather than committed: the repository holds no complete
credential-shaped string, fake or not, for other scanners to trip on.
Every item is one JSON line:

  {"id", "label", "format", "syntax", "text", "secrets": [...]}

label is
  positive   a credential in a secret's place: every secret must be gone
             from the redacted text, and no 8-character run of it may be left
  negative   real tool output captured on a Debian 12 machine
             (tests/fixtures/scan/tool-output/, tests/fixtures/scan/negatives/):
             any finding is a false positive
  hash       hashes, digests, UUIDs, commit ids, integrity strings, in the
             places tools print them: any finding fails the corpus
  near_miss  vendors' documented example keys and test tokens of the wrong
             length: redacting them is acceptable; the rate is reported

The formats come from the issuers' public documentation: prefix, alphabet
and length (GitHub's "Behind GitHub's new authentication token formats",
Stripe's API keys page, Slack's token types, AWS's IAM identifiers, ...).
The values are random: none is, or was, a real credential.  Tokens are
assembled from fragments here so that this file itself holds none.
"""

import base64
import json
import os
import random
import string
import sys
import urllib.parse
import uuid

R = random.Random(12)
UP = string.ascii_uppercase
LO = string.ascii_lowercase
DIG = string.digits
B62 = UP + LO + DIG
B64 = B62 + "+/"
URLSAFE = B62 + "-_"
HEX = "0123456789abcdef"
HEXU = HEX.upper()
BECH = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def mixed(n, alphabet=B62):
    need = [c for c in (UP, LO, DIG) if any(x in alphabet for x in c)]
    while True:
        s = rnd(alphabet, n)
        if all(any(x in c for x in s) for c in need):
            return s


def b64(nbytes, urlsafe=False, pad=True):
    raw = R.randbytes(nbytes)
    s = base64.urlsafe_b64encode(raw).decode() if urlsafe else base64.b64encode(raw).decode()
    return s if pad else s.rstrip("=")


def jwt():
    def seg(o):
        return base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).decode().rstrip("=")
    return ".".join([seg({"alg": "HS256", "typ": "JWT"}),
                     seg({"sub": rnd(DIG, 10), "iat": R.randint(1600000000, 1800000000)}), mixed(43, URLSAFE)])


def human_password():
    w = R.choice(["Summer", "Autumn", "Dragon", "Falcon", "Harbor", "Violet", "Copper", "Meadow"])
    return w + rnd(DIG, R.randint(2, 4)) + R.choice("!@%*") + rnd(LO + UP, R.randint(2, 5))


def p(*parts):
    return "".join(parts)


# (format, name of the variable it is usually in, generator).  The name
# always says secret: that is what "a secret's place" means.
FORMATS = [
    ("github_classic_pat", "GITHUB_TOKEN", lambda: p("gh", "p_", mixed(36))),
    ("github_oauth", "GH_OAUTH_TOKEN", lambda: p("gh", "o_", mixed(36))),
    ("github_user_to_server", "GITHUB_USER_TOKEN", lambda: p("gh", "u_", mixed(36))),
    ("github_server_to_server", "GITHUB_APP_TOKEN", lambda: p("gh", "s_", mixed(36))),
    ("github_refresh", "GITHUB_REFRESH_TOKEN", lambda: p("gh", "r_", mixed(76))),
    ("github_fine_grained_pat", "GH_TOKEN", lambda: p("github", "_pat_", mixed(22), "_", mixed(59))),
    ("gitlab_pat", "GITLAB_TOKEN", lambda: p("gl", "pat-", mixed(20, URLSAFE))),
    ("gitlab_runner", "RUNNER_TOKEN", lambda: p("gl", "rt-", mixed(20, URLSAFE))),
    ("gitlab_deploy", "GITLAB_DEPLOY_TOKEN", lambda: p("gl", "dt-", mixed(20, URLSAFE))),
    ("gitlab_ci_job", "CI_JOB_TOKEN", lambda: p("gl", "cbt-", rnd(DIG, 2), "_", mixed(20, URLSAFE))),
    ("slack_bot", "SLACK_BOT_TOKEN", lambda: p("xo", "xb-", rnd(DIG, 12), "-", rnd(DIG, 13), "-", mixed(24))),
    ("slack_user", "SLACK_USER_TOKEN", lambda: p("xo", "xp-", rnd(DIG, 12), "-", rnd(DIG, 12), "-", rnd(DIG, 13), "-", rnd(HEX, 32))),
    ("slack_app", "SLACK_APP_TOKEN", lambda: p("xa", "pp-1-", "A", rnd(UP + DIG, 10), "-", rnd(DIG, 13), "-", rnd(HEX, 64))),
    ("stripe_live_secret", "STRIPE_SECRET_KEY", lambda: p("sk", "_live_", mixed(99))),
    ("stripe_test_secret", "STRIPE_TEST_SECRET_KEY", lambda: p("sk", "_test_", mixed(24))),
    ("stripe_restricted", "STRIPE_RESTRICTED_KEY", lambda: p("rk", "_live_", mixed(99))),
    ("stripe_webhook", "STRIPE_WEBHOOK_SECRET", lambda: p("wh", "sec_", mixed(32))),
    ("openai_project", "OPENAI_API_KEY", lambda: p("sk", "-proj-", mixed(156, URLSAFE))),
    ("openai_legacy", "OPENAI_KEY", lambda: p("sk", "-", mixed(20), "T3Blbk", "FJ", mixed(20))),
    ("openai_service_account", "OPENAI_SVC_KEY", lambda: p("sk", "-svcacct-", mixed(64, URLSAFE))),
    ("anthropic_api", "ANTHROPIC_API_KEY", lambda: p("sk", "-ant-api03-", mixed(93, URLSAFE), "AA")),
    ("anthropic_admin", "ANTHROPIC_ADMIN_KEY", lambda: p("sk", "-ant-admin01-", mixed(93, URLSAFE), "AA")),
    ("google_api_key", "GOOGLE_API_KEY", lambda: p("AI", "za", mixed(35, URLSAFE))),
    ("google_oauth_client_secret", "GOOGLE_CLIENT_SECRET", lambda: p("GOC", "SPX-", mixed(28, URLSAFE))),
    ("google_oauth_access_token", "GOOGLE_ACCESS_TOKEN", lambda: p("ya", "29.", mixed(150, URLSAFE))),
    ("aws_access_key_id", "AWS_ACCESS_KEY", lambda: p("AK", "IA", rnd(UP + "234567", 16))),
    ("aws_temporary_key_id", "AWS_TEMP_ACCESS_KEY", lambda: p("AS", "IA", rnd(UP + "234567", 16))),
    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", lambda: mixed(40, B64)),
    ("aws_session_token", "AWS_SESSION_TOKEN", lambda: p("IQoJb3JpZ2luX2Vj", mixed(300, B64))),
    ("azure_storage_key", "AZURE_STORAGE_KEY", lambda: b64(64)),
    ("azure_ad_client_secret", "AZURE_CLIENT_SECRET", lambda: p(mixed(3), R.choice(DIG), "Q~", mixed(34, URLSAFE + "."))),
    ("azure_devops_pat", "AZURE_DEVOPS_TOKEN", lambda: rnd(LO + "234567", 52)),
    ("npm_access_token", "NPM_TOKEN", lambda: p("np", "m_", mixed(36))),
    ("pypi_upload_token", "PYPI_TOKEN", lambda: p("pypi-", "AgEIcHlwaS5vcmc", mixed(120, URLSAFE))),
    ("rubygems_api_key", "GEM_HOST_API_KEY", lambda: p("rubygems", "_", rnd(HEX, 48))),
    ("dockerhub_pat", "DOCKERHUB_TOKEN", lambda: p("dckr", "_pat_", mixed(27, URLSAFE))),
    ("huggingface_user", "HF_TOKEN", lambda: p("h", "f_", mixed(34, UP + LO))),
    ("huggingface_org", "HF_ORG_TOKEN", lambda: p("api", "_org_", mixed(34, UP + LO))),
    ("sendgrid", "SENDGRID_API_KEY", lambda: p("S", "G.", mixed(22, URLSAFE), ".", mixed(43, URLSAFE))),
    ("twilio_api_key_sid", "TWILIO_API_KEY", lambda: p("S", "K", rnd(HEX, 32))),
    ("twilio_auth_token", "TWILIO_AUTH_TOKEN", lambda: rnd(HEX, 32)),
    ("mailgun", "MAILGUN_API_KEY", lambda: p("ke", "y-", rnd(HEX, 32))),
    ("mailchimp", "MAILCHIMP_API_KEY", lambda: p(rnd(HEX, 32), "-us", str(R.randint(1, 21)))),
    ("shopify_access_token", "SHOPIFY_ACCESS_TOKEN", lambda: p("shp", "at_", rnd(HEX, 32))),
    ("shopify_shared_secret", "SHOPIFY_SHARED_SECRET", lambda: p("shp", "ss_", rnd(HEX, 32))),
    ("digitalocean_pat", "DIGITALOCEAN_TOKEN", lambda: p("do", "p_v1_", rnd(HEX, 64))),
    ("vault_service_token", "VAULT_TOKEN", lambda: p("hv", "s.", mixed(90, URLSAFE))),
    ("vault_batch_token", "VAULT_BATCH_TOKEN", lambda: p("hv", "b.", mixed(120, URLSAFE))),
    ("terraform_cloud", "TFE_TOKEN", lambda: p(mixed(14), ".atlas", "v1.", mixed(67, URLSAFE))),
    ("atlassian_api_token", "JIRA_API_TOKEN", lambda: p("ATA", "TT3x", mixed(182, URLSAFE), "=", rnd(HEXU, 8))),
    ("linear", "LINEAR_API_KEY", lambda: p("lin", "_api_", mixed(40))),
    ("postman", "POSTMAN_API_KEY", lambda: p("PM", "AK-", rnd(HEX, 24), "-", rnd(HEX, 34))),
    ("databricks", "DATABRICKS_TOKEN", lambda: p("da", "pi", rnd(HEX, 32))),
    ("grafana_service_account", "GRAFANA_TOKEN", lambda: p("gl", "sa_", mixed(32), "_", rnd(HEX, 8))),
    ("grafana_cloud", "GRAFANA_CLOUD_TOKEN", lambda: p("gl", "c_", b64(60))),
    ("newrelic_user_key", "NEW_RELIC_API_KEY", lambda: p("NR", "AK-", rnd(UP + DIG, 27))),
    ("sentry_org_token", "SENTRY_AUTH_TOKEN", lambda: p("sntr", "ys_", b64(90, pad=False), "_", mixed(43, URLSAFE))),
    ("doppler", "DOPPLER_TOKEN", lambda: p("dp", ".pt.", mixed(43))),
    ("planetscale", "PLANETSCALE_TOKEN", lambda: p("pscale", "_tkn_", mixed(43, URLSAFE))),
    ("supabase", "SUPABASE_ACCESS_TOKEN", lambda: p("sb", "p_", rnd(HEX, 40))),
    ("flyio", "FLY_API_TOKEN", lambda: p("fo", "1_", mixed(43, URLSAFE))),
    ("telegram_bot", "TELEGRAM_BOT_TOKEN", lambda: p(rnd(DIG, 10), ":AA", mixed(33, URLSAFE))),
    ("discord_bot", "DISCORD_BOT_TOKEN", lambda: p(b64(18, urlsafe=True, pad=False), ".", mixed(6, URLSAFE), ".", mixed(38, URLSAFE))),
    ("square_access", "SQUARE_ACCESS_TOKEN", lambda: p("sq0", "atp-", mixed(22, URLSAFE))),
    ("square_secret", "SQUARE_APP_SECRET", lambda: p("sq0", "csp-", mixed(43, URLSAFE))),
    ("age_identity", "SOPS_AGE_KEY", lambda: p("AGE-SECRET-", "KEY-1", rnd(BECH, 58))),
    ("jwt", "ID_TOKEN", jwt),
    ("alibaba_access_key_id", "ALIBABA_ACCESS_KEY", lambda: p("LT", "AI", mixed(20))),
    ("heroku_api_key", "HEROKU_API_KEY", lambda: str(uuid.UUID(int=R.getrandbits(128), version=4))),
    ("cloudflare_api_token", "CLOUDFLARE_API_TOKEN", lambda: mixed(40, URLSAFE)),
    ("netlify_pat", "NETLIFY_AUTH_TOKEN", lambda: p("nf", "p_", mixed(36))),
    ("pulumi", "PULUMI_ACCESS_TOKEN", lambda: p("pul", "-", rnd(HEX, 40))),
    ("circleci_pat", "CIRCLECI_TOKEN", lambda: p("CCI", "PAT_", mixed(22), "_", rnd(HEX, 40))),
    ("bitbucket_app_password", "BITBUCKET_APP_PASSWORD", lambda: p("AT", "BB", mixed(32), rnd(HEXU, 8))),
    ("okta_api_token", "OKTA_API_TOKEN", lambda: p("00", mixed(40, URLSAFE))),
    ("datadog_api_key", "DD_API_KEY", lambda: rnd(HEX, 32)),
    ("datadog_app_key", "DD_APP_KEY", lambda: rnd(HEX, 40)),
    ("algolia_admin_key", "ALGOLIA_ADMIN_KEY", lambda: rnd(HEX, 32)),
    ("mapbox_secret", "MAPBOX_SECRET_TOKEN", lambda: p("sk", ".eyJ1Ijoi", mixed(40, URLSAFE), ".", mixed(22, URLSAFE))),
    ("contentful_pat", "CONTENTFUL_MANAGEMENT_TOKEN", lambda: p("CFP", "AT-", mixed(43, URLSAFE))),
    ("figma_pat", "FIGMA_TOKEN", lambda: p("fig", "d_", mixed(40, URLSAFE))),
    ("asana_pat", "ASANA_ACCESS_TOKEN", lambda: p("2/", rnd(DIG, 16), "/", rnd(DIG, 16), ":", rnd(HEX, 32))),
    ("firebase_fcm_server_key", "FCM_SERVER_KEY", lambda: p("AAAA", mixed(7, URLSAFE), ":APA91b", mixed(134, URLSAFE))),
    ("django_secret_key", "DJANGO_SECRET_KEY", lambda: rnd(LO + DIG + "!@%^&*(-_=+)", 50)),
    ("rails_secret_key_base", "SECRET_KEY_BASE", lambda: rnd(HEX, 128)),
    ("hex_256_key", "ENCRYPTION_KEY", lambda: rnd(HEX, 64)),
    ("base64_256_key", "SIGNING_KEY", lambda: b64(32)),
    ("human_password", "DB_PASSWORD", human_password),
    ("random_lower_password", "PASSWORD", lambda: rnd(LO, R.randint(12, 16))),
    ("random_mixed_password", "ADMIN_PASSWORD", lambda: mixed(R.randint(12, 20))),
    ("passphrase_words", "KEY_PASSPHRASE", lambda: "-".join(R.choice(["correct", "horse", "battery", "staple", "orbit", "lantern", "meadow", "quartz", "velvet", "harbor"]) for _ in range(4))),
    ("default_password", "POSTGRES_PASSWORD", lambda: R.choice(["changeme", "admin", "letmein", "P@ssw0rd", "password1", "qwerty123", "root", "toor"])),
    ("numeric_pin", "SMTP_PASSWORD", lambda: rnd(DIG, R.randint(6, 8))),
    ("short_token", "API_TOKEN", lambda: mixed(R.randint(10, 15), URLSAFE + ".")),
]


def low(name):
    return name.lower()


def camel(name):
    parts = name.lower().split("_")
    return parts[0] + "".join(x.capitalize() for x in parts[1:])


def url_enc(v):
    return urllib.parse.quote(v, safe="")


# (syntax, make(name, value) -> (text, [secrets])).  One place a credential
# shows up in tool output each.
SYNTAXES = [
    ("sh_export", lambda n, v: (f"export {n}={v}", [v])),
    ("sh_export_quoted", lambda n, v: (f"export {n}=\"{v}\"", [v])),
    ("dotenv", lambda n, v: (f"# .env\n{n}={v}\nLOG_LEVEL=debug", [v])),
    ("yaml", lambda n, v: (f"env:\n  {low(n)}: {v}\n  region: eu-west-1", [v])),
    ("yaml_quoted", lambda n, v: (f"  - name: {n}\n    {low(n)}: \"{v}\"", [v])),
    ("json", lambda n, v: (json.dumps({"name": "api", low(n): v, "port": 8080}), [v])),
    ("toml", lambda n, v: (f"[service]\n{low(n)} = \"{v}\"\ntimeout = 30", [v])),
    ("ini", lambda n, v: (f"[default]\n{low(n)} = {v}\nregion = us-east-1", [v])),
    ("java_properties", lambda n, v: (f"app.{low(n).replace('_', '.')}={v}\napp.pool.size=10", [v])),
    ("xml_element", lambda n, v: (f"<config>\n  <{camel(n)}>{v}</{camel(n)}>\n</config>", [v])),
    ("xml_attribute", lambda n, v: (f"<datasource url=\"jdbc:h2:mem\" {camel(n)}=\"{v}\" />", [v])),
    ("hcl", lambda n, v: (f"resource \"x\" \"y\" {{\n  {low(n)} = \"{v}\"\n}}", [v])),
    ("python", lambda n, v: (f"{low(n)} = \"{v}\"\nclient = Client({low(n)}={low(n)})", [v])),
    ("python_kwarg", lambda n, v: (f"client = Client(host=\"api\", {low(n)}='{v}')", [v])),
    ("javascript", lambda n, v: (f"const {camel(n)} = '{v}';", [v])),
    ("js_object", lambda n, v: (f"module.exports = {{ {camel(n)}: \"{v}\", retries: 3 }};", [v])),
    ("go", lambda n, v: (f"\t{camel(n)} := \"{v}\"", [v])),
    ("ruby", lambda n, v: (f"config[:{low(n)}] = \"{v}\"\nopts = {{ :{low(n)} => '{v}' }}", [v])),
    ("php", lambda n, v: (f"${camel(n)} = '{v}';\n'{low(n)}' => '{v}',", [v])),
    ("docker_run_env", lambda n, v: (f"docker run -d -e {n}={v} -p 8080:80 app:latest", [v])),
    ("k8s_stringdata", lambda n, v: (f"kind: Secret\nstringData:\n  {n}: {v}\n", [v])),
    ("github_actions_env", lambda n, v: (f"  env:\n    {n}: {v}\n  run: make deploy", [v])),
    ("cli_flag", lambda n, v: (f"$ deploy --region eu --token {v} --verbose", [v])),
    ("cli_flag_equals", lambda n, v: (f"tool login --api-key={v}", [v])),
    ("cli_password", lambda n, v: (f"mysql -h db -u app --password={v} app", [v])),
    ("cli_mysql_p", lambda n, v: (f"$ mysql -h db.internal -u app -p{v} app < dump.sql", [v])),
    ("cli_docker_login_p", lambda n, v: (f"docker login -u ci -p {v} registry.example.com", [v])),
    ("cli_redis_a", lambda n, v: (f"redis-cli -h cache -a '{v}' ping", [v])),
    ("header_bearer", lambda n, v: (f"> Authorization: Bearer {v}\n> Accept: */*", [v])),
    ("header_token", lambda n, v: (f"curl -sS -H \"Authorization: token {v}\" https://api.example.com/user", [v])),
    ("header_x_api_key", lambda n, v: (f"curl -H 'X-Api-Key: {v}' https://api.example.com/v1", [v])),
    ("curl_user_pass", lambda n, v: (f"curl -u deploy:{v} https://ci.example.com/api", [v])),
    ("url_password", lambda n, v: (f"DATABASE_URL=postgresql://app:{url_enc(v)}@db.internal:5432/prod", [url_enc(v)])),
    ("git_credentials", lambda n, v: (f"https://oauth2:{url_enc(v)}@gitlab.example.com", [url_enc(v)])),
    ("jdbc", lambda n, v: (f"jdbc:mysql://db:3306/app?user=app&password={url_enc(v)}&useSSL=true", [url_enc(v)])),
    ("connection_string", lambda n, v: (f"Server=tcp:db.example.com,1433;Database=app;User ID=app;Password={v};Encrypt=true", [v])),
    ("odbc", lambda n, v: (f"DRIVER={{ODBC Driver 18}};SERVER=db;UID=app;PWD={{{v}}};", [v])),
    ("sql_identified_by", lambda n, v: (f"CREATE USER 'app'@'%' IDENTIFIED BY '{v}';", [v])),
    ("netrc", lambda n, v: (f"machine api.example.com\n  login deploy\n  password {v}\n", [v])),
    ("netrc_one_line", lambda n, v: (f"machine git.example.com login ci password {v}", [v])),
    ("npmrc", lambda n, v: (f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={v}", [v])),
    ("pypirc", lambda n, v: (f"[pypi]\n  username = __token__\n  password = {v}", [v])),
    ("pgpass", lambda n, v: (f"db.example.com:5432:app:app:{v}", [v])),
    ("docker_config_auth", lambda n, v: ((lambda a: (json.dumps({"auths": {"registry.example.com": {"auth": a}}}), [a]))(base64.b64encode(f"ci:{v}".encode()).decode()))),
    ("bundler", lambda n, v: (f"BUNDLE_GEMS__EXAMPLE__COM: \"ci:{v}\"", [v])),
    # decode before judging: the assignment itself, encoded
    ("base64_dotenv", lambda n, v: (lambda e: (f"ENV_FILE={e}", [e]))(base64.b64encode(f"{n}={v}\nDEBUG=0\n".encode()).decode())),
    ("base64url_nopad", lambda n, v: (lambda e: (f"  config: {e}", [e]))(base64.urlsafe_b64encode(f"{low(n)}: {v}".encode()).decode().rstrip("="))),
    ("hex_dotenv", lambda n, v: (lambda e: (f"payload {e}", [e]))(f"{n}={v}".encode().hex())),
    # the secret is the encoded value: the encoded name may stay
    ("percent_query", lambda n, v: (f"GET /cb?state={url_enc(low(n) + '=')}{url_enc(v)} HTTP/1.1", [url_enc(v)])),
    ("json_unicode", lambda n, v: (lambda u: (json.dumps({"env": "x"})[:-1] + f', "raw": "{u(n + "=")}{u(v)}"}}', [u(v)]))(lambda t: "".join(f"\\u{ord(c):04x}" for c in t))),
    ("quoted_printable", lambda n, v: (lambda e: (f"Content-Transfer-Encoding: quoted-printable\n\n{n}=3D{e}\n", [e]))(v.replace("=", "=3D"))),
]


def positives():
    out = []
    for fmt, name, gen in FORMATS:
        for syn, make in SYNTAXES:
            v = gen()
            if syn in ("netrc", "netrc_one_line", "pgpass", "cli_flag", "cli_password", "curl_user_pass",
                       "cli_mysql_p", "cli_docker_login_p") and " " in v:
                v = v.replace(" ", "-")
            text, secrets = make(name, v)
            out.append({"id": f"pos-{fmt}-{syn}", "label": "positive", "format": fmt, "syntax": syn,
                        "text": text, "secrets": secrets})
    return out


def hashes(count):
    def sha(n):
        return rnd(HEX, n)
    gens = [
        ("git_commit", lambda: f"commit {sha(40)}\nAuthor: Dev <dev@example.com>\n\n    Fix eviction ({sha(7)})"),
        ("git_log_oneline", lambda: f"{sha(7)} (HEAD -> main, origin/main) Merge pull request #{R.randint(1, 999)}"),
        ("git_index", lambda: f"diff --git a/x.c b/x.c\nindex {sha(7)}..{sha(7)} 100644"),
        ("sha256sum", lambda: f"{sha(64)}  dist/app-{R.randint(0, 9)}.{R.randint(0, 9)}.tar.gz"),
        ("sha1sum", lambda: f"{sha(40)}  /usr/bin/{rnd(LO, 6)}"),
        ("md5sum", lambda: f"{sha(32)}  {rnd(LO, 8)}.deb"),
        ("sha512sum", lambda: f"{sha(128)}  release.zip"),
        ("docker_digest", lambda: f"Digest: sha256:{sha(64)}\nStatus: Downloaded newer image for nginx:1.25"),
        ("docker_pull_ref", lambda: f"docker pull ghcr.io/acme/api@sha256:{sha(64)}"),
        ("docker_image_id", lambda: f"{sha(12)}   {R.randint(2, 9)} days ago   {R.randint(20, 900)}MB   sha256:{sha(64)}"),
        ("oci_manifest", lambda: json.dumps({"mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"digest": "sha256:" + sha(64), "size": R.randint(500, 9000)}})),
        ("uuid_log", lambda: f"request_id={uuid.UUID(int=R.getrandbits(128), version=4)} status=200"),
        ("uuid_json", lambda: json.dumps({"id": str(uuid.UUID(int=R.getrandbits(128), version=4)), "trace_id": sha(32), "span_id": sha(16)})),
        ("k8s_uid", lambda: f"  uid: {uuid.UUID(int=R.getrandbits(128), version=4)}\n  resourceVersion: \"{R.randint(1000, 99999)}\""),
        ("npm_integrity", lambda: f'      "integrity": "sha512-{b64(64)}",'),
        ("yarn_integrity", lambda: f"  integrity sha512-{b64(64)}"),
        ("sri_script", lambda: f'<script src="https://cdn.example.com/lib.js" integrity="sha384-{b64(48)}" crossorigin="anonymous"></script>'),
        ("go_sum", lambda: f"github.com/{rnd(LO, 6)}/{rnd(LO, 6)} v1.{R.randint(0, 9)}.0 h1:{b64(32)}"),
        ("cargo_checksum", lambda: f'checksum = "{sha(64)}"'),
        ("poetry_hash", lambda: f'    {{file = "{rnd(LO, 6)}-1.0-py3-none-any.whl", hash = "sha256:{sha(64)}"}},'),
        ("pip_hash", lambda: f"{rnd(LO, 6)}==1.{R.randint(0, 9)}.0 --hash=sha256:{sha(64)}"),
        ("apt_sha256", lambda: f"SHA256: {sha(64)}\nSize: {R.randint(1000, 900000)}"),
        ("etag", lambda: f'ETag: "{sha(32)}"'),
        ("ssh_fingerprint", lambda: f"ED25519 key fingerprint is SHA256:{b64(32, pad=False)}."),
        ("gpg_fingerprint", lambda: f"      {' '.join(rnd(HEXU, 4) for _ in range(10))}"),
        ("cert_serial", lambda: f"        Serial Number:\n            {':'.join(rnd(HEX, 2) for _ in range(16))}"),
        ("nix_store", lambda: f"/nix/store/{rnd('0123456789abcdfghijklmnpqrsvwxyz', 32)}-openssl-3.0.13"),
        ("ghc_package", lambda: f"Ghc-Package: {rnd(LO, 7)}-{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}-{mixed(22)}"),
        ("terraform_lock", lambda: f'    "h1:{b64(32)}",\n    "zh:{sha(64)}",'),
        ("aws_request_id", lambda: f"x-amz-request-id: {rnd(UP + DIG, 16)}\nx-amz-id-2: {b64(48)}"),
    ]
    out = []
    for i in range(count):
        kind, g = gens[i % len(gens)]
        out.append({"id": f"hash-{kind}-{i // len(gens)}", "label": "hash", "format": kind, "syntax": "",
                    "text": g(), "secrets": []})
    return out


def near_misses():
    # documented examples (AWS's IAM guide, Stripe's docs, jwt.io) and
    # tokens of the wrong length or alphabet
    docs = [
        ("aws_docs_key_id", p("AKIAIOSF", "ODNN7EXAMPLE")),
        ("aws_docs_secret", p("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY")),
        ("jwt_io_example", p("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.",
                            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")),
        ("github_short", p("gh", "p_", mixed(12))),
        ("github_xs", p("gh", "p_", "x" * 36)),
        ("stripe_short", p("sk", "_test_", mixed(6))),
        ("slack_fake", p("xo", "xb-", "not-a-real-token")),
        ("npm_short", p("np", "m_", mixed(10))),
        ("openai_short", p("sk", "-", mixed(8))),
        ("google_short", p("AI", "za", mixed(10))),
        ("aws_lower", p("ak", "ia", rnd(LO + DIG, 16))),
        ("hf_short", p("h", "f_", mixed(8))),
    ]
    ctxs = [lambda v: v, lambda v: f"example: {v}", lambda v: f"# e.g. TOKEN={v}", lambda v: f"see docs ({v})"]
    out = []
    for kind, v in docs:
        for k, c in enumerate(ctxs):
            out.append({"id": f"near-{kind}-{k}", "label": "near_miss", "format": kind, "syntax": "",
                        "text": c(v), "secrets": [v]})
    return out


def negatives(dirs):
    out = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines(keepends=True)
            chunk, size, k = [], 0, 0
            for line in lines + [None]:
                if line is None or len(chunk) >= 40 or size + len(line) > 4096:
                    if chunk:
                        out.append({"id": f"neg-{name}-{k}", "label": "negative", "format": name, "syntax": "",
                                    "text": "".join(chunk), "secrets": []})
                        k += 1
                    chunk, size = [], 0
                    if line is None:
                        break
                chunk.append(line)
                size += len(line)
    return out


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--seed":
        R.seed(int(sys.argv[2]))   # other draws, for checking; make check uses seed 12
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "scan")
    items = positives() + hashes(600) + near_misses() + negatives([os.path.join(top, "tool-output"),
                                                                    os.path.join(top, "negatives")])
    for it in items:
        sys.stdout.write(json.dumps(it, sort_keys=True) + "\n")
    print(f"{sum(1 for i in items if i['label'] == 'positive')} positives over {len(FORMATS)} formats and "
          f"{len(SYNTAXES)} syntaxes", file=sys.stderr)


if __name__ == "__main__":
    main()
