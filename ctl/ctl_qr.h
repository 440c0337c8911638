/* A QR code drawn in the terminal, for otpauth:// URIs (totp enroll, 2fa setup). */
#ifndef CTL_QR_H
#define CTL_QR_H

/* Prints the QR code of `text` to stdout; 0, or -1 after saying why on
 * stderr (the caller still prints the text itself, so nothing is lost). */
int ctl_qr_print(const char *text);

#endif
