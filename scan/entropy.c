#include "lib/compat.h"
#include "scan/scan-internal.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "scan/bigrams.h"

/*
 * High-entropy strings.  A fixed threshold in bits per character does not
 * work: the entropy of a string can never exceed log2 of its length, so a
 * random 20-character key scores lower than a 60-character English
 * identifier, and at 3.5 bits almost every hex hash, UUID and base64 blob
 * passes.  Instead each candidate is compared with the entropy a random
 * string of the same length over the same alphabet would have (hex: 16
 * symbols, one-case alphanumerics: 36, base62/base64: 62/64), and judged
 * with its context: the key or words in front of it on the same line.
 * Hex strings and one-case tokens are hashes, ids and names far more often
 * than secrets, so they count only when the context says secret.
 */

/* [A-Za-z0-9+/_-]: 1.  '=' (base64 padding, only at the end): 2. */
const unsigned char scan_tokchar[256] = {
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['+'] = 1, ['/'] = 1, ['_'] = 1, ['-'] = 1, ['='] = 2,
};

/* Mean of the table over the letter pairs inside words (a letter followed
 * by a lower-case letter), in bits; *pairs gets their number.  Names made
 * of words score above -1; random letters near -2.8. */
static double wordiness(const unsigned char *p, size_t n, size_t *pairs)
{
	long sum = 0;
	size_t i, k = 0;

	for (i = 1; i < n; i++) {
		if (islower(p[i]) && isalpha(p[i - 1])) {
			sum += bigram[tolower(p[i - 1]) - 'a'][p[i] - 'a'];
			k++;
		}
	}
	*pairs = k;
	return k ? (double)sum / 16.0 / (double)k : 0;
}

/* 1 when every word of p (split at non-letters and case changes, as
 * getHTTPResponse -> get, HTTP, Response) with three letters or more
 * scores like code or prose under the table: user_password, open_sesame,
 * getPassword; not dbpjgliioqllsrvq or kehskooivpzouqCw.  Words score
 * above -1 bit per pair, random letters near -2.8. */
int entropy_reads_as_words(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e, k;
		long sum = 0;

		while (i < n && !isalpha(p[i]))
			i++;
		s = i;
		if (i < n && isupper(p[i])) {
			while (i < n && isupper(p[i]))
				i++;
			/* XMLParser: the last capital starts the next word */
			if (i < n && islower(p[i]) && i - s > 1)
				i--;
			else
				while (i < n && islower(p[i]))
					i++;
		} else {
			while (i < n && islower(p[i]))
				i++;
		}
		e = i;
		if (e - s < 3)
			continue;
		for (k = s + 1; k < e; k++)
			sum += bigram[tolower(p[k - 1]) - 'a'][tolower(p[k]) - 'a'];
		/* -1.3 bits per pair, in 1/16 bits */
		if (sum * 10 < -13 * 16 * (long)(e - s - 1))
			return 0;
	}
	return 1;
}

/* How the token's texture compares with randomness: the share of adjacent
 * letter pairs that change case, and the mean length of runs of one class
 * (upper, lower, digit, other). */
static void texture(const unsigned char *p, size_t n, double *flip, double *runlen)
{
	size_t i, pairs = 0, flips = 0, runs = 1;

	for (i = 1; i < n; i++) {
		int a = isupper(p[i - 1]) ? 1 : islower(p[i - 1]) ? 2 : isdigit(p[i - 1]) ? 3 : 4;
		int b = isupper(p[i]) ? 1 : islower(p[i]) ? 2 : isdigit(p[i]) ? 3 : 4;

		if (a <= 2 && b <= 2) {
			pairs++;
			flips += a != b;
		}
		runs += a != b;
	}
	*flip = pairs >= 6 ? (double)flips / (double)pairs : 0.5;
	*runlen = (double)n / (double)runs;
}

/* Everything the judge needs to know about a token, in one pass. */
enum { C_UP = 1, C_LO = 2, C_DIG = 4, C_SYM = 8, C_HEX = 16, C_VOWEL = 32 };
static unsigned char cclass[256];
static unsigned char sym_index[256];	/* token char -> 0..65 */
static unsigned char lower[256];
static unsigned char keyish[256];	/* may stand between a key word and its value */

