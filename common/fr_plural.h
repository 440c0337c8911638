/*
 * A catalogue's plural rule ("Plural-Forms: nplurals=2; plural=(n != 1);"),
 * compiled once when the catalogue is read and then evaluated for each
 * count.  The rule is the C subset gettext allows: n, decimal numbers,
 * ! * / % + - < <= > >= == != && || ?: and parentheses.  Pure: the rule
 * is parsed into a bounded tree (no recursion deeper than the tree,
 * division by zero yields 0), so a broken catalogue cannot crash or
 * hang its reader.
 */
#ifndef FR_PLURAL_H
#define FR_PLURAL_H

#include <stddef.h>

#define FR_PLURAL_NODES_MAX 64
#define FR_PLURAL_FORMS_MAX 6

struct fr_plural_node {
	unsigned char op;      /* see fr_plural.c */
	unsigned char a, b, c; /* operand node indexes */
	unsigned long value;   /* a number */
};

struct fr_plural {
	unsigned nplurals;
	unsigned nnodes;
	struct fr_plural_node node[FR_PLURAL_NODES_MAX];
};

/* The English rule: nplurals=2; plural=(n != 1). */
void fr_plural_english(struct fr_plural *out);

/* Parse the rule out of a catalogue header (the whole header text, `len`
 * bytes; the Plural-Forms line is found in it).  FR_OK; FR_ERR_NOT_FOUND
 * when the header has no Plural-Forms line; FR_ERR_INVALID for a line
 * that does not parse, more than FR_PLURAL_FORMS_MAX forms, or a rule
 * larger than FR_PLURAL_NODES_MAX nodes.  `out` is the English rule on
 * every error. */
int fr_plural_parse_header(const char *header, size_t len, struct fr_plural *out);

/* Which form to use for `n`: always below p->nplurals (a rule that picks
 * a form past the last gives the first, as glibc does). */
unsigned fr_plural_form(const struct fr_plural *p, unsigned long n);

#endif
