#!/bin/bash
# --help, harombe(1) and the parsers cannot drift apart, command by command.
# For each command (harombe help --commands), the long options it accepts
# come from the code: cli/help.c's table (harombe help --options GROUP CMD),
# which main() enforces before the group's parser runs, each of which must
# also be in that group's getopt table (or sops's is_opt list), so that the
# parser knows it.  Those options must be exactly the ones its --help lists
# under "options:" and the ones its entries in harombe(1) name (.TP entries
# whose heading is "harombe GROUP CMD ..."), apart from the options of other
# programs (docker's) a description mentions.  Every option a group's parser
# knows and a command does not take is refused for that command (exit 2).
# Every VAULT_* variable the code reads is in the man page's ENVIRONMENT;
# every option of `harombe secrets` is in docs/scanner.md.
source "$(dirname "$0")/lib.sh"

MAN="$TOP/man/harombe.1"
# harombe's own options anywhere (-c/--config, --provider, --format) and --help
GLOBAL=$(printf '%s\n' config format provider help)
# options of other programs that harombe(1) names in a description
FOREIGN=$(printf '%s\n' env-file read-only cap-drop security-opt)

# opts_of FILE...: long options of the option tables in FILEs (and of the
# is_opt()/strcmp() names of cli/sops.c, which has no table; elsewhere a
# "--x" string is an argument for another program, such as docker's)
opts_of() {
	local f
	{
		grep -ohE '\{ *"[a-z][a-z-]*", *(no|required|optional)_argument' "$@" || true
		for f in "$@"; do
			if [ "${f##*/}" = sops.c ]; then grep -ohE '"--[a-z][a-z-]*"' "$f" || true; fi
		done
	} | sed -E 's/\{ *"([^"]*)".*/\1/; s/"--([^"]*)"/\1/' | sort -u
}
# rotate's generator options (ROTATE_LONGOPTS), which vault rotate and
# container rotate-secrets parse too
sed -n '/^#define ROTATE_LONGOPTS/,/[^\\]$/p' "$TOP/cli/rotate.c" > "$T_DIR/rotate-opts.c"
grep -q '"generator"' "$T_DIR/rotate-opts.c" || fail "no ROTATE_LONGOPTS in cli/rotate.c"
files_of() {	# the parser sources of a group
	case $1 in
	vault) echo "$TOP/cli/vault.c $TOP/cli/vault-io.c $T_DIR/rotate-opts.c" ;;
	container) echo "$TOP/cli/container.c $T_DIR/rotate-opts.c" ;;
	config) echo "$TOP/cli/config-check.c" ;;
	*) echo "$TOP/cli/$1.c" ;;
	esac
}
# man_opts GROUP [CMD]: options named in the .TP entries "harombe GROUP [CMD] ..."
man_opts() {
	awk -v want="harombe $1${2:+ $2}" '
		function heading(s) {
			gsub(/\\f[BIRP]/, "", s); gsub(/\\-/, "-", s); gsub(/"/, "", s)
			sub(/^\.[A-Z]+ +/, "", s); sub(/^harombe \[-c FILE\] /, "harombe ", s)
			return s
		}
		/^\.(SS|SH|PP)/ { on = 0; next }
		/^\.TP/ { tp = 1; next }
		/^\.TQ/ { tq = 1; next }
		tp || tq {
			h = heading($0)
			m = (substr(h, 1, length(want)) == want && (length(h) == length(want) || substr(h, length(want) + 1, 1) == " "))
			if (tp) on = m; else on = on || m
			tp = tq = 0
		}
		on' "$MAN" | sed 's/\\-/-/g' | { grep -oE -- '--[a-z][a-z-]*' || true; } | sed 's/^--//' | sort -u
}
# help_opts GROUP [CMD]: the options block of harombe help GROUP [CMD]
help_opts() {
	"$HAROMBE" help "$@" | awk '/^options:$/ { on = 1; next } /^$/ { on = 0 } on' |
		{ grep -oE -- '--[a-z][a-z-]*' || true; } | sed 's/^--//' | sort -u
}
in_list() { grep -qx -- "$1" <<< "$2"; }
# without GROUP's global options, unless the command takes one of that name
no_globals() { local o; for o in $1; do in_list "$o" "$GLOBAL" && ! in_list "$o" "$2" || echo "$o"; done | sort -u; }

"$HAROMBE" help --commands > "$T_DIR/cmds" || fail "harombe help --commands"
[ "$(wc -l < "$T_DIR/cmds")" -ge 25 ] || fail "only $(wc -l < "$T_DIR/cmds") commands: $(cat "$T_DIR/cmds")"
n=0
declare -A group_union
while read -r g c; do
	acc=$("$HAROMBE" help --options "$g" $c | sort -u) || fail "help --options $g $c"
	src=$(opts_of $(files_of "$g"))
	group_union[$g]+="$acc"$'\n'
	for o in $acc; do
		in_list "$o" "$GLOBAL" && continue
		in_list "$o" "$src" || fail "$g $c: --$o is in its help but not in the parser ($(files_of "$g"))"
	done
	want=$(no_globals "$acc" "$acc")
	hlp=$(no_globals "$(help_opts "$g" $c)" "$acc")
	[ "$hlp" = "$want" ] || fail "$g $c: --help lists [$(echo $hlp)], it accepts [$(echo $want)]"
	man=$(man_opts "$g" $c)
	[ -n "$(awk -v w="harombe $g${c:+ $c}" 'index($0, w)' <(sed 's/\\f[BIRP]//g; s/\\-/-/g; s/"//g' "$MAN"))" ] ||
		fail "harombe(1) has no entry for harombe $g $c"
	mine=""
	for o in $man; do
		if in_list "$o" "$FOREIGN"; then continue; fi
		if in_list "$o" "$GLOBAL" && ! in_list "$o" "$acc"; then continue; fi
		mine+="$o"$'\n'
	done
	mine=$(sort -u <<< "$mine" | sed '/^$/d')
	[ "$mine" = "$want" ] ||
		fail "$g $c: harombe(1) names [$(echo $mine)], it accepts [$(echo $want)]: missing [$(comm -13 <(echo "$mine") <(echo "$want") | xargs)], extra [$(comm -23 <(echo "$mine") <(echo "$want") | xargs)]"
	# what the group's parser knows and this command does not take is refused
	for o in $src; do
		in_list "$o" "$GLOBAL" && continue
		in_list "$o" "$acc" && continue
		set +e
		"$HAROMBE" "$g" $c "--$o" x y > /dev/null 2> "$T_DIR/err"; rc=$?
		set -e
		[ $rc = 2 ] && grep -qE -- "--$o.*(is for|unknown option)|unknown option '--$o'" "$T_DIR/err" ||
			fail "$g $c --$o: exit $rc, $(cat "$T_DIR/err") (the command does not take it)"
	done
	n=$((n + 1))
done < "$T_DIR/cmds"
for g in "${!group_union[@]}"; do
	for o in $(opts_of $(files_of "$g")); do
		in_list "$o" "$GLOBAL" && continue
		in_list "$o" "${group_union[$g]}" || fail "$g: the parser knows --$o, which no command's help names"
	done
done
ok "each of $n commands: the options it accepts (cli/help.c, known to its parser) are those its --help and its harombe(1) entry list; the others are refused"

for v in $(grep -rhoE '"VAULT_[A-Z_]+"' "$TOP/backends" "$TOP/cli" "$TOP/lib" | tr -d '"' | sort -u); do
	sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" | awk '/^\.SH ENVIRONMENT/{on=1; next} /^\.SH /{on=0} on' |
		grep -q "$v" || fail "$v is read but not in harombe(1) ENVIRONMENT"
done
ok "every VAULT_* variable the code reads is in harombe(1)"

for o in $(opts_of "$TOP/cli/secrets.c"); do
	in_list "$o" "$GLOBAL" && [ "$o" != config ] && continue
	grep -q -- "--$o" "$TOP/docs/scanner.md" || fail "secrets --$o is not in docs/scanner.md"
done
ok "every option of harombe secrets is in docs/scanner.md"

# the docs --help points to are installed
"$HAROMBE" secrets --help | grep -q 'docs/scanner.md' || fail "secrets --help no longer points to docs/scanner.md"
make -s -n -C "$TOP" BUILD="$BUILD" DESTDIR=/nonexistent install > "$T_DIR/install.n" 2>&1 || true
grep -q 'docs/scanner.md' "$T_DIR/install.n" ||
	fail "make install does not install docs/scanner.md"
ok "the docs --help points to are installed"