#define NK 5
static const unsigned int alphabets[NK] = { 16, 36, 38, 62, 64 };
/* expected[i][n]: E[H] for n symbols of alphabets[i], computed on first use
 * (all 1,280 of them cost ~1 ms, a third of a short filter's start-up);
 * 0 until then.  Threads that race compute the same value. */
static double expected[NK][SCAN_ENTROPY_MAX + 1];
static double clogc[SCAN_ENTROPY_MAX + 1];	/* c * log2(c) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* E[H] of n symbols drawn uniformly from k: with X ~ Binomial(n, 1/k) the
 * count of one symbol, E[H] = -k * sum_x P(X=x) (x/n) log2(x/n).  P(X=x)
 * follows from P(X=x-1); terms past the mode that no longer matter stop
 * the sum. */
static double expected_exact(size_t n, unsigned int k)
{
	double p = 1.0 / k, q = 1 - p, px = pow(q, (double)n), sum = 0, ln = log2((double)n);
	size_t x;

	for (x = 1; x <= n; x++) {
		double f = (double)x / (double)n;

		px *= (double)(n - x + 1) / (double)x * p / q;
		sum += px * f * (log2((double)x) - ln);
		if (px < 1e-12 && (double)x > (double)n * p)
			break;
	}
	return -(double)k * sum;
}

static void index_words(void);

static void init_tables(void)
{
	size_t n, i, k = 0;

	for (i = 0; i < 256; i++) {
		unsigned char c = (unsigned char)i;

		cclass[i] = (unsigned char)((isupper(c) ? C_UP : 0) | (islower(c) ? C_LO : 0) |
					    (isdigit(c) ? C_DIG : 0) | (scan_tokchar[i] == 1 && !isalnum(c) ? C_SYM : 0) |
					    (isxdigit(c) ? C_HEX : 0) | (strchr("aeiouAEIOU", c) && c ? C_VOWEL : 0));
		if (scan_tokchar[i] == 1)
			sym_index[i] = (unsigned char)k++;
		lower[i] = (unsigned char)tolower(c);
		keyish[i] = (unsigned char)(isalnum(c) || (c && strchr("_.- \t\"':=>", c)));
	}

	index_words();
	for (n = 1; n <= SCAN_ENTROPY_MAX; n++)
		clogc[n] = (double)n * log2((double)n);
}

static double expected_at(size_t i, size_t n)
{
	double v;

	__atomic_load(&expected[i][n], &v, __ATOMIC_RELAXED);
	if (v == 0) {
		v = expected_exact(n, alphabets[i]);
		__atomic_store(&expected[i][n], &v, __ATOMIC_RELAXED);
	}
	return v;
}

double entropy_expected(size_t n, unsigned int k)
{
	size_t i;

	pthread_once(&once, init_tables);
	for (i = 0; i < NK; i++)
		if (alphabets[i] == k && n >= 1 && n <= SCAN_ENTROPY_MAX)
			return expected_at(i, n);
	return n ? expected_exact(n, k) : 0;
}

double entropy_shannon(const unsigned char *p, size_t n)
{
	unsigned short count[256] = { 0 };
	double sum = 0;
	size_t i;

	if (!n)
		return 0;
	pthread_once(&once, init_tables);
	for (i = 0; i < n; i++)
		count[p[i]]++;
	for (i = 0; i < 256; i++) {
		if (!count[i])
			continue;
		sum += count[i] <= SCAN_ENTROPY_MAX ? clogc[count[i]] : count[i] * log2(count[i]);
	}
	return log2((double)n) - sum / (double)n;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* One bit per byte of p[0, 64): a token character or not. */
static inline uint64_t token_mask64(const unsigned char *p)
{
	const __m128i lo_a = _mm_set1_epi8('a' - 1), hi_z = _mm_set1_epi8('z' + 1);
	const __m128i lo_A = _mm_set1_epi8('A' - 1), hi_Z = _mm_set1_epi8('Z' + 1);
	const __m128i lo_p = _mm_set1_epi8('+' - 1), hi_9 = _mm_set1_epi8('9' + 1);
	const __m128i comma = _mm_set1_epi8(','), dot = _mm_set1_epi8('.'), us = _mm_set1_epi8('_');
	uint64_t m = 0;
	int i;

	for (i = 0; i < 4; i++) {
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
		__m128i t = _mm_and_si128(_mm_cmpgt_epi8(c, lo_a), _mm_cmplt_epi8(c, hi_z));

		t = _mm_or_si128(t, _mm_and_si128(_mm_cmpgt_epi8(c, lo_A), _mm_cmplt_epi8(c, hi_Z)));
		/* '+' .. '9' without ',' and '.': + - / 0-9 */
		t = _mm_or_si128(t, _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(c, comma), _mm_cmpeq_epi8(c, dot)),
						     _mm_and_si128(_mm_cmpgt_epi8(c, lo_p), _mm_cmplt_epi8(c, hi_9))));
		t = _mm_or_si128(t, _mm_cmpeq_epi8(c, us));
		m |= (uint64_t)(unsigned int)_mm_movemask_epi8(t) << (16 * i);
	}
	return m;
}
#endif

