/*
 * The help of every command, in one table: its usage lines, a one-line
 * summary, its options and a paragraph of notes.  `harombe help GROUP CMD`
 * and `harombe GROUP CMD --help` print one entry, `harombe help GROUP` the
 * group's usage lines and summaries.  The table is also the list of long
 * options each command takes: main() refuses, before the group's parser
 * runs, a --option the command's entry does not name (an option of a sibling
 * command is "for GROUP CMD only"), so that --help, the parsers and, through
 * tests/integration/t_cli_man.sh, harombe(1) cannot drift apart.
 */
#include "lib/compat.h"
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "inject/rotate.h"

/* One option: its spelling ("-o, --output FILE": every --name in it is
 * accepted; a name followed by a space and a word not starting with '-'
 * takes a value) and what it does. */
struct cli_opt {
	const char *spec;
	const char *text;
};

struct cli_cmd_help {
	const char *group;
	const char *cmd;		/* NULL: a group without commands (run, rotate) */
	const char *usage;		/* "harombe GROUP CMD ..." lines, '\n' between them */
	const char *summary;		/* one line */
	const struct cli_opt *opts[3];	/* NULL-terminated lists, shared ones too */
	const char *more;		/* notes; NULL for none */
};

#define END { NULL, NULL }
#define STR_(x) #x
#define STR(x) STR_(x)

static const struct cli_opt mount_opt[] = {
	{ "-mount PATH, --mount PATH", "the KV mount, with no config (default 'secret')" }, END
};
static const struct cli_opt rotate_opts[] = {
	{ "--generator G", "auto (the old value's shape), urlsafe, random, hex or uuid" },
	{ "--length N", "N characters, " STR(ROTATE_LENGTH_MIN) ".." STR(ROTATE_LENGTH_MAX)
			" (default: the old value's, at least " STR(ROTATE_LENGTH_DEFAULT) ")" },
	{ "--no-prefix", "do not keep a prefix such as sk- or ghp_" },
	{ "--no-hooks", "do not run the containers' on_rotate commands" },
	END
};
static const struct cli_opt secrets_common[] = {
	{ "--rules FILE", "custom rules and allowlist (YAML); may repeat" },
	{ "--known FILE", "known secret values, one per line (also matched base64/hex/URL-encoded)" },
	{ "--known-from DIR", "the values in a harombefs view's secrets/ directory" },
	{ "--min-confidence X", "report findings at or above X (0.7)" },
	{ "--min-length N", "minimum length of generic and entropy findings (16)" },
	{ "--no-entropy", "no high-entropy detection" },
	{ "-q, --quiet", "no alerts or progress on stderr" },
	END
};
static const struct cli_opt secrets_found[] = {	/* scan and scan-git */
	{ "--config FILE", "this rules file instead of ROOT/.harombe-scan.yaml" },
	{ "--no-config", "no .harombe-scan.yaml, no .harombeignore" },
	{ "--baseline FILE", "report only findings not in FILE" },
	{ "--write-baseline FILE", "write the findings to FILE (JSON), report none" },
	{ "--ignore-file FILE", "fingerprints to leave out (default ROOT/.harombeignore)" },
	{ "--no-inline-allow", "report lines marked harombe:allow (gitleaks:allow, ...) too" },
	{ "--color auto|always|never", "colour (auto: a terminal, no NO_COLOR, TERM not dumb)" },
	{ "--exit-code-on-error N", "status when an input cannot be read (2)" },
	{ "--threads N", "scan files (scan-git: commits) on N threads (the CPUs, at most 8); same report" },
	END
};
static const struct cli_opt secrets_redacting[] = {	/* filter and redact */
	{ "--replacement TEXT", "what replaces a secret ([REDACTED]); {type} expands to its type" },
	{ "--with-type", "the same as --replacement '[REDACTED:{type}]'" },
	{ "--source NAME", "label for alerts and the audit log" },
	{ "--audit-log FILE", "audit log for leak_detected (default: the config's)" },
	END
};
static const struct cli_opt audit_filters[] = {
	{ "--event E[,E...]", "these events only" },
	{ "--secret KEY", "KEY and its fields (KEY#f); KEY/ for everything under it" },
	{ "--container C", "this container's events" },
	{ "--result ok|error|denied", "this result only" },
	{ "--since T", "from T: a time (2024-01-31, 2024-01-31T10:00:00Z) or an age (30m, 12h, 7d, 2w)" },
	{ "--until T", "up to T" },
	{ "--log FILE", "this log instead of security.fs.audit_log" },
	END
};
static const struct cli_opt sops_types[] = {
	{ "--input-type T", "json, yaml, dotenv, ini or binary (default: from the file name)" },
	END
};

