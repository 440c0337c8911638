#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "fr_error.h"
#include "fr_plural.h"

/* Deepest nesting of parentheses and ?: the parser follows. */
#define DEPTH_MAX 24

enum op {
	OP_N = 1,
	OP_NUM,
	OP_NOT,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_ADD,
	OP_SUB,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_EQ,
	OP_NE,
	OP_AND,
	OP_OR,
	OP_COND,
};

struct parser {
	const char *s, *end;
	unsigned depth;
	bool failed;
	struct fr_plural *out;
};

static void
skip_space(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t'))
		p->s++;
}

/* Consumes `tok` (after blanks) if it is next. */
static bool
accept(struct parser *p, const char *tok)
{
	size_t n = strlen(tok);

	skip_space(p);
	if ((size_t)(p->end - p->s) < n || memcmp(p->s, tok, n) != 0)
		return false;
	/* "<" must not take the first half of "<=", "!" of "!=". */
	if (n == 1 && (tok[0] == '<' || tok[0] == '>' || tok[0] == '!') && p->end - p->s > 1 && p->s[1] == '=')
		return false;
	p->s += n;
	return true;
}

static unsigned
new_node(struct parser *p, enum op op, unsigned a, unsigned b, unsigned c, unsigned long value)
{
	struct fr_plural *out = p->out;

	if (p->failed || out->nnodes >= FR_PLURAL_NODES_MAX) {
		p->failed = true;
		return 0;
	}
	out->node[out->nnodes] = (struct fr_plural_node){ (unsigned char)op, (unsigned char)a, (unsigned char)b,
							  (unsigned char)c, value };
	return out->nnodes++;
}

static unsigned parse_cond(struct parser *p);

static unsigned
parse_primary(struct parser *p)
{
	skip_space(p);
	if (p->failed || p->s >= p->end) {
		p->failed = true;
		return 0;
	}
	if (*p->s == 'n') {
		p->s++;
		return new_node(p, OP_N, 0, 0, 0, 0);
	}
	if (*p->s >= '0' && *p->s <= '9') {
		unsigned long v = 0;
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
			if (v > 100000000UL) {
				p->failed = true;
				return 0;
			}
			v = v * 10 + (unsigned long)(*p->s++ - '0');
		}
		return new_node(p, OP_NUM, 0, 0, 0, v);
	}
	if (accept(p, "(")) {
		unsigned e = parse_cond(p);
		if (!accept(p, ")"))
			p->failed = true;
		return e;
	}
	p->failed = true;
	return 0;
}

static unsigned
parse_unary(struct parser *p)
{
	if (accept(p, "!")) {
		if (++p->depth > DEPTH_MAX) {
			p->failed = true;
			return 0;
		}
		unsigned a = parse_unary(p);
		p->depth--;
		return new_node(p, OP_NOT, a, 0, 0, 0);
	}
	return parse_primary(p);
}

/* One level of left-associative binary operators. */
struct level {
	const char *tok[4];
	enum op op[4];
	unsigned (*next)(struct parser *p);
};

static unsigned
parse_level(struct parser *p, const struct level *lv)
{
	unsigned left = lv->next(p);

	while (!p->failed) {
		size_t i;
		for (i = 0; i < 4 && lv->tok[i] != NULL; i++)
			if (accept(p, lv->tok[i]))
				break;
		if (i == 4 || lv->tok[i] == NULL)
			return left;
		unsigned right = lv->next(p);
		left = new_node(p, lv->op[i], left, right, 0, 0);
	}
	return left;
}

static unsigned
parse_mul(struct parser *p)
{
	static const struct level lv = { { "*", "/", "%", NULL }, { OP_MUL, OP_DIV, OP_MOD, 0 }, parse_unary };
	return parse_level(p, &lv);
}

static unsigned
parse_add(struct parser *p)
{
	static const struct level lv = { { "+", "-", NULL, NULL }, { OP_ADD, OP_SUB, 0, 0 }, parse_mul };
	return parse_level(p, &lv);
}

static unsigned
parse_rel(struct parser *p)
{
	static const struct level lv = { { "<=", ">=", "<", ">" }, { OP_LE, OP_GE, OP_LT, OP_GT }, parse_add };
	return parse_level(p, &lv);
}

static unsigned
parse_eq(struct parser *p)
{
	static const struct level lv = { { "==", "!=", NULL, NULL }, { OP_EQ, OP_NE, 0, 0 }, parse_rel };
	return parse_level(p, &lv);
}

static unsigned
parse_and(struct parser *p)
{
	static const struct level lv = { { "&&", NULL, NULL, NULL }, { OP_AND, 0, 0, 0 }, parse_eq };
	return parse_level(p, &lv);
}

static unsigned
parse_or(struct parser *p)
{
	static const struct level lv = { { "||", NULL, NULL, NULL }, { OP_OR, 0, 0, 0 }, parse_and };
	return parse_level(p, &lv);
}