/* One bit per byte of p[0, n) (n <= 64): a token character or not. */
static inline uint64_t block_mask(const unsigned char *p, size_t n)
{
	uint64_t m = 0;
	size_t i;

#ifdef __SSE2__
	if (n == 64)
		return token_mask64(p);
#endif
	for (i = 0; i < n; i++)
		m |= (uint64_t)(scan_tokchar[p[i]] == 1) << i;
	return m;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* The same mask with AVX2, by nibbles: a byte is a token character when
 * the bits its low nibble selects and those its high nibble selects meet.
 *   bit 0: 0x2B 0x2D 0x2F (+ - /)   bit 1: 0x30-0x39 (digits)
 *   bit 2: 0x41-0x4F, 0x61-0x6F     bit 3: 0x50-0x5A, 0x70-0x7A
 *   bit 4: 0x5F (_)
 * Bytes from 0x80 have high nibbles 8-15, which select nothing.  Most of
 * the bench corpus is inside token runs, where this mask is the whole cost
 * of the pass: ~5 instructions per 32 bytes instead of ~14 per 16. */
__attribute__((target("avx2"))) static inline uint64_t token_mask64_avx2(const unsigned char *p)
{
	const __m256i lo_t = _mm256_setr_epi8(10, 14, 14, 14, 14, 14, 14, 14, 14, 14, 12, 5, 4, 5, 4, 21, 10, 14, 14, 14,
					      14, 14, 14, 14, 14, 14, 12, 5, 4, 5, 4, 21);
	const __m256i hi_t = _mm256_setr_epi8(0, 0, 1, 2, 4, 24, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 24, 4, 8, 0,
					      0, 0, 0, 0, 0, 0, 0);
	const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
	uint64_t m = 0;
	int i;

	for (i = 0; i < 2; i++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * i));
		__m256i lo = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(v, nib));
		__m256i hi = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
		__m256i none = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), zero);

		m |= (uint64_t)(uint32_t)~_mm256_movemask_epi8(none) << (32 * i);
	}
	return m;
}
#endif

/* The pass itself, for either mask (avx2 is a constant where it is inlined). */
/* A token run buf[start, end) to judge, with the base64 padding after it. */
static inline __attribute__((always_inline)) int emit_run(const unsigned char *buf, size_t to, size_t start,
							  size_t end, entropy_run_fn *fn, void *arg)
{
	size_t e;

	for (e = end; e < to && e - end < 2 && buf[e] == '='; e++)
		;
	return fn(arg, start, e);
}