static const char secrets_exit[] =
	"Exit status: 0 nothing found (or filter/redact done), 1 secrets found (scan, scan-git),\n"
	"2 usage or input error, also with findings (--exit-code-on-error N changes it).\n"
	"See harombe(1) and docs/scanner.md (installed in share/doc/harombe/docs/).";

static const struct cli_cmd_help cmds[] = {
	/* ---- vault ---- */
	{ "vault", "get", "harombe vault get [-field NAME] [-format=json] [-mount PATH] KEY",
	  "print a secret's value and a newline, nothing else",
	  { (const struct cli_opt[]){
		    { "-field NAME, --field NAME", "print this field raw" },
		    { "-format=json, --format json", "the secret as vault kv get -format=json prints it" },
		    END },
	    mount_opt },
	  "KEY is path or path#field; with Vault KV 2 also path@VERSION.  A secret with\n"
	  "several fields is printed as a table (vault kv get).  With no config and\n"
	  "VAULT_ADDR (or VAULT_AGENT_ADDR) set, the vault group uses Vault by itself." },
	{ "vault", "set", "harombe vault set KEY [VALUE|-]\nharombe vault set KEY FIELD=VALUE FIELD=VALUE...",
	  "store a value (no VALUE or '-': read from stdin, out of ps and the history)",
	  { mount_opt },
	  "set KEY VALUE writes the field 'value', set KEY#FIELD VALUE changes one field\n"
	  "and keeps the others, and two or more FIELD=VALUE pairs replace the secret\n"
	  "with those fields (VALUE '-': from stdin).  A running harombefs is told." },
	{ "vault", "list", "harombe vault list [PREFIX]", "list the keys; folders end in '/'", { mount_opt },
	  NULL },
	{ "vault", "delete", "harombe vault delete KEY [--purge]",
	  "delete the current version of KEY (KEY@N: version N)",
	  { (const struct cli_opt[]){ { "--purge", "every version and the metadata" }, END }, mount_opt },
	  NULL },
	{ "vault", "create", "harombe vault create --age RECIPIENT[,RECIPIENT...] [--age ...] FILE",
	  "sops: create a new, empty encrypted file",
	  { (const struct cli_opt[]){ { "--age R[,R...]", "an age recipient; may repeat" }, END } }, NULL },
	{ "vault", "rotate", "harombe vault rotate KEY [--generator G] [--length N] [--no-prefix] [--no-hooks]",
	  "store a new random value for KEY and run the on_rotate hooks", { rotate_opts, mount_opt },
	  "A running harombefs is told and serves the new value on the next open; see\n"
	  "harombe help rotate." },
	{ "vault", "import", "harombe vault import [--prefix PATH] [--dry-run] FILE.env|-",
	  "store every KEY=value of a dotenv file",
	  { (const struct cli_opt[]){ { "--prefix PATH", "store as PATH/KEY" },
				      { "--dry-run", "check the file and list the keys; write nothing" },
				      END },
	    mount_opt },
	  "The whole file is read and checked first: a malformed line is reported by its\n"
	  "number (never its content) and then nothing is written.  Values are never\n"
	  "printed; the keys written are.  Each write is audited (secret_write)." },
	{ "vault", "export", "harombe vault export [--prefix PATH] [--force] FILE|-",
	  "write the secrets as a dotenv file that import reads back exactly",
	  { (const struct cli_opt[]){ { "--prefix PATH", "the secrets under PATH, without it in the keys" },
				      { "--force", "replace an existing FILE" },
				      END },
	    mount_opt },
	  "FILE is created 0600 and appears only once complete.  FILE HOLDS PLAINTEXT:\n"
	  "keep it off shared disks and delete it when done ('-' writes to stdout, for a\n"
	  "pipe into an encrypting tool).  Audited as one secret_read." },
	{ "vault", "leases", "harombe vault leases",
	  "the live leases of dynamic secrets in the running harombefs (--format json: an array)",
	  { NULL }, "Container, path, seconds left, renewals; never a lease id or a value." },

	/* ---- secrets ---- */
	{ "secrets", "filter", "harombe secrets filter [options] [FILE...]",
	  "copy stdin (or the FILEs) to stdout with secrets redacted, streaming",
	  { (const struct cli_opt[]){
		    { "--hold-ms MS", "emit a partial line after this pause (100)" },
		    { "--line-buffered, --buffered", "force either output mode" },
		    { "--stats", "counts and time on stderr at the end" },
		    END },
	    secrets_redacting, secrets_common },
	  "Inline allow markers are ignored: the text comes from tools, not reviewers.\n"
	  "A broken ./harombe.yaml is a warning here, not an error." },
	{ "secrets", "scan", "harombe secrets scan [options] FILE...|-\nharombe secrets scan [options] --recursive DIR",
	  "report secrets in files, stdin or the files git would look at; exit 1 when found",
	  { (const struct cli_opt[]){
		    { "-r, --recursive DIR", "the files git would look at in DIR (binaries skipped)" },
		    { "--no-gitignore", "--recursive: scan the files .gitignore excludes too" },
		    { "--source NAME", "the name of stdin in the report" },
		    END },
	    secrets_found, secrets_common },
	  "Stdin (-) is scanned as a file is: fingerprints, inline allow markers, stop\n"
	  "words, ./.harombe-scan.yaml, .harombeignore and baselines apply.  --format\n"
	  "text|json|sarif picks the report." },
	{ "secrets", "scan-git", "harombe secrets scan-git [options] [A..B | REV]\nharombe secrets scan-git --staged | --pre-commit",
	  "report secrets in the lines the history of HEAD (or a range) added",
	  { (const struct cli_opt[]){
		    { "--commits N", "the last N commits only" },
		    { "--since DATE", "commits after DATE (git log --since)" },
		    { "--all", "every ref, not only HEAD" },
		    { "--staged", "the staged changes, what git commit would record" },
		    { "--pre-commit", "--staged for a pre-commit hook (no progress)" },
		    { "--repo DIR", "the repository (.)" },
		    END },
	    secrets_found, secrets_common },
	  "--format text|json|sarif picks the report." },
	{ "secrets", "redact", "harombe secrets redact FILE (--output OUT | --in-place) [options]",
	  "write a redacted copy of FILE, atomically",
	  { (const struct cli_opt[]){ { "-o, --output FILE", "the redacted copy" },
				      { "--in-place", "replace FILE" },
				      END },
	    secrets_redacting, secrets_common },
	  NULL },
	{ "secrets", "rules", "harombe secrets rules [--rules FILE]",
	  "list the rules (--format json: as JSON)", { secrets_common }, NULL },

	/* ---- container ---- */
	{ "container", "secrets", "harombe container secrets NAME",
	  "the container's names and keys (never values) and whether each resolves now", { NULL },
	  "Exit 1 when a key is missing, 3 when the store fails." },
	{ "container", "rotate-secrets",
	  "harombe container rotate-secrets NAME [--generator G] [--length N] [--no-prefix] [--no-hooks]",
	  "rotate every key of the container and run its on_rotate command once", { rotate_opts },
	  "See harombe help rotate." },
	{ "container", "start",
	  "harombe container start NAME [--engine docker|podman] [--secret ENV=KEY ...] [--name CNAME]\n"
	  "    [--no-env] [--dry-run] [-- [ENGINE-OPTIONS] IMAGE [ARGS]]",
	  "run the container with docker or podman, its view mounted at /run/secrets",
	  { (const struct cli_opt[]){
		    { "--engine docker|podman", "the engine (docker)" },
		    { "--secret ENV=KEY", "ENV from the store, its value only in the engine's environment; may repeat" },
		    { "--name CNAME", "the engine's container name" },
		    { "--no-env", "no variables: files under /run/secrets only" },
		    { "--dry-run", "print the command line" },
		    END } },
	  "The engine gets the view MOUNTPOINT/NAME bind-mounted read-only at /run/secrets,\n"
	  "its docker.env as env-file, the user of the view, a read-only root, no\n"
	  "capabilities, no-new-privileges and a noexec /tmp.  The image is the\n"
	  "container's, unless IMAGE follows '--'.  When the view belongs to another user\n"
	  "than the caller, its variables are passed as --secret ones are.  The engine's\n"
	  "exit status is passed through." },

	/* ---- run, rotate ---- */
	{ "run", NULL, "harombe run [--container NAME] [--secret ENV=KEY ...] -- COMMAND [ARGS...]",
	  "run COMMAND with secrets in its environment only",
	  { (const struct cli_opt[]){ { "--container NAME", "the secrets of this container (its NAME: key mapping)" },
				      { "--secret ENV=KEY", "ENV from the store; may repeat" },
				      END } },
	  "The secrets are fetched when COMMAND starts and written nowhere.  The\n"
	  "credentials harombe itself reads (HAROMBE_SECRET_*, VAULT_TOKEN, SOPS_AGE_KEY)\n"
	  "are not passed on.  Signals are forwarded; the exit status is COMMAND's (128+N\n"
	  "for signal N; 126/127 when it cannot be run).  Before COMMAND starts, harombe\n"
	  "exits 2 for a usage or config error and 1 or 3 when a secret cannot be fetched." },
	{ "rotate", NULL, "harombe rotate --check [--dry-run] [--all] [--no-hooks] [--generator G] [--length N] [--no-prefix]",
	  "rotate what security.rotation.policies says is due",
	  { (const struct cli_opt[]){ { "--check", "rotate the secrets whose schedule has passed" },
				      { "--dry-run", "only report" },
				      { "--all", "rotate every policy secret now" },
				      END },
	    rotate_opts },
	  "Due means: since the secret last changed, by the store's own clock where it\n"
	  "keeps one (Vault KV 2), else by security.rotation.state_file.  A new value\n"
	  "comes from libsodium's CSPRNG; each affected container's on_rotate command\n"
	  "runs afterwards and its exit status is audited.  Exit status: 0 done, 1 a key\n"
	  "not found or a hook failed, 2 usage or config error, 3 store unavailable.\n"
	  "Also: harombe vault rotate KEY, harombe container rotate-secrets NAME." },

	/* ---- audit ---- */
	{ "audit", "query", "harombe audit query [filters] [--format table|json]",
	  "print the matching events of the audit log, oldest first", { audit_filters },
	  "--format json prints the records themselves, one JSON object per line.  E:\n"
	  "secret_read, secret_write, secret_delete, secret_rotation, vault_authentication,\n"
	  "injection_start, injection_complete, access_denied, leak_detected.\n"
	  "Exit status: 0 something matched, 1 nothing did, 2 usage error or unreadable log." },
	{ "audit", "report", "harombe audit report --since T --group-by container|secret|event [filters] [--format table|json]",
	  "count the matching events per container, secret or event",
	  { (const struct cli_opt[]){ { "--group-by container|secret|event", "what to count by" }, END },
	    audit_filters },
	  "Exit status: 0 something matched, 1 nothing did, 2 usage error or unreadable log." },

	/* ---- sops ---- */
	{ "sops", "decrypt", "harombe sops decrypt [--extract PATH] [--input-type T] [--output-type T] [--output FILE] FILE",
	  "print the decrypted document (or one value) from locked memory; also sops -d",
	  { (const struct cli_opt[]){ { "--extract PATH", "one value: sops' path syntax, '[\"key\"][\"sub\"][0]'" },
				      { "--output-type T", "the output's format (default: the input's)" },
				      { "--output FILE", "write to FILE (0600) instead of stdout" },
				      END },
	    sops_types },
	  "T is json, yaml, dotenv, ini or binary.  Identities come from SOPS_AGE_KEY,\n"
	  "SOPS_AGE_KEY_FILE and ~/.config/sops/age/keys.txt." },
	{ "sops", "encrypt",
	  "harombe sops encrypt [--age R,...] [--config .sops.yaml] [--input-type T] [--output-type T]\n"
	  "    [--encrypted-regex RE | --unencrypted-regex RE | --encrypted-suffix S |\n"
	  "     --unencrypted-suffix S | --encrypted-comment-regex RE | --unencrypted-comment-regex RE]\n"
	  "    [--mac-only-encrypted] [-i | --in-place | --output FILE] FILE",
	  "encrypt a plain file for age recipients; also sops -e",
	  { (const struct cli_opt[]){
		    { "-a R[,R...], --age R[,R...]", "age recipients; may repeat" },
		    { "--config FILE", "this .sops.yaml (default: found from the file's directory up)" },
		    { "--output-type T", "the output's format (default: the input's)" },
		    { "--encrypted-regex RE", "encrypt only the keys matching RE" },
		    { "--unencrypted-regex RE", "leave the keys matching RE in clear" },
		    { "--encrypted-suffix S", "encrypt only the keys ending in S" },
		    { "--unencrypted-suffix S", "leave the keys ending in S in clear" },
		    { "--encrypted-comment-regex RE", "encrypt only values after a comment matching RE" },
		    { "--unencrypted-comment-regex RE", "leave values after a comment matching RE in clear" },
		    { "--mac-only-encrypted", "the MAC covers the encrypted values only" },
		    { "-i, --in-place", "replace FILE" },
		    { "--output FILE", "write to FILE instead of stdout" },
		    END },
	    sops_types },
	  "Recipients come from --age, else the first creation rule of .sops.yaml that\n"
	  "matches the file, else $SOPS_AGE_RECIPIENTS.  One rule option at most." },
	{ "sops", "edit", "harombe sops edit [--allow-editor-files] FILE",
	  "edit the decrypted text in $SOPS_EDITOR or $EDITOR (vi), in memory",
	  { (const struct cli_opt[]){ { "--allow-editor-files", "allow editors that write backup or auto-save files" },
				      END },
	    sops_types },
	  "The file is opened as /proc/self/fd/N, a file in memory, and re-encrypted only\n"
	  "when the text changed and parses; on any failure FILE is kept as it was." },
	{ "sops", "updatekeys", "harombe sops updatekeys [-y | --yes] [--config .sops.yaml] FILE",
	  "wrap the data key for the recipients of the file's .sops.yaml rule",
	  { (const struct cli_opt[]){ { "-y, --yes", "accepted for sops' sake: harombe never asks" },
				      { "--config FILE", "this .sops.yaml" },
				      END },
	    sops_types },
	  "FILE is rewritten in place." },
	{ "sops", "rotate", "harombe sops rotate [-i] FILE",
	  "a new data key for the same recipients; every value re-encrypted",
	  { (const struct cli_opt[]){ { "-i, --in-place", "accepted for sops' sake: FILE is rewritten in place" },
				      END },
	    sops_types },
	  NULL },

	/* ---- config ---- */
	{ "config", "check", "harombe [-c FILE] config check [--format json]",
	  "load harombe.yaml as harombefs would and list its views (names and keys only)", { NULL },
	  "Checks the file (ownership, mode, YAML, every setting), the provider, the\n"
	  "views and their templates, and the rotation settings; the first error is\n"
	  "reported with its file:line:column (exit 2).  --format json prints one object:\n"
	  "config, valid, checked (the steps run), errors [{file, line, column, message}],\n"
	  "and when valid the provider and the views." },
};

