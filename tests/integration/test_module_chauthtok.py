"""pam_sm_chauthtok, the module's side of the contract, against a scripted
helper (fakehelper.py) through the real libpam and `pamtester chauthtok`:
both phases reach the helper with the PAM context, the real uid and the
phase; the helper's prompts are shown; PAM_AUTHTOK is the new password
after a success and only then; the verdict maps to chauthtok's results.
The real helper's side is in test_selfservice_passwd.py."""

import os

import fakehelper as fh
from freddytest import MODULE, FreddyTestCase, main
from security import as_nobody, open_for_nobody, NOBODY_UID

NEW = "Brand-New-Pass-9"


def passwd_script(conversation):
    """PRELIM: SUCCESS at once.  UPDATE: `conversation(fake, conn)`."""
    def script(fake, conn):
        req = fake.request(conn)
        if req.num(fh.CHAUTHTOK_FLAGS) & fh.CHAUTHTOK_PRELIM:
            conn.sendall(fh.done(fh.SUCCESS))
        else:
            conversation(fake, conn)
    return script


def ask(conn, text, flags=0):
    conn.sendall(fh.prompt(text, flags=flags))
    return fh.read_message(conn).str(fh.TEXT)


def change(fake, conn, result=fh.SUCCESS):
    fake.answers = [ask(conn, "Current Freddy password: "), ask(conn, "New password: ", fh.IS_PASSWORD),
                    ask(conn, "Retype new password: ")]
    conn.sendall(fh.done(result))