static inline __attribute__((always_inline)) int runs(const unsigned char *buf, size_t from, size_t to,
						      size_t minlen, entropy_run_fn *fn, void *arg, int avx2)
{
	size_t base, start = (size_t)-1;
	/* a run that began before 'from' was judged when it was emitted */
	int skip_first = from > 0 && from < to && scan_tokchar[buf[from - 1]] == 1 &&
			 scan_tokchar[buf[from]] == 1;
	int r;

	for (base = from; base < to; base += 64) {
		size_t n = to - base < 64 ? to - base : 64, pos = 0;
		uint64_t m, full = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;

#ifdef HAVE_AVX2_PATH
		if (avx2 && n == 64)
			m = token_mask64_avx2(buf + base);
		else
#endif
			m = block_mask(buf + base, n);

		if (minlen <= 64 && n == 64 && !skip_first) {
			/* Only runs of minlen or more are judged: a mask of where
			 * one begins inside the block finds them, and the short
			 * runs between (most of a text's words) are stepped over
			 * unseen.  First the run carried in from the last block. */
			uint64_t lm = m, run;
			size_t k, q, b;

			if (start != (size_t)-1) {
				if (m == full)
					continue;	/* the run goes on */
				pos = (size_t)__builtin_ctzll(~m);
				if (base + pos - start >= minlen && (r = emit_run(buf, to, start, base + pos, fn, arg)))
					return r;
				start = (size_t)-1;
				lm = m & (~(uint64_t)0 << pos);
			}
			run = lm;
			for (k = 1; k < minlen; k <<= 1)
				run &= run >> (k < minlen - k ? k : minlen - k);
			while (run) {
				uint64_t below, rest;

				q = (size_t)__builtin_ctzll(run);
				below = ~lm & (((uint64_t)1 << q) - 1);
				b = below ? 64 - (size_t)__builtin_clzll(below) : 0;
				rest = ~lm >> q;
				if (!rest) {
					start = base + b;	/* it runs off the block's end */
					break;
				}
				pos = q + (size_t)__builtin_ctzll(rest);
				if ((r = emit_run(buf, to, base + b, base + pos, fn, arg)))
					return r;
				run &= ~(uint64_t)0 << pos;	/* pos < 64: rest had a bit */
			}
			/* a run shorter than minlen in the block may go on in the next */
			if (start == (size_t)-1 && (lm >> 63))
				start = base + 64 - (size_t)__builtin_clzll(~lm);
			continue;
		}
		if (start != (size_t)-1 && m == full)
			continue;	/* the run goes on */
		while (pos < n) {
			if (start == (size_t)-1) {
				uint64_t rest = m >> pos;

				if (!rest)
					break;
				pos += (size_t)__builtin_ctzll(rest);
				start = base + pos;
			}
			{
				uint64_t rest = (~m & full) >> pos;

				if (!rest)
					break;	/* the run reaches the end of the block */
				pos += (size_t)__builtin_ctzll(rest);
			}
			if (skip_first) {
				skip_first = 0;
			} else if (base + pos - start >= minlen && (r = emit_run(buf, to, start, base + pos, fn, arg))) {
				return r;
			}
			start = (size_t)-1;
		}
	}
	if (start != (size_t)-1 && !skip_first && to - start >= minlen)
		return fn(arg, start, to);
	return 0;
}

#ifdef HAVE_AVX2_PATH
__attribute__((target("avx2"))) static int runs_avx2(const unsigned char *buf, size_t from, size_t to,
						     size_t minlen, entropy_run_fn *fn, void *arg)
{
	return runs(buf, from, to, minlen, fn, arg, 1);
}
#endif

int entropy_runs(const unsigned char *buf, size_t from, size_t to, size_t minlen, entropy_run_fn *fn,
		 void *arg)
{
#ifdef HAVE_AVX2_PATH
	static int avx2 = -1;	/* every thread finds the same answer */
	int have = __atomic_load_n(&avx2, __ATOMIC_RELAXED);

	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx2") ? 1 : 0;
		__atomic_store_n(&avx2, have, __ATOMIC_RELAXED);
	}
	if (have)
		return runs_avx2(buf, from, to, minlen, fn, arg);
#endif
	return runs(buf, from, to, minlen, fn, arg, 0);
}

/* Context words, by kind. */
enum { W_STRONG, W_WEAK, W_ID, W_KINDS };

struct cword {
	const char *w;		/* lower case */
	unsigned char len, stem, kind;	/* stem: may run on into a longer word: passw(ord) */
};