static const struct {
	const char *group, *summary;
} group_notes[] = {
	{ "vault", "With no config and VAULT_ADDR (or VAULT_AGENT_ADDR) set, the group uses Vault\n"
		   "(mount 'secret', or -mount).  KEY is path or path#field; with KV 2 also path@VERSION." },
	{ "secrets", secrets_exit },
	{ "sops", "One SOPS file at a time, as sops(1) handles it, with no harombe.yaml.\n"
		  "(also: harombe sops -d FILE, harombe sops -e FILE)" },
};

/* Each --name in spec, in order: calls fn(name, len, takes_value, arg). */
static int each_long(const char *spec, int (*fn)(const char *name, size_t len, int val, void *arg), void *arg)
{
	const char *p = spec;
	int r;

	while ((p = strstr(p, "--"))) {
		size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		const char *after = p + 2 + n;
		int val = (*after == ' ' && after[1] && after[1] != '-') || *after == '=';

		if (n && (r = fn(p + 2, n, val, arg)))
			return r;
		p = after;
	}
	return 0;
}

static const struct cli_cmd_help *find(const char *group, const char *cmd)
{
	static const struct {
		const char *group, *alias, *cmd;
	} aliases[] = { { "sops", "-d", "decrypt" }, { "sops", "-e", "encrypt" }, { "sops", "-r", "rotate" } };
	size_t i;

	for (i = 0; cmd && i < ARRAY_SIZE(aliases); i++)
		if (!strcmp(aliases[i].group, group) && !strcmp(aliases[i].alias, cmd))
			cmd = aliases[i].cmd;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(cmds[i].group, group))
			continue;
		if (!cmds[i].cmd || (cmd && !strcmp(cmds[i].cmd, cmd)))
			return &cmds[i];
	}
	return NULL;
}

