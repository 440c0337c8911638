"""PAM_SILENT, as sudo 1.9.13 always passes it: text that belongs to the next
prompt is still shown as part of that prompt; text with no prompt after it
is dropped.  (The real sudo is in tests/e2e/test_sudo_su.py.)"""

from freddytest import FreddyTestCase, main

SILENT = ("authenticate(PAM_SILENT)",)


class Silent(FreddyTestCase):

    def test_code_notice_stays_in_the_prompt(self):
        r = self.env.login("alice", ops=SILENT)
        self.assertEqual(r.status, 0, r)
        self.assertIn("Code emailed to a***@example.com.", r.transcript)

    def test_wrong_code_notice_stays_in_the_prompt(self):
        r = self.env.pamtester("alice", [
            ("Password: ", "Correct-Horse-1"),
            ("code, or Enter to resend: ", "0000"),
            ("Invalid code, 2 attempts left\r?\n\r?\n4-digit code",
             lambda: self.env.emu.code_for("alice@example.com")),
        ], ops=SILENT)
        self.assertEqual(r.status, 0, r)

    def test_final_error_without_a_prompt_is_dropped(self):
        r = self.env.pamtester("alice", [("Password: ", "wrong")], ops=SILENT)
        self.assertNotEqual(r.status, 0, r)
        self.assertNotIn("Invalid email or password", r.transcript)

    def test_final_error_is_shown_without_pam_silent(self):
        # The same login without the flag, so the test above cannot pass
        # merely because the message changed.
        r = self.env.pamtester("alice", [("Password: ", "wrong")])
        self.assertIn("Invalid email or password", r.transcript)


if __name__ == "__main__":
    main()