#define CW(w, stem, kind) { w, sizeof(w) - 1, stem, kind }
static const struct cword cwords[] = {
	/* "what follows is a secret"; the weak ones only in an assignment */
	CW("token", 1, W_STRONG), CW("secret", 1, W_STRONG), CW("passw", 1, W_STRONG),
	CW("pwd", 0, W_STRONG), CW("credential", 1, W_STRONG), CW("apikey", 0, W_STRONG),
	CW("private", 0, W_STRONG), CW("bearer", 0, W_STRONG), CW("auth", 0, W_STRONG),
	CW("authorization", 0, W_STRONG), CW("pass", 0, W_STRONG), CW("accesskey", 0, W_STRONG),
	CW("key", 0, W_WEAK), CW("api", 0, W_WEAK), CW("session", 0, W_WEAK), CW("cookie", 0, W_WEAK),
	/* "what follows is an id, a hash, a public key or a name" */
	CW("sha", 1, W_ID), CW("md5", 0, W_ID), CW("hash", 1, W_ID), CW("digest", 0, W_ID),
	CW("checksum", 0, W_ID), CW("integrity", 0, W_ID), CW("commit", 1, W_ID), CW("revision", 0, W_ID),
	CW("rev", 0, W_ID), CW("etag", 0, W_ID), CW("fingerprint", 0, W_ID), CW("uuid", 0, W_ID),
	CW("guid", 0, W_ID), CW("trace", 0, W_ID), CW("span", 0, W_ID), CW("request", 0, W_ID),
	CW("correlation", 0, W_ID), CW("object", 0, W_ID), CW("blob", 0, W_ID), CW("tree", 0, W_ID),
	CW("parent", 0, W_ID), CW("h1", 0, W_ID), CW("version", 0, W_ID), CW("build", 0, W_ID),
	CW("image", 0, W_ID), CW("container", 0, W_ID), CW("docker", 0, W_ID), CW("node", 0, W_ID),
	CW("id", 0, W_ID), CW("ids", 0, W_ID), CW("nonce", 0, W_ID), CW("salt", 0, W_ID),
	CW("crc", 0, W_ID), CW("sum", 0, W_ID), CW("ssh", 0, W_ID), CW("ecdsa", 0, W_ID),
	CW("public", 0, W_ID), CW("pubkey", 0, W_ID), CW("cert", 1, W_ID), CW("iv", 0, W_ID),
	CW("tag", 0, W_ID), CW("data", 0, W_ID), CW("enc", 0, W_ID), CW("base64", 0, W_ID),
	CW("resolved", 0, W_ID), CW("tarball", 0, W_ID), CW("http", 1, W_ID), CW("ref", 0, W_ID),
	CW("job", 0, W_ID), CW("run", 0, W_ID), CW("file", 0, W_ID), CW("path", 0, W_ID),
	CW("dir", 0, W_ID), CW("url", 0, W_ID), CW("link", 0, W_ID), CW("name", 0, W_ID),
	CW("gpg", 0, W_ID), CW("pgp", 0, W_ID), CW("serial", 0, W_ID), CW("thumbprint", 0, W_ID),
	CW("define", 0, W_ID), CW("struct", 0, W_ID), CW("typedef", 0, W_ID), CW("return", 0, W_ID),
	CW("def", 0, W_ID), CW("func", 0, W_ID), CW("function", 0, W_ID), CW("class", 0, W_ID),
	CW("cipher", 1, W_ID), CW("signature", 1, W_ID), CW("algorithm", 0, W_ID),
	/* Ghc-Package: abstract-deque-0.3-4tZp4N9gBesDuhExz1IhwM (apt's index) */
	CW("package", 0, W_ID), CW("provides", 0, W_ID), CW("depends", 0, W_ID),
};

/* For each kind, the end of the last whole-word occurrence of one of its
 * words in line[0, n) (case-insensitive; camelCase starts and ends a word),
 * or 0.  Secret words count only when followed by nothing but a key,
 * quotes, spaces and separators: "token: X", "the auth token for CI is X",
 * not "set_auth_level(X". */
/* word indexes + 1 by [secret words 0, id words 1][first letter], 0-ended */
static unsigned char by_letter[2][26][16];
/* The first two characters of the pass's words, either case, as bit
 * c0 | c1 << 8 of a 64 Ki-bit set: most places a word could start are
 * refused on one lookup. */
static uint64_t firsts[2][65536 / 64];

static void first_two(int ids, unsigned char a, unsigned char b)
{
	unsigned int i = (unsigned int)a | (unsigned int)b << 8;

	firsts[ids][i / 64] |= (uint64_t)1 << (i % 64);
}

static void index_words(void)
{
	size_t w, k;

	for (w = 0; w < ARRAY_SIZE(cwords); w++) {
		unsigned char *slot = by_letter[cwords[w].kind == W_ID][cwords[w].w[0] - 'a'];
		unsigned char a = (unsigned char)cwords[w].w[0], b = (unsigned char)cwords[w].w[1];
		int ids = cwords[w].kind == W_ID;

		first_two(ids, a, b);
		first_two(ids, (unsigned char)toupper(a), b);
		first_two(ids, a, (unsigned char)toupper(b));
		first_two(ids, (unsigned char)toupper(a), (unsigned char)toupper(b));

		for (k = 0; slot[k]; k++)
			;
		slot[k] = (unsigned char)(w + 1);	/* 15 per letter at most */
	}
}