int cli_help_has(const char *group, const char *cmd)
{
	return find(group, cmd) != NULL;
}

void cli_help_commands(const char *group, const char **names, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(cmds) && n + 1 < max; i++)
		if (!strcmp(cmds[i].group, group) && cmds[i].cmd)
			names[n++] = cmds[i].cmd;
	names[n] = NULL;
}

static void print_usage(FILE *f, const char *usage, int *first)
{
	const char *p = usage;

	while (*p) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "%s%.*s\n", *first ? "usage: " : "       ", (int)n, p);
		*first = 0;
		p += n + (p[n] == '\n');
	}
}

static void print_opts(FILE *f, const struct cli_opt *o)
{
	for (; o && o->spec; o++) {
		if (strlen(o->spec) <= 28)
			fprintf(f, "  %-28s %s\n", o->spec, o->text);
		else
			fprintf(f, "  %s\n  %-28s %s\n", o->spec, "", o->text);
	}
}

int cli_help(FILE *f, const char *group, const char *cmd)
{
	const struct cli_cmd_help *h;
	size_t i, k;
	int first = 1;

	if (cmd && (h = find(group, cmd)) && h->cmd) {
		print_usage(f, h->usage, &first);
		fprintf(f, "\n%s.\n", h->summary);
		if (h->opts[0]) {
			fprintf(f, "\noptions:\n");
			for (k = 0; k < ARRAY_SIZE(h->opts); k++)
				print_opts(f, h->opts[k]);
		}
		if (h->more)
			fprintf(f, "\n%s\n", h->more);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds) && strcmp(cmds[i].group, group); i++)
		;
	if (i == ARRAY_SIZE(cmds))
		return -1;
	h = &cmds[i];
	if (!h->cmd) {	/* run, rotate: the group is the command */
		print_usage(f, h->usage, &first);
		fprintf(f, "\n%s.\n\noptions:\n", h->summary);
		for (k = 0; k < ARRAY_SIZE(h->opts); k++)
			print_opts(f, h->opts[k]);
		if (h->more)
			fprintf(f, "\n%s\n", h->more);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].group, group))
			print_usage(f, cmds[i].usage, &first);
	fputc('\n', f);
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].group, group))
			fprintf(f, "  %-15s %s\n", cmds[i].cmd, cmds[i].summary);
	for (i = 0; i < ARRAY_SIZE(group_notes); i++)
		if (!strcmp(group_notes[i].group, group))
			fprintf(f, "\n%s\n", group_notes[i].summary);
	fprintf(f, "\n`harombe help %s COMMAND` (or `harombe %s COMMAND --help`) shows a command's options.\n",
		group, group);
	return 0;
}

