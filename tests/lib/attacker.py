"""A local attacker of the helper socket, run as an unprivileged uid
(setpriv) by the security tests.

  attacker.py hold SOCKET USER CONNS LOGINS SECONDS
      open CONNS connections, LOGINS of them with AUTH_BEGIN for USER (and
      left at the password prompt), hold them SECONDS, print what the
      helper let through as JSON
  attacker.py storm SOCKET SECONDS
      connect and close as fast as possible for SECONDS; print counts
  attacker.py abandon SOCKET USER TIMES
      start a login for USER and hang up at the prompt, TIMES times
  attacker.py flood SOCKET USER PASSWORD CONNS SECONDS
      CONNS connections at once, each sending USER's password again and
      again for SECONDS (what makes the helper hash); print counts
"""

import json
import socket
import sys
import threading
import time

import security


def connect(path):
    return security.connect(path, 5)


def begin(s, user):
    s.sendall(security.frame(security.AUTH_BEGIN, security.field(security.TAG_USER, user),
                             security.field(security.TAG_SERVICE, "attacker")))
    return security.read_frame(s)


def hold(path, user, conns, logins, seconds):
    held, prompts, refused = [], 0, 0
    for i in range(conns):
        try:
            s = connect(path)
        except OSError:
            refused += 1
            continue
        if i < logins:
            reply = begin(s, user)
            if reply is not None and reply[0] == 64:	# PROMPT
                prompts += 1
            else:
                refused += 1
                s.close()
                continue
        held.append(s)
    # A connection the helper refused got DONE (busy) and was closed.
    time.sleep(0.3)
    alive = 0
    for s in held:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            alive += 1 if len(data) > 5 and data[5] != security.DONE else 0
        except BlockingIOError:
            alive += 1		# nothing to read: still open, still ours
        except OSError:
            pass
    print(json.dumps({"alive": alive, "prompts": prompts, "refused": refused}), flush=True)
    time.sleep(seconds)


def storm(path, seconds):
    end = time.monotonic() + seconds
    made = failed = 0
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            made += 1
        except OSError:
            failed += 1
        s.close()
    print(json.dumps({"connects": made, "failed": failed}), flush=True)


def abandon(path, user, times):
    outcomes = []
    for _ in range(times):
        s = connect(path)
        reply = begin(s, user)
        outcomes.append("prompt" if reply is not None and reply[0] == 64 else "refused")
        s.close()
        time.sleep(0.05)
    print(json.dumps({"outcomes": outcomes}), flush=True)


def flood(path, user, password, conns, seconds):
    end = time.monotonic() + seconds
    counts = {"answers": 0, "refused": 0}
    lock = threading.Lock()

    def worker():
        while time.monotonic() < end:
            try:
                s = connect(path)
                reply = begin(s, user)
                if reply is None or reply[0] != 64:
                    with lock:
                        counts["refused"] += 1
                    s.close()
                    time.sleep(0.01)
                    continue
                s.sendall(security.frame(2, security.field(9, password)))
                security.read_frame(s)
                with lock:
                    counts["answers"] += 1
                s.close()
            except OSError:
                with lock:
                    counts["refused"] += 1
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    print(json.dumps({"started": conns}), flush=True)
    for t in threads:
        t.join()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "hold":
        hold(path, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif mode == "storm":
        storm(path, float(sys.argv[3]))
    elif mode == "flood":
        flood(path, sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    elif mode == "abandon":
        abandon(path, sys.argv[3], int(sys.argv[4]))