/* ids: 0 to find the secret words (W_STRONG, W_WEAK) only, 1 the id words
 * (W_ID) only: most tokens have no secret word in front of them, and then
 * the id words matter only if the token would otherwise be kept. */
#define CW_SECRET_MAX 13	/* the longest W_STRONG or W_WEAK word: authorization */
static void find_words(const unsigned char *line, size_t n, size_t at[W_KINDS], int ids)
{
	size_t j = 0, k, m, tail = n;	/* line[tail, n) is key-like */
	const unsigned char *w;

	if (ids) {
		at[W_ID] = 0;
	} else {
		while (tail > 0 && keyish[line[tail - 1]])
			tail--;
		at[W_STRONG] = at[W_WEAK] = 0;
		/* a secret word counts only when it ends in the key-like tail */
		j = tail > CW_SECRET_MAX ? tail - CW_SECRET_MAX : 0;
	}
	for (; j + 1 < n; j++) {	/* every word has 2 characters or more */
		unsigned int cj, two = (unsigned int)line[j] | (unsigned int)line[j + 1] << 8;
		unsigned char l1;

		if (!((firsts[ids][two / 64] >> (two % 64)) & 1))
			continue;
		cj = cclass[line[j]];
		l1 = lower[line[j + 1]];
		/* a word starts here: after a non-letter, or camelCase */
		if (j && (cclass[line[j - 1]] & (C_UP | C_LO)) && !((cclass[line[j - 1]] & C_LO) && (cj & C_UP)))
			continue;
		for (w = by_letter[ids][lower[line[j]] - 'a']; *w; w++) {
			const struct cword *c = &cwords[*w - 1];

			k = j + c->len;
			if (k > n || l1 != (unsigned char)c->w[1])
				continue;
			for (m = 2; m < c->len && lower[line[j + m]] == (unsigned char)c->w[m]; m++)
				;
			if (m < c->len)
				continue;
			if (!c->stem && k < n && (cclass[line[k]] & (C_UP | C_LO)) &&
			    !((cclass[line[k - 1]] & C_LO) && (cclass[line[k]] & C_UP)))
				continue;
			if (c->kind != W_ID && k < tail)
				continue;
			/* /etc/pam.d/passwd <md5sum>: a file's name, not a key */
			if (c->kind != W_ID && j && line[j - 1] == '/')
				continue;
			if (k > at[c->kind])
				at[c->kind] = k;
		}
	}
}

/* A line that is nothing but one long base64 token, with a neighbour of the
 * same kind: the body of a certificate, a MIME part, an armoured blob. */
static int block_line(const unsigned char *buf, size_t len, size_t start, size_t end, size_t line_start)
{
	size_t i, n = end - start, a, b;

	for (i = line_start; i < start; i++)
		if (buf[i] != ' ' && buf[i] != '\t')
			return 0;
	if (end < len && buf[end] != '\n' && buf[end] != '\r')
		return 0;
	/* next line */
	a = end;
	while (a < len && (buf[a] == '\r' || buf[a] == '\n'))
		a++;
	while (a < len && (buf[a] == ' ' || buf[a] == '\t'))
		a++;
	for (b = a; b < len && scan_tokchar[buf[b]]; b++)
		;
	if (n >= 40 && b - a >= 40 && (b == len || buf[b] == '\n' || buf[b] == '\r'))
		return 1;
	if (a + 5 <= len && !memcmp(buf + a, "-----", 5))
		return 1;	/* the last line before -----END */
	if (a + 1 < len && buf[a] == '=' && scan_tokchar[buf[a + 1]])
		return 1;	/* the armour checksum follows */
	/* previous line: a full one, so this is the end of a block */
	if (line_start >= 2) {
		b = line_start - 1;
		while (b > 0 && (buf[b] == '\r' || buf[b] == '\n'))
			b--;
		a = b + 1;
		while (a > 0 && scan_tokchar[buf[a - 1]])
			a--;
		if (b + 1 - a >= 40 && (a == 0 || buf[a - 1] == '\n' || buf[a - 1] == ' ' || buf[a - 1] == '\t'))
			return 1;
	}
	return 0;
}

