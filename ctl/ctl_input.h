/* Codes typed by the person, for freddyctl: from the terminal with echo
 * off, or from standard input when it is not a terminal (a pipe, a file);
 * never from the command line, which other users can read in ps. */
#ifndef CTL_INPUT_H
#define CTL_INPUT_H

#include <stddef.h>

/* Shows `prompt` on stderr and reads one line into buf (NUL-terminated,
 * without its newline).  0, or a CTL_EXIT_* code after saying why: end of
 * input, an empty line, a line that does not fit.  buf is wiped on error. */
int ctl_read_secret(const char *prompt, char *buf, size_t cap);

#endif
