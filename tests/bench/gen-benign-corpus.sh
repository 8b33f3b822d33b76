#!/bin/bash
# Benign corpus for the scanner: real output of the tools installed on this
# machine (compilers, package managers, git, docker, kubectl, cloud CLIs,
# test runners, certificates, hashes, minified JavaScript), none of it a
# secret.  Every finding on it is a false positive.
#
#   gen-benign-corpus.sh DIR [MIB]
#
# writes DIR/<source>.txt, one file per tool, each capped so that no source
# dominates, until MIB (50) MiB are written in all; DIR/corpus is their
# concatenation.  Deterministic for a given machine state, not across
# machines: it is generated at bench time and never committed.  What each
# source is, and how many bytes it gave, goes to DIR/sources.tsv.
set -u
set -o pipefail
DIR=${1:?usage: gen-benign-corpus.sh DIR [MIB]}
MIB=${2:-50}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$DIR"
rm -f "$DIR"/*.txt "$DIR/corpus" "$DIR/sources.tsv"
# every source gets at most CAP bytes; MIB/CAP sources are enough
CAP=$(( (MIB << 20) / 12 ))
have() { command -v "$1" > /dev/null 2>&1; }

# src NAME CMD...: run CMD (a shell snippet), keep at most CAP bytes
src() {
	local name=$1
	shift
	timeout 120 bash -c "$*" 2>&1 | head -c "$CAP" > "$DIR/$name.txt" || true
	printf '%s\t%s\n' "$name" "$(stat -c %s "$DIR/$name.txt")" >> "$DIR/sources.tsv"
}

# package managers: apt's index (SHA256/MD5 sums, descriptions), dpkg
src apt-dumpavail 'apt-cache dumpavail'
src dpkg 'dpkg -l; dpkg-query -W -f="\${Package} \${Version} \${Architecture} \${Installed-Size}\n"; cat /var/lib/dpkg/status; for f in /var/lib/dpkg/info/*.md5sums; do cat "$f"; done'
# hashes and digests of files, every common algorithm
src hashes 'cd /usr/bin && for f in $(ls | head -600); do sha256sum "$f"; sha1sum "$f"; md5sum "$f"; sha512sum "$f"; b2sum "$f"; done'
# git: history with patches, refs and object ids.  Not this repository's
# history: its tests hold fake secrets on purpose.  A throwaway repository
# gets the C headers of /usr/include/linux in five commits, the later ones
# editing the earlier files, and git shows it every way it can.
src git 'g=$(mktemp -d) && cd "$g" && git init -q && git config user.email dev@example.com && git config user.name Dev &&
	files=$(find /usr/include/linux -name "*.h" | sort | head -1500) && i=0 &&
	for f in $files; do d=part$((i % 5)); mkdir -p $d; cp "$f" $d/; i=$((i + 1)); done &&
	for k in 0 1 2 3 4; do git add part$k; git commit -qm "import part $k of the kernel headers"; done &&
	for k in 1 2 3; do for f in $(ls part$k | head -60); do sed -i "s/struct /struct  /;s/#define/# define/" part$k/$f; done;
		git commit -qam "part $k: whitespace"; git tag v0.$k; done &&
	git log --stat -p --format=fuller; git log --format="%H %T %P %an %s"; git ls-files -s; git show-ref;
	git rev-list --objects --all; git cat-file -p HEAD^{tree}; git reflog; git log --graph --oneline --decorate; cd /; rm -rf "$g"'
# npm: lockfiles (integrity strings), package metadata, npm ls
src npm 'find / -xdev \( -name package-lock.json -o -name yarn.lock -o -name npm-shrinkwrap.json \) -size -20M 2>/dev/null | head -200 | xargs -r cat; npm ls -g --all --long 2>/dev/null; find /usr/lib/node_modules /usr/share/nodejs -name package.json 2>/dev/null | head -3000 | xargs -r cat'
# minified JavaScript
src minjs 'find / -xdev -name "*.min.js" -size -3M 2>/dev/null | head -400 | xargs -r cat'
# compilers: a verbose build of scan/ with every warning the C compiler has,
# preprocessor output and disassembly
src compiler 'cd '"$TOP"' && for f in scan/*.c lib/*.c; do gcc -std=c11 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -fsyntax-only -I. -D_GNU_SOURCE $(pkg-config --cflags libpcre2-8 libhs 2>/dev/null) "$f"; done; gcc -v -E -I. -D_GNU_SOURCE '"$TOP"'/scan/scan.c 2>&1 | head -c 3000000; objdump -d --no-show-raw-insn /usr/bin/git | head -c 4000000'
# docker and kubectl: offline output (help, manifests, client dry-runs)
src kube-docker 'for c in "" run build compose image container network volume buildx system; do docker $c --help; done; kubectl version --client -o yaml; for k in deployment service ingress cronjob configmap; do kubectl explain $k --recursive 2>/dev/null; done; for i in $(seq 1 150); do kubectl create deployment app$i --image=registry.example.com/team/app$i@sha256:$(printf %064x $((i*7919))) --replicas=$((i%5+1)) --port=80$((i%10)) --dry-run=client -o yaml; kubectl create service clusterip svc$i --tcp=80:80$((i%10)) --dry-run=client -o json; kubectl create configmap cfg$i --from-literal=LOG_LEVEL=debug --from-literal=REGION=eu-west-$((i%3+1)) --dry-run=client -o yaml; done 2>&1'
# cloud CLIs: help pages and offline commands
src cloud 'aws help; for s in s3 ec2 iam sts lambda rds ecr kms secretsmanager; do aws $s help; done; gcloud help 2>/dev/null; for s in compute storage iam auth container secrets; do gcloud $s --help 2>/dev/null; done' 
# test runners: Python unittest and the harombe unit tests' verbose output
src tests 'cd /usr/lib/python3.11 && python3 -m unittest -v test.test_json test.test_base64 test.test_hashlib test.test_uuid test.test_urllib test.test_netrc test.test_configparser 2>&1'
# processes (names only: the command lines of a shared machine hold other
# sessions' tokens, which are no benign text), sockets, system state, logs
src system 'ps -eo pid,ppid,user,etime,stat,comm; ip -d addr; ip route; ss -tanpe; df -h; mount; lsblk 2>/dev/null; uname -a; journalctl --no-pager -n 50000 2>/dev/null; ls -laR /usr/share/doc /etc 2>/dev/null; find /usr/lib -maxdepth 3 -printf "%M %u %g %s %TY-%Tm-%Td %p\n"'
# certificates as openssl prints them, and PEM bundles
src certs 'for f in /etc/ssl/certs/*.pem; do openssl x509 -in "$f" -noout -text -fingerprint -sha256; done; cat /etc/ssl/certs/ca-certificates.crt'
# Python: pip, pydoc of the standard library
src python 'pip3 list -v 2>/dev/null; pip3 freeze 2>/dev/null; for m in json base64 hashlib hmac secrets ssl urllib.request http.client configparser netrc subprocess os; do python3 -m pydoc $m; done; cat /usr/lib/python3.11/{configparser,netrc,smtplib,ftplib,imaplib,getpass,secrets,hmac,ssl}.py'

# fill up to MIB with more of the biggest sources when the caps fell short
total=0
for f in "$DIR"/*.txt; do total=$((total + $(stat -c %s "$f"))); done
if [ "$total" -lt $((MIB << 20)) ]; then
	need=$(( (MIB << 20) - total ))
	apt-cache dumpavail | tail -c +$((CAP + 1)) | head -c "$need" > "$DIR/apt-dumpavail-2.txt"
	printf '%s\t%s\n' apt-dumpavail-2 "$(stat -c %s "$DIR/apt-dumpavail-2.txt")" >> "$DIR/sources.tsv"
fi
cat "$DIR"/*.txt > "$DIR/corpus"
echo "benign corpus: $(stat -c %s "$DIR/corpus") bytes from $(wc -l < "$DIR/sources.tsv") sources in $DIR" >&2