struct shape {
	int up, lo, dig, sym, hex;
	size_t letters, vowels, seq, slashes, pairs, flips, runs;
	double h;
};

/* Both an upper-case and a lower-case letter. */
static int mixed_case(const unsigned char *p, size_t n)
{
	unsigned int all = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		all |= cclass[p[i]];
		if ((all & (C_UP | C_LO)) == (C_UP | C_LO))
			return 1;
	}
	return 0;
}

static void shape_of(const unsigned char *p, size_t n, struct shape *sh)
{
	unsigned short count[66] = { 0 };
	unsigned int all = 0, hex = C_HEX, lowhex = 1, uphex = 1;
	size_t i;
	double sum = 0;

	memset(sh, 0, sizeof(*sh));
	sh->runs = 1;
	for (i = 0; i < n; i++) {
		unsigned int c = cclass[p[i]];

		all |= c;
		hex &= c;
		if (c & C_UP) {
			sh->letters++;
			lowhex = 0;
		} else if (c & C_LO) {
			sh->letters++;
			uphex = 0;
		}
		sh->vowels += !!(c & C_VOWEL);
		sh->slashes += p[i] == '/';
		count[sym_index[p[i]]]++;
		if (i) {
			unsigned int d = cclass[p[i - 1]] & (C_UP | C_LO | C_DIG | C_SYM),
				     e = c & (C_UP | C_LO | C_DIG | C_SYM);

			if (d == e && (d & (C_UP | C_LO | C_DIG)) && (p[i] == p[i - 1] + 1 || p[i] + 1 == p[i - 1]))
				sh->seq++;
			if ((d == C_UP || d == C_LO) && (e == C_UP || e == C_LO)) {
				sh->pairs++;
				sh->flips += d != e;
			}
			sh->runs += d != e;
		}
	}
	sh->up = !!(all & C_UP);
	sh->lo = !!(all & C_LO);
	sh->dig = !!(all & C_DIG);
	sh->sym = !!(all & C_SYM);
	sh->hex = hex && (lowhex || uphex);
	for (i = 0; i < 66; i++)
		if (count[i])
			sum += clogc[count[i]];
	sh->h = log2((double)n) - sum / (double)n;
}

static double expected_of(size_t n, unsigned int k)
{
	size_t i;

	for (i = 0; i < NK; i++)
		if (alphabets[i] == k)
			return expected_at(i, n);
	return expected_exact(n, k);
}

