# Shared by the scanner's integration tests (t_secrets_*.sh): sourced after
# lib.sh.  Fake credentials are assembled here at run time from fragments
# and random characters; nothing in the repository is a complete token.

# gh_token: a fake GitHub token (prefix + 36 random characters)
gh_token() { printf 'gh%s_%s' p "$(rand_token 36)"; }
aws_id() { printf 'AK%s%s' IA "$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Z0-9' | head -c 16)"; }
fake_password() { printf 'Pw%s!%s' "$(rand_token 8)" "$(rand_token 4)"; }

# pem_block KIND: a fake private key block with random base64 lines
pem_block() {
	local kind=${1:-RSA} i
	printf -- '-----BEGIN %s PRIVATE KEY-----\n' "$kind"
	for i in 1 2 3 4 5 6; do head -c 48 /dev/urandom | base64; done
	printf -- '-----END %s PRIVATE KEY-----\n' "$kind"
}

# no_run OUTPUT SECRET WHAT: no 8-character run of SECRET is in the file OUTPUT
no_run() {
	local out=$1 secret=$2 i n=${#2}
	for ((i = 0; i + 8 <= n; i++)); do
		if grep -qF -- "${secret:i:8}" "$out"; then
			fail "$3: part of a secret is still in $out (offset $i)"
		fi
	done
}

# rc_of CMD...: run CMD (redirect the call as you would CMD) and leave its
# exit status in RC, without failing the test
rc_of() {
	set +e
	"$@"
	RC=$?
	set -e
}
