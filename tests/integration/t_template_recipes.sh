#!/bin/bash
# The recipes of docs/templates.md with their real consumers, taken from
# that file so that they cannot drift from it:
#   - nginx: `nginx -t` (Debian's nginx) with ssl_certificate_key in a
#     mounted view (a template rendering a throwaway key made by openssl at
#     test time), as the unprivileged user the view is for (101) and, for a
#     uid 0 view, as root; a key that does not match the certificate and a
#     user the view is not for both fail.
#   - systemd LoadCredential=: systemd-analyze verify (real systemd) of the
#     recipe's unit with the mount's path, a misspelt copy reported; and a
#     stand-in for what PID 1 does at start (root copies the file into a
#     private directory, the service reads $CREDENTIALS_DIRECTORY/ID as
#     another user), since no systemd runs as PID 1 here.
. "$(dirname "$0")/lib.sh"

command -v nginx >/dev/null || fail "nginx is missing (Debian package nginx; scripts/deps.sh installs it)"
command -v openssl >/dev/null || fail "openssl is missing (Debian package openssl)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (Debian package systemd)"
DOC="$TOP/docs/templates.md"
# block SECTION LANG: the first ```LANG block under the "### SECTION" heading of the doc
block() {
	awk -v sec="$1" -v lang="$2" '
		/^### / { on = index($0, sec) > 0; next }
		on && $0 == "```" lang { inb = 1; next }
		inb && /^```$/ { exit }
		inb' "$DOC"
}

STORE="$T_DIR/store"
mkdir -p "$STORE" "$T_DIR/certs"
put() { cat > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g; s|#|%23|g')"; }
# a throwaway key and certificate, and another key that does not match
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=example.com \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/certs/example.com.crt" 2> "$T_DIR/openssl.err" ||
	fail "openssl: $(cat "$T_DIR/openssl.err")"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T_DIR/other.pem" 2> "$T_DIR/openssl.err" ||
	fail "openssl: $(cat "$T_DIR/openssl.err")"
chmod 0644 "$T_DIR/certs/example.com.crt"
put "tls/example.com#key" < "$T_DIR/key.pem"
put "tls/other#key" < "$T_DIR/other.pem"
shred -u "$T_DIR/key.pem" "$T_DIR/other.pem" 2>/dev/null || rm -f "$T_DIR/key.pem" "$T_DIR/other.pem"
PW='db-pass "x" $HOME `id` é'"$(rand_token 16)"
printf '%s' "$PW" | put "db/creds#password"

# the recipes' views, as docs/templates.md writes them
block 'nginx: `ssl_certificate_key`' yaml > "$T_DIR/web.yaml"
grep -q '^    web:$' "$T_DIR/web.yaml" && grep -q 'example.com.key' "$T_DIR/web.yaml" ||
	fail "no nginx view in docs/templates.md: $(cat "$T_DIR/web.yaml")"
block 'systemd: `LoadCredential=`' yaml > "$T_DIR/app.yaml"
grep -q '^    app:$' "$T_DIR/app.yaml" && grep -q 'uid: 0' "$T_DIR/app.yaml" ||
	fail "no LoadCredential= view in docs/templates.md: $(cat "$T_DIR/app.yaml")"
MNT="$T_DIR/mnt"
{
	cat <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $MNT
  containers:
YAML
	cat "$T_DIR/web.yaml"
	# the same view for an nginx started as root, and a wrong key
	sed 's/^    web:$/    webroot:/; s/uid: 101 .*/uid: 0/' "$T_DIR/web.yaml"
	cat <<'YAML'
    wrongkey:
      uid: 101
      secrets: { TLS_KEY: tls/other#key }
      templates:
        example.com.key: { inline: "{{ secret \"tls/other#key\" }}" }
YAML
	cat "$T_DIR/app.yaml"
} > "$T_DIR/h.yaml"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"

# ---- nginx -t ----
block 'nginx: `ssl_certificate_key`' nginx > "$T_DIR/tls.conf"
grep -q '^ssl_certificate_key /run/harombe/web/example.com.key;$' "$T_DIR/tls.conf" ||
	fail "the nginx recipe does not read the key from /run/harombe/web: $(cat "$T_DIR/tls.conf")"
# nginx_conf VIEW: the recipe's lines, with the test's mount and certificate directory
nginx_conf() {
	local run="$T_DIR/run-$1"
	mkdir -p "$run" && chmod 0777 "$run"
	cat > "$T_DIR/nginx-$1.conf" <<EOF
pid $run/nginx.pid;
error_log $run/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $run/body;
	proxy_temp_path $run/proxy;
	fastcgi_temp_path $run/fastcgi;
	uwsgi_temp_path $run/uwsgi;
	scgi_temp_path $run/scgi;
	server {
		listen 127.0.0.1:8443 ssl;
		server_name example.com;
$(sed "s|/run/harombe/web/|$MNT/$1/|; s|/etc/nginx/certs/|$T_DIR/certs/|; s|^|\t\t|" "$T_DIR/tls.conf")
	}
}
EOF
	echo "$T_DIR/nginx-$1.conf"
}
nginx_t() {	# nginx_t UID VIEW: nginx -t as UID with the key of VIEW; output in $T_DIR/nginx.out
	local conf
	conf=$(nginx_conf "$2")
	set +e
	setpriv --reuid "$1" --regid "$1" --clear-groups -- nginx -t -e "$T_DIR/run-$2/error.log" -c "$conf" \
		> "$T_DIR/nginx.out" 2>&1
	RC=$?
	set -e
}
nginx_t 101 web
[ "$RC" = 0 ] && grep -q 'test is successful' "$T_DIR/nginx.out" ||
	fail "nginx -t as 101 with the key in the view: exit $RC $(cat "$T_DIR/nginx.out")"
grep '"event":"secret_read"' "$T_DIR/audit.jsonl" | grep '"view":"example.com.key"' | grep -q 'tls/example.com#key' ||
	fail "the key read by nginx is not audited"
nginx_t 0 webroot
[ "$RC" = 0 ] && grep -q 'test is successful' "$T_DIR/nginx.out" ||
	fail "nginx -t as root with the key of a uid 0 view: exit $RC $(cat "$T_DIR/nginx.out")"
ok "nginx -t reads ssl_certificate_key from the view (docs/templates.md's recipe): as user 101, and as root for a uid 0 view"

nginx_t 101 wrongkey
[ "$RC" != 0 ] && grep -q 'key values mismatch' "$T_DIR/nginx.out" ||
	fail "nginx -t with a key that does not match the certificate: exit $RC $(cat "$T_DIR/nginx.out")"
nginx_t 1000 web
[ "$RC" != 0 ] && grep -q 'example.com.key' "$T_DIR/nginx.out" ||
	fail "nginx -t as a user the view is not for: exit $RC $(cat "$T_DIR/nginx.out")"
ok "nginx -t fails with a key that does not match the certificate, and as a user the view is not for"

# ---- systemd LoadCredential= ----
mkdir -p "$T_DIR/units" "$T_DIR/bin"
block 'systemd: `LoadCredential=`' ini > "$T_DIR/recipe.service"
grep -q '^LoadCredential=db-password:/run/harombe/app/secrets/DB_PASSWORD$' "$T_DIR/recipe.service" ||
	fail "the LoadCredential= recipe changed: $(cat "$T_DIR/recipe.service")"
# the program: reads the file given by --password-file and keeps its hash
cat > "$T_DIR/bin/app" <<EOF
#!/bin/sh
f=\${1#--password-file=}
sha256sum < "\$f" | cut -d' ' -f1 > "$T_DIR/out/app.got"
stat -c '%a %u' "\$f" "\$(dirname "\$f")" >> "$T_DIR/out/app.got"
EOF
chmod 0755 "$T_DIR/bin/app"
sed "s|/run/harombe/|$MNT/|; s|/usr/bin/app|$T_DIR/bin/app|" "$T_DIR/recipe.service" > "$T_DIR/units/app.service"
sed 's/^@SYSCONFDIR@/\/etc/; s/@SYSCONFDIR@/\/etc/g; s/@SBINDIR@/\/usr\/sbin/g' "$TOP/systemd/run-harombe.mount" \
	> "$T_DIR/units/run-harombe.mount"
sed 's/^LoadCredential=/LoadCredentail=/' "$T_DIR/units/app.service" > "$T_DIR/units/typo.service"
(
	export SYSTEMD_UNIT_PATH="$T_DIR/units:"
	systemd-analyze verify "$T_DIR/units/app.service" > "$T_DIR/verify.out" 2>&1 || echo "rc=$?" >> "$T_DIR/verify.out"
	systemd-analyze verify "$T_DIR/units/typo.service" > "$T_DIR/typo.out" 2>&1 || true
)
[ ! -s "$T_DIR/verify.out" ] || fail "systemd-analyze verify of the LoadCredential= recipe: $(cat "$T_DIR/verify.out")"
grep -q "Unknown key 'LoadCredentail'" "$T_DIR/typo.out" ||
	fail "the negative control: a misspelt key was not reported ($(cat "$T_DIR/typo.out"))"
ok "systemd-analyze verify (real systemd) accepts the LoadCredential= recipe with the mount's path; a misspelt copy is reported"

# The stand-in for PID 1 at start, from the unit's own lines: root reads PATH
# into a private directory (0500, the file 0400, owned by the service's user)
# and runs ExecStart= as that user with CREDENTIALS_DIRECTORY set.
SVC_UID=61234	# as a DynamicUser= would be
lc=$(sed -n 's/^LoadCredential=//p' "$T_DIR/units/app.service")
exe=$(sed -n 's/^ExecStart=//p' "$T_DIR/units/app.service")
CRED="$T_DIR/credentials/app.service"
mkdir -p "$CRED" "$T_DIR/out" && chown "$SVC_UID" "$T_DIR/out"
cat "${lc#*:}" > "$CRED/${lc%%:*}" || fail "root could not read ${lc#*:} through the view"
chmod 0400 "$CRED/${lc%%:*}" && chmod 0500 "$CRED" && chown -R "$SVC_UID:$SVC_UID" "$CRED"
as_uid "$SVC_UID" env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY="$CRED" \
	sh -c "exec ${exe//\$\{CREDENTIALS_DIRECTORY\}/\$CREDENTIALS_DIRECTORY}" || fail "ExecStart= failed"
assert_eq "$(sed -n 1p "$T_DIR/out/app.got")" "$(printf '%s' "$PW" | sha256sum | cut -d' ' -f1)" \
	"the value the service read from \$CREDENTIALS_DIRECTORY/${lc%%:*}"
[ "$(sed -n 2,3p "$T_DIR/out/app.got" | tr '\n' ' ')" = "400 $SVC_UID 500 $SVC_UID " ] ||
	fail "credential modes: $(sed -n 2,3p "$T_DIR/out/app.got" | tr '\n' ' ')"
as_uid "$SVC_UID" cat "${lc#*:}" > /dev/null 2>&1 && fail "the service's own user could read the root view directly"
ok "LoadCredential= stand-in: root copies secrets/DB_PASSWORD from the view, the service (uid $SVC_UID) reads \$CREDENTIALS_DIRECTORY/db-password byte for byte"
