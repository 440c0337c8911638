/* QR codes with libqrencode, two module rows per text line in half blocks. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <qrencode.h>

#include "ctl_l10n.h"
#include "ctl_qr.h"

#define QR_QUIET_ZONE 4 /* modules of light border the QR standard asks for */

static int
is_dark(const QRcode *qr, int x, int y)
{
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return 0; /* the quiet zone */
	return qr->data[y * qr->width + x] & 1;
}

/* Light modules are drawn, dark ones left blank, which suits the usual
 * dark terminal. */
static void
draw(const QRcode *qr)
{
	int lo = -QR_QUIET_ZONE, hi = qr->width + QR_QUIET_ZONE;

	for (int y = lo; y < hi; y += 2) {
		for (int x = lo; x < hi; x++) {
			int top = !is_dark(qr, x, y), bottom = y + 1 < hi && !is_dark(qr, x, y + 1);
			fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", stdout);
		}
		fputc('\n', stdout);
	}
}

int
ctl_qr_print(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

	if (qr == NULL) {
		ctl_error(_("cannot make the QR code: %s"), strerror(errno));
		return -1;
	}
	draw(qr);
	/* libqrencode keeps the bits of the secret in qr->data. */
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return 0;
}
