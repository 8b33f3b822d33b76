#include "compat.h"
#include "why.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int why_fail(struct why *why, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return rc;
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void why_set(struct why *why, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
}

void why_prefix(struct why *why, const char *fmt, ...)
{
	char ctx[sizeof(why->msg)], old[sizeof(why->msg)];
	size_t n, o;
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, why->msg, sizeof(old));
	/* Truncation keeps the front: the context, then as much as fits. */
	n = strnlen(ctx, sizeof(why->msg) - 1);
	memcpy(why->msg, ctx, n);
	if (old[0] && n + 2 < sizeof(why->msg)) {
		memcpy(why->msg + n, ": ", 2);
		n += 2;
		o = strnlen(old, sizeof(why->msg) - 1 - n);
		memcpy(why->msg + n, old, o);
		n += o;
	}
	why->msg[n] = '\0';
}