static unsigned
parse_cond(struct parser *p)
{
	if (++p->depth > DEPTH_MAX) {
		p->failed = true;
		return 0;
	}
	unsigned test = parse_or(p);
	if (accept(p, "?")) {
		unsigned yes = parse_cond(p);
		if (!accept(p, ":"))
			p->failed = true;
		unsigned no = parse_cond(p);
		test = new_node(p, OP_COND, test, yes, no, 0);
	}
	p->depth--;
	return test;
}

void
fr_plural_english(struct fr_plural *out)
{
	memset(out, 0, sizeof(*out));
	out->nplurals = 2;
	out->node[0] = (struct fr_plural_node){ OP_N, 0, 0, 0, 0 };
	out->node[1] = (struct fr_plural_node){ OP_NUM, 0, 0, 0, 1 };
	out->node[2] = (struct fr_plural_node){ OP_NE, 0, 1, 0, 0 };
	out->nnodes = 3;
}

/* "nplurals=N; plural=EXPR;" with blanks anywhere between the parts. */
static int
parse_line(const char *s, const char *end, struct fr_plural *out)
{
	struct parser p = { s, end, 0, false, out };
	unsigned long forms = 0;

	memset(out, 0, sizeof(*out));
	if (!accept(&p, "nplurals") || !accept(&p, "="))
		return FR_ERR_INVALID;
	skip_space(&p);
	if (p.s >= p.end || *p.s < '1' || *p.s > '9')
		return FR_ERR_INVALID;
	while (p.s < p.end && *p.s >= '0' && *p.s <= '9' && forms <= FR_PLURAL_FORMS_MAX)
		forms = forms * 10 + (unsigned long)(*p.s++ - '0');
	if (forms > FR_PLURAL_FORMS_MAX || !accept(&p, ";") || !accept(&p, "plural") || !accept(&p, "="))
		return FR_ERR_INVALID;
	unsigned root = parse_cond(&p);
	(void)accept(&p, ";");
	skip_space(&p);
	if (p.failed || p.s != p.end || out->nnodes == 0)
		return FR_ERR_INVALID;
	/* fr_plural_form evaluates from the last node made: the root. */
	if (root != out->nnodes - 1)
		return FR_ERR_INTERNAL;
	out->nplurals = (unsigned)forms;
	return FR_OK;
}

int
fr_plural_parse_header(const char *header, size_t len, struct fr_plural *out)
{
	static const char key[] = "Plural-Forms:";
	const char *end = header + len;

	for (const char *line = header; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = nl != NULL ? nl : end;
		if ((size_t)(line_end - line) >= sizeof(key) - 1 && memcmp(line, key, sizeof(key) - 1) == 0) {
			int r = parse_line(line + sizeof(key) - 1, line_end, out);
			if (r != FR_OK)
				fr_plural_english(out);
			return r;
		}
		line = line_end + 1;
	}
	fr_plural_english(out);
	return FR_ERR_NOT_FOUND;
}

static unsigned long
eval(const struct fr_plural *p, unsigned i, unsigned long n)
{
	const struct fr_plural_node *x = &p->node[i];

	/* The parser makes operands before the node that uses them, so the
	 * recursion only goes down, at most nnodes deep; a node that broke
	 * that rule would be worth 0, not a loop. */
	if (x->op != OP_N && x->op != OP_NUM &&
	    (x->a >= i || (x->op != OP_NOT && x->b >= i) || (x->op == OP_COND && x->c >= i)))
		return 0;
	switch (x->op) {
	case OP_N:
		return n;
	case OP_NUM:
		return x->value;
	case OP_NOT:
		return !eval(p, x->a, n);
	case OP_COND:
		return eval(p, x->a, n) ? eval(p, x->b, n) : eval(p, x->c, n);
	case OP_AND:
		return eval(p, x->a, n) && eval(p, x->b, n);
	case OP_OR:
		return eval(p, x->a, n) || eval(p, x->b, n);
	default:
		break;
	}
	unsigned long a = eval(p, x->a, n), b = eval(p, x->b, n);
	switch (x->op) {
	case OP_MUL:
		return a * b;
	case OP_DIV:
		return b != 0 ? a / b : 0;
	case OP_MOD:
		return b != 0 ? a % b : 0;
	case OP_ADD:
		return a + b;
	case OP_SUB:
		return a - b;
	case OP_LT:
		return a < b;
	case OP_LE:
		return a <= b;
	case OP_GT:
		return a > b;
	case OP_GE:
		return a >= b;
	case OP_EQ:
		return a == b;
	case OP_NE:
		return a != b;
	default:
		return 0;
	}
}

unsigned
fr_plural_form(const struct fr_plural *p, unsigned long n)
{
	if (p->nnodes == 0 || p->nplurals == 0)
		return 0;
	unsigned long form = eval(p, p->nnodes - 1, n);
	return form < p->nplurals ? (unsigned)form : 0;
}
