/* What each request message starts, and who may send it. */
#ifndef REQUESTS_H
#define REQUESTS_H

#include <stdbool.h>

#include "fr_wire.h"
#include "helper.h"

struct conn;

bool requests_is_request(unsigned type);
void requests_dispatch(struct helper *h, struct conn *c, const struct fr_msg *msg);

/* A one-message reply that ends the request. */
void requests_reply_done(struct conn *c, enum fr_result result, const char *text);

#endif