int entropy_judge(const unsigned char *buf, size_t len, size_t start, size_t end, size_t line_start,
		  const struct scan_options *opt, double *conf)
{
	const unsigned char *p = buf + start, *line;
	size_t n = end - start, i, cl, pairs, at[W_KINDS];
	struct shape sh;
	double flip, runlen;
	int strong, weak, assign, ids_later;
	unsigned int k;
	double r, c;

	while (n && p[n - 1] == '=')
		n--;	/* padding carries no entropy */
	if (n < opt->min_length || n < 12 || n > SCAN_ENTROPY_MAX)
		return -1;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return -1;	/* a hex number */
	/* name-1.2.3-<hash>: a package id (GHC's, Nix's), the run starting
	 * after the version's last dot */
	if (start > 0 && buf[start - 1] == '.') {
		for (i = 0; i < n && isdigit(p[i]); i++)
			;
		if (i && i < n && p[i] == '-')
			return -1;
	}
	pthread_once(&once, init_tables);
	/* The line in front of the token: the key it is assigned to, or the
	 * words that introduce it.  Only words near the token count. */
	cl = start - line_start;
	if (cl > 48)
		cl = 48;
	line = p - cl;
	find_words(line, cl, at, 0);
	if (at[W_STRONG] || at[W_WEAK])
		find_words(line, cl, at, 1);
	else
		at[W_ID] = 0;	/* looked up after the cheap refusals: ids_later */
	/* key = value, key: "value" right in front of the token */
	i = cl;
	while (i > 0 && (line[i - 1] == ' ' || line[i - 1] == '"' || line[i - 1] == '\'' || line[i - 1] == '\t'))
		i--;
	assign = i > 0 && (line[i - 1] == '=' || line[i - 1] == ':');
	/* the nearest word decides: "password: ENC[...,iv:X" is an iv */
	ids_later = !at[W_STRONG] && !at[W_WEAK];
	strong = at[W_STRONG] > at[W_ID];
	weak = !strong && at[W_WEAK] > at[W_ID] && assign;
	if (at[W_ID] && !strong && !weak)
		return -1;
	/* SSH public key blobs and the like start with a length prefix */
	if (n >= 4 && !memcmp(p, "AAAA", 4))
		return -1;
	/* Refusals that need no shape, first: most candidates end here.
	 * Without a mix of cases the alphabet below is 16, 36 or 38, which
	 * takes a secret-sounding key. */
	if (!strong && !weak && (!mixed_case(p, n) || block_line(buf, len, start, end, line_start)))
		return -1;
	/* without a secret word, an id word in front refuses the token: looked
	 * up only now, after the cheap refusals (hex ids and digests end above),
	 * and before the costly shape */
	if (ids_later) {
		find_words(line, cl, at, 1);
		if (at[W_ID])
			return -1;
	}
	shape_of(p, n, &sh);
	/* abc123, ABCDEF: counting, not chance */
	if (sh.seq * 5 > n - 1 || !sh.letters)
		return -1;
	/* pronounceable without digits: words run together */
	if (!sh.dig && sh.letters >= 8 && sh.vowels * 100 > sh.letters * 30)
		return -1;
	if (sh.hex && sh.dig)
		k = 16;
	else if (sh.up && sh.lo)
		k = sh.sym ? 64 : 62;
	else
		k = sh.sym ? 38 : 36;
	r = sh.h / expected_of(n, k);
	if (r < 0.9)
		return -1;	/* not random, whatever the context */
	flip = sh.pairs >= 6 ? (double)sh.flips / (double)sh.pairs : 0.5;
	runlen = (double)n / (double)sh.runs;
	/* identifiers: checkIframeFilter, MAX_RETRY_COUNT, some-name */
	if (scan_is_reference(p, n))
		return -1;
	if (k == 16 || k == 36 || k == 38) {
		/* hashes, ids, names: only with a secret-sounding key */
		if (!(strong || weak) || r < 0.9 || !sh.dig)
			return -1;
		if (k == 38) {
			size_t parts = 1;

			for (i = 0; i < n; i++)
				parts += p[i] == '_' || p[i] == '-';
			if (parts >= 3)
				return -1;	/* crypto_auth_hmacsha512256_state */
		}
		c = 0.75;
	} else {
		if (r < 0.9)
			return -1;
		if (sh.slashes >= 2 && !strong) {
			/* a path with CamelCase parts is not a key */
			size_t seg = 0, short_ok = 1;

			for (i = 0; i <= n; i++) {
				if (i == n || p[i] == '/') {
					if (seg && seg < 3)
						short_ok = 0;
					seg = 0;
				} else {
					seg++;
				}
			}
			if (short_ok)
				return -1;
		}
		if (!sh.dig && !strong && !weak)
			return -1;
		if (strong && wordiness(p, n, &pairs) > 0 && pairs >= 6)
			return -1;	/* TCL_MIN_GROWTH/sizeof: names, even after "token" */
		/* Random base62/64 changes case between letters half the time
		 * and class every char or two; names do it at word starts:
		 * X509_STORE_set_verify_cb, glCompressedTexSubImage1D.  Without
		 * a secret-sounding key, the longest stretch without separators
		 * must itself look random (FiraSans-Medium-e1aa3f0a does not). */
		if (!strong) {
			size_t a = 0, best = 0, bs = 0;

			if (flip < 0.25 || runlen > 2.2)
				return -1;
			if (wordiness(p, n, &pairs) > -1.0 && pairs >= 4)
				return -1;
			for (i = 0; i <= n; i++) {
				if (i == n || !isalnum(p[i])) {
					if (i - a > best) {
						best = i - a;
						bs = a;
					}
					a = i + 1;
				}
			}
			if (best < 16)
				return -1;
			if (best < n) {
				texture(p + bs, best, &flip, &runlen);
				if (flip < 0.3 || runlen > 2.0 ||
				    entropy_shannon(p + bs, best) / entropy_expected(best, 62) < 0.9)
					return -1;
			}
		}
		c = 0.7;
		if (r >= 0.97 && n >= 24)
			c += 0.05;
		if (strong || weak)
			c += 0.1;
	}
	*conf = c;
	return 0;
}