/* ---- the options a command takes ---- */

struct lookup {
	const char *word;	/* the name looked for, without "--" */
	size_t len;
	int found, val;
	const char *names[96];	/* every long name of the command, for "did you mean" */
	char store[96][40];
	size_t n;
};

static int match(const char *name, size_t len, int val, void *arg)
{
	struct lookup *l = arg;

	if (len == l->len && !strncmp(name, l->word, len)) {
		l->found = 1;
		l->val = val;
	}
	if (l->n < ARRAY_SIZE(l->names) - 1 && len < sizeof(l->store[0])) {
		memcpy(l->store[l->n], name, len);
		l->store[l->n][len] = 0;
		l->names[l->n] = l->store[l->n];
		l->n++;
		l->names[l->n] = NULL;
	}
	return 0;
}

static void lookup_in(const struct cli_cmd_help *h, struct lookup *l)
{
	size_t k;
	const struct cli_opt *o;

	for (k = 0; k < ARRAY_SIZE(h->opts); k++)
		for (o = h->opts[k]; o && o->spec; o++)
			each_long(o->spec, match, l);
}

int cli_help_check_options(const char *group, const char *cmd, int argc, char **argv)
{
	const struct cli_cmd_help *h = find(group, cmd);
	char where[64];
	int i;

	if (!h)
		return 0;	/* the group's own parser says what is unknown */
	snprintf(where, sizeof(where), "%s%s%s", group, h->cmd ? " " : "", h->cmd ? h->cmd : "");
	for (i = 0; i < argc; i++) {
		struct lookup l = { .word = argv[i] + 2 };
		char others[160] = "";
		size_t k;

		if (!strcmp(argv[i], "--"))
			break;
		if (strncmp(argv[i], "--", 2) || !argv[i][2])
			continue;
		l.len = strcspn(l.word, "=");
		if (l.len == 4 && !strncmp(l.word, "help", 4))
			continue;
		lookup_in(h, &l);
		if (l.found) {
			if (l.val && !l.word[l.len])
				i++;	/* its value, whatever it looks like */
			continue;
		}
		/* an option of a sibling command */
		for (k = 0; k < ARRAY_SIZE(cmds); k++) {
			struct lookup s = { .word = l.word, .len = l.len };

			if (&cmds[k] == h || strcmp(cmds[k].group, group) || !cmds[k].cmd)
				continue;
			lookup_in(&cmds[k], &s);
			if (s.found && strlen(others) + strlen(cmds[k].cmd) + 2 < sizeof(others))
				snprintf(others + strlen(others), sizeof(others) - strlen(others), " %s", cmds[k].cmd);
		}
		if (others[0]) {
			cli_error("%s: --%.*s is for %s%s only", where, (int)l.len, l.word, group, others);
		} else {
			char w[64];
			const char *near;

			snprintf(w, sizeof(w), "%.*s", (int)(l.len < 60 ? l.len : 60), l.word);
			near = cli_closest(w, l.names);
			if (near)
				cli_error("%s: unknown option '%s'; did you mean '--%s'? (see harombe help %s)", where,
					  argv[i], near, where);
			else
				cli_error("%s: unknown option '%s' (see harombe help %s)", where, argv[i], where);
		}
		return EXIT_USAGE;
	}
	return 0;
}

static int print_name(const char *name, size_t len, int val, void *arg)
{
	(void)val;
	(void)arg;
	printf("%.*s\n", (int)len, name);
	return 0;
}

int cli_help_list(const char *group, const char *cmd)
{
	size_t i, k;
	const struct cli_opt *o;

	if (!group) {	/* every command, "GROUP [CMD]" a line */
		for (i = 0; i < ARRAY_SIZE(cmds); i++)
			printf("%s%s%s\n", cmds[i].group, cmds[i].cmd ? " " : "", cmds[i].cmd ? cmds[i].cmd : "");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(cmds[i].group, group) || (cmd ? !cmds[i].cmd || strcmp(cmds[i].cmd, cmd) : !!cmds[i].cmd))
			continue;
		for (k = 0; k < ARRAY_SIZE(cmds[i].opts); k++)
			for (o = cmds[i].opts[k]; o && o->spec; o++)
				each_long(o->spec, print_name, NULL);
		return 0;
	}
	return -1;
}
