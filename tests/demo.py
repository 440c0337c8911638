"""A demonstration login: emulator + helper + pamtester, with the code read
from the emulator's outbox as a person would read their email."""

import sys
import time

import pexpect

from freddytest import FreddyEnv


def main():
    env = FreddyEnv()
    try:
        print("API emulator:  %s (outbox %s)" % (env.api_url, env.emu.outbox))
        print("helper socket: %s" % env.socket)
        print("PAM service:   %s/freddy-test" % env.pam_dir)
        print("\n$ pamtester freddy-test alice authenticate\n")
        child = pexpect.spawn("pamtester", ["-v", "freddy-test", "alice", "authenticate"],
                              env=env.pam_env(), encoding="utf-8", timeout=30)
        child.logfile_read = sys.stdout     # what the person sees, not what they type
        started = time.time() - 0.001
        child.expect("Password: ")
        child.sendline("Correct-Horse-1")
        child.expect("code, or Enter to resend: ")
        code = env.emu.code_for("alice@example.com", started)
        print("\n[demo] the emulator emailed code %s; typing it" % code)
        child.sendline(code)
        child.expect(pexpect.EOF)
        child.close()
        print("\n[demo] pamtester exit status: %d" % child.exitstatus)
        return child.exitstatus
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
