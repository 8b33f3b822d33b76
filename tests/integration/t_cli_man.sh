#!/bin/bash
# --help, harombe(1) and docs/ cannot drift apart: for each command group,
# the long options its parser accepts (the option tables of its cli/ files)
# must all be named in its section of man/harombe.1 and in its --help (the
# group's or one of its commands'), and the man page may name no option the
# parser does not know.  Every VAULT_* variable the code reads is in the man
# page's ENVIRONMENT; every option of `harombe secrets` is in docs/scanner.md.
source "$(dirname "$0")/lib.sh"

MAN="$TOP/man/harombe.1"
GLOBAL=$(printf '%s\n' config format provider help)

# opts_of FILE...: long options of the option tables (and sops's is_opt) in FILEs
opts_of() {
	{
		grep -ohE '\{ *"[a-z][a-z-]*", *(no|required|optional)_argument' "$@" || true
		grep -ohE '"--[a-z][a-z-]*"' "$@" || true
	} | sed -E 's/\{ *"([^"]*)".*/\1/; s/"--([^"]*)"/\1/' | sort -u
}
# man_opts GROUP: options named in the .SS GROUP section of harombe(1)
man_opts() {
	awk -v g="$1" '/^\.SS /{on=($2==g)} /^\.SH /{on=0} on' "$MAN" | sed 's/\\-/-/g' |
		{ grep -oE -- '--[a-z][a-z-]*' || true; } | sed 's/^--//' | sort -u
}
# help_opts GROUP CMD...: options named by harombe help GROUP and harombe help GROUP CMD
help_opts() {
	local g=$1 c
	shift
	{
		"$HAROMBE" help "$g" 2>&1 || true
		for c in "$@"; do "$HAROMBE" help "$g" "$c" 2>&1 || true; done
	} | { grep -oE -- '--[a-z][a-z-]*' || true; } | sed 's/^--//' | sort -u
}
in_list() { grep -qx -- "$1" <<< "$2"; }

check_group() {	# check_group GROUP "CMDS" "prose-only options" FILES...
	local g=$1 cmds=$2 prose=$3 o
	shift 3
	local src man hlp
	src=$(opts_of "$@")
	man=$(man_opts "$g")
	hlp=$(help_opts "$g" $cmds)
	for o in $src; do
		in_list "$o" "$GLOBAL" && continue
		in_list "$o" "$man" || fail "$g: --$o is accepted but missing from harombe(1)"
		in_list "$o" "$hlp" || fail "$g: --$o is accepted but missing from its --help"
	done
	for o in $man; do
		in_list "$o" "$src" || in_list "$o" "$GLOBAL" || in_list "$o" "$(tr ' ' '\n' <<< "$prose")" ||
			fail "$g: harombe(1) names --$o, which the parser does not accept"
	done
}

# vault rotate takes rotate's generator options (cli_rotate_option, cli/rotate.c)
check_group vault "get set list delete create rotate import export" "generator length no-prefix no-hooks" \
	"$TOP"/cli/vault.c "$TOP"/cli/vault-io.c
check_group secrets "filter scan scan-git redact rules" "" "$TOP"/cli/secrets.c
check_group container "secrets rotate-secrets start" "env-file read-only cap-drop security-opt" "$TOP"/cli/container.c
check_group run "" "" "$TOP"/cli/run.c
check_group rotate "" "" "$TOP"/cli/rotate.c
check_group audit "query report" "" "$TOP"/cli/audit.c
check_group sops "decrypt encrypt edit updatekeys rotate" "" "$TOP"/cli/sops.c
ok "each group's accepted options are in harombe(1) and its --help, and harombe(1) names no other"

for v in $(grep -rhoE '"VAULT_[A-Z_]+"' "$TOP/backends" "$TOP/cli" "$TOP/lib" | tr -d '"' | sort -u); do
	sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" | awk '/^\.SH ENVIRONMENT/{on=1; next} /^\.SH /{on=0} on' |
		grep -q "$v" || fail "$v is read but not in harombe(1) ENVIRONMENT"
done
ok "every VAULT_* variable the code reads is in harombe(1)"

for o in $(opts_of "$TOP/cli/secrets.c"); do
	in_list "$o" "$GLOBAL" && continue
	grep -q -- "--$o" "$TOP/docs/scanner.md" || fail "secrets --$o is not in docs/scanner.md"
done
ok "every option of harombe secrets is in docs/scanner.md"

# the docs --help points to are installed
"$HAROMBE" secrets --help | grep -q 'docs/scanner.md' || fail "secrets --help no longer points to docs/scanner.md"
make -s -n -C "$TOP" BUILD="$BUILD" DESTDIR=/nonexistent install | grep -q 'docs/scanner.md' ||
	fail "make install does not install docs/scanner.md"
ok "the docs --help points to are installed"
