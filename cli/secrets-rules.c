/* harombe secrets rules: list the scanner's rules, as text or JSON. */
#include "lib/compat.h"
#include "cli/cli.h"
#include "cli/secrets-internal.h"

#include <stdio.h>
#include <json-c/json.h>

#include "scan/report.h"
#include "scan/scan.h"

int secrets_rules(struct ctx *x)
{
	size_t i, n = scan_rule_count(x->s);
	struct scan_rule_info ri;
	json_object *arr = x->c->json ? json_object_new_array() : NULL;
	char num[32];

	for (i = 0; i < n; i++) {
		if (scan_rule_get(x->s, i, &ri))
			continue;
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_string(ri.id));
			json_object_object_add(o, "type", json_object_new_string(ri.type));
			json_object_object_add(o, "confidence",
					       json_object_new_double_s(ri.confidence, report_number(ri.confidence, num)));
			json_object_object_add(o, "builtin", json_object_new_boolean(ri.builtin));
			json_object_object_add(o, "description", json_object_new_string(ri.description));
			if (ri.regex)
				json_object_object_add(o, "regex", json_object_new_string(ri.regex));
			json_object_array_add(arr, o);
		} else {
			printf("%-28s %-18s %-4s  %s\n", ri.id, ri.type, report_number(ri.confidence, num),
			       ri.description);
		}
	}
	if (arr) {
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	return 0;
}