class Chauthtok(FreddyTestCase):
    env_kwargs = {"start_helper": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.sock = os.path.join(env.tmp, "run", "fake.sock")
        # pam_exec cannot expose_authtok to password stacks (Linux-PAM 1.5);
        # pam_wrapper's pam_get_items puts the items into the PAM
        # environment, which pam_exec passes to the script.
        cls.seen = os.path.join(env.tmp, "authtok-seen")
        record = os.path.join(env.tmp, "record-authtok.sh")
        with open(record, "w") as f:
            f.write("#!/bin/sh\nprintf %%s \"${PAM_AUTHTOK-unset}\" > %s\n" % cls.seen)
        os.chmod(record, 0o755)
        items = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_get_items.so"
        line = "%s socket=%s timeout=5" % (MODULE, cls.sock)
        env.write_service("chpw", "password required %s\npassword required %s\n"
                          "password required pam_exec.so %s\n" % (line, items, record))
        env.write_service("chpw-done", "password [success=done ignore=ignore default=die] %s\n"
                          "password required pam_permit.so\n" % line)
        env.write_service("chpw-safe", "password [success=done ignore=ignore default=die] %s fail_mode=safe\n"
                          "password required pam_permit.so\n" % line)
        env.write_service("chpw-deny", "password [success=done ignore=ignore default=die] %s\n"
                          "password required pam_deny.so\n" % line)

    def setUp(self):
        super().setUp()
        if os.path.exists(self.seen):
            os.unlink(self.seen)

    def authtok_seen(self):
        with open(self.seen) as f:
            return f.read()

    def fake(self, script):
        fake = fh.FakeHelper(self.sock, script)
        self.addCleanup(fake.close)
        return fake

    def passwd(self, service, answers=(), user="alice", op="chauthtok", **kw):
        return self.env.pamtester(user, list(answers), service=service, ops=(op,), **kw)

    def test_both_phases_and_authtok_for_the_next_module(self):
        fake = self.fake(passwd_script(change))
        r = self.passwd("chpw", [("Current Freddy password: ", "old"), ("New password: ", NEW),
                                 ("Retype new password: ", NEW)])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.authtok_seen(), NEW)   # for the password modules after us
        prelim, update = fake.requests
        for req, phase in ((prelim, fh.CHAUTHTOK_PRELIM), (update, fh.CHAUTHTOK_UPDATE)):
            self.assertEqual(req.type, fh.PASSWD_BEGIN)
            self.assertEqual(req.num(fh.CHAUTHTOK_FLAGS), phase)
            self.assertEqual(req.str(fh.USER), "alice")
            self.assertEqual(req.str(fh.SERVICE), "chpw")
            self.assertEqual(req.num(fh.CALLER_UID), 0)      # pamtester runs as root here
        self.assertEqual(fake.answers, ["old", NEW, NEW])

    def test_caller_uid_is_the_real_uid(self):
        open_for_nobody(self.env)
        fake = self.fake(passwd_script(lambda fake, conn: conn.sendall(fh.done(fh.PERM_DENIED))))
        r = self.passwd("chpw-done", prefix=as_nobody())
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual([q.num(fh.CALLER_UID) for q in fake.requests], [NOBODY_UID, NOBODY_UID])

    def test_ignore_means_no_prompt(self):
        fake = self.fake(lambda fake, conn: (fake.request(conn), conn.sendall(fh.done(fh.IGNORE))))
        r = self.passwd("chpw-done")
        self.assertEqual(r.status, 0, r)             # pam_permit decides
        self.assertNotIn("password", r.transcript.lower().replace("pamtester", ""))
        self.assertEqual(len(fake.requests), 2)
        r = self.passwd("chpw-deny")
        self.assertNotEqual(r.status, 0, r)          # IGNORE is never a success

    # A first phase answered SUCCESS ends libpam's first pass through
    # "success=done" (etc/pam.d/passwd), so the modules after us (pam_unix)
    # never checked the current password: a PAM_IGNORE in the second phase
    # would let them set a new one unchecked (tests/e2e/test_passwd.py shows
    # it with the real passwd and pam_unix).  It fails instead.
    def test_ignore_after_taking_part_fails_closed(self):
        fake = self.fake(passwd_script(lambda fake, conn: conn.sendall(fh.done(fh.IGNORE))))
        r = self.passwd("chpw-done")
        self.assertNotEqual(r.status, 0, r)          # not pam_permit's success
        self.assertIn("Failed preliminary check by password service", r.transcript)
        self.assertEqual(len(fake.requests), 2)

    def test_helper_gone_after_taking_part_fails_closed(self):
        # fail_mode=safe: the helper answered the first phase, then is gone.
        self.fake(passwd_script(lambda fake, conn: conn.close()))
        r = self.passwd("chpw-safe")
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        self.assertIn("Failed preliminary check by password service", r.transcript)

    def test_each_change_starts_afresh(self):
        # One handle, two changes: the first took part, the second is
        # ignored in both phases (an expired-only change) and stays so.
        def script(fake, conn):
            req = fake.request(conn)
            phase = req.num(fh.CHAUTHTOK_FLAGS)
            ignored = phase & fh.CHAUTHTOK_EXPIRED_ONLY
            if phase & fh.CHAUTHTOK_PRELIM or ignored:
                conn.sendall(fh.done(fh.IGNORE if ignored else fh.SUCCESS))
            else:
                conn.sendall(fh.done(fh.SUCCESS))
        fake = self.fake(script)
        r = self.env.pamtester("alice", [], service="chpw-done",
                               ops=("chauthtok", "chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)"))
        self.assertEqual(r.status, 0, r)
        self.assertEqual(len(fake.requests), 4)

    def test_mismatch_asks_again_and_the_last_new_password_wins(self):
        def mismatch(fake, conn):
            ask(conn, "New password: ", fh.IS_PASSWORD)
            ask(conn, "Retype new password: ")
            conn.sendall(fh.frame(fh.ERROR, (fh.TEXT, "Sorry, passwords do not match.")))
            ask(conn, "New password: ", fh.IS_PASSWORD)
            ask(conn, "Retype new password: ")
            conn.sendall(fh.done(fh.SUCCESS))
        self.fake(passwd_script(mismatch))
        r = self.passwd("chpw", [("New password: ", "first-try-1"), ("Retype new password: ", "other-2"),
                                 ("Sorry, passwords do not match.\r?\n\r?\nNew password: ", NEW),
                                 ("Retype new password: ", NEW)])
        self.assertEqual(r.status, 0, r)
        self.assertEqual(self.authtok_seen(), NEW)

    def test_no_authtok_after_a_failure(self):
        self.fake(passwd_script(lambda fake, conn: change(fake, conn, fh.AUTH_ERR)))
        r = self.passwd("chpw", [("Current Freddy password: ", "old"), ("New password: ", NEW),
                                 ("Retype new password: ", NEW)])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication failure", r.transcript)
        self.assertEqual(self.authtok_seen(), "unset")

    def test_results(self):
        for result, words in ((fh.AUTH_ERR, "Authentication failure"),
                              (fh.MAXTRIES, "Have exhausted maximum number of retries"),
                              # PAM_TRY_AGAIN: the password cannot be changed now
                              (fh.AUTHINFO_UNAVAIL, "Failed preliminary check by password service"),
                              (fh.BUSY, "Failed preliminary check by password service"),
                              (fh.USER_UNKNOWN, "User not known to the underlying authentication module"),
                              (fh.NOT_FOUND, "Authentication token manipulation error"),
                              (fh.PERM_DENIED, "Permission denied"),
                              (fh.SYSTEM_ERR, "Authentication token manipulation error")):
            self.setUp()
            fake = self.fake(lambda fake, conn, result=result: (fake.request(conn),
                                                                conn.sendall(fh.done(result))))
            r = self.passwd("chpw-done")
            self.assertNotEqual(r.status, 0, (result, r))
            self.assertRegex(r.transcript, words, (result, r))
            fake.close()
            self._cleanups.pop()

    def test_prelim_refusal_stops_before_update(self):
        fake = self.fake(lambda fake, conn: (fake.request(conn), conn.sendall(fh.done(fh.PERM_DENIED))))
        r = self.passwd("chpw-done")
        self.assertNotEqual(r.status, 0, r)
        self.assertEqual([q.num(fh.CHAUTHTOK_FLAGS) for q in fake.requests], [fh.CHAUTHTOK_PRELIM])

    def test_expired_only_is_forwarded(self):
        fake = self.fake(lambda fake, conn: (fake.request(conn), conn.sendall(fh.done(fh.IGNORE))))
        r = self.passwd("chpw-done", op="chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)")
        self.assertEqual(r.status, 0, r)
        self.assertEqual([q.num(fh.CHAUTHTOK_FLAGS) for q in fake.requests],
                         [fh.CHAUTHTOK_PRELIM | fh.CHAUTHTOK_EXPIRED_ONLY,
                          fh.CHAUTHTOK_UPDATE | fh.CHAUTHTOK_EXPIRED_ONLY])

    def test_helper_unreachable(self):
        r = self.passwd("chpw-done")                 # nothing listens on the socket
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("Authentication service unavailable", r.transcript)
        r = self.passwd("chpw-safe")
        self.assertEqual(r.status, 0, r)             # fail_mode=safe: IGNORE, pam_permit decides

    def test_server_text_is_sanitised(self):
        def evil(fake, conn):
            conn.sendall(fh.frame(fh.INFO, (fh.TEXT, "\x1b[2Jcleared\x07")))
            ask(conn, "New password: ", fh.IS_PASSWORD)
            conn.sendall(fh.done(fh.AUTH_ERR, "\x1b]0;pwned\x07bad"))
        self.fake(passwd_script(evil))
        r = self.passwd("chpw-done", [("New password: ", NEW)])
        self.assertNotEqual(r.status, 0, r)
        self.assertIn("?[2Jcleared?", r.transcript)
        self.assertNotIn("\x1b", r.transcript)


if __name__ == "__main__":
    main()
