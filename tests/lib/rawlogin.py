"""Logins spoken to the helper directly over its socket, as the module
speaks them, for the tests of what the helper does with a burst.

A burst of pamtester processes is not a burst on a slow or busy machine:
each process takes tens of milliseconds to start (more under the
sanitizer stage's preloaded runtime), and 150 of them reach the password
prompt over a second or more.  Here every login is a thread that holds
its password prompt until all of them have one, and then all answer at
the same moment: the API requests reach the helper together, whatever
the machine.  The module's side of a login is tested with pamtester
elsewhere; these clients are for the helper's connections to the API."""

import threading
import time

import security

ANSWER = 2
PROMPT, INFO, ERROR, DONE = 64, 65, 66, 67
TAG_TEXT, TAG_RESULT = 9, 12


def _fields(payload):
    out = {}
    while len(payload) >= 3:
        tag, n = payload[0], int.from_bytes(payload[1:3], "big")
        out[tag] = payload[3:3 + n]
        payload = payload[3 + n:]
    return out


class Result:
    def __init__(self):
        self.result = None      # the DONE frame's result (0: success)
        self.prompts = []       # the prompts' texts, in order
        self.api_wait = None    # s from the password answer to the next prompt
        self.error = None

    def __repr__(self):
        return "Result(result=%r, prompts=%r, api_wait=%r, error=%r)" % (
            self.result, self.prompts, self.api_wait, self.error)


def _login(path, user, answers, barrier, res, service):
    try:
        s = security.connect(path, timeout=60)
        s.sendall(security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, user),
                                 security.field(security.TAG_SERVICE, service)))
        answered_at = None
        while True:
            reply = security.read_frame(s)
            if reply is None:
                res.error = "the helper hung up"
                break
            kind, payload = reply
            fields = _fields(payload)
            if kind == PROMPT:
                if answered_at is not None and res.api_wait is None:
                    res.api_wait = time.monotonic() - answered_at
                res.prompts.append(fields.get(TAG_TEXT, b"").decode())
                if len(res.prompts) > len(answers):
                    res.error = "more prompts than answers"
                    break
                if len(res.prompts) == 1:
                    barrier.wait()
                    answered_at = time.monotonic()
                s.sendall(security.frame(ANSWER, security.field(TAG_TEXT, answers[len(res.prompts) - 1])))
            elif kind == DONE:
                res.result = int.from_bytes(fields.get(TAG_RESULT, b"\xff\xff\xff\xff"), "big")
                break
        s.close()
    except Exception as e:  # reported in the result, read by the test
        res.error = repr(e)
        barrier.abort()


def burst(path, users, answers, service="sshd"):
    """Log every user of `users` in at once (as root, as sshd would):
    `answers` to the prompts in order, the first (the password) sent by
    all of them together.  Returns a Result per user."""
    barrier = threading.Barrier(len(users))
    results = [Result() for _ in users]
    threads = [threading.Thread(target=_login, args=(path, u, answers, barrier, r, service))
               for u, r in zip(users, results)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
